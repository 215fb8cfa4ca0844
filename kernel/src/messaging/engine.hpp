// The messaging engine: identities, contacts, links, sessions and exactly-once messages.
//
// It is single-threaded logic with no clock and no threads of its own. Its driver (the node's
// engine thread, or a scenario test on a fake clock) passes every input in -- transport frames,
// API calls, timer ticks -- and calls flush() after each batch of inputs. flush() commits the
// batch's storage transaction and only then releases the frames the batch produced, so nothing
// leaves the node that storage could forget in a crash: a message is in the outbox before its first
// transmission, an acknowledgement leaves only once the message it acknowledges is stored, and a
// ratchet state is stored in the same transaction as the messages it encrypted or decrypted.
//
// Layers (docs/architecture.md "The path of a message", formats in docs/protocol.md):
//   frame     handshake (Noise IK through the crypto suite) or a sealed link packet
//   link      per contact and path: AEAD with a counter nonce and replay window (MediaCipher keyed
//             from the handshake), then ReliableLink (sequence numbers, acks, retransmission)
//   envelope  a message (id, timestamp, Double Ratchet ciphertext), an end-to-end ack, a read
//             receipt, or a ratchet hello
//
// Thread safety: none. One thread calls everything, including the EngineOutput callbacks it makes.
#pragma once

#include "discovery/beacon.hpp"
#include "peers/reliable_link.hpp"

