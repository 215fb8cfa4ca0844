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
  }
  sort();
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

void Conversation::open(const std::string& contact, const std::vector<MessageInfo>& newest_first) {
  contact_ = contact;
  rows_.clear();
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

// ---- Passphrase ---------------------------------------------------------------------------------

} // namespace entre::gui
