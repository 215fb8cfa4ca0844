// The interactive prompt of entre-host (standard input is a terminal): line editing, history and
// tab completion through libedit. Lines printed from other threads (events, the log) appear above
// the prompt without breaking the line being typed.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <termios.h>

namespace entre::host {

struct ReplHooks {
  // Runs one line; returns false when the prompt should end ("quit").
  std::function<bool(const std::string&)> run_line;
  // Words to complete: command names, and contact names after a command that takes a contact.
  std::function<std::vector<std::string>()> commands;
  std::function<std::vector<std::string>(const std::string& command)> arguments;
};

class Repl {
 public:
  explicit Repl(ReplHooks hooks);
  ~Repl();
  Repl(const Repl&) = delete;
  Repl& operator=(const Repl&) = delete;

  // Shows `line` above the prompt (or right away when no prompt is shown). Any thread.
  void print(const std::string& line);
  // Reads and runs lines until "quit", end of input (Ctrl-D) or stop(). On the main thread.
  void run(const std::string& prompt);
  // Ends run() soon. Any thread.
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// While it lives, the terminal does not echo what is typed (a no-op when standard input is not a
// terminal). Hold one across a whole passphrase dialog, so that keys typed ahead never show.
class EchoOff {
 public:
  EchoOff();
  ~EchoOff();
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

// Shows `prompt` and reads one line from standard input into `out` (under an EchoOff); false at
// end of input.
bool read_secret(const std::string& prompt, std::string& out);

} // namespace entre::host