#include <entre/events.hpp>
#include <entre/messaging.hpp>
#include <entre/sdk/crypto.hpp>
#include <entre/sdk/discovery.hpp>
#include <entre/sdk/relay.hpp>
#include <entre/sdk/storage.hpp>
#include <entre/sdk/transport.hpp>

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace entre {

struct EngineConfig {
  uint32_t keepalive_ms = 15000;      // a ping goes out on a link idle this long
  uint32_t link_timeout_ms = 45000;   // a link that heard nothing this long is dead
  uint32_t stall_ms = 3000;           // a link with data in flight that heard nothing this long is
                                      // passed over for a healthy link of the same contact
  uint32_t handshake_retry_ms = 1000; // first resend of a handshake message; doubles
  uint32_t handshake_timeout_ms = 10000;
  uint32_t resend_ms = 5000; // unacknowledged messages go again when the best link has carried
                             // everything and no end-to-end ack came for this long
  uint32_t reconnect_min_ms = 1000; // backoff between attempts to reach a contact
  uint32_t reconnect_max_ms = 60000;
  uint32_t max_sessions_cached = 512; // ratchet sessions kept in memory (the rest load on demand)
  uint32_t max_pending_handshakes = 64;
  uint32_t max_ack_ids = 512; // message ids per end-to-end ack envelope
  // Discovery beacons (used when a transport offers Discovery and the suite PairwiseKeys).
  uint64_t discovery_epoch_ms = 600000;
  uint32_t beacon_entries = 16;
  // Meeting mode may be opened (the profile's [discovery] meeting); the longest it stays open.
  bool allow_meeting = true;
  uint32_t max_meeting_ms = 15 * 60 * 1000;
  std::string meeting_name; // announced in meeting mode (the node's name)
  // Network scope "private": no frame to, and no contact endpoint at, an address off the local
  // network (sdk::is_local_network).
  bool private_scope = false;
  sdk::KdfCost kdf{sdk::KdfStrength::kModerate, 0, 0};
  ReliableLinkConfig link;
};

// Where the engine's effects go. Called on the engine's thread, from inside flush() for frames.
class EngineOutput {
 public:
  virtual void send_frame(std::size_t transport, const std::string& endpoint,
                          std::vector<uint8_t> frame) = 0;
  // A beacon for the transport's Discovery interface (any time on the engine's thread).
  virtual void send_beacon(std::size_t transport, std::vector<uint8_t> beacon) = 0;
  virtual void event(Event event) = 0;
  virtual void log(int level, const std::string& message) = 0; // 0 debug, 1 info, 2 warn, 3 error
  // A call signal the contact sent (docs/protocol.md "Call signals"), not yet parsed.
  virtual void call_signal(const std::string& contact, std::vector<uint8_t> signal) {
    (void)contact;
    (void)signal;
  }

 protected:
  ~EngineOutput() = default;
};

struct EngineClock {
  std::function<uint64_t()> mono_ms; // monotonic, for timers
  std::function<int64_t()> wall_ms;  // Unix epoch, for timestamps
};

struct EngineCounters {
  uint64_t frames_received = 0;
  uint64_t frames_dropped = 0; // malformed, unknown link, failed to open, refused
  uint64_t handshakes_completed = 0;
  uint64_t handshakes_refused = 0;
  uint64_t messages_sent = 0;     // first transmissions
  uint64_t messages_received = 0; // stored
  uint64_t duplicates_dropped = 0;
  uint64_t decrypt_failures = 0;
  uint64_t storage_failures = 0;
  uint64_t beacons_sent = 0;
  uint64_t beacons_recognised = 0;
  uint64_t beacons_refused = 0; // malformed, stale, replayed or forged
  uint64_t scope_refusals = 0;  // frames or endpoints outside the private network scope
};

class Engine {
 public:
  using Key = std::array<uint8_t, sdk::kPublicKeyBytes>;
  using MessageId = std::array<uint8_t, sdk::kMessageIdBytes>;

  Engine(sdk::CryptoSuite& crypto, sdk::Storage& storage, EngineOutput& output, EngineClock clock,
         EngineConfig config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Transports, in preference order (the first is the most preferred). Add before unlocking.
  // `discovery`: the transport's optional Discovery interface.
  // `relayed`: the transport's optional RelayedTransport interface, which names its paths.
  std::size_t add_transport(sdk::Transport* transport, std::string plugin_id,
                            sdk::Discovery* discovery = nullptr,
                            sdk::RelayedTransport* relayed = nullptr);
  // The crypto suite's optional PairwiseKeys; with it, transports with Discovery announce the node
  // to its contacts and find them. Before unlocking.
  void enable_discovery(sdk::PairwiseKeys* pairwise) { pairwise_ = pairwise; }
  // The storage's optional MessagePaths; with it, an outgoing message records the path its
  // delivery receipt came back on.
  void enable_message_paths(sdk::MessagePaths* paths) { paths_ = paths; }

  // ---- Identity -------------------------------------------------------------------------------
  [[nodiscard]] bool has_identity();
  [[nodiscard]] bool unlocked() const { return unlocked_; }
  // Creates an identity sealed under `passphrase` (fails if one exists) and unlocks it.
  ApiStatus create_identity(const std::string& passphrase);
  // kAuthFailed "wrong passphrase" leaves everything as it was.
  ApiStatus unlock(const std::string& passphrase);
  // The key derivation unlock() runs (the cost stored with the identity) or, without an
  // identity, the one create_identity() would run (the profile's).
  [[nodiscard]] sdk::KdfCost identity_kdf();
  [[nodiscard]] std::string my_id() const;
  // The name this node announces in meeting mode: the profile's [node] name until set here, then
  // kept (sealed) with the identity. 1 to 64 bytes of UTF-8 without control characters.
  ApiStatus set_display_name(const std::string& name);
  [[nodiscard]] const std::string& display_name() const { return config_.meeting_name; }
  // While unlocked: the identity secret and user id (for the node's IdentityProof; never logged).
  [[nodiscard]] std::span<const uint8_t> identity_secret() const { return identity_secret_; }
  [[nodiscard]] const Key& my_key() const { return my_key_; }
  // The contact code, with the transports' local endpoints (or `hints` when given) as hints.
  ApiResult<std::string> contact_code(const std::vector<std::string>& hints = {});

  // ---- Contacts -------------------------------------------------------------------------------
  ApiResult<ContactInfo> add_contact(const std::string& code, const std::string& name);
  [[nodiscard]] std::vector<ContactInfo> contacts();
  ApiResult<ContactInfo> contact(const std::string& id);
  ApiStatus rename_contact(const std::string& id, const std::string& name);
  ApiStatus remove_contact(const std::string& id);
  ApiStatus set_blocked(const std::string& id, bool blocked);
  ApiStatus set_verified(const std::string& id, bool verified);
  ApiResult<std::string> safety_number(const std::string& id);

  // ---- Messages -------------------------------------------------------------------------------
  // Stores the message in the conversation and the outbox (durable after the next flush()).
  ApiResult<MessageInfo> send(const std::string& contact, const std::string& text);
  // All of `texts` or none: every text is checked before anything is stored, and a storage
  // failure fails the whole turn at flush().
  ApiResult<std::vector<MessageInfo>> send_batch(const std::string& contact,
                                                 const std::vector<std::string>& texts);
  // Up to `limit` messages with order < before_order, newest first (0: from the newest).
  ApiResult<std::vector<MessageInfo>> history(const std::string& contact, uint64_t before_order,
                                              uint32_t limit);
  // Marks every incoming message of the conversation read and tells the contact.
  ApiResult<uint64_t> mark_read(const std::string& contact);

  // ---- Meeting mode ---------------------------------------------------------------------------
  // Announces this node openly (user id and name) on the discovery transports for `duration_ms`
  // (capped at max_meeting_ms) and reports other nodes in meeting mode as PeerMet events.
  ApiStatus open_meeting(uint32_t duration_ms);
  ApiStatus close_meeting();

  // ---- Calls (engine_calls.cpp) --------------------------------------------------------------
  // Sends a call signal on the contact's best link (reliably, end-to-end encrypted by the link);
  // kUnavailable while the contact is offline.
  ApiStatus send_call_signal(const std::string& contact, std::span<const uint8_t> signal);
  // Where a call's media frames go: the contact's best link's transport and endpoint.
  struct MediaRoute {
    std::size_t transport = 0;
    std::string endpoint;
    uint32_t rtt_ms = 0;
    std::string path;
  };
  [[nodiscard]] std::optional<MediaRoute> media_route(const std::string& contact);
  // The media key of one call, from the contact's session (Session::derive_media_key).
  ApiStatus call_media_key(const std::string& contact, std::span<const uint8_t> call_id,
                           std::span<uint8_t> key_out);
  // The call history: one sealed setting, the newest 500 calls.
  ApiStatus store_call(const CallRecord& record);
  // Newest first; `contact` empty: every contact's calls.
  ApiResult<std::vector<CallRecord>> call_history(const std::string& contact, uint32_t limit);

  // ---- Driver ---------------------------------------------------------------------------------
  void on_frame(std::size_t transport, std::string_view endpoint, std::span<const uint8_t> frame);
  // A beacon a discovery transport received from `endpoint`.
  void on_discovered(std::size_t transport, std::string_view endpoint,
                     std::span<const uint8_t> beacon);
  void on_timer();
  [[nodiscard]] std::optional<uint64_t> next_timer_ms() const;
  // The node is leaving (it stops): a goodbye on every link that is up, so that each contact
  // shows this node offline at once instead of after link_timeout_ms. The links stay as they
  // are; the frames go out at the next flush().
  void say_goodbye();
  // Commits the batch and sends what it produced. Returns false if the commit failed (the batch's
  // effects are undone and its frames dropped).
  bool flush();

  [[nodiscard]] const EngineCounters& counters() const { return counters_; }
  [[nodiscard]] std::size_t link_count() const { return links_.size(); }
  [[nodiscard]] std::size_t sessions_cached() const { return sessions_loaded_; }
  [[nodiscard]] std::size_t outbox_size() const;
  // Reliable-link statistics summed over the live links.
  [[nodiscard]] ReliableLinkStats link_stats() const;

 private:
  struct Link;
  struct Contact;
  struct OutItem {
    MessageId id{};
    std::vector<uint8_t> envelope; // empty until encrypted
    uint64_t handed_to = 0;        // generation of the link it was last handed to (0: none)
    uint64_t order = 0;            // in the conversation
    uint32_t state = 0;            // MessageState as stored
  };
  struct HeldFrame {
    std::size_t transport;
    std::string endpoint;
    std::vector<uint8_t> frame;
  };
  struct SessionSlot;

  // nullopt when `text` may be sent; otherwise why not
  static std::optional<ApiError> check_text(const std::string& text);

  // storage helpers
  bool txn();
  void storage_failed(const char* what, const sdk::Status& st);
  std::vector<uint8_t> seal(std::string_view label, std::span<const uint8_t> ad,
                            std::span<const uint8_t> plain);
  std::optional<std::vector<uint8_t>> open(std::string_view label, std::span<const uint8_t> ad,
                                           std::span<const uint8_t> sealed);
  void load_contacts();
  void load_outbox();
  Contact* find_contact(const std::string& id, ApiError& error);
  Contact* find_contact(const Key& key);
  ContactInfo info_of(const Contact& c);
  bool put_contact(const Contact& c);

  // sessions
  // The contact's session, loaded from storage on first use; null when it has none.
  SessionSlot* session_of(Contact& c);
  void store_session(Contact& c, SessionSlot& s);
  void drop_session(Contact& c);
  void install_session(Contact& c, sdk::Session* s, const std::array<uint8_t, 16>& sid);
  void touch_session(Contact& c);
  void encrypt_pending(Contact& c, bool reencrypt_all);
  std::optional<std::vector<uint8_t>>
  encrypt_message(Contact& c, const MessageId& id, int64_t timestamp_ms, const std::string& text);

  // links
  void connect(Contact& c);
  Link* new_link(std::size_t transport, std::string endpoint, const Key& key, bool initiator);
  void destroy_link(uint32_t index, const char* why);
  // The path a link's frames take, for people: the endpoint, or the relayed transport's words.
  [[nodiscard]] std::string path_of(const Link& l) const;
  void handle_hs1(std::size_t transport, std::string_view endpoint, std::span<const uint8_t> f);
  void handle_hs2(std::span<const uint8_t> f);
  // Answers an hs1 from a key that is not a contact with a refused frame, within the limits.
  void send_refusal(sdk::Handshake& hs, const Key& key, uint32_t initiator_index,
                    std::size_t transport, std::string_view endpoint);
  void handle_refused(Link& l);
  void handle_sealed(std::size_t transport, std::string_view endpoint, std::span<const uint8_t> f);
  bool complete_handshake(Link& l);
  void confirm_link(Link& l);
  void apply_session_decision(Link& l);
  void send_link_packet(Link& l, std::span<const uint8_t> packet);
  // A round-trip probe: the peer answers a ping at once, so its pong measures the path alone.
  void send_ping(Link& l, uint64_t now);
  // How often a link up is probed: every second until a pong came back (a ping or its pong may
  // be lost), then every keepalive_ms.
  [[nodiscard]] uint64_t probe_interval(const Link& l) const;
  void send_envelope(Link& l, std::vector<uint8_t> envelope);
  void on_link_message(uint32_t index, std::vector<uint8_t> message);
  void choose_best(Contact& c);
  [[nodiscard]] bool stalled(const Link& l, uint64_t now) const;
  void pump_outbox(Contact& c);
  void link_timers(Link& l, uint64_t now);

  // discovery and network scope
  void start_discovery();
  void discovery_contact(const Contact& c);
  void discovery_timers(uint64_t now);
  // NAT traversal (engine_direct.cpp): over a relayed link, tell the contact this node's direct
  // endpoints; dial the ones it tells.
  [[nodiscard]] std::vector<std::string> direct_endpoints() const;
  void send_endpoints(Link& l);
  void handle_endpoints(Contact& c, std::span<const uint8_t> env);
  void direct_timers(uint64_t now);
  void learn_endpoint(Contact& c, const std::string& endpoint);
  [[nodiscard]] bool in_scope(std::string_view endpoint) const;
  [[nodiscard]] std::vector<std::string> endpoints_of(const Contact& c) const;
  void read_meeting_beacon(std::string_view endpoint, std::span<const uint8_t> beacon);
  [[nodiscard]] bool meeting_open() const;

  // envelopes
  void handle_message(Contact& c, Link& l, std::span<const uint8_t> env);
  void handle_ack(Contact& c, const Link& l, std::span<const uint8_t> env);
  void handle_read(Contact& c, std::span<const uint8_t> env);
  void handle_hello(Contact& c, std::span<const uint8_t> env);
  void handle_call(Contact& c, std::span<const uint8_t> env);
  // nullopt when storage failed (not when there is no history yet)
  std::optional<std::vector<CallRecord>> load_calls();
  void send_hello(Contact& c, Link& l);
  void send_read_receipt(Contact& c);
  MessageId new_message_id(int64_t wall_ms);
  void queue_ack(Contact& c, const MessageId& id);

  sdk::CryptoSuite& crypto_;
  sdk::Storage& storage_;
  EngineOutput& out_;
  EngineClock clock_;
  EngineConfig config_;

  struct TransportSlot {
    sdk::Transport* transport = nullptr;
    std::string plugin_id;
    std::string scheme;
    uint32_t max_payload = 0;
    bool local_only = false; // kTransportLocalOnly: in scope whatever the endpoint's text
    sdk::Discovery* discovery = nullptr;
    sdk::RelayedTransport* relayed = nullptr;
    uint64_t next_beacon_ms = 0;
  };
  std::vector<TransportSlot> transports_;

  bool unlocked_ = false;
  std::vector<uint8_t> identity_secret_; // wiped on destruction
  std::array<uint8_t, sdk::kStorageKeyBytes> storage_key_{};
  sdk::PairwiseKeys* pairwise_ = nullptr;
  sdk::MessagePaths* paths_ = nullptr;
  std::unique_ptr<discovery::BeaconBook> beacons_; // while unlocked, with a discovery transport
  uint64_t meeting_until_ms_ = 0;                  // mono; 0: closed
  uint64_t next_direct_ms_ = 0;                    // mono; the next round of direct_timers
  std::set<Key> met_;                              // reported in the open meeting
  Key my_key_{};

  std::map<Key, std::unique_ptr<Contact>> contacts_;
  std::map<uint32_t, std::unique_ptr<Link>> links_;
  std::set<std::pair<uint64_t, Key>> reconnects_;
  std::size_t sessions_loaded_ = 0;
  uint64_t session_tick_ = 0;
  std::set<Key> dirty_sessions_;
  std::set<uint32_t> unflushed_; // links given envelopes this turn, flushed by flush()
  uint64_t next_generation_ = 1;
  uint64_t last_id_ms_ = 0;

  bool in_txn_ = false;
  bool batch_failed_ = false;
  std::vector<HeldFrame> held_;
  std::vector<Event> held_events_;
  std::set<Key> acks_due_;
  std::map<Key, uint64_t> refused_at_; // mono ms of the last refusal sent to each key
  uint64_t refusal_second_ = 0;        // mono second of refusals_this_second_
  uint32_t refusals_this_second_ = 0;
  EngineCounters counters_;
};

} // namespace entre
