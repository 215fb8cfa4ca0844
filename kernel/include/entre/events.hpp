// Events: how the kernel tells a frontend what happened.
//
// Contract
// - Events are produced on kernel threads and queued; a frontend drains them from one thread with
//   Node::poll_event() / Node::wait_event(). The queue is bounded (Node::kEventQueueLimit); when a
//   frontend does not drain it, the oldest events are dropped and counted in EventsDropped.
// - Events are plain values: copying or keeping one never touches the node.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace entre {

// The node finished composing and started its transports.
struct NodeStarted {
  std::string name;
};

// A transport plugin started (with the endpoints where peers can reach it) or stopped.
struct TransportStateChanged {
  std::string plugin_id;
  bool running = false;
  std::vector<std::string> endpoints;
};

// A transport reported a link to an endpoint going up or down.
struct LinkStateChanged {
  std::string plugin_id;
  std::string endpoint;
  bool up = false;
};

// A plugin reported an error at run time (already logged).
struct PluginError {
  std::string plugin_id;
  std::string message;
};

// Events were dropped because the queue was full.
struct EventsDropped {
  uint64_t count = 0;
};

using Event =
    std::variant<NodeStarted, TransportStateChanged, LinkStateChanged, PluginError, EventsDropped>;

} // namespace entre
