#include "human.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>

namespace entre::host {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool local_tm(int64_t unix_ms, std::tm& out) {
  const std::time_t when = static_cast<std::time_t>(unix_ms / 1000);
  return ::localtime_r(&when, &out) != nullptr;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string s(const Json& v) { return v.get<std::string>(); }

std::string short_id(const std::string& id) { return id.substr(0, 8); }

} // namespace

std::string local_clock(int64_t unix_ms) {
  std::tm t{};
  char text[16] = "--:--";
  if (local_tm(unix_ms, t)) {
    std::strftime(text, sizeof text, "%H:%M", &t);
  }
  return text;
}

std::string local_day(int64_t unix_ms, int64_t now) {
  std::tm day{};
  std::tm today{};
  if (!local_tm(unix_ms, day) || !local_tm(now, today)) {
    return "?";
  }
  if (day.tm_year == today.tm_year && day.tm_yday == today.tm_yday) {
    return "today";
  }
  std::tm yesterday{};
  if (local_tm(now - 86'400'000, yesterday) && day.tm_year == yesterday.tm_year &&
      day.tm_yday == yesterday.tm_yday) {
    return "yesterday";
  }
  char text[32];
  std::strftime(text, sizeof text, "%a %e %b %Y", &day);
  std::string out = text;
  const std::size_t twice = out.find("  "); // %e pads a one-digit day with a space
  if (twice != std::string::npos) {
    out.erase(twice, 1);
  }
  return out;
}

std::string duration_text(int64_t seconds) {
  seconds = std::max<int64_t>(seconds, 0);
  auto two = [](int64_t v) { return (v < 10 ? "0" : "") + std::to_string(v); };
  if (seconds >= 3600) {
    return std::to_string(seconds / 3600) + ":" + two(seconds / 60 % 60) + ":" + two(seconds % 60);
  }
  return std::to_string(seconds / 60) + ":" + two(seconds % 60);
}

std::string quote_start(const std::string& text, std::size_t max_chars) {
  std::size_t chars = 0;
  std::size_t at = 0;
  while (at < text.size() && chars < max_chars) {
    ++at;
    while (at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) {
      ++at; // a continuation byte
    }
    ++chars;
  }
  return printable(text.substr(0, at), " ") + (at < text.size() ? "..." : "");
}

std::string without_colours(const std::string& line) {
  std::string plain;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\x1b' && i + 1 < line.size() && line[i + 1] == '[') {
      i += 2;
      while (i < line.size() && (std::isalpha(static_cast<unsigned char>(line[i])) == 0)) {
        ++i;
      }
      continue;
    }
    plain += line[i];
  }
  return plain;
}

