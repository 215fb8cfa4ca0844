// The commands entre-host offers, shared by its three front doors: the interactive prompt, lines
// on a pipe, and the JSON control socket (docs/host.md, docs/control-api.md).
//
// A command is a method name and named parameters. Commands::call runs one against the node and
// returns its result as JSON, or throws CommandError. Text lines are parsed into the same calls
// (parse_line) and results rendered back into the line format of docs/host.md (render_lines).
// Thread safety: call() may be used from any thread; calls run one at a time.
#pragma once

#include <entre/node.hpp>

#include <nlohmann/json.hpp>

#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace entre::host {

using Json = nlohmann::ordered_json;

// `code` is one of the error codes of docs/control-api.md, e.g. "not_found".
struct CommandError : std::runtime_error {
  CommandError(std::string code_in, const std::string& message)
      : std::runtime_error(message), code(std::move(code_in)) {}
  std::string code;
};

enum class ParamKind {
  kWord,    // one word (a contact, a code)
  kRest,    // the rest of the line (a text or a name); "\n" and "\\" escapes
  kWords,   // every remaining word, as a list
  kUnsigned // a non-negative integer
};

struct ParamSpec {
  std::string name;
  ParamKind kind;
  bool required;
};

struct MethodSpec {
  std::string name;
  std::vector<ParamSpec> params;
  std::string usage;   // e.g. "send CONTACT TEXT"
  std::string summary; // one line for help
  bool contact_first;  // the first parameter names a contact (tab completion)
};

// Every method, in the order help lists them.
[[nodiscard]] const std::vector<MethodSpec>& methods();
[[nodiscard]] const MethodSpec* find_method(const std::string& name);

// A text command line as a call: {"method": ..., "params": {...}}; throws CommandError.
[[nodiscard]] Json parse_line(const std::string& line);

// A result as the lines docs/host.md shows for it.
[[nodiscard]] std::vector<std::string> render_lines(const std::string& method, const Json& result);

// An event as JSON (docs/control-api.md), or null for events the host does not report.
[[nodiscard]] Json event_json(const Event& event);
// The line docs/host.md shows for an event, or "" when it has none.
[[nodiscard]] std::string event_line(const Json& event);

// `text` safe to print on a terminal: control characters (C0, DEL, C1), which a peer could use to
// move the cursor or rewrite the screen, become '?', and each newline becomes `newline`.
[[nodiscard]] std::string printable(const std::string& text, const std::string& newline);
// printable() on one line: a newline shows as \n and a backslash as \\.
[[nodiscard]] std::string one_line(const std::string& text);

class Commands {
 public:
  explicit Commands(Node& node) : node_(node) {}

  // Runs a method; throws CommandError (unknown method, bad parameters, or the node's refusal).
  Json call(const std::string& method, const Json& params);

  // Events pass through here first, to keep the transports' endpoints for "status".
  void observe(const Event& event);

  // After this, every call fails with "closed" (the node is stopping).
  void close();

  // Contact names, for completion.
  std::vector<std::string> contact_names();

  // The id of the contact `who` names: its id, its name (in any case when no name matches
  // exactly), or a start of its id of 6 characters or more. Throws CommandError "not_found"
  // (offering close names) or "ambiguous".
  std::string resolve(const std::string& who);

 private:
  Json run(const MethodSpec& spec, const Json& params);

  Node& node_;
  std::mutex mu_;
  bool closed_ = false;
  std::mutex endpoints_mu_;
  std::vector<std::pair<std::string, std::vector<std::string>>> endpoints_;
};

} // namespace entre::host
