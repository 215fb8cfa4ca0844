#include "repl.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <clocale>
#include <cstring>
#include <cwchar>
#include <deque>
#include <mutex>
#include <utility>

#include <fcntl.h>
#include <histedit.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

namespace entre::host {

struct Repl::Impl {
  explicit Impl(ReplHooks hooks_in) : hooks(std::move(hooks_in)) {}

  ReplHooks hooks;
  EditLine* el = nullptr;
  History* hist = nullptr;
  std::string prompt;
  int wake[2] = {-1, -1};
  static constexpr std::size_t kMaxQueuedLines = 10000;
  std::mutex mu;       // lines, dropped, prompting
  std::mutex write_mu; // one writer to the terminal at a time
  std::deque<std::string> lines;
  uint64_t dropped = 0;
  bool prompting = false;
  std::atomic<bool> stopping{false};

  void wake_up() const {
    const char c = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake[1], &c, 1);
  }

  void write_out(const std::string& s) const {
    std::size_t done = 0;
    while (done < s.size()) {
      const ssize_t n = ::write(STDOUT_FILENO, s.data() + done, s.size() - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return;
      }
      done += static_cast<std::size_t>(n);
    }
  }

  // Prints the queued lines above the prompt and redraws it.
  void flush_lines() {
    std::deque<std::string> taken;
    uint64_t lost = 0;
    {
      std::lock_guard lock(mu);
      taken.swap(lines);
      lost = std::exchange(dropped, 0);
    }
    if (taken.empty()) {
      return;
    }
    std::string out = "\r\x1b[K";
    for (const auto& l : taken) {
      out += l + "\r\n";
    }
    if (lost > 0) {
      out += "(" + std::to_string(lost) + " lines not shown: the terminal fell behind)\r\n";
    }
    {
      std::lock_guard write(write_mu);
      write_out(out);
    }
    el_set(el, EL_REFRESH);
  }

  // libedit's character source: waits for a key, printing queued lines meanwhile.
  int read_char(wchar_t* wc) {
    std::mbstate_t state{};
    while (true) {
      if (stopping.load()) {
        return 0;
      }
      pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {wake[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) {
          continue;
        }
        return -1;
      }
      if ((fds[1].revents & POLLIN) != 0) {
        char drain[64];
        while (::read(wake[0], drain, sizeof drain) > 0) {
        }
        flush_lines();
        continue;
      }
      if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      char c = 0;
      const ssize_t n = ::read(STDIN_FILENO, &c, 1);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return n == 0 ? 0 : -1;
      }
      const std::size_t used = std::mbrtowc(wc, &c, 1, &state);
      if (used == static_cast<std::size_t>(-2)) {
        continue; // more bytes of this character
      }
      if (used == static_cast<std::size_t>(-1)) {
        state = {};
        *wc = static_cast<unsigned char>(c);
      }
      return 1;
    }
  }

  unsigned char complete() {
    const LineInfo* li = el_line(el);
    const std::string before(li->buffer, li->cursor);
    const std::size_t word_start =
        before.find_last_of(' ') == std::string::npos ? 0 : before.find_last_of(' ') + 1;
    const std::string word = before.substr(word_start);
    const std::string head = before.substr(0, word_start);
    std::vector<std::string> words;
    for (std::size_t i = 0, j = 0; i < head.size(); i = j + 1) {
      j = head.find(' ', i);
      if (j == std::string::npos) {
        j = head.size();
      }
      if (j > i) {
        words.push_back(head.substr(i, j - i));
      }
    }
    std::vector<std::string> candidates;
    if (words.empty()) {
      candidates = hooks.commands();
    } else if (words.size() == 1) {
      candidates = hooks.arguments(words.front());
    }
    std::vector<std::string> matches;
    for (const auto& c : candidates) {
      if (c.compare(0, word.size(), word) == 0) {
        matches.push_back(c);
      }
    }
    if (matches.empty()) {
      return CC_REFRESH_BEEP;
    }
    std::sort(matches.begin(), matches.end());
    matches.erase(std::unique(matches.begin(), matches.end()), matches.end());
    if (matches.size() == 1) {
      const std::string insert = matches.front().substr(word.size()) + " ";
      el_insertstr(el, insert.c_str());
      return CC_REFRESH;
    }
    std::string common = matches.front();
    for (const auto& m : matches) {
      std::size_t k = 0;
      while (k < common.size() && k < m.size() && common[k] == m[k]) {
        ++k;
      }
      common.resize(k);
    }
    if (common.size() > word.size()) {
      el_insertstr(el, common.substr(word.size()).c_str());
      return CC_REFRESH;
    }
    std::string listing = "\r\n";
    for (const auto& m : matches) {
      listing += m + "  ";
    }
    write_out(listing + "\r\n");
    return CC_REDISPLAY;
  }
};

