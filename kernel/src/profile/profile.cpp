// Profile loading: TOML text -> validated Profile, or every error found.
//
// The schema lives in this file and in docs/profiles.md; keep the two in step. [[plugins]] is read
// first, so that the sections naming plugin ids can be checked against it. Every other table is
// walked once: each key the schema knows is read with a typed reader that records type and range
// errors, and whatever keys are left over are reported as unknown. Errors are collected, never
// thrown, and sorted into file order at the end.
#include "profile/profile.hpp"

#include "loader/plugin_id.hpp"
#include "profile/toml_words.hpp"

#include <entre/sdk/transport.hpp>

#include <toml++/toml.h>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <span>
#include <sstream>
#include <system_error>
#include <utility>

namespace entre {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxNodeNameBytes = 64;

template <typename T> struct Choice {
  std::string_view name;
  T value;
};

constexpr std::array kLogLevels{
    Choice<LogLevelSetting>{"trace", LogLevelSetting::kTrace},
    Choice<LogLevelSetting>{"debug", LogLevelSetting::kDebug},
    Choice<LogLevelSetting>{"info", LogLevelSetting::kInfo},
    Choice<LogLevelSetting>{"warn", LogLevelSetting::kWarn},
    Choice<LogLevelSetting>{"error", LogLevelSetting::kError},
};
constexpr std::array kNetworkScopes{
    Choice<NetworkScope>{"any", NetworkScope::kAny},
    Choice<NetworkScope>{"private", NetworkScope::kPrivate},
};
constexpr std::array kKdfStrengths{
    Choice<KdfStrength>{"interactive", KdfStrength::kInteractive},
    Choice<KdfStrength>{"moderate", KdfStrength::kModerate},
    Choice<KdfStrength>{"sensitive", KdfStrength::kSensitive},
};
constexpr std::array<int64_t, 4> kFrameDurationsMs{10, 20, 40, 60};

using KeyList = std::span<const std::string_view>;

constexpr std::array<std::string_view, 11> kTopLevelKeys{
    "node",   "log",   "loader",  "plugins", "transport", "discovery",
    "crypto", "codec", "storage", "audio",   "relay"};
constexpr std::array<std::string_view, 5> kNodeKeys{"name", "data_dir", "threads", "workers",
                                                    "network_scope"};
constexpr std::array<std::string_view, 2> kLogKeys{"level", "file"};
constexpr std::array<std::string_view, 1> kLoaderKeys{"search_paths"};
constexpr std::array<std::string_view, 4> kPluginKeys{"id", "file", "required", "config"};
constexpr std::array<std::string_view, 3> kTransportKeys{"order", "keepalive_ms",
                                                         "link_timeout_ms"};
constexpr std::array<std::string_view, 3> kDiscoveryKeys{"epoch_seconds", "beacon_entries",
                                                         "allow_meeting"};
constexpr std::array<std::string_view, 2> kCryptoKeys{"suite", "kdf"};
constexpr std::array<std::string_view, 5> kCodecKeys{"preferred", "bitrate_bps", "frame_ms", "fec",
                                                     "dtx"};
constexpr std::array<std::string_view, 1> kStorageKeys{"plugin"};
constexpr std::array<std::string_view, 3> kAudioKeys{"plugin", "capture_device", "playback_device"};
constexpr std::array<std::string_view, 13> kRelayKeys{"listen",
                                                      "port",
                                                      "static_key_file",
                                                      "max_connections",
                                                      "max_connections_per_address",
                                                      "handshakes_per_second",
                                                      "max_frame_bytes",
                                                      "client_rate_bytes_per_second",
                                                      "client_burst_bytes",
                                                      "queue_depth_frames",
                                                      "idle_timeout_ms",
                                                      "handshake_timeout_ms",
                                                      "udp_reflect_port"};

std::string single_quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '\'';
  out += text;
  out += '\'';
  return out;
}

std::string suggestion_suffix(std::string_view word, const std::vector<std::string>& candidates) {
  if (auto best = did_you_mean(word, candidates)) {
    return " (did you mean " + single_quoted(*best) + "?)";
  }
  return {};
}

std::size_t edit_distance(std::string_view a, std::string_view b);

// Plugin ids share long prefixes ("entre.codec."), so the length-based rule of did_you_mean would
// offer 'entre.codec.pcm' for 'entre.codec.opus'. For ids, only a near miss is suggested.
constexpr std::size_t kMaxPluginIdEdits = 2;

std::string id_suggestion_suffix(std::string_view id, const std::vector<std::string>& ids) {
  const auto best = did_you_mean(id, ids);
  if (best && edit_distance(id, *best) <= kMaxPluginIdEdits) {
    return " (did you mean " + single_quoted(*best) + "?)";
  }
  return {};
}

