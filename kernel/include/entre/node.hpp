// entre::Node: a messenger node composed from a profile. The public API of the kernel.
//
// Contract
// - Node::create() reads and validates the profile, loads every plugin it names through the plugin
//   loader, creates each plugin's root object and checks its interfaces. It either returns a node
//   whose required plugins all loaded, or no node and the reasons (each naming the file and the
//   check that failed). Optional plugins that fail are reported in plugins() and in the log, and
//   the node runs without them.
// - Node::check() does what create() does with the plugins (load, create each root object with
//   its settings, check interfaces and roles) and nothing more: no directory is created, no
//   storage opened, no transport started, no socket opened. A factory reads and checks all of its
//   plugin's settings, so a bad or unknown setting fails here with the plugin's own message.
// - start() starts the event loop threads and the transports; stop() stops them. Both are
//   idempotent. The destructor stops the node, destroys every plugin object, and only then unloads
//   the plugin libraries.
// - Thread safety: every public member function may be called from any thread. Events are drained
//   from one queue (poll_event / wait_event), normally by one frontend thread.
// - No member function throws; failures are returned as values.
#pragma once

#include <entre/calls.hpp>
#include <entre/events.hpp>
#include <entre/messaging.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace entre {

struct PluginStatus {
  std::string id;
  std::string version; // from the manifest; empty if the plugin never loaded
  std::string kind;    // "transport", "crypto", "codec", "storage", "audio"
  std::string summary;
  std::filesystem::path file;
  bool required = true;
  bool loaded = false; // true when the plugin's root object exists
  std::string error;   // why it did not load, when loaded is false
  // The newest warning or error the plugin logged while running (a relay it cannot reach, say),
  // until one of its links comes up; empty when there is none. Each new one is also a
  // PluginError event.
  std::string problem;
};

struct NodeCounters {
  uint64_t frames_received = 0; // messaging frames and call media frames
  uint64_t frames_dropped = 0;  // malformed, unknown link, failed to open, refused, queue full;
                                // media frames that were malformed, foreign, replayed or forged
  uint64_t handshakes_completed = 0;
  uint64_t handshakes_refused = 0;
  uint64_t messages_sent = 0;
  uint64_t messages_received = 0;
  uint64_t duplicates_dropped = 0;
  uint64_t decrypt_failures = 0;
  uint64_t storage_failures = 0;
  uint64_t beacons_sent = 0;       // LAN discovery beacons announced
  uint64_t beacons_recognised = 0; // beacons of contacts taken
  uint64_t beacons_refused = 0;    // malformed, stale, replayed or forged beacons
  uint64_t scope_refusals = 0;     // frames, beacons or contact endpoints outside the private scope
  uint64_t links = 0;
  uint64_t outbox = 0;
};

struct NodeCreateResult;
struct NodeCheckResult;

class Node {
 public:
  static constexpr std::size_t kEventQueueLimit = 4096;

  // Reads `profile_path` and composes a node from it.
  [[nodiscard]] static NodeCreateResult create(const std::filesystem::path& profile_path);
  // Reads `profile_path` and checks its plugins and their settings without running a node
  // (`entre-host --check`).
  [[nodiscard]] static NodeCheckResult check(const std::filesystem::path& profile_path);

  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Starts the event loop and the transports. Returns the errors of transports that failed to
  // start (a required transport failing stops the node again and is returned as an error).
  [[nodiscard]] std::vector<std::string> start();
  void stop();
  [[nodiscard]] bool running() const;

  [[nodiscard]] std::string name() const;
  [[nodiscard]] std::filesystem::path data_dir() const;
  [[nodiscard]] std::filesystem::path profile_path() const;
  [[nodiscard]] std::vector<PluginStatus> plugins() const;

