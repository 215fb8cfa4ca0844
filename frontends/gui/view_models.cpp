#include "view_models.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <ctime>

namespace entre::gui {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

ContactRow row_of(const ContactInfo& c) {
  ContactRow r;
  r.id = c.id;
  r.name = c.name.empty() ? c.id.substr(0, 12) : c.name;
  r.online = c.online;
  r.path = c.path;
  r.path_kind = c.online ? path_kind(c.path) : std::string();
  r.rtt_ms = c.rtt_ms;
  r.unread = c.unread;
  r.verified = c.verified;
  r.blocked = c.blocked;
  r.not_added = c.not_added;
  return r;
}

MessageRow row_of(const MessageInfo& m) {
  return MessageRow{m.id, m.outgoing, m.state, m.order, m.local_ms, m.text, m.path};
}

std::string two(int v) { return (v < 10 ? "0" : "") + std::to_string(v); }

} // namespace

std::string path_kind(const std::string& path) {
  if (path.rfind("relay:", 0) == 0) {
    return "relay";
  }
  if (path.rfind("lan:", 0) == 0) {
    return "LAN";
  }
  return path.empty() ? std::string() : std::string("direct");
}

// ---- Contacts -----------------------------------------------------------------------------------

void ContactList::reset(const std::vector<ContactInfo>& contacts) {
  rows_.clear();
  for (const auto& c : contacts) {
    rows_.push_back(row_of(c));
    if (c.id == open_) {
      rows_.back().unread = 0;
    }
    show_last(rows_.back());
  }
  sort();
}

void ContactList::note_message(const MessageInfo& m) {
  auto it = last_.find(m.contact);
  if (it != last_.end() && it->second.order > m.order) {
    return;
  }
  last_[m.contact] = m;
  for (auto& r : rows_) {
    if (r.id == m.contact) {
      show_last(r);
    }
  }
}

void ContactList::show_last(ContactRow& r) const {
  const auto it = last_.find(r.id);
  if (it != last_.end()) {
    r.last_text = preview(it->second.text, 40);
    r.last_ms = it->second.local_ms;
    r.last_outgoing = it->second.outgoing;
  }
}

std::string preview(const std::string& text, std::size_t max_chars) {
  std::string line = text.substr(0, text.find('\n'));
  // Count characters, not bytes: cut before a UTF-8 lead byte.
  std::size_t chars = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xC0) != 0x80 && chars++ == max_chars) {
      return line.substr(0, i) + "...";
    }
  }
  return line.size() < text.size() ? line + " ..." : line;
}

bool ContactList::apply(const Event& event) {
  if (const auto* p = std::get_if<ContactPresenceChanged>(&event)) {
    for (auto& r : rows_) {
      if (r.id == p->contact) {
        r.online = p->online;
        r.not_added = r.not_added && !p->online;
        r.path = p->path;
        r.path_kind = p->online ? path_kind(p->path) : std::string();
        sort();
        return true;
      }
    }
    return false;
  }
  if (const auto* n = std::get_if<ContactNotAdded>(&event)) {
    for (auto& r : rows_) {
      if (r.id == n->contact) {
        r.not_added = true;
        return true;
      }
    }
    return false;
  }
  if (const auto* m = std::get_if<MessageReceived>(&event)) {
    note_message(m->message);
    for (auto& r : rows_) {
      if (r.id == m->message.contact) {
        if (r.id != open_) {
          ++r.unread;
        }
        return true;
      }
    }
  }
  return false;
}

void ContactList::set_open(const std::string& id) {
  open_ = id;
  for (auto& r : rows_) {
    if (r.id == id) {
      r.unread = 0;
    }
  }
}

const ContactRow* ContactList::find(const std::string& id) const {
  for (const auto& r : rows_) {
    if (r.id == id) {
      return &r;
    }
  }
  return nullptr;
}

std::string ContactList::name_of(const std::string& id) const {
  const ContactRow* r = find(id);
  return r != nullptr ? r->name : id.substr(0, 12);
}

uint64_t ContactList::total_unread() const {
  uint64_t n = 0;
  for (const auto& r : rows_) {
    n += r.unread;
  }
  return n;
}

void ContactList::sort() {
  std::stable_sort(rows_.begin(), rows_.end(), [](const ContactRow& a, const ContactRow& b) {
    if (a.online != b.online) {
      return a.online;
    }
    const std::string la = lower(a.name);
    const std::string lb = lower(b.name);
    return la != lb ? la < lb : a.id < b.id;
  });
}

// ---- Conversation -------------------------------------------------------------------------------