std::vector<std::string> to_strings(KeyList keys) { return {keys.begin(), keys.end()}; }

bool is_ip_address(const std::string& text) {
  unsigned char buffer[16];
  return ::inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         ::inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

// Resolves a path written in a profile: "~" and "~/..." expand to $HOME, relative paths are taken
// against `base_dir`. On failure returns nullopt and sets `problem`.
std::optional<fs::path> resolve_profile_path(std::string_view raw, const fs::path& base_dir,
                                             std::string& problem) {
  if (raw.empty()) {
    problem = "must not be empty";
    return std::nullopt;
  }
  if (raw.front() == '~') {
    if (raw.size() > 1 && raw[1] != '/') {
      problem =
          "only '~/' is expanded (to $HOME); write '" + std::string(raw) + "' as an absolute path";
      return std::nullopt;
    }
    const char* home = std::getenv("HOME");
    if (home == nullptr || *home == '\0') {
      problem = "cannot expand '~': HOME is not set";
      return std::nullopt;
    }
    fs::path result(home);
    if (raw.size() > 2) {
      result /= fs::path(raw.substr(2));
    }
    return result.lexically_normal();
  }
  const fs::path path(raw);
  if (path.is_absolute()) {
    return path.lexically_normal();
  }
  return (base_dir / path).lexically_normal();
}

// The number of code points on `line` (1-based) of `text`, or nullopt if there is no such line.
std::optional<std::size_t> code_points_on_line(std::string_view text, uint32_t line) {
  std::size_t start = 0;
  for (uint32_t current = 1; current < line; ++current) {
    const std::size_t newline = text.find('\n', start);
    if (newline == std::string_view::npos) {
      return std::nullopt;
    }
    start = newline + 1;
  }
  std::size_t end = text.find('\n', start);
  if (end == std::string_view::npos) {
    end = text.size();
  }
  if (end > start && text[end - 1] == '\r') {
    --end;
  }
  std::size_t count = 0;
  for (std::size_t i = start; i < end; ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0U) != 0x80U) {
      ++count;
    }
  }
  return count;
}

bool contains_ignoring_case(std::string_view haystack, std::string_view needle) {
  const auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                              [](char a, char b) {
                                return std::tolower(static_cast<unsigned char>(a)) ==
                                       std::tolower(static_cast<unsigned char>(b));
                              });
  return it != haystack.end();
}

// toml++'s description, made plainer for the two cases people hit most.
std::string describe_parse_error(const toml::parse_error& error, std::string_view text) {
  const std::string description(error.description());
  if (contains_ignoring_case(description, "utf-8")) {
    return "invalid UTF-8: a profile must be UTF-8 text (" + description + ")";
  }
  const bool in_string = contains_ignoring_case(description, "parsing string") ||
                         contains_ignoring_case(description, "parsing literal string") ||
                         contains_ignoring_case(description, "multi-line");
  if (in_string) {
    bool unterminated = contains_ignoring_case(description, "end-of-file");
    const auto& begin = error.source().begin;
    if (const auto width = code_points_on_line(text, begin.line)) {
      unterminated = unterminated || begin.column > *width;
    }
    if (unterminated) {
      return "unterminated string: a quoted value must be closed on the line where it starts (" +
             description + ")";
    }
  }
  return "syntax error: " + description;
}

// One table of the schema while it is being checked.
struct Scope {
  const toml::table* table = nullptr; // null when the section is absent
  std::string prefix;                 // dotted key of the table ("node", "plugins[1]"), "" at top
  std::string title;                  // for messages: "[node]", "[[plugins]]"
  SourceLocation where;               // the table's header, for errors about absent keys

  [[nodiscard]] std::string key(std::string_view name) const {
    return prefix.empty() ? std::string(name) : prefix + "." + std::string(name);
  }
};

struct ListItem {
  std::string value;
  std::string key; // "transport.order[1]"
  SourceLocation where;
};

class Checker {
 public:
  Checker(std::string file, fs::path base_dir)
      : file_(std::move(file)), base_(std::move(base_dir)) {}

  void check(const std::shared_ptr<const toml::table>& doc, Profile& profile);
  [[nodiscard]] std::vector<ProfileError> take_errors() { return std::move(errors_); }

