// The control API of entre-host: JSON lines over a Unix-domain socket (docs/control-api.md).
//
// One thread serves every client. Requests run one at a time through Commands; events go to every
// client as notifications. A client that sends a line longer than max_line_bytes gets an error and
// is disconnected; a client that stops reading is disconnected once its unsent output passes
// max_pending_bytes or has not moved for stall_ms, and reading its requests pauses meanwhile, so it
// can stall neither the node nor the other clients.
#pragma once

#include "commands.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace entre::host {

struct ControlLimits {
  std::size_t max_line_bytes = 1024 * 1024;
  std::size_t pause_reading_bytes = 1024 * 1024;
  std::size_t max_pending_bytes = 8 * 1024 * 1024;
  std::chrono::milliseconds stall{5000};
  std::size_t max_clients = 64;
};

class ControlServer {
 public:
  // `note` receives one line per client connected or disconnected (and why), on the server's
  // thread.
  ControlServer(Commands& commands, std::function<void(const std::string&)> note,
                ControlLimits limits = {});
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Creates the socket at `path` (mode 0600) and starts serving. A stale socket file left by a
  // process that is gone is replaced; a socket some process still answers on, or any other file,
  // is an error. Returns "" or what went wrong.
  std::string start(const std::filesystem::path& path);
  // Queues an event for every client. Any thread.
  void broadcast(const Json& event);
  // Disconnects every client, removes the socket file and joins the thread. Idempotent.
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

} // namespace entre::host
