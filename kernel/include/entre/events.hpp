// Events: how the kernel tells a frontend what happened.
//
// Contract
// - Events are produced on kernel threads and queued; a frontend drains them from one thread with
//   Node::poll_event() / Node::wait_event(). The queue is bounded (Node::kEventQueueLimit); when a
//   frontend does not drain it, the oldest events are dropped and counted in EventsDropped.
// - Events are plain values: copying or keeping one never touches the node.
#pragma once

#include <entre/calls.hpp>
#include <entre/messaging.hpp>

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

// A message arrived from a contact (stored before this event is queued).
struct MessageReceived {
  MessageInfo message;
};

// An outgoing message moved to a later state (sent, delivered, read). A read receipt covers every
// earlier message too: `id` names the newest message it covers.
struct MessageStateChanged {
  std::string contact;
  std::string id;
  MessageState state = MessageState::kQueued;
};

// A contact came online (a confirmed link is up), went offline, or changed the link in use.
struct ContactPresenceChanged {
  std::string contact;
  bool online = false;
  std::string path; // the link in use, e.g. "udp:192.0.2.7:7400"; empty when offline
};

// A contact's node answered this node's handshake, proving it holds the contact's key, but has
// not added this node as a contact (or removed it): messages to it stay queued until it does,
// and this node asks again now and then. Reported once, until a link to the contact comes up.
// A node that blocked this one does not answer at all, so a block looks like being offline.
struct ContactNotAdded {
  std::string contact;
};

// Meeting mode (Node::open_meeting): another node in meeting mode on the LAN announced itself.
// It is not a contact: compare `safety_number` with the one the other person's screen shows,
// then add `code` with Node::add_contact. Each node is reported once per open meeting.
struct PeerMet {
  std::string id;            // its user id (hex public key)
  std::string name;          // the name it announces (untrusted, at most 64 bytes)
  std::string code;          // a contact code for it, with the endpoint it announced from
  std::string safety_number; // of this node's key and its key: the same on both screens
};

// A call began, changed phase, was muted or unmuted, or ended (CallPhase::kEnded, once per call).
struct CallChanged {
  CallInfo call;
};

// The active call's statistics, about once a second.
struct CallStatsUpdated {
  CallStats stats;
};

using Event =
    std::variant<NodeStarted, TransportStateChanged, LinkStateChanged, PluginError, EventsDropped,
                 MessageReceived, MessageStateChanged, ContactPresenceChanged, ContactNotAdded,
                 PeerMet, CallChanged, CallStatsUpdated>;

} // namespace entre