 private:
  [[nodiscard]] SourceLocation at(const toml::source_region& region) const {
    return SourceLocation{file_, region.begin.line, region.begin.column};
  }
  void fail(SourceLocation where, std::string key, std::string message) {
    errors_.push_back(ProfileError{std::move(where), std::move(key), std::move(message)});
  }
  void type_error(const toml::node& node, std::string key, std::string_view expected) {
    fail(at(node.source()), std::move(key),
         "expected " + std::string(expected) + ", found " + std::string(toml_type_phrase(node)));
  }
  void missing(const Scope& scope, std::string_view name) {
    fail(scope.where, scope.key(name),
         "missing required key " + single_quoted(name) + " in " + scope.title);
  }

  Scope section(const toml::table& root, std::string_view name);
  void check_unknown_keys(const Scope& scope, KeyList allowed);

  const toml::node* find(const Scope& scope, std::string_view name) const {
    return scope.table == nullptr ? nullptr : scope.table->get(name);
  }
  std::optional<std::string> read_string(const Scope& scope, std::string_view name,
                                         bool required = false);
  std::optional<int64_t> read_int(const Scope& scope, std::string_view name, int64_t low,
                                  int64_t high);
  template <typename T>
  void read_int_into(const Scope& scope, std::string_view name, int64_t low, int64_t high, T& out) {
    if (const auto value = read_int(scope, name, low, high)) {
      out = static_cast<T>(*value);
    }
  }
  std::optional<bool> read_bool(const Scope& scope, std::string_view name);
  template <typename T, std::size_t N>
  void read_choice(const Scope& scope, std::string_view name, const std::array<Choice<T>, N>& all,
                   T& out);
  std::optional<fs::path> read_path(const Scope& scope, std::string_view name,
                                    bool required = false);
  std::optional<std::vector<ListItem>> read_string_list(const Scope& scope, std::string_view name);

  void check_node(const Scope& scope, Profile& profile);
  void check_log(const Scope& scope, Profile& profile);
  void check_loader(const Scope& scope, Profile& profile);
  void check_plugins(const toml::table& root, const std::shared_ptr<const toml::table>& doc,
                     Profile& profile);
  void check_plugin_entry(const toml::table& entry, std::size_t index,
                          const std::shared_ptr<const toml::table>& doc, Profile& profile);
  void check_transport(const Scope& scope, Profile& profile);
  void check_discovery(const Scope& scope, Profile& profile);
  void check_crypto(const Scope& scope, Profile& profile);
  void check_codec(const Scope& scope, Profile& profile);
  void check_storage(const Scope& scope, Profile& profile);
  void check_audio(const Scope& scope, Profile& profile);
  void check_relay(const Scope& scope, Profile& profile);

  // Cross-references: a key naming a plugin id that must appear in [[plugins]].
  void check_reference(const Scope& scope, std::string_view name, std::string& out);
  std::vector<std::string> check_reference_list(const Scope& scope, std::string_view name,
                                                bool is_transport);
  [[nodiscard]] bool listed(const std::string& id) const { return listed_ids_.count(id) != 0; }

  std::string file_;
  fs::path base_;
  std::vector<ProfileError> errors_;
  std::map<std::string, uint32_t> listed_ids_; // every id in [[plugins]] -> its line
  std::vector<std::string> listed_order_;      // the same ids, in file order (for suggestions)
};

Scope Checker::section(const toml::table& root, std::string_view name) {
  Scope scope;
  scope.prefix = std::string(name);
  scope.title = "[" + std::string(name) + "]";
  const toml::node* node = root.get(name);
  if (node == nullptr) {
    return scope;
  }
  scope.where = at(node->source());
  if (const toml::table* table = node->as_table()) {
    scope.table = table;
  } else {
    type_error(*node, std::string(name), "a table");
  }
  return scope;
}

void Checker::check_unknown_keys(const Scope& scope, KeyList allowed) {
  if (scope.table == nullptr) {
    return;
  }
  const std::vector<std::string> candidates = to_strings(allowed);
  for (auto&& [key, value] : *scope.table) {
    const std::string_view name = key.str();
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) {
      continue;
    }
    const std::string where_text =
        scope.prefix.empty() ? std::string("the top-level table") : scope.title;
    fail(at(key.source()), scope.key(name),
         "unknown key " + single_quoted(name) + " in " + where_text +
             suggestion_suffix(name, candidates));
  }
}

std::optional<std::string> Checker::read_string(const Scope& scope, std::string_view name,
                                                bool required) {
  const toml::node* node = find(scope, name);
  if (node == nullptr) {
    if (required && scope.table != nullptr) {
      missing(scope, name);
    }
    return std::nullopt;
  }
  if (const auto* value = node->as_string()) {
    return value->get();
  }
  type_error(*node, scope.key(name), "a string");
  return std::nullopt;
}

