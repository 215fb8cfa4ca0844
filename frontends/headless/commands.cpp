#include "commands.hpp"
#include "human.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

namespace entre::host {
namespace {

const char* error_code_name(sdk::StatusCode code) {
  switch (code) {
  case sdk::StatusCode::kOk:
    return "ok";
  case sdk::StatusCode::kInvalidArgument:
    return "invalid_argument";
  case sdk::StatusCode::kOutOfRange:
    return "out_of_range";
  case sdk::StatusCode::kNotFound:
    return "not_found";
  case sdk::StatusCode::kAlreadyExists:
    return "already_exists";
  case sdk::StatusCode::kPermissionDenied:
    return "permission_denied";
  case sdk::StatusCode::kUnavailable:
    return "unavailable";
  case sdk::StatusCode::kIoError:
    return "io_error";
  case sdk::StatusCode::kCorrupt:
    return "corrupt";
  case sdk::StatusCode::kAuthFailed:
    return "auth_failed";
  case sdk::StatusCode::kUnsupported:
    return "unsupported";
  case sdk::StatusCode::kBufferTooSmall:
    return "buffer_too_small";
  case sdk::StatusCode::kTimeout:
    return "timeout";
  case sdk::StatusCode::kClosed:
    return "closed";
  case sdk::StatusCode::kInternal:
    return "internal";
  }
  return "internal";
}

template <typename T> T take(ApiResult<T> r) {
  if (!r) {
    throw CommandError(error_code_name(r.error.code), r.error.message);
  }
  return std::move(*r.value);
}

Json contact_json(const ContactInfo& c) {
  return Json{{"id", c.id},           {"name", c.name},           {"online", c.online},
              {"path", c.path},       {"rtt_ms", c.rtt_ms},       {"loss", c.loss},
              {"unread", c.unread},   {"not_added", c.not_added}, {"verified", c.verified},
              {"blocked", c.blocked}, {"added_ms", c.added_ms},   {"endpoints", c.endpoints}};
}

Json message_json(const MessageInfo& m) {
  return Json{{"id", m.id},
              {"contact", m.contact},
              {"outgoing", m.outgoing},
              {"state", message_state_name(m.state)},
              {"order", m.order},
              {"timestamp_ms", m.timestamp_ms},
              {"local_ms", m.local_ms},
              {"path", m.path},
              {"text", m.text}};
}

Json call_json(const CallInfo& c) {
  return Json{{"id", c.id},
              {"contact", c.contact},
              {"outgoing", c.outgoing},
              {"phase", call_phase_name(c.phase)},
              {"end", c.end},
              {"codec", c.codec},
              {"sample_rate", c.sample_rate},
              {"frame_ms", c.frame_ms},
              {"muted", c.muted},
              {"started_ms", c.started_ms},
              {"answered_ms", c.answered_ms}};
}

Json call_stats_json(const CallStats& s) {
  return Json{{"id", s.id},
              {"contact", s.contact},
              {"rtt_ms", s.rtt_ms},
              {"loss_percent", s.loss_percent},
              {"peer_loss_percent", s.peer_loss_percent},
              {"jitter_ms", s.jitter_ms},
              {"buffer_ms", s.buffer_ms},
              {"bitrate_bps", s.bitrate_bps},
              {"frames_sent", s.frames_sent},
              {"frames_received", s.frames_received},
              {"frames_played", s.frames_played},
              {"frames_concealed", s.frames_concealed},
              {"frames_recovered", s.frames_recovered},
              {"frames_late", s.frames_late},
              {"frames_replayed", s.frames_replayed},
              {"frames_forged", s.frames_forged},
              {"frames_malformed", s.frames_malformed},
              {"frames_foreign", s.frames_foreign},
              {"input_level", s.input_level},
              {"output_level", s.output_level},
              {"muted", s.muted}};
}

Json call_record_json(const CallRecord& r) {
  return Json{{"id", r.id},
              {"contact", r.contact},
              {"outgoing", r.outgoing},
              {"started_ms", r.started_ms},
              {"answered_ms", r.answered_ms},
              {"ended_ms", r.ended_ms},
              {"end", r.end},
              {"codec", r.codec}};
}

std::string unescape(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      ++i;
      out += text[i] == 'n' ? '\n' : text[i];
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string str(const Json& params, const char* key, const std::string& fallback = {}) {
  const auto it = params.find(key);
  if (it == params.end()) {
    return fallback;
  }
  return it->is_string() ? it->get<std::string>() : std::to_string(it->get<uint64_t>());
}

uint64_t num(const Json& params, const char* key, uint64_t fallback) {
  const auto it = params.find(key);
  return it == params.end() ? fallback : it->get<uint64_t>();
}

std::string percent(double share) { return std::to_string(static_cast<int>(share * 100 + 0.5)); }

} // namespace

std::string printable(const std::string& text, const std::string& newline) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const bool c1 = c == 0xc2 && i + 1 < text.size() &&
                    static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
                    static_cast<unsigned char>(text[i + 1]) <= 0x9f;
    if (c == '\n') {
      out += newline;
    } else if (c < 0x20 || c == 0x7f) {
      out += '?';
    } else if (c1) {
      out += '?'; // a C1 control (U+0080..U+009F): CSI and friends on some terminals
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string one_line(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    escaped += c == '\\' ? std::string("\\\\") : std::string(1, c);
  }
  return printable(escaped, "\\n");
}

const std::vector<MethodSpec>& methods() {
  using K = ParamKind;
  static const std::vector<MethodSpec> all = {
      {"help",
       {{"command", K::kWord, false}},
       "help [COMMAND]",
       "list the commands, or one",
       false},
      {"id", {}, "id", "this node's id (its public key)", false},
      {"code",
       {{"hints", K::kWords, false}},
       "code [ENDPOINT...]",
       "this node's contact code, to give to a contact (with ENDPOINTs: those instead of its own)",
       false},
      {"safety",
       {{"contact", K::kWord, true}},
       "safety CONTACT",
       "the safety number to compare with CONTACT's screen before 'verify'",
       true},
      {"contacts", {}, "contacts", "every contact: link, unread count, flags", false},
      {"add",
       {{"code", K::kWord, true}, {"name", K::kRest, false}},
       "add CODE [NAME]",
       "add a contact from its contact code",
       false},
      {"rename",
       {{"contact", K::kWord, true}, {"name", K::kRest, true}},
       "rename CONTACT NAME",
       "give a contact another name",
       true},
      {"verify",
       {{"contact", K::kWord, true}},
       "verify CONTACT",
       "mark a contact verified (after comparing safety numbers)",
       true},
      {"unverify", {{"contact", K::kWord, true}}, "unverify CONTACT", "take 'verify' back", true},
      {"block",
       {{"contact", K::kWord, true}},
       "block CONTACT",
       "refuse a contact's messages and links",
       true},
      {"unblock", {{"contact", K::kWord, true}}, "unblock CONTACT", "take 'block' back", true},
      {"remove",
       {{"contact", K::kWord, true}},
       "remove CONTACT",
       "delete a contact and its conversation",
       true},
      {"send",
       {{"contact", K::kWord, true}, {"text", K::kRest, true}},
       "send CONTACT TEXT",
       "send a message (\\n in TEXT is a line break)",
       true},
      {"history",
       {{"contact", K::kWord, true},
        {"limit", K::kUnsigned, false},
        {"before", K::kUnsigned, false}},
       "history CONTACT [LIMIT [BEFORE]]",
       "the newest LIMIT messages (default 50) before order BEFORE, oldest first",
       true},
      {"unread", {}, "unread", "contacts with unread messages", false},
      {"read",
       {{"contact", K::kWord, true}},
       "read CONTACT",
       "mark a conversation read (the contact gets a read receipt)",
       true},
      {"meet",
       {{"seconds", K::kWord, false}},
       "meet [SECONDS|off]",
       "meeting mode: meet nodes on this LAN without a code (default 120 s)",
       false},
      {"call", {{"contact", K::kWord, true}}, "call CONTACT", "call a contact (voice)", true},
      {"answer", {{"call", K::kWord, false}}, "answer [CALL]", "answer the incoming call", false},
      {"hangup",
       {{"call", K::kWord, false}},
       "hangup [CALL]",
       "hang up, decline or cancel the call",
       false},
      {"mute", {}, "mute", "mute the microphone during the call", false},
      {"unmute", {}, "unmute", "take 'mute' back", false},
      {"callstats",
       {},
       "callstats",
       "the call in progress: round trip, loss, jitter, buffer, bitrate, frames",
       false},
      {"devices",
       {},
       "devices",
       "the audio devices, for [audio] capture_device and playback_device",
       false},
      {"calls",
       {{"contact", K::kWord, false}, {"limit", K::kUnsigned, false}},
       "calls [CONTACT [LIMIT]]",
       "the call history, newest first (default 20)",
       true},
      {"status", {}, "status", "node name, id, endpoints, links and outbox", false},
      {"links", {}, "links", "contacts online: path, round trip and loss", false},
      {"plugins", {}, "plugins", "the plugins this node loaded (or failed to)", false},
      {"counters", {}, "counters", "the node's counters", false},
  };
  return all;
}

const MethodSpec* find_method(const std::string& name) {
  for (const auto& m : methods()) {
    if (m.name == name) {
      return &m;
    }
  }
  return nullptr;
}

Json parse_line(const std::string& line) {
  std::istringstream in(line);
  std::string name;
  in >> name;
  const MethodSpec* spec = find_method(name);
  if (spec == nullptr) {
    throw CommandError("unknown_method", "unknown command '" + name + "': 'help' lists them");
  }
  Json params = Json::object();
  for (const auto& p : spec->params) {
    in >> std::ws;
    if (in.peek() == std::char_traits<char>::eof()) {
      if (p.required) {
        throw CommandError("invalid_params", "missing " + p.name + ": " + spec->usage);
      }
      break;
    }
    switch (p.kind) {
    case ParamKind::kWord: {
      std::string w;
      in >> w;
      params[p.name] = w;
      break;
    }
    case ParamKind::kRest: {
      std::string rest;
      std::getline(in, rest);
      params[p.name] = unescape(rest);
      break;
    }
    case ParamKind::kWords: {
      Json list = Json::array();
      for (std::string w; in >> w;) {
        list.push_back(w);
      }
      params[p.name] = list;
      break;
    }
    case ParamKind::kUnsigned: {
      std::string w;
      in >> w;
      if (w.empty() || w.size() > 9 || !std::all_of(w.begin(), w.end(), ::isdigit)) {
        throw CommandError("invalid_params",
                           p.name + " must be a number, not '" + w + "': " + spec->usage);
      }
      params[p.name] = std::stoull(w);
      break;
    }
    }
  }
  in >> std::ws;
  if (in.peek() != std::char_traits<char>::eof()) {
    std::string extra;
    std::getline(in, extra);
    throw CommandError("invalid_params", "too many words ('" + extra + "'): " + spec->usage);
  }
  return Json{{"method", name}, {"params", params}};
}

Json Commands::call(const std::string& method, const Json& params) {
  const MethodSpec* spec = find_method(method);
  if (spec == nullptr) {
    throw CommandError("unknown_method", "unknown method '" + method + "': 'help' lists them");
  }
  if (!params.is_object()) {
    throw CommandError("invalid_params", "params must be an object");
  }
  for (const auto& item : params.items()) {
    const std::string& key = item.key();
    const Json& value = item.value();
    const auto p = std::find_if(spec->params.begin(), spec->params.end(),
                                [&](const ParamSpec& s) { return s.name == key; });
    if (p == spec->params.end()) {
      throw CommandError("invalid_params", "'" + method + "' has no parameter '" + key + "'");
    }
    bool ok = false;
    switch (p->kind) {
    case ParamKind::kWord:
      // A number is taken for a word too (meet's seconds).
      ok = value.is_string() || value.is_number_unsigned();
      break;
    case ParamKind::kRest:
      ok = value.is_string();
      break;
    case ParamKind::kWords:
      ok = value.is_array() &&
           std::all_of(value.begin(), value.end(), [](const Json& v) { return v.is_string(); });
      break;
    case ParamKind::kUnsigned:
      ok = value.is_number_unsigned() || (value.is_number_integer() && value.get<int64_t>() >= 0);
      break;
    }
    if (!ok) {
      throw CommandError("invalid_params",
                         "parameter '" + key + "' of '" + method + "' must be " +
                             (p->kind == ParamKind::kWords      ? "a list of strings"
                              : p->kind == ParamKind::kUnsigned ? "a non-negative integer"
                                                                : "a string"));
    }
  }
  for (const auto& p : spec->params) {
    if (p.required && !params.contains(p.name)) {
      throw CommandError("invalid_params",
                         "'" + method + "' needs parameter '" + p.name + "': " + spec->usage);
    }
  }
  std::lock_guard lock(mu_);
  if (closed_) {
    throw CommandError("closed", "the node is stopping");
  }
  return run(*spec, params);
}

void Commands::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
}

void Commands::observe(const Event& event) {
  if (const auto* t = std::get_if<TransportStateChanged>(&event)) {
    std::lock_guard lock(endpoints_mu_);
    auto it = std::find_if(endpoints_.begin(), endpoints_.end(),
                           [&](const auto& e) { return e.first == t->plugin_id; });
    if (it == endpoints_.end()) {
      endpoints_.emplace_back(t->plugin_id, std::vector<std::string>{});
      it = endpoints_.end() - 1;
    }
    it->second = t->running ? t->endpoints : std::vector<std::string>{};
  }
}

std::vector<std::string> Commands::contact_names() {
  std::vector<std::string> names;
  for (const auto& c : node_.contacts()) {
    names.push_back(c.name.empty() || c.name.find(' ') != std::string::npos ? c.id : c.name);
  }
  return names;
}

// A contact by id, by a name exactly one contact has (the same letters in any case when no name
// matches exactly), or by a start of its id (6 characters or more) that exactly one contact's id
// has. When none matches, names close to `who` are offered.
std::string Commands::resolve(const std::string& who) {
  auto folded = [](std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
  };
  std::vector<std::string> by_name;
  std::vector<std::string> by_folded_name;
  std::vector<std::string> by_prefix;
  std::vector<std::string> names;
  for (const auto& c : node_.contacts()) {
    if (c.id == who) {
      return c.id;
    }
    if (c.name == who) {
      by_name.push_back(c.id);
    } else if (folded(c.name) == folded(who)) {
      by_folded_name.push_back(c.id);
    }
    if (who.size() >= 6 && c.id.compare(0, who.size(), who) == 0) {
      by_prefix.push_back(c.id);
    }
    names.push_back(c.name);
  }
  const auto& matches = !by_name.empty()          ? by_name
                        : !by_folded_name.empty() ? by_folded_name
                                                  : by_prefix;
  if (matches.size() == 1) {
    return matches.front();
  }
  if (matches.empty()) {
    std::string offer;
    for (const auto& name : close_names(who, names)) {
      offer += (offer.empty() ? "did you mean '" : "' or '") + one_line(name);
    }
    throw CommandError("not_found", "no contact '" + one_line(who) + "': " +
                                        (offer.empty() ? "give its name, its id or the start of "
                                                         "its id ('contacts' lists them)"
                                                       : offer + "'? ('contacts' lists them)"));
  }
  throw CommandError("ambiguous", "more than one contact matches '" + one_line(who) +
                                      "': use its id (or the start of it, 'contacts' shows them)");
}

Json Commands::run(const MethodSpec& spec, const Json& params) {
  const std::string& m = spec.name;
  if (m == "help") {
    const std::string which = str(params, "command");
    Json list = Json::array();
    for (const auto& s : methods()) {
      if (which.empty() || s.name == which) {
        list.push_back(Json{{"name", s.name}, {"usage", s.usage}, {"summary", s.summary}});
      }
    }
    if (list.empty()) {
      throw CommandError("not_found", "no command '" + which + "': 'help' lists them");
    }
    return Json{{"commands", list}};
  }
  if (m == "id") {
    const std::string id = node_.my_id();
    if (id.empty()) {
      throw CommandError("closed", "no identity unlocked: start with a passphrase");
    }
    return Json{{"id", id}};
  }
  if (m == "code") {
    std::vector<std::string> hints;
    if (params.contains("hints")) {
      hints = params["hints"].get<std::vector<std::string>>();
    }
    return Json{{"code", take(node_.contact_code(hints))}};
  }
  if (m == "safety") {
    const std::string id = resolve(str(params, "contact"));
    return Json{{"contact", id}, {"safety_number", take(node_.safety_number(id))}};
  }
  if (m == "contacts") {
    Json list = Json::array();
    for (const auto& c : node_.contacts()) {
      list.push_back(contact_json(c));
    }
    return Json{{"contacts", list}};
  }
  if (m == "add") {
    return Json{{"contact",
                 contact_json(take(node_.add_contact(str(params, "code"), str(params, "name"))))}};
  }
  if (m == "rename") {
    const std::string id = resolve(str(params, "contact"));
    take(node_.rename_contact(id, str(params, "name")));
    return Json{{"contact", id}};
  }
  if (m == "verify" || m == "unverify") {
    const std::string id = resolve(str(params, "contact"));
    take(node_.set_verified(id, m == "verify"));
    return Json{{"contact", id}};
  }
  if (m == "block" || m == "unblock") {
    const std::string id = resolve(str(params, "contact"));
    take(node_.set_blocked(id, m == "block"));
    return Json{{"contact", id}};
  }
  if (m == "remove") {
    const std::string id = resolve(str(params, "contact"));
    take(node_.remove_contact(id));
    return Json{{"contact", id}};
  }
  if (m == "send") {
    const std::string id = resolve(str(params, "contact"));
    return Json{{"message", message_json(take(node_.send(id, str(params, "text"))))}};
  }
  if (m == "history") {
    const std::string id = resolve(str(params, "contact"));
    const uint64_t limit = std::min<uint64_t>(num(params, "limit", 50), 10000);
    auto list = take(node_.history(id, num(params, "before", 0), static_cast<uint32_t>(limit)));
    Json out = Json::array();
    for (auto it = list.rbegin(); it != list.rend(); ++it) {
      out.push_back(message_json(*it));
    }
    return Json{{"messages", out}};
  }
  if (m == "unread") {
    Json list = Json::array();
    for (const auto& c : node_.contacts()) {
      if (c.unread > 0) {
        list.push_back(Json{{"id", c.id}, {"name", c.name}, {"unread", c.unread}});
      }
    }
    return Json{{"contacts", list}};
  }
  if (m == "read") {
    return Json{{"marked", take(node_.mark_read(resolve(str(params, "contact"))))}};
  }
  if (m == "meet") {
    const std::string arg = str(params, "seconds", "120");
    if (arg == "off") {
      take(node_.close_meeting());
      return Json{{"meeting_seconds", 0}};
    }
    if (arg.empty() || arg.size() > 6 || !std::all_of(arg.begin(), arg.end(), ::isdigit) ||
        std::stoi(arg) == 0) {
      throw CommandError("invalid_params",
                         "meet takes a number of seconds or 'off', not '" + arg + "'");
    }
    const int seconds = std::min(std::stoi(arg), 900);
    take(node_.open_meeting(std::chrono::seconds(seconds)));
    return Json{{"meeting_seconds", seconds}};
  }
  if (m == "call") {
    return Json{{"call", call_json(take(node_.call(resolve(str(params, "contact")))))}};
  }
  if (m == "answer") {
    return Json{{"call", call_json(take(node_.answer(str(params, "call"))))}};
  }
  if (m == "hangup") {
    return Json{{"call", call_json(take(node_.hang_up(str(params, "call"))))}};
  }
  if (m == "mute" || m == "unmute") {
    return Json{{"call", call_json(take(node_.set_muted(m == "mute")))}};
  }
  if (m == "callstats") {
    const auto now = node_.current_call();
    if (!now) {
      throw CommandError("not_found", "no call in progress");
    }
    const auto stats = node_.call_stats();
    return Json{{"call", call_json(*now)},
                {"stats", stats ? call_stats_json(*stats) : Json(nullptr)}};
  }
  if (m == "devices") {
    const auto d = take(node_.audio_devices());
    return Json{{"capture", d.capture}, {"playback", d.playback}};
  }
  if (m == "calls") {
    const std::string who = str(params, "contact");
    const std::string id = who.empty() ? std::string() : resolve(who);
    const uint64_t limit = std::min<uint64_t>(num(params, "limit", 20), 500);
    Json list = Json::array();
    for (const auto& r : take(node_.call_history(id, static_cast<uint32_t>(limit)))) {
      list.push_back(call_record_json(r));
    }
    return Json{{"calls", list}};
  }
  if (m == "status") {
    const NodeCounters c = node_.counters();
    Json endpoints = Json::array();
    {
      std::lock_guard lock(endpoints_mu_);
      for (const auto& [plugin, list] : endpoints_) {
        for (const auto& e : list) {
          endpoints.push_back(e);
        }
      }
    }
    const std::string id = node_.messaging_available() ? node_.my_id() : std::string();
    Json problems = Json::array();
    for (const auto& p : node_.plugins()) {
      if (!p.problem.empty()) {
        problems.push_back(Json{{"plugin", p.id}, {"message", p.problem}});
      }
    }
    return Json{{"name", node_.name()},
                {"id", id},
                {"locked", node_.messaging_available() && id.empty()},
                {"profile", node_.profile_path().string()},
                {"data_dir", node_.data_dir().string()},
                {"endpoints", endpoints},
                {"links", c.links},
                {"outbox", c.outbox},
                {"problems", problems}};
  }
  if (m == "links") {
    Json list = Json::array();
    for (const auto& c : node_.contacts()) {
      if (c.online) {
        list.push_back(Json{{"contact", c.id},
                            {"name", c.name},
                            {"path", c.path},
                            {"rtt_ms", c.rtt_ms},
                            {"loss", c.loss}});
      }
    }
    return Json{{"links", list}};
  }
  if (m == "plugins") {
    Json list = Json::array();
    for (const auto& p : node_.plugins()) {
      list.push_back(Json{{"id", p.id},
                          {"loaded", p.loaded},
                          {"required", p.required},
                          {"version", p.version},
                          {"kind", p.kind},
                          {"file", p.file.string()},
                          {"error", p.error},
                          {"problem", p.problem}});
    }
    return Json{{"plugins", list}};
  }
  if (m == "counters") {
    const NodeCounters c = node_.counters();
    return Json{{"frames_received", c.frames_received},
                {"frames_dropped", c.frames_dropped},
                {"handshakes_completed", c.handshakes_completed},
                {"handshakes_refused", c.handshakes_refused},
                {"messages_sent", c.messages_sent},
                {"messages_received", c.messages_received},
                {"duplicates_dropped", c.duplicates_dropped},
                {"decrypt_failures", c.decrypt_failures},
                {"storage_failures", c.storage_failures},
                {"beacons_sent", c.beacons_sent},
                {"beacons_recognised", c.beacons_recognised},
                {"beacons_refused", c.beacons_refused},
                {"scope_refusals", c.scope_refusals},
                {"links", c.links},
                {"outbox", c.outbox}};
  }
  throw CommandError("internal", "method '" + m + "' has no implementation");
}

// What the contact actions print before the contact's id.
const std::map<std::string, std::string> kDoneWords = {
    {"rename", "renamed"},      {"remove", "removed"}, {"verify", "verified"},
    {"unverify", "unverified"}, {"block", "blocked"},  {"unblock", "unblocked"}};

std::vector<std::string> render_lines(const std::string& method, const Json& r) {
  std::vector<std::string> out;
  auto s = [](const Json& v) { return v.get<std::string>(); };
  auto n = [](const Json& v) { return std::to_string(v.get<uint64_t>()); };
  if (method == "help") {
    for (const auto& c : r["commands"]) {
      std::string usage = s(c["usage"]);
      usage.resize(std::max<std::size_t>(usage.size(), 34), ' ');
      out.push_back("help " + usage + " " + s(c["summary"]));
    }
    out.emplace_back("end");
  } else if (method == "id") {
    out.push_back("id " + s(r["id"]));
  } else if (method == "code") {
    out.push_back("code " + s(r["code"]));
  } else if (method == "safety") {
    out.push_back("safety " + s(r["contact"]) + " " + s(r["safety_number"]));
  } else if (method == "contacts") {
    for (const auto& c : r["contacts"]) {
      const std::string link = c["online"].get<bool>()
                                   ? "online " + s(c["path"]) + " rtt=" + n(c["rtt_ms"]) +
                                         "ms loss=" + percent(c["loss"].get<double>()) + "%"
                                   : "offline";
      out.push_back("contact " + s(c["id"]) + " " + link + " unread=" + n(c["unread"]) +
                    (c["verified"].get<bool>() ? " verified" : "") +
                    (c["blocked"].get<bool>() ? " blocked" : "") + " " + one_line(s(c["name"])));
    }
    out.emplace_back("end");
  } else if (method == "add") {
    out.push_back("added " + s(r["contact"]["id"]));
  } else if (const auto done = kDoneWords.find(method); done != kDoneWords.end()) {
    out.push_back(done->second + " " + s(r["contact"]));
  } else if (method == "send") {
    out.push_back("queued " + s(r["message"]["id"]));
  } else if (method == "history") {
    for (const auto& m : r["messages"]) {
      const std::string path = s(m["path"]);
      out.push_back("history " + n(m["order"]) + " " +
                    (m["outgoing"].get<bool>() ? "out " : "in ") + s(m["state"]) + " " +
                    s(m["id"]) + " " + (path.empty() ? "-" : path) + " " + one_line(s(m["text"])));
    }
    out.emplace_back("end");
  } else if (method == "unread") {
    for (const auto& c : r["contacts"]) {
      out.push_back("unread " + s(c["id"]) + " " + n(c["unread"]) + " " + one_line(s(c["name"])));
    }
    out.emplace_back("end");
  } else if (method == "read") {
    out.push_back("read " + n(r["marked"]));
  } else if (method == "meet") {
    const auto seconds = r["meeting_seconds"].get<uint64_t>();
    out.push_back(seconds == 0 ? "meeting closed" : "meeting " + std::to_string(seconds));
  } else if (method == "status") {
    std::string endpoints;
    for (const auto& e : r["endpoints"]) {
      endpoints += (endpoints.empty() ? "" : ",") + s(e);
    }
    out.push_back(
        "status name=" + one_line(s(r["name"])) + " id=" + (s(r["id"]).empty() ? "-" : s(r["id"])) +
        " locked=" + (r["locked"].get<bool>() ? "yes" : "no") + " links=" + n(r["links"]) +
        " outbox=" + n(r["outbox"]) + " endpoints=" + (endpoints.empty() ? "-" : endpoints) +
        " problems=" + std::to_string(r["problems"].size()));
  } else if (method == "links") {
    for (const auto& l : r["links"]) {
      out.push_back("link " + s(l["contact"]) + " " + s(l["path"]) + " rtt=" + n(l["rtt_ms"]) +
                    "ms loss=" + percent(l["loss"].get<double>()) + "% " + one_line(s(l["name"])));
    }
    out.emplace_back("end");
  } else if (method == "plugins") {
    for (const auto& p : r["plugins"]) {
      out.push_back(
          p["loaded"].get<bool>()
              ? "plugin " + s(p["id"]) + " loaded " + s(p["version"]) + " " + s(p["kind"]) +
                    (s(p["problem"]).empty() ? "" : " problem " + one_line(s(p["problem"])))
              : "plugin " + s(p["id"]) + " failed " +
                    (p["required"].get<bool>() ? "required " : "optional ") +
                    one_line(s(p["error"])));
    }
    out.emplace_back("end");
  } else if (method == "call" || method == "answer" || method == "hangup" || method == "mute" ||
             method == "unmute") {
    static const std::map<std::string, std::string> kCallWords = {{"call", "calling"},
                                                                  {"answer", "answered"},
                                                                  {"hangup", "hung-up"},
                                                                  {"mute", "muted"},
                                                                  {"unmute", "unmuted"}};
    out.push_back(kCallWords.at(method) + " " + s(r["call"]["id"]) + " " + s(r["call"]["contact"]));
  } else if (method == "callstats") {
    const Json& c = r["call"];
    std::string line = "callstats " + s(c["id"]) + " " + s(c["contact"]) + " " + s(c["phase"]);
    if (!s(c["codec"]).empty()) {
      line +=
          " codec=" + s(c["codec"]) + "/" + n(c["sample_rate"]) + "Hz/" + n(c["frame_ms"]) + "ms";
    }
    if (const Json& st = r["stats"]; !st.is_null()) {
      auto fixed = [](double v) { return std::to_string(static_cast<int64_t>(v + 0.5)); };
      line += " rtt=" + n(st["rtt_ms"]) + "ms loss=" + fixed(st["loss_percent"].get<double>()) +
              "% peer_loss=" + fixed(st["peer_loss_percent"].get<double>()) +
              "% jitter=" + fixed(st["jitter_ms"].get<double>()) +
              "ms buffer=" + n(st["buffer_ms"]) + "ms bitrate=" + n(st["bitrate_bps"]) +
              " sent=" + n(st["frames_sent"]) + " played=" + n(st["frames_played"]) +
              " concealed=" + n(st["frames_concealed"]) + " late=" + n(st["frames_late"]) +
              " dropped=" +
              std::to_string(
                  st["frames_replayed"].get<uint64_t>() + st["frames_forged"].get<uint64_t>() +
                  st["frames_malformed"].get<uint64_t>() + st["frames_foreign"].get<uint64_t>());
    }
    out.push_back(line + (c["muted"].get<bool>() ? " muted" : ""));
  } else if (method == "devices") {
    for (const char* kind : {"capture", "playback"}) {
      for (const auto& d : r[kind]) {
        out.push_back(std::string("device ") + kind + " " + one_line(s(d)));
      }
    }
    out.emplace_back("end");
  } else if (method == "calls") {
    for (const auto& c : r["calls"]) {
      const int64_t answered = c["answered_ms"].get<int64_t>();
      const int64_t seconds =
          answered == 0 ? 0 : (c["ended_ms"].get<int64_t>() - answered + 500) / 1000;
      out.push_back("calls " + s(c["id"]) + " " + s(c["contact"]) + " " +
                    (c["outgoing"].get<bool>() ? "out" : "in") + " " +
                    std::to_string(c["started_ms"].get<int64_t>()) + " " + std::to_string(seconds) +
                    "s " + (s(c["codec"]).empty() ? "-" : s(c["codec"])) + " " + s(c["end"]));
    }
    out.emplace_back("end");
  } else if (method == "counters") {
    std::string line = "counters";
    for (const auto& [key, value] : r.items()) {
      if (key != "storage_failures") {
        line += " " + key + "=" + n(value);
      }
    }
    out.push_back(line);
  }
  return out;
}

Json event_json(const Event& event) {
  if (const auto* m = std::get_if<MessageReceived>(&event)) {
    return Json{{"event", "message"}, {"message", message_json(m->message)}};
  }
  if (const auto* s = std::get_if<MessageStateChanged>(&event)) {
    return Json{{"event", "state"},
                {"contact", s->contact},
                {"id", s->id},
                {"state", message_state_name(s->state)}};
  }
  if (const auto* p = std::get_if<ContactPresenceChanged>(&event)) {
    return Json{
        {"event", "presence"}, {"contact", p->contact}, {"online", p->online}, {"path", p->path}};
  }
  if (const auto* n = std::get_if<ContactNotAdded>(&event)) {
    return Json{{"event", "not_added"}, {"contact", n->contact}};
  }
  if (const auto* d = std::get_if<EventsDropped>(&event)) {
    return Json{{"event", "events_dropped"}, {"count", d->count}};
  }
  if (const auto* m = std::get_if<PeerMet>(&event)) {
    return Json{{"event", "met"},
                {"id", m->id},
                {"name", m->name},
                {"code", m->code},
                {"safety_number", m->safety_number}};
  }
  if (const auto* l = std::get_if<LinkStateChanged>(&event)) {
    return Json{
        {"event", "link"}, {"transport", l->plugin_id}, {"endpoint", l->endpoint}, {"up", l->up}};
  }
  if (const auto* t = std::get_if<TransportStateChanged>(&event)) {
    return Json{{"event", "transport"},
                {"transport", t->plugin_id},
                {"running", t->running},
                {"endpoints", t->endpoints}};
  }
  if (const auto* c = std::get_if<CallChanged>(&event)) {
    return Json{{"event", "call"}, {"call", call_json(c->call)}};
  }
  if (const auto* c = std::get_if<CallStatsUpdated>(&event)) {
    return Json{{"event", "call_stats"}, {"stats", call_stats_json(c->stats)}};
  }
  if (const auto* e = std::get_if<PluginError>(&event)) {
    return Json{{"event", "plugin_error"}, {"plugin", e->plugin_id}, {"message", e->message}};
  }
  return nullptr;
}

std::string event_line(const Json& e) {
  const std::string kind = e["event"].get<std::string>();
  if (kind == "message") {
    const Json& m = e["message"];
    return "message " + m["contact"].get<std::string>() + " " + m["id"].get<std::string>() + " " +
           one_line(m["text"].get<std::string>());
  }
  if (kind == "state") {
    return "state " + e["contact"].get<std::string>() + " " + e["id"].get<std::string>() + " " +
           e["state"].get<std::string>();
  }
  if (kind == "presence") {
    return "presence " + e["contact"].get<std::string>() +
           (e["online"].get<bool>() ? " online " + e["path"].get<std::string>() : " offline");
  }
  if (kind == "not_added") {
    return "not-added " + e["contact"].get<std::string>();
  }
  if (kind == "events_dropped") {
    return "events-dropped " + std::to_string(e["count"].get<uint64_t>());
  }
  if (kind == "plugin_error") {
    return "plugin-error " + e["plugin"].get<std::string>() + " " +
           one_line(e["message"].get<std::string>());
  }
  if (kind == "call") {
    const Json& c = e["call"];
    const std::string phase = c["phase"].get<std::string>();
    std::string line =
        "call " + c["id"].get<std::string>() + " " + c["contact"].get<std::string>() + " " + phase;
    if (phase == "active") {
      line += " " + c["codec"].get<std::string>() + (c["muted"].get<bool>() ? " muted" : "");
    } else if (phase == "ended") {
      line += " " + c["end"].get<std::string>();
    }
    return line;
  }
  if (kind == "call_stats") {
    const Json& st = e["stats"];
    return "call-stats " + st["id"].get<std::string>() +
           " rtt=" + std::to_string(st["rtt_ms"].get<uint64_t>()) +
           "ms loss=" + std::to_string(static_cast<int>(st["loss_percent"].get<double>() + 0.5)) +
           "% jitter=" + std::to_string(static_cast<int>(st["jitter_ms"].get<double>() + 0.5)) +
           "ms buffer=" + std::to_string(st["buffer_ms"].get<uint64_t>()) +
           "ms bitrate=" + std::to_string(st["bitrate_bps"].get<uint64_t>()) +
           " played=" + std::to_string(st["frames_played"].get<uint64_t>()) +
           " concealed=" + std::to_string(st["frames_concealed"].get<uint64_t>());
  }
  if (kind == "met") {
    std::string safety = e["safety_number"].get<std::string>();
    std::replace(safety.begin(), safety.end(), ' ', '-');
    return "met " + e["id"].get<std::string>() + " " + safety + " " + e["code"].get<std::string>() +
           " " + one_line(e["name"].get<std::string>());
  }
  return {};
}

} // namespace entre::host