std::string ticks(const MessageRow& m) {
  if (!m.outgoing) {
    return {};
  }
  switch (m.state) {
  case MessageState::kQueued:
    return "...";
  case MessageState::kSent:
    return "\xe2\x9c\x93";
  case MessageState::kDelivered:
    return "\xe2\x9c\x93\xe2\x9c\x93";
  case MessageState::kRead:
    return "\xe2\x9c\x93\xe2\x9c\x93 read";
  }
  return {};
}

std::string time_text(int64_t local_ms, int64_t now_ms) {
  const std::time_t when = local_ms / 1000;
  const std::time_t now = now_ms / 1000;
  std::tm a{};
  std::tm b{};
  if (::localtime_r(&when, &a) == nullptr || ::localtime_r(&now, &b) == nullptr) {
    return "--:--";
  }
  const std::string clock = two(a.tm_hour) + ":" + two(a.tm_min);
  if (a.tm_year == b.tm_year && a.tm_yday == b.tm_yday) {
    return clock;
  }
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  return std::to_string(a.tm_mday) + " " + kMonths[static_cast<std::size_t>(a.tm_mon)] + " " +
         clock;
}

namespace {

bool local_day(int64_t ms, std::tm& out) {
  const std::time_t t = ms / 1000;
  return ::localtime_r(&t, &out) != nullptr;
}

// Days from b's local day to a's (a later: positive).
int days_between(const std::tm& a, const std::tm& b) {
  std::tm da = a;
  std::tm db = b;
  da.tm_hour = db.tm_hour = 12; // noon: a day's length changes with daylight saving time
  da.tm_min = db.tm_min = da.tm_sec = db.tm_sec = 0;
  da.tm_isdst = db.tm_isdst = -1;
  const double s = std::difftime(std::mktime(&da), std::mktime(&db));
  return static_cast<int>(std::lround(s / 86400.0));
}

constexpr std::array<const char*, 7> kWeekdays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                  "Thursday", "Friday", "Saturday"};
constexpr std::array<const char*, 12> kMonthNames = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};

} // namespace

std::string clock_text(int64_t local_ms) {
  std::tm a{};
  if (!local_day(local_ms, a)) {
    return "--:--";
  }
  return two(a.tm_hour) + ":" + two(a.tm_min);
}

bool same_day(int64_t a_ms, int64_t b_ms) {
  std::tm a{};
  std::tm b{};
  return local_day(a_ms, a) && local_day(b_ms, b) && a.tm_year == b.tm_year &&
         a.tm_yday == b.tm_yday;
}

namespace {

// A day in words, short for the list of contacts (the clock today, a weekday's first three
// letters within a week, "3 Mar") or long for a separator ("Today", "Monday 3 March").
std::string day_words(int64_t local_ms, int64_t now_ms, bool short_form) {
  std::tm a{};
  std::tm b{};
  if (!local_day(local_ms, a) || !local_day(now_ms, b)) {
    return {};
  }
  const int days = days_between(b, a);
  if (days == 0) {
    return short_form ? clock_text(local_ms) : "Today";
  }
  if (days == 1) {
    return "Yesterday";
  }
  const std::string weekday = kWeekdays[static_cast<std::size_t>(a.tm_wday)];
  const std::string month = kMonthNames[static_cast<std::size_t>(a.tm_mon)];
  if (short_form && days > 1 && days < 7) {
    return weekday.substr(0, 3);
  }
  std::string out = short_form ? std::to_string(a.tm_mday) + " " + month.substr(0, 3)
                               : weekday + " " + std::to_string(a.tm_mday) + " " + month;
  if (a.tm_year != b.tm_year) {
    out += " " + std::to_string(a.tm_year + 1900);
  }
  return out;
}

} // namespace

std::string when_text(int64_t local_ms, int64_t now_ms) {
  return day_words(local_ms, now_ms, true);
}

std::string day_text(int64_t local_ms, int64_t now_ms) {
  return day_words(local_ms, now_ms, false);
}

std::string call_text(const CallRecord& c) {
  if (c.answered_ms > 0) {
    const int64_t s = std::max<int64_t>(0, (c.ended_ms - c.answered_ms + 500) / 1000);
    std::string length =
        s >= 3600 ? std::to_string(s / 3600) + " h " + std::to_string(s % 3600 / 60) + " min"
        : s >= 60 ? std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s"
                  : std::to_string(s) + " s";
    return std::string(c.outgoing ? "Outgoing call, " : "Incoming call, ") + length;
  }
  if (!c.outgoing) {
    return c.end == "declined here" ? "Call declined" : "Missed call";
  }
  return "Call, not answered" + (c.end.empty() ? std::string() : " (" + c.end + ")");
}