std::optional<int64_t> Checker::read_int(const Scope& scope, std::string_view name, int64_t low,
                                         int64_t high) {
  const toml::node* node = find(scope, name);
  if (node == nullptr) {
    return std::nullopt;
  }
  const auto* value = node->as_integer();
  if (value == nullptr) {
    type_error(*node, scope.key(name), "an integer");
    return std::nullopt;
  }
  const int64_t number = value->get();
  if (number < low || number > high) {
    fail(at(node->source()), scope.key(name),
         "must be between " + std::to_string(low) + " and " + std::to_string(high) + ", found " +
             std::to_string(number));
    return std::nullopt;
  }
  return number;
}

std::optional<bool> Checker::read_bool(const Scope& scope, std::string_view name) {
  const toml::node* node = find(scope, name);
  if (node == nullptr) {
    return std::nullopt;
  }
  if (const auto* value = node->as_boolean()) {
    return value->get();
  }
  type_error(*node, scope.key(name), "a boolean (true or false)");
  return std::nullopt;
}

template <typename T, std::size_t N>
void Checker::read_choice(const Scope& scope, std::string_view name,
                          const std::array<Choice<T>, N>& all, T& out) {
  const auto text = read_string(scope, name);
  if (!text) {
    return;
  }
  std::vector<std::string> names;
  for (const auto& choice : all) {
    if (choice.name == *text) {
      out = choice.value;
      return;
    }
    names.emplace_back(choice.name);
  }
  std::string allowed;
  for (const auto& choice_name : names) {
    allowed += allowed.empty() ? "" : ", ";
    allowed += "\"" + choice_name + "\"";
  }
  fail(at(find(scope, name)->source()), scope.key(name),
       "must be one of " + allowed + ", found \"" + *text + "\"" + suggestion_suffix(*text, names));
}

std::optional<fs::path> Checker::read_path(const Scope& scope, std::string_view name,
                                           bool required) {
  const auto text = read_string(scope, name, required);
  if (!text) {
    return std::nullopt;
  }
  std::string problem;
  auto path = resolve_profile_path(*text, base_, problem);
  if (!path) {
    fail(at(find(scope, name)->source()), scope.key(name), problem);
  }
  return path;
}

std::optional<std::vector<ListItem>> Checker::read_string_list(const Scope& scope,
                                                               std::string_view name) {
  const toml::node* node = find(scope, name);
  if (node == nullptr) {
    return std::nullopt;
  }
  const toml::array* array = node->as_array();
  if (array == nullptr) {
    type_error(*node, scope.key(name), "an array of strings");
    return std::nullopt;
  }
  std::vector<ListItem> items;
  bool ok = true;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    std::string key = scope.key(name) + "[" + std::to_string(i) + "]";
    if (const auto* value = element.as_string()) {
      items.push_back(ListItem{value->get(), std::move(key), at(element.source())});
    } else {
      type_error(element, std::move(key), "a string");
      ok = false;
    }
  }
  if (!ok) {
    return std::nullopt;
  }
  return items;
}

void Checker::check_node(const Scope& scope, Profile& profile) {
  if (scope.table == nullptr) {
    return;
  }
  check_unknown_keys(scope, kNodeKeys);
  NodeSection node;
  if (const auto name = read_string(scope, "name", true)) {
    if (name->empty()) {
      fail(at(find(scope, "name")->source()), scope.key("name"), "must not be empty");
    } else if (name->size() > kMaxNodeNameBytes) {
      fail(at(find(scope, "name")->source()), scope.key("name"),
           "must be at most " + std::to_string(kMaxNodeNameBytes) + " bytes long, found " +
               std::to_string(name->size()) + " bytes");
    }
    node.name = *name;
  }
  if (const auto data_dir = read_path(scope, "data_dir", true)) {
    node.data_dir = *data_dir;
  }
  read_int_into(scope, "threads", 1, 64, node.threads);
  read_int_into(scope, "workers", 1, 64, node.workers);
  read_choice(scope, "network_scope", kNetworkScopes, node.network_scope);
  profile.node = std::move(node);
}

void Checker::check_log(const Scope& scope, Profile& profile) {
  check_unknown_keys(scope, kLogKeys);
  read_choice(scope, "level", kLogLevels, profile.log.level);
  profile.log.file = read_path(scope, "file");
}

void Checker::check_loader(const Scope& scope, Profile& profile) {
  check_unknown_keys(scope, kLoaderKeys);
  const auto items = read_string_list(scope, "search_paths");
  if (!items) {
    return;
  }
  for (const auto& item : *items) {
    std::string problem;
    if (auto path = resolve_profile_path(item.value, base_, problem)) {
      profile.search_paths.push_back(std::move(*path));
    } else {
      fail(item.where, item.key, problem);
    }
  }
}