namespace {

Repl::Impl* impl_of(EditLine* el) {
  void* data = nullptr;
  el_get(el, EL_CLIENTDATA, &data);
  return static_cast<Repl::Impl*>(data);
}

int read_char_fn(EditLine* el, wchar_t* wc) { return impl_of(el)->read_char(wc); }

unsigned char complete_fn(EditLine* el, int) { return impl_of(el)->complete(); }

char* prompt_fn(EditLine* el) { return impl_of(el)->prompt.data(); }

} // namespace

Repl::Repl(ReplHooks hooks) : impl_(std::make_unique<Impl>(std::move(hooks))) {
  if (::pipe2(impl_->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    impl_->wake[0] = impl_->wake[1] = -1;
  }
}

Repl::~Repl() {
  for (int fd : impl_->wake) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
}

void Repl::print(const std::string& line) {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->prompting) {
      // Bounded: a terminal that stops taking output (Ctrl-S, a stopped job) cannot make the
      // queue grow without end.
      if (impl_->lines.size() < Impl::kMaxQueuedLines) {
        impl_->lines.push_back(line);
      } else {
        ++impl_->dropped;
      }
      impl_->wake_up();
      return;
    }
  }
  // Written outside `mu`, so that a terminal slow to take it blocks only this caller.
  std::lock_guard write(impl_->write_mu);
  impl_->write_out(line + "\n");
}

void Repl::stop() {
  impl_->stopping = true;
  impl_->wake_up();
}

void Repl::run(const std::string& prompt) {
  std::setlocale(LC_CTYPE, "");
  Impl& m = *impl_;
  m.prompt = prompt;
  m.el = el_init("entre-host", stdin, stdout, stderr);
  m.hist = history_init();
  HistEvent ev;
  history(m.hist, &ev, H_SETSIZE, 1000);
  history(m.hist, &ev, H_SETUNIQUE, 1);
  el_set(m.el, EL_CLIENTDATA, &m);
  el_set(m.el, EL_EDITOR, "emacs");
  el_set(m.el, EL_SIGNAL, 1);
  el_set(m.el, EL_PROMPT, prompt_fn);
  el_set(m.el, EL_HIST, history, m.hist);
  el_set(m.el, EL_GETCFN, read_char_fn);
  // The wide call keeps these (static) strings; the narrow one copies them and never frees them.
  el_wset(m.el, EL_ADDFN, L"entre-complete", L"complete a command or a contact", complete_fn);
  el_set(m.el, EL_BIND, "^I", "entre-complete", nullptr);
  el_source(m.el, nullptr); // the user's ~/.editrc, if any

  // libedit prints the prompt before it switches the terminal to character mode, and restores
  // line mode after each line. Keys typed in those gaps would be echoed by the terminal, and a
  // Ctrl-D there would be taken as end of input by the line discipline and lost; so the terminal
  // stays in character mode, without echo, for the whole session.
  termios original{};
  const bool tty = ::tcgetattr(STDIN_FILENO, &original) == 0;
  struct Restore {
    const termios& saved;
    bool active;
    ~Restore() {
      if (active) {
        ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
      }
    }
  } restore{original, tty};
  auto character_mode = [&] {
    if (tty) {
      termios raw = original;
      raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
      raw.c_iflag &= ~static_cast<tcflag_t>(IXON); // Ctrl-S must not freeze the output
      raw.c_cc[VMIN] = 1;
      raw.c_cc[VTIME] = 0;
      ::tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
  };
  character_mode();

  while (!m.stopping.load()) {
    {
      std::lock_guard lock(m.mu);
      m.prompting = true;
    }
    m.wake_up(); // lines queued before the prompt showed
    int count = 0;
    const char* raw = el_gets(m.el, &count);
    character_mode();
    std::deque<std::string> left;
    {
      std::lock_guard lock(m.mu);
      m.prompting = false;
      left.swap(m.lines);
    }
    {
      std::lock_guard write(m.write_mu);
      for (const auto& l : left) {
        m.write_out(l + "\n");
      }
    }
    if (raw == nullptr || count <= 0) {
      if (!m.stopping.load()) {
        m.write_out("\n");
      }
      break;
    }
    std::string line(raw, static_cast<std::size_t>(count));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
      line.pop_back();
    }
    if (line.find_first_not_of(' ') == std::string::npos) {
      continue;
    }
    history(m.hist, &ev, H_ENTER, line.c_str());
    if (!m.hooks.run_line(line)) {
      break;
    }
  }
  el_end(m.el);
  history_end(m.hist);
  m.el = nullptr;
  m.hist = nullptr;
}

EchoOff::EchoOff() {
  if (::tcgetattr(STDIN_FILENO, &saved_) == 0) {
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    active_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet) == 0; // keeps what was typed ahead
  }
}

EchoOff::~EchoOff() {
  if (active_) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
}

bool read_secret(const std::string& prompt, std::string& out) {
  out.clear();
  [[maybe_unused]] const ssize_t w = ::write(STDOUT_FILENO, prompt.data(), prompt.size());
  bool got = false;
  char c = 0;
  while (true) {
    const ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    got = true;
    if (c == '\n' || c == '\r') {
      break;
    }
    out += c;
  }
  return got;
}

} // namespace entre::host