void Conversation::set_calls(const std::vector<CallRecord>& calls) {
  calls_.clear();
  for (const auto& c : calls) {
    if (c.contact == contact_) {
      calls_.push_back(c);
    }
  }
  std::sort(calls_.begin(), calls_.end(),
            [](const CallRecord& a, const CallRecord& b) { return a.started_ms < b.started_ms; });
}

std::vector<TimelineItem> Conversation::timeline(const std::string& search) const {
  std::vector<TimelineItem> out;
  std::size_t c = 0;
  for (const MessageRow* m : visible(search)) {
    while (search.empty() && c < calls_.size() && calls_[c].started_ms <= m->local_ms) {
      out.push_back({nullptr, &calls_[c], calls_[c].started_ms});
      ++c;
    }
    out.push_back({m, nullptr, m->local_ms});
  }
  for (; search.empty() && c < calls_.size(); ++c) {
    out.push_back({nullptr, &calls_[c], calls_[c].started_ms});
  }
  return out;
}

void Conversation::open(const std::string& contact, const std::vector<MessageInfo>& newest_first) {
  contact_ = contact;
  rows_.clear();
  calls_.clear();
  early_.clear();
  merge(newest_first);
}

void Conversation::merge(const std::vector<MessageInfo>& newest_first) {
  for (auto it = newest_first.rbegin(); it != newest_first.rend(); ++it) {
    if (it->contact == contact_) {
      upsert(row_of(*it));
    }
  }
}

void Conversation::close() {
  contact_.clear();
  rows_.clear();
  calls_.clear();
  early_.clear();
}

void Conversation::add_sent(const MessageInfo& m) {
  if (m.contact == contact_) {
    upsert(row_of(m));
  }
}

void Conversation::upsert(const MessageRow& in) {
  MessageRow row = in;
  for (auto e = early_.begin(); e != early_.end();) {
    if (e->first == row.id) {
      row.state = std::max(row.state, e->second);
      e = early_.erase(e);
    } else {
      ++e;
    }
  }
  for (auto& r : rows_) {
    if (r.id == row.id) {
      // An event may overtake the answer that carried the message: keep the later state.
      const MessageState state = std::max(r.state, row.state);
      r = row;
      r.state = state;
      return;
    }
  }
  auto at = std::upper_bound(rows_.begin(), rows_.end(), row.order,
                             [](uint64_t order, const MessageRow& r) { return order < r.order; });
  rows_.insert(at, row);
}

bool Conversation::apply(const Event& event) {
  if (contact_.empty()) {
    return false;
  }
  if (const auto* m = std::get_if<MessageReceived>(&event)) {
    if (m->message.contact != contact_) {
      return false;
    }
    upsert(row_of(m->message));
    return true;
  }
  if (const auto* s = std::get_if<MessageStateChanged>(&event)) {
    if (s->contact != contact_) {
      return false;
    }
    bool changed = false;
    const auto it = std::find_if(rows_.begin(), rows_.end(),
                                 [&](const MessageRow& r) { return r.id == s->id; });
    if (it == rows_.end()) {
      if (early_.size() < 256) {
        early_.emplace_back(s->id, s->state);
      }
      return false;
    }
    if (s->state == MessageState::kRead) {
      for (auto r = rows_.begin(); r != std::next(it); ++r) {
        if (r->outgoing && r->state < MessageState::kRead) {
          r->state = MessageState::kRead;
          changed = true;
        }
      }
    } else if (it->state < s->state) {
      it->state = s->state;
      changed = true;
    }
    return changed;
  }
  return false;
}

std::vector<const MessageRow*> Conversation::visible(const std::string& search) const {
  std::vector<const MessageRow*> out;
  const std::string needle = lower(search);
  for (const auto& r : rows_) {
    if (needle.empty() || lower(r.text).find(needle) != std::string::npos) {
      out.push_back(&r);
    }
  }
  return out;
}

// ---- Call panel ---------------------------------------------------------------------------------

bool CallPanel::apply(const Event& event) {
  if (const auto* c = std::get_if<CallChanged>(&event)) {
    if (!call_ || call_->id != c->call.id) {
      stats_.reset();
    }
    call_ = c->call;
    return true;
  }
  if (const auto* s = std::get_if<CallStatsUpdated>(&event)) {
    if (call_ && call_->id == s->stats.id && call_->phase != CallPhase::kEnded) {
      stats_ = s->stats;
      return true;
    }
  }
  return false;
}

bool CallPanel::ringing_here() const { return call_ && call_->phase == CallPhase::kIncoming; }