void Checker::check_plugins(const toml::table& root, const std::shared_ptr<const toml::table>& doc,
                            Profile& profile) {
  const toml::node* node = root.get("plugins");
  if (node == nullptr) {
    return;
  }
  const toml::array* array = node->as_array();
  if (array == nullptr) {
    type_error(*node, "plugins", "an array of tables ([[plugins]])");
    return;
  }
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    if (const toml::table* entry = element.as_table()) {
      check_plugin_entry(*entry, i, doc, profile);
    } else {
      type_error(element, "plugins[" + std::to_string(i) + "]", "a table");
    }
  }
}

void Checker::check_plugin_entry(const toml::table& entry, std::size_t index,
                                 const std::shared_ptr<const toml::table>& doc, Profile& profile) {
  Scope scope;
  scope.table = &entry;
  scope.prefix = "plugins[" + std::to_string(index) + "]";
  scope.title = "[[plugins]]";
  scope.where = at(entry.source());
  check_unknown_keys(scope, kPluginKeys);

  PluginEntry plugin;
  plugin.where = scope.where;
  bool ok = true;
  if (const auto id = read_string(scope, "id", true)) {
    const SourceLocation id_where = at(find(scope, "id")->source());
    if (!is_valid_plugin_id(*id)) {
      fail(id_where, scope.key("id"),
           "invalid plugin id " + single_quoted(*id) +
               ": use lower-case segments of [a-z0-9] joined by '.', '-' or '_', with at least "
               "one '.', at most 63 bytes (e.g. 'entre.transport.udp')");
      ok = false;
    }
    if (const auto first = listed_ids_.find(*id); first != listed_ids_.end()) {
      fail(id_where, scope.key("id"),
           "duplicate plugin id " + single_quoted(*id) + " (first listed at line " +
               std::to_string(first->second) + ")");
      ok = false;
    } else {
      // Even a malformed id counts as listed, so references to it do not add a second error.
      listed_ids_.emplace(*id, id_where.line);
      listed_order_.push_back(*id);
    }
    plugin.id = *id;
  } else {
    ok = false;
  }
  plugin.file = read_path(scope, "file");
  if (const auto required = read_bool(scope, "required")) {
    plugin.required = *required;
  }
  if (const toml::node* config = find(scope, "config")) {
    if (const toml::table* table = config->as_table()) {
      // Shares ownership of the whole document, so source positions stay with the table.
      plugin.config = std::shared_ptr<const toml::table>(doc, table);
    } else {
      type_error(*config, scope.key("config"), "a table");
      ok = false;
    }
  } else {
    plugin.config = std::make_shared<const toml::table>();
  }
  if (ok) {
    profile.plugins.push_back(std::move(plugin));
  }
}

void Checker::check_reference(const Scope& scope, std::string_view name, std::string& out) {
  const auto id = read_string(scope, name);
  if (!id) {
    return;
  }
  const SourceLocation where = at(find(scope, name)->source());
  if (id->empty()) {
    fail(where, scope.key(name), "must not be empty (leave the key out to name no plugin)");
    return;
  }
  if (!listed(*id)) {
    fail(where, scope.key(name),
         scope.key(name) + " names plugin " + single_quoted(*id) +
             ", which is not listed in [[plugins]]" + id_suggestion_suffix(*id, listed_order_));
    return;
  }
  out = *id;
}

std::vector<std::string> Checker::check_reference_list(const Scope& scope, std::string_view name,
                                                       bool is_transport) {
  std::vector<std::string> ids;
  const auto items = read_string_list(scope, name);
  if (!items) {
    return ids;
  }
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < items->size(); ++i) {
    const ListItem& item = (*items)[i];
    if (const auto previous = seen.find(item.value); previous != seen.end()) {
      fail(item.where, item.key,
           "duplicate entry " + single_quoted(item.value) + " in " + scope.key(name) +
               " (already at " + scope.key(name) + "[" + std::to_string(previous->second) + "])");
      continue;
    }
    seen.emplace(item.value, i);
    if (!listed(item.value)) {
      if (is_transport) {
        fail(item.where, item.key,
             "unknown transport " + single_quoted(item.value) + " in " + scope.key(name) +
                 ": it is not listed in [[plugins]]" +
                 id_suggestion_suffix(item.value, listed_order_));
      } else {
        fail(item.where, item.key,
             item.key + " names plugin " + single_quoted(item.value) +
                 ", which is not listed in [[plugins]]" +
                 id_suggestion_suffix(item.value, listed_order_));
      }
      continue;
    }
    ids.push_back(item.value);
  }
  return ids;
}

