// What entre-host prints at a terminal: results and events as a person reads them, with contacts
// by name, times and dates in local time, and an empty list that says so (docs/host.md, "At the
// prompt"). Pipes, one-shot commands and the control socket keep the line format of commands.hpp,
// which scripts parse.
//
// Thread safety: result() runs on the prompt's thread and event() on the events thread; both may
// run at once (the names and presence they remember are guarded).
#pragma once

#include "commands.hpp"

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace entre::host {

// "14:03" in local time.
[[nodiscard]] std::string local_clock(int64_t unix_ms);
// "today", "yesterday", or "Mon 7 Dec 2026" in local time, relative to `now_ms`.
[[nodiscard]] std::string local_day(int64_t unix_ms, int64_t now_ms);
// "1:23", "12:05", "1:02:03".
[[nodiscard]] std::string duration_text(int64_t seconds);
// At most `max_chars` characters of `text` (UTF-8, never cut inside a character), on one line,
// with "..." when cut.
[[nodiscard]] std::string quote_start(const std::string& text, std::size_t max_chars);
// `line` without the colour codes (ESC [ ... final letter) the node's own log puts on a terminal,
// so that its warnings read as words at the prompt rather than as "?[31m". Other control
// characters stay (printable() turns them into '?').
[[nodiscard]] std::string without_colours(const std::string& line);
// Names among `names` close to `typed` (case-insensitive: the same but for case, starting with
// it, or at most two edits away), best first, at most three.
[[nodiscard]] std::vector<std::string> close_names(const std::string& typed,
                                                   const std::vector<std::string>& names);

class HumanView {
 public:
  explicit HumanView(Node& node) : node_(node) {}

  // A command's result, as lines for the prompt.
  [[nodiscard]] std::vector<std::string> result(const std::string& method, const Json& result);
  // An event (event_json) as a line, or "" when the prompt does not show it.
  [[nodiscard]] std::string event(const Json& event);
  // The contact's name as shown, remembered so that events after its removal still name it.
  [[nodiscard]] std::string name_of(const std::string& id);

 private:
  [[nodiscard]] std::string receipt(const Json& event);

  Node& node_;
  std::mutex mu_;
  std::map<std::string, std::string> names_; // contact id -> the name last seen
  std::set<std::string> online_;             // contacts shown online
};

} // namespace entre::host