bool CallPanel::in_call() const {
  return call_ && (call_->phase == CallPhase::kCalling || call_->phase == CallPhase::kRinging ||
                   call_->phase == CallPhase::kActive);
}

std::string CallPanel::headline(const std::string& name, int64_t now_ms) const {
  if (!call_) {
    return {};
  }
  switch (call_->phase) {
  case CallPhase::kCalling:
    return "Calling " + name + "...";
  case CallPhase::kRinging:
    return "Ringing " + name + "...";
  case CallPhase::kIncoming:
    return name + " is calling";
  case CallPhase::kActive: {
    const int64_t s = std::max<int64_t>(0, (now_ms - call_->answered_ms) / 1000);
    return "In call with " + name + "  " + two(static_cast<int>(s / 60)) + ":" +
           two(static_cast<int>(s % 60)) + (call_->muted ? "  (muted)" : "");
  }
  case CallPhase::kEnded:
    return "Call with " + name + " ended: " + call_->end;
  }
  return {};
}

std::string CallPanel::stats_line() const {
  if (!call_ || !stats_) {
    return {};
  }
  const auto r = [](double v) { return std::to_string(static_cast<int64_t>(std::lround(v))); };
  return call_->codec + " " + std::to_string(call_->sample_rate / 1000) + " kHz \xc2\xb7 rtt " +
         std::to_string(stats_->rtt_ms) + " ms \xc2\xb7 loss " + r(stats_->loss_percent) +
         "% \xc2\xb7 jitter " + r(stats_->jitter_ms) + " ms \xc2\xb7 buffer " +
         std::to_string(stats_->buffer_ms) + " ms \xc2\xb7 " +
         r(static_cast<double>(stats_->bitrate_bps) / 1000.0) + " kbit/s";
}

void CallPanel::dismiss_ended() {
  if (call_ && call_->phase == CallPhase::kEnded) {
    call_.reset();
    stats_.reset();
  }
}

// ---- Emoji --------------------------------------------------------------------------------------

namespace {

constexpr uint32_t kPrivateFirst = 0xE000;
constexpr uint32_t kPrivateLast = 0xF8FF;

// One UTF-8 character at `at` (advanced past it); U+FFFD for a broken sequence.
uint32_t next_codepoint(const std::string& s, std::size_t& at) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(at);
  std::size_t n = c < 0x80           ? 1
                  : (c >> 5) == 0x6  ? 2
                  : (c >> 4) == 0xE  ? 3
                  : (c >> 3) == 0x1E ? 4
                                     : 0;
  if (n == 0 || at + n > s.size()) {
    ++at;
    return 0xFFFD;
  }
  uint32_t cp = n == 1 ? c : c & (0x7F >> n);
  for (std::size_t i = 1; i < n; ++i) {
    if ((b(at + i) & 0xC0) != 0x80) {
      ++at;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b(at + i) & 0x3F);
  }
  at += n;
  return cp;
}

void put_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

} // namespace

const std::vector<std::pair<uint32_t, uint32_t>>& EmojiMap::ranges() {
  // Pictographs, emoticons, transport and map symbols, supplemental symbols and pictographs.
  static const std::vector<std::pair<uint32_t, uint32_t>> kRanges = {
      {0x1F300, 0x1F5FF}, {0x1F600, 0x1F64F}, {0x1F680, 0x1F6FF}, {0x1F900, 0x1F9FF}};
  return kRanges;
}

bool EmojiMap::add(uint32_t codepoint) {
  const uint32_t next = kPrivateFirst + static_cast<uint32_t>(codes_.size());
  if (next > kPrivateLast || codes_.count(codepoint) != 0) {
    return false;
  }
  codes_[codepoint] = static_cast<uint16_t>(next);
  return true;
}

std::optional<uint16_t> EmojiMap::code_of(uint32_t codepoint) const {
  const auto it = codes_.find(codepoint);
  return it == codes_.end() ? std::nullopt : std::optional<uint16_t>(it->second);
}

std::string EmojiMap::display(const std::string& utf8) const {
  std::string out;
  out.reserve(utf8.size());
  for (std::size_t at = 0; at < utf8.size();) {
    const std::size_t start = at;
    const uint32_t cp = next_codepoint(utf8, at);
    if (cp == 0xFE0E || cp == 0xFE0F) {
      continue;
    }
    if (cp > 0xFFFF) {
      if (const auto code = code_of(cp)) {
        put_utf8(out, *code);
        continue;
      }
    }
    out.append(utf8, start, at - start);
  }
  return out;
}

} // namespace entre::gui