void Checker::check_transport(const Scope& scope, Profile& profile) {
  check_unknown_keys(scope, kTransportKeys);
  TransportSection& transport = profile.transport;
  transport.order = check_reference_list(scope, "order", true);
  const auto keepalive = read_int(scope, "keepalive_ms", 1000, 600000);
  const auto link_timeout = read_int(scope, "link_timeout_ms", 1000, 3600000);
  if (keepalive) {
    transport.keepalive_ms = static_cast<uint32_t>(*keepalive);
  }
  if (link_timeout) {
    transport.link_timeout_ms = static_cast<uint32_t>(*link_timeout);
  }
  const bool keepalive_known = keepalive || find(scope, "keepalive_ms") == nullptr;
  const bool timeout_known = link_timeout || find(scope, "link_timeout_ms") == nullptr;
  if (keepalive_known && timeout_known && transport.link_timeout_ms <= transport.keepalive_ms) {
    const toml::node* blame = find(scope, "link_timeout_ms");
    std::string key = scope.key("link_timeout_ms");
    if (blame == nullptr) {
      blame = find(scope, "keepalive_ms");
      key = scope.key("keepalive_ms");
    }
    fail(blame != nullptr ? at(blame->source()) : scope.where, std::move(key),
         "link_timeout_ms (" + std::to_string(transport.link_timeout_ms) +
             ") must be greater than keepalive_ms (" + std::to_string(transport.keepalive_ms) +
             ")");
  }
}

void Checker::check_discovery(const Scope& scope, Profile& profile) {
  check_unknown_keys(scope, kDiscoveryKeys);
  if (const auto epoch = read_int(scope, "epoch_seconds", 10, 86400)) {
    profile.discovery.epoch_seconds = static_cast<uint32_t>(*epoch);
  }
  if (const auto entries = read_int(scope, "beacon_entries", 1, 64)) {
    profile.discovery.beacon_entries = static_cast<uint32_t>(*entries);
  }
  if (const auto meeting = read_bool(scope, "allow_meeting")) {
    profile.discovery.allow_meeting = *meeting;
  }
}

void Checker::check_crypto(const Scope& scope, Profile& profile) {
  check_unknown_keys(scope, kCryptoKeys);
  check_reference(scope, "suite", profile.crypto.suite);
  read_choice(scope, "kdf", kKdfStrengths, profile.crypto.kdf);
}

void Checker::check_codec(const Scope& scope, Profile& profile) {
  check_unknown_keys(scope, kCodecKeys);
  profile.codec.preferred = check_reference_list(scope, "preferred", false);
  read_int_into(scope, "bitrate_bps", 6000, 510000, profile.codec.bitrate_bps);
  if (const auto fec = read_bool(scope, "fec")) {
    profile.codec.fec = *fec;
  }
  if (const auto dtx = read_bool(scope, "dtx")) {
    profile.codec.dtx = *dtx;
  }
  const toml::node* frame = find(scope, "frame_ms");
  if (frame == nullptr) {
    return;
  }
  const auto* value = frame->as_integer();
  if (value == nullptr) {
    type_error(*frame, scope.key("frame_ms"), "an integer");
    return;
  }
  const int64_t frame_ms = value->get();
  if (std::find(kFrameDurationsMs.begin(), kFrameDurationsMs.end(), frame_ms) ==
      kFrameDurationsMs.end()) {
    fail(at(frame->source()), scope.key("frame_ms"),
         "must be one of 10, 20, 40, 60, found " + std::to_string(frame_ms));
    return;
  }
  profile.codec.frame_ms = static_cast<uint32_t>(frame_ms);
}

void Checker::check_storage(const Scope& scope, Profile& profile) {
  check_unknown_keys(scope, kStorageKeys);
  check_reference(scope, "plugin", profile.storage.plugin);
}

void Checker::check_audio(const Scope& scope, Profile& profile) {
  check_unknown_keys(scope, kAudioKeys);
  check_reference(scope, "plugin", profile.audio.plugin);
  if (auto capture = read_string(scope, "capture_device")) {
    profile.audio.capture_device = std::move(*capture);
  }
  if (auto playback = read_string(scope, "playback_device")) {
    profile.audio.playback_device = std::move(*playback);
  }
}