std::vector<std::string> close_names(const std::string& typed,
                                     const std::vector<std::string>& names) {
  const std::string want = lower(typed);
  std::vector<std::pair<std::size_t, std::string>> scored;
  for (const auto& name : names) {
    const std::string have = lower(name);
    std::size_t score = 0;
    if (have == want) {
      score = 0;
    } else if (!want.empty() && have.rfind(want, 0) == 0) {
      score = 1;
    } else if (const std::size_t d = edit_distance(have, want); d <= 2 && d < want.size()) {
      score = 1 + d;
    } else {
      continue;
    }
    scored.emplace_back(score, name);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (const auto& [score, name] : scored) {
    if (out.size() < 3 && std::find(out.begin(), out.end(), name) == out.end()) {
      out.push_back(name);
    }
  }
  return out;
}

std::string HumanView::name_of(const std::string& id) {
  auto c = node_.contact(id);
  std::lock_guard lock(mu_);
  if (c && !c.value->name.empty()) {
    names_[id] = printable(c.value->name, " ");
    return names_[id];
  }
  if (const auto it = names_.find(id); it != names_.end()) {
    return it->second + (c ? "" : " (removed)");
  }
  return short_id(id);
}

std::vector<std::string> HumanView::result(const std::string& method, const Json& r) {
  std::vector<std::string> out;
  const int64_t now = now_ms();
  if (method == "contacts") {
    for (const auto& c : r["contacts"]) {
      const std::string id = s(c["id"]);
      const std::string name = printable(s(c["name"]), " ");
      {
        std::lock_guard lock(mu_);
        names_[id] = name;
      }
      std::string line = (name.empty() ? short_id(id) : name) + "  ";
      if (c["online"].get<bool>()) {
        const auto rtt = c["rtt_ms"].get<uint64_t>();
        line +=
            "online (" + s(c["path"]) + (rtt != 0 ? ", " + std::to_string(rtt) + " ms" : "") + ")";
      } else {
        line += c["not_added"].get<bool>() ? "offline (has not added you)" : "offline";
      }
      if (const auto unread = c["unread"].get<uint64_t>(); unread != 0) {
        line += "  " + std::to_string(unread) + " unread";
      }
      line += c["verified"].get<bool>() ? "  verified" : "";
      line += c["blocked"].get<bool>() ? "  blocked" : "";
      out.push_back(line + "  [" + short_id(id) + "]");
    }
    if (out.empty()) {
      out.emplace_back("no contacts yet: 'add CODE NAME' adds one, 'code' shows yours to give");
    }
    return out;
  }
  if (method == "history") {
    std::string day;
    std::string who;
    for (const auto& m : r["messages"]) {
      if (who.empty()) {
        who = name_of(s(m["contact"])); // one conversation: one name
      }
      const int64_t when = m["local_ms"].get<int64_t>();
      if (const std::string d = local_day(when, now); d != day) {
        day = d;
        out.push_back("-- " + day + " --");
      }
      const bool outgoing = m["outgoing"].get<bool>();
      const std::string state = s(m["state"]);
      out.push_back("[" + local_clock(when) + "] " + (outgoing ? std::string("me") : who) + ": " +
                    printable(s(m["text"]), "\r\n        ") +
                    (outgoing ? "  (" + state + ")" : ""));
    }
    if (out.empty()) {
      out.emplace_back("no messages yet");
    }
    return out;
  }
  if (method == "calls") {
    for (const auto& c : r["calls"]) {
      const int64_t started = c["started_ms"].get<int64_t>();
      const int64_t answered = c["answered_ms"].get<int64_t>();
      const bool outgoing = c["outgoing"].get<bool>();
      const std::string who = name_of(s(c["contact"]));
      std::string line = local_day(started, now) + " " + local_clock(started) + "  " +
                         (outgoing ? "call to " : "call from ") + who + ", ";
      if (answered != 0) {
        line += duration_text((c["ended_ms"].get<int64_t>() - answered + 500) / 1000);
      } else {
        line += outgoing ? "not answered" : "missed";
      }
      out.push_back(line + " (" + s(c["end"]) + ")");
    }
    if (out.empty()) {
      out.emplace_back("no calls yet");
    }
    return out;
  }
  if (method == "unread") {
    for (const auto& c : r["contacts"]) {
      out.push_back(name_of(s(c["id"])) + ": " + std::to_string(c["unread"].get<uint64_t>()) +
                    " unread");
    }
    if (out.empty()) {
      out.emplace_back("nothing unread");
    }
    return out;
  }
  if (method == "links") {
    for (const auto& l : r["links"]) {
      const auto rtt = l["rtt_ms"].get<uint64_t>();
      out.push_back(name_of(s(l["contact"])) + "  " + s(l["path"]) +
                    (rtt != 0 ? "  " + std::to_string(rtt) + " ms" : "") + "  loss " +
                    std::to_string(static_cast<int>(l["loss"].get<double>() * 100 + 0.5)) + "%");
    }
    if (out.empty()) {
      out.emplace_back("no contact is online");
    }
    return out;
  }
  if (method == "rename" || method == "verify" || method == "unverify" || method == "block" ||
      method == "unblock") {
    const std::string line = render_lines(method, r).front(); // "<done> <id>"
    out.push_back(line.substr(0, line.find(' ')) + " " + name_of(s(r["contact"])));
    return out;
  }
  if (method == "status") {
    out = render_lines(method, r);
    for (const auto& p : r["problems"]) {
      out.push_back("  problem: " + s(p["plugin"]) + ": " + printable(s(p["message"]), " "));
    }
    return out;
  }
  if (method == "devices" && r["capture"].empty() && r["playback"].empty()) {
    out.emplace_back("no audio devices");
    return out;
  }
  for (const auto& l : render_lines(method, r)) {
    if (l != "end") {
      out.push_back(method == "help" ? "  " + l.substr(5) : l);
    }
  }
  return out;
}

std::string HumanView::receipt(const Json& e) {
  const std::string contact = s(e["contact"]);
  const std::string id = s(e["id"]);
  const bool read = s(e["state"]) == "read";
  std::string quoted;
  if (auto recent = node_.history(contact, 0, 200)) {
    for (const auto& m : *recent.value) {
      if (m.id == id) {
        quoted = "\"" + quote_start(m.text, 30) + "\"";
        break;
      }
    }
  }
  if (quoted.empty()) {
    quoted = "message " + id.substr(id.size() - 8); // the random end, not the time-led start
  }
  return "  (" + name_of(contact) + (read ? " read " : " received ") + quoted +
         (read ? " and what came before)" : ")");
}

std::string HumanView::event(const Json& e) {
  const std::string kind = s(e["event"]);
  if (kind == "message") {
    const Json& m = e["message"];
    return "[" + local_clock(m["local_ms"].get<int64_t>()) + "] " + name_of(s(m["contact"])) +
           ": " + printable(s(m["text"]), "\r\n        ");
  }
  if (kind == "state") {
    const std::string state = s(e["state"]);
    return state == "delivered" || state == "read" ? receipt(e) : std::string();
  }
  if (kind == "presence") {
    const std::string contact = s(e["contact"]);
    const bool online = e["online"].get<bool>();
    bool changed = false;
    {
      std::lock_guard lock(mu_);
      changed = online ? online_.insert(contact).second : online_.erase(contact) != 0;
    }
    if (!changed) {
      return {}; // another path of a contact already online
    }
    return "* " + name_of(contact) +
           (online ? " is online (" + printable(s(e["path"]), " ") + ")" : " went offline");
  }
  if (kind == "not_added") {
    return "* " + name_of(s(e["contact"])) +
           " has not added you: your messages wait until they do (they need your code: 'code')";
  }
  if (kind == "met") {
    return "* met '" + one_line(s(e["name"])) + "', safety number " + s(e["safety_number"]) +
           ": if it matches their screen, type: add " + s(e["code"]) + " NAME";
  }
  if (kind == "events_dropped") {
    return "* " + std::to_string(e["count"].get<uint64_t>()) + " events were dropped";
  }
  if (kind == "plugin_error") {
    return "* " + s(e["plugin"]) + ": " + printable(s(e["message"]), " ");
  }
  if (kind == "call") {
    const Json& c = e["call"];
    const std::string who = name_of(s(c["contact"]));
    const std::string phase = s(c["phase"]);
    if (phase == "calling") {
      return "* calling " + who + "... ('hangup' to cancel)";
    }
    if (phase == "ringing") {
      return "* " + who + "'s node is ringing";
    }
    if (phase == "incoming") {
      return "* " + who + " is calling: type 'answer', or 'hangup' to decline";
    }
    if (phase == "active") {
      return "* in a call with " + who + " (" + s(c["codec"]) + ", " +
             std::to_string(c["sample_rate"].get<uint64_t>()) + " Hz)" +
             (c["muted"].get<bool>() ? ", muted" : "") + ": 'mute', 'hangup'";
    }
    if (phase == "ended") {
      const int64_t answered = c["answered_ms"].get<int64_t>();
      const std::string length =
          answered == 0 ? std::string() : ", " + duration_text((now_ms() - answered) / 1000);
      return "* call with " + who + " ended: " + s(c["end"]) + length;
    }
  }
  return {};
}

} // namespace entre::host