  // ---- Identity, contacts and messages ------------------------------------------------------
  // These need a crypto suite and a storage plugin in the profile; without them every call fails
  // with kUnavailable. They run on the node's messenger thread and return once their effect is
  // durable in storage. Identity and contact calls fail with kClosed until create_identity() or
  // unlock() succeeded. Key derivation makes those two slow (up to seconds, by the profile's
  // crypto.kdf); call them off a UI thread.
  [[nodiscard]] bool messaging_available() const;
  [[nodiscard]] bool has_identity();
  ApiStatus create_identity(const std::string& passphrase);
  ApiStatus unlock(const std::string& passphrase); // kAuthFailed "wrong passphrase"
  // What the next create_identity() (the profile's [crypto] kdf) or unlock() (the cost stored
  // with the identity) costs, for a frontend to say before it starts: the level ("interactive",
  // "moderate", "sensitive") and key_derivation_cost_text() of it (entre/passphrase.hpp).
  struct KeyDerivation {
    std::string level;
    std::string cost;
  };
  [[nodiscard]] KeyDerivation key_derivation();
  [[nodiscard]] std::string my_id(); // empty while locked
  // The name this node announces to people it meets (meeting mode): the profile's [node] name
  // until set_display_name() keeps another with the identity (1 to 64 bytes, no control
  // characters). Both need the identity unlocked.
  ApiStatus set_display_name(const std::string& name);
  [[nodiscard]] std::string display_name();
  // The contact code with this node's transport endpoints as hints (or `hints`, when given).
  ApiResult<std::string> contact_code(const std::vector<std::string>& hints = {});
  ApiResult<ContactInfo> add_contact(const std::string& code, const std::string& name);
  [[nodiscard]] std::vector<ContactInfo> contacts();
  ApiResult<ContactInfo> contact(const std::string& id);
  ApiStatus rename_contact(const std::string& id, const std::string& name);
  ApiStatus remove_contact(const std::string& id);
  ApiStatus set_blocked(const std::string& id, bool blocked);
  ApiStatus set_verified(const std::string& id, bool verified);
  ApiResult<std::string> safety_number(const std::string& id);
  // Queues `text` for the contact: stored in the conversation and the outbox before it returns.
  ApiResult<MessageInfo> send(const std::string& contact, const std::string& text);
  // Queues several texts for one contact in one storage transaction, in order: all are stored or
  // none (the error names the first text refused, counting from 0).
  ApiResult<std::vector<MessageInfo>> send_batch(const std::string& contact,
                                                 const std::vector<std::string>& texts);
  // Newest first: up to `limit` messages with order < before_order (0: start at the newest).
  ApiResult<std::vector<MessageInfo>> history(const std::string& contact, uint64_t before_order,
                                              uint32_t limit);
  ApiResult<uint64_t> mark_read(const std::string& contact);
  // Meeting mode, to become contacts with someone in the same room without a code to paste:
  // for `duration` (at most 15 minutes) the node announces its user id and [node] name openly on
  // its LAN discovery transports, and reports every other node in meeting mode as a PeerMet event
  // (with a contact code and the safety number to compare). kPermissionDenied when the profile
  // forbids it ([discovery] allow_meeting = false), kUnavailable without a discovery transport.
  ApiStatus open_meeting(std::chrono::seconds duration);
  ApiStatus close_meeting();
  [[nodiscard]] NodeCounters counters();

  // ---- Calls ----------------------------------------------------------------------------------
  // One call at a time. Calls need the identity unlocked, a codec ([codec] preferred) and, to
  // place or answer one, an audio plugin ([audio] plugin); without them these fail with
  // kUnavailable (an incoming call still rings, so the user learns of it). Progress comes as
  // CallChanged events, statistics as CallStatsUpdated; every call that ends is stored in the
  // call history.
  // Calls an online contact: kUnavailable while it is offline, kAlreadyExists during a call.
  ApiResult<CallInfo> call(const std::string& contact);
  // Answers the incoming call (`call_id` empty: whichever it is); kNotFound without one.
  ApiResult<CallInfo> answer(const std::string& call_id = {});
  // Hangs up, declines or cancels the call; kNotFound without one.
  ApiResult<CallInfo> hang_up(const std::string& call_id = {});
  // Mutes or unmutes the microphone of the call in progress (silence is sent while muted).
  ApiResult<CallInfo> set_muted(bool muted);
  [[nodiscard]] std::optional<CallInfo> current_call();
  // The active call's statistics now (rates and loss since the last CallStatsUpdated).
  [[nodiscard]] std::optional<CallStats> call_stats();
  // The audio plugin's devices by name (for [audio] capture_device / playback_device).
  // kUnavailable without an audio plugin, or with the plugin's reason (e.g. no sound system).
  struct AudioDevices {
    std::vector<std::string> capture;
    std::vector<std::string> playback;
  };
  ApiResult<AudioDevices> audio_devices();
  // The devices the next call opens (names from audio_devices(); empty: the system default),
  // in place of the profile's [audio] capture_device and playback_device until the node stops.
  ApiStatus set_audio_devices(const std::string& capture, const std::string& playback);
  // Newest first, up to `limit` calls; `contact` empty: every contact's calls.
  ApiResult<std::vector<CallRecord>> call_history(const std::string& contact, uint32_t limit);

  // The kernel's latest log lines (at most 512 are kept, at the profile's [log] level or above),
  // oldest first: for a frontend's log view.
  struct LogLine {
    int64_t time_ms = 0; // Unix epoch milliseconds
    std::string level;   // "trace", "debug", "info", "warning", "error", "critical"
    std::string text;
  };
  [[nodiscard]] std::vector<LogLine> recent_log();

  [[nodiscard]] std::optional<Event> poll_event();
  [[nodiscard]] std::optional<Event> wait_event(std::chrono::milliseconds timeout);

  struct Impl;

 private:
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct NodeCreateResult {
  std::unique_ptr<Node> node;      // null when errors is not empty
  std::vector<std::string> errors; // "file:line:column: key: message" or "<file>: <check>: <why>"
};

struct NodeCheckResult {
  std::vector<std::string> errors;   // what would stop create(), as in NodeCreateResult
  std::vector<PluginStatus> plugins; // every plugin the profile names (empty if it did not parse)
};

} // namespace entre