void Checker::check_relay(const Scope& scope, Profile& profile) {
  if (scope.table == nullptr) {
    return;
  }
  check_unknown_keys(scope, kRelayKeys);
  RelaySection relay;
  if (auto listen = read_string(scope, "listen")) {
    if (is_ip_address(*listen)) {
      relay.listen = std::move(*listen);
    } else {
      fail(at(find(scope, "listen")->source()), scope.key("listen"),
           "must be an IP address such as \"0.0.0.0\" or \"::\", found \"" + *listen + "\"");
    }
  }
  read_int_into(scope, "port", 0, 65535, relay.port);
  if (auto key_file = read_path(scope, "static_key_file", true)) {
    relay.static_key_file = std::move(*key_file);
  }
  read_int_into(scope, "max_connections", 1, 1000000, relay.max_connections);
  read_int_into(scope, "max_connections_per_address", 1, 65535, relay.max_connections_per_address);
  read_int_into(scope, "handshakes_per_second", 1, 100000, relay.handshakes_per_second);
  const auto frame = read_int(scope, "max_frame_bytes", sdk::kTransportMinPayloadBytes, 65000);
  if (frame) {
    relay.max_frame_bytes = static_cast<uint32_t>(*frame);
  }
  read_int_into(scope, "client_rate_bytes_per_second", 1024, 1073741824,
                relay.client_rate_bytes_per_second);
  const auto burst = read_int(scope, "client_burst_bytes", 1024, 1073741824);
  if (burst) {
    relay.client_burst_bytes = static_cast<uint32_t>(*burst);
  }
  read_int_into(scope, "queue_depth_frames", 1, 65536, relay.queue_depth_frames);
  read_int_into(scope, "idle_timeout_ms", 1000, 86400000, relay.idle_timeout_ms);
  read_int_into(scope, "handshake_timeout_ms", 100, 60000, relay.handshake_timeout_ms);
  read_int_into(scope, "udp_reflect_port", 0, 65535, relay.udp_reflect_port);

  const bool frame_known = frame || find(scope, "max_frame_bytes") == nullptr;
  const bool burst_known = burst || find(scope, "client_burst_bytes") == nullptr;
  if (frame_known && burst_known && relay.client_burst_bytes < relay.max_frame_bytes) {
    const toml::node* blame = find(scope, "client_burst_bytes");
    std::string key = scope.key("client_burst_bytes");
    if (blame == nullptr) {
      blame = find(scope, "max_frame_bytes");
      key = scope.key("max_frame_bytes");
    }
    fail(blame != nullptr ? at(blame->source()) : scope.where, std::move(key),
         "client_burst_bytes (" + std::to_string(relay.client_burst_bytes) +
             ") must be at least max_frame_bytes (" + std::to_string(relay.max_frame_bytes) +
             "), or no frame of the maximum size could ever pass");
  }
  profile.relay = std::move(relay);
}

void Checker::check(const std::shared_ptr<const toml::table>& doc, Profile& profile) {
  const toml::table& root = *doc;
  Scope top;
  top.table = &root;
  top.title = "the top-level table";
  top.where = SourceLocation{file_, 1, 1};
  check_unknown_keys(top, kTopLevelKeys);

  // [[plugins]] first: the other sections refer to its ids.
  check_plugins(root, doc, profile);

  const Scope node = section(root, "node");
  const Scope relay = section(root, "relay");
  if (root.get("node") == nullptr && root.get("relay") == nullptr) {
    fail(SourceLocation{file_, 1, 1}, "node",
         "missing [node] table (required unless the profile configures a relay with [relay])");
  }
  check_node(node, profile);
  check_log(section(root, "log"), profile);
  check_loader(section(root, "loader"), profile);
  check_transport(section(root, "transport"), profile);
  check_discovery(section(root, "discovery"), profile);
  check_crypto(section(root, "crypto"), profile);
  check_codec(section(root, "codec"), profile);
  check_storage(section(root, "storage"), profile);
  check_audio(section(root, "audio"), profile);
  check_relay(relay, profile);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Optimal string alignment distance: insertions, deletions, substitutions and transpositions of
  // adjacent characters each cost one. ASCII letters compare without case.
  const auto same = [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  };
  const std::size_t rows = a.size() + 1;
  const std::size_t cols = b.size() + 1;
  std::vector<std::size_t> d(rows * cols);
  const auto cell = [&](std::size_t i, std::size_t j) -> std::size_t& { return d[i * cols + j]; };
  for (std::size_t i = 0; i < rows; ++i) {
    cell(i, 0) = i;
  }
  for (std::size_t j = 0; j < cols; ++j) {
    cell(0, j) = j;
  }
  for (std::size_t i = 1; i < rows; ++i) {
    for (std::size_t j = 1; j < cols; ++j) {
      const std::size_t cost = same(a[i - 1], b[j - 1]) ? 0 : 1;
      std::size_t best =
          std::min({cell(i - 1, j) + 1, cell(i, j - 1) + 1, cell(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && same(a[i - 1], b[j - 2]) && same(a[i - 2], b[j - 1])) {
        best = std::min(best, cell(i - 2, j - 2) + 1);
      }
      cell(i, j) = best;
    }
  }
  return cell(rows - 1, cols - 1);
}

} // namespace

// "a string", "an integer", ...: TOML types in plain words.
std::string_view toml_type_phrase(const toml::node& node) {
  switch (node.type()) {
  case toml::node_type::string:
    return "a string";
  case toml::node_type::integer:
    return "an integer";
  case toml::node_type::floating_point:
    return "a floating-point number";
  case toml::node_type::boolean:
    return "a boolean";
  case toml::node_type::table:
    return "a table";
  case toml::node_type::array:
    return "an array";
  case toml::node_type::date:
    return "a date";
  case toml::node_type::time:
    return "a time";
  case toml::node_type::date_time:
    return "a date-time";
  case toml::node_type::none:
    break;
  }
  return "nothing";
}

std::string ProfileError::str() const {
  std::string out;
  if (!where.file.empty()) {
    out += where.file;
  }
  if (where.line != 0) {
    out += out.empty() ? "" : ":";
    out += std::to_string(where.line) + ":" + std::to_string(where.column);
  }
  if (!key.empty()) {
    out += out.empty() ? "" : ": ";
    out += key;
  }
  out += out.empty() ? "" : ": ";
  out += message;
  return out;
}

const PluginEntry* Profile::find_plugin(std::string_view id) const {
  const auto it = std::find_if(plugins.begin(), plugins.end(),
                               [id](const PluginEntry& entry) { return entry.id == id; });
  return it == plugins.end() ? nullptr : &*it;
}

const char* log_level_name(LogLevelSetting level) {
  for (const auto& choice : kLogLevels) {
    if (choice.value == level) {
      return choice.name.data(); // the names are string literals, so NUL-terminated
    }
  }
  return "unknown";
}

std::optional<std::string> did_you_mean(std::string_view word,
                                        const std::vector<std::string>& candidates) {
  // Close enough: at most a third of the word's length (at least one) edits, and fewer edits
  // than the word has characters, so that nothing is suggested for a word that shares nothing.
  const std::size_t limit = std::max<std::size_t>(1, word.size() / 3);
  std::optional<std::string> best;
  std::size_t best_distance = limit + 1;
  for (const auto& candidate : candidates) {
    const std::size_t distance = edit_distance(word, candidate);
    if (distance < best_distance && distance < word.size()) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

ProfileLoadResult parse_profile(std::string_view text, std::string_view source_name,
                                const fs::path& base_dir) {
  ProfileLoadResult result;
  const std::string file(source_name);
  std::error_code ec;
  fs::path base = fs::absolute(base_dir, ec);
  if (ec) {
    base = base_dir;
  }
  base = base.lexically_normal();

  std::shared_ptr<const toml::table> doc;
  try {
    doc = std::make_shared<const toml::table>(toml::parse(text, std::string(source_name)));
  } catch (const toml::parse_error& error) {
    const auto& begin = error.source().begin;
    result.errors.push_back(ProfileError{SourceLocation{file, begin.line, begin.column}, "",
                                         describe_parse_error(error, text)});
    return result;
  }

  Profile profile;
  const fs::path source_path(source_name);
  profile.source = source_path.is_absolute() ? source_path.lexically_normal()
                                             : (base / source_path.filename()).lexically_normal();
  Checker checker(file, base);
  checker.check(doc, profile);
  result.errors = checker.take_errors();
  std::stable_sort(
      result.errors.begin(), result.errors.end(), [](const ProfileError& a, const ProfileError& b) {
        return std::pair(a.where.line, a.where.column) < std::pair(b.where.line, b.where.column);
      });
  if (result.errors.empty()) {
    result.profile = std::move(profile);
  }
  return result;
}

ProfileLoadResult load_profile_file(const fs::path& path) {
  const std::string name = path.string();
  const auto fail_with = [&name](std::string message) {
    ProfileLoadResult result;
    result.errors.push_back(ProfileError{SourceLocation{name, 0, 0}, "", std::move(message)});
    return result;
  };
  std::error_code status_error;
  if (fs::is_directory(path, status_error)) {
    return fail_with("cannot read the profile: it is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail_with(fs::exists(path, status_error)
                         ? "cannot open the profile: permission denied or unreadable"
                         : "cannot open the profile: no such file");
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) {
    return fail_with("cannot read the profile: read error");
  }
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  if (ec) {
    absolute = path;
  }
  absolute = absolute.lexically_normal();
  ProfileLoadResult result = parse_profile(contents.str(), name, absolute.parent_path());
  if (result.profile) {
    result.profile->source = absolute;
  }
  return result;
}

} // namespace entre
