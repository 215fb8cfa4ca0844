// ReliableLink: ordered, exactly-once delivery of messages over a datagram path that may lose,
// duplicate and reorder packets, plus a lossy channel for media. One per peer and link.
//
// It is pure logic: no sockets, no clock, no threads. The owner passes the time into every call,
// sends the packets it emits, feeds it the packets that arrive, and calls on_timer() at
// next_timer_ms(). That keeps it deterministic under the scenario tests' fake clock.
//
// Wire format (docs/protocol.md, "Link packets"); integers big-endian:
//   packet   = data / ack / datagram
//   data     = %x01 seq first count payload   ; seq, first: uint32; count: uint16 (1..max)
//   ack      = %x02 next sack                 ; next: uint32, the lowest seq not yet received
//                                             ; sack: uint64, bit i set = next+1+i received
//   datagram = %x03 payload                   ; the lossy channel: no sequence, no retransmission
//   bundle   = %x06 seq n *(len message)      ; n: uint16 (>= 1) whole messages, len: uint16
//                                             ; (>= 1); one sequence number for all of them
// A message of n fragments takes the consecutive sequence numbers first .. first+n-1; every
// fragment carries (first, n), so reassembly needs no other state. Sequence numbers compare in
// serial-number arithmetic (RFC 1982), so they may wrap.
//
// Sender: a congestion window in packets (slow start, then +1 per window of acks; halved once per
// window on a loss seen through the selective acks; back to the minimum on a timeout), RTT and
// RTO as RFC 6298 (Karn: no sample from a retransmitted packet; the RTO doubles on each timeout),
// retransmission of holes that three later packets have been acked past, and of anything older
// than the RTO. Receiver: a window of kReceiveWindowPackets beyond `next`; packets outside it, and
// duplicates, are dropped (and still acked, so a lost ack is repaired); an ack goes out at once
// for out-of-order data and otherwise after every second packet or ack_delay_ms.
//
// Every length read from a packet is checked; a malformed packet is dropped and counted, never
// partially applied.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace entre {

struct ReliableLinkConfig {
  uint32_t max_packet_bytes = 1200;             // the transport's payload limit for one packet
  uint32_t max_message_bytes = 256 * 1024;      // larger messages are refused at send()
  uint32_t send_buffer_bytes = 8 * 1024 * 1024; // queued + in flight; beyond it send() refuses
  uint32_t initial_rto_ms = 1000;
  uint32_t min_rto_ms = 200;
  uint32_t max_rto_ms = 60000;
  uint32_t ack_delay_ms = 10;
  uint32_t initial_window_packets = 16;
  uint32_t max_window_packets = 1024;
};

struct ReliableLinkStats {
  uint64_t packets_sent = 0;
  uint64_t packets_received = 0;
  uint64_t retransmissions = 0;
  uint64_t timeouts = 0;
  uint64_t duplicates_dropped = 0;
  uint64_t out_of_window_dropped = 0;
  uint64_t malformed_dropped = 0;
  uint64_t messages_delivered = 0;
  uint32_t srtt_ms = 0;
  uint32_t rto_ms = 0;
  uint32_t window_packets = 0;
  uint32_t in_flight_packets = 0;
};

class ReliableLink {
 public:
  static constexpr uint8_t kData = 0x01;
  static constexpr uint8_t kAck = 0x02;
  static constexpr uint8_t kDatagram = 0x03;
  static constexpr uint8_t kBundle = 0x06;
  static constexpr std::size_t kBundleHeaderBytes = 1 + 4 + 2;
  static constexpr std::size_t kDataHeaderBytes = 1 + 4 + 4 + 2;
  static constexpr std::size_t kAckBytes = 1 + 4 + 8;
  static constexpr uint32_t kReceiveWindowPackets = 4096;
  static constexpr uint32_t kMaxFragments = 65535;

  using PacketSink = std::function<void(std::span<const uint8_t> packet)>;
  using MessageSink = std::function<void(std::vector<uint8_t> message)>;

  // `emit` sends a packet on the path; `deliver` receives each message once, in order;
  // `deliver_datagram` receives lossy-channel payloads as they come.
  ReliableLink(ReliableLinkConfig config, PacketSink emit, MessageSink deliver,
               MessageSink deliver_datagram = {});

  // Queues a message. Errors (nothing queued): empty, larger than max_message_bytes, or the send
  // buffer is full (the caller retries later; the message stays in its outbox). A message that
  // fits one packet joins the newest packet not yet sent when there is room (a bundle). With
  // pump_now false nothing is sent until flush() (or until an ack or a timer sends), so that the
  // messages of one burst share packets.
  [[nodiscard]] std::optional<std::string> send(std::span<const uint8_t> message, uint64_t now_ms,
                                                bool pump_now = true);
  // Sends what the window allows of the queued packets.
  void flush(uint64_t now_ms);
  // Sends on the lossy channel at once; false if it does not fit one packet.
  bool send_datagram(std::span<const uint8_t> payload);

  void on_packet(std::span<const uint8_t> packet, uint64_t now_ms);
  void on_timer(uint64_t now_ms);
  // When on_timer() next has work; nullopt when idle.
  [[nodiscard]] std::optional<uint64_t> next_timer_ms() const;

  [[nodiscard]] bool idle() const { return outgoing_.empty(); }
  [[nodiscard]] std::size_t queued_bytes() const { return buffered_bytes_; }
  [[nodiscard]] const ReliableLinkStats& stats() const { return stats_; }

 private:
  // Sequence numbers are kept as 64-bit counters inside; the wire carries their low 32 bits,
  // unwrapped against the nearest counter on receipt.
  struct Outgoing {
    std::vector<uint8_t> packet; // the whole data packet, header included
    uint64_t sent_ms = 0;
    bool sent = false;
    bool retransmitted = false;
    bool lost = false;             // declared lost by a timeout: resent first as the window reopens
    uint32_t acked_past = 0;       // acks of packets sent after it (fast retransmit at 3)
    uint64_t tx_order = 0;         // when it was last (re)transmitted, counted in transmissions
    std::size_t payload_bytes = 0; // message bytes it carries (counted in buffered_bytes_)
  };
  struct Fragment {
    uint64_t first = 0;
    uint16_t count = 0;
    bool bundle = false; // payload = (len(uint16) message)*, each delivered on its own
    std::vector<uint8_t> payload;
  };

  void pump(uint64_t now_ms);
  void transmit(uint64_t seq, Outgoing& out, uint64_t now_ms);
  bool append_to_unsent(std::span<const uint8_t> message);
  void handle_data(std::span<const uint8_t> packet, uint64_t now_ms);
  void handle_bundle(std::span<const uint8_t> packet, uint64_t now_ms);
  // The number of well-formed entries, or 0 when any entry is malformed or bytes are left over.
  static std::size_t bundle_entries(std::span<const uint8_t> entries);
  void accept(uint64_t seq, uint64_t first, uint16_t count, std::span<const uint8_t> payload,
              bool bundle, uint64_t now_ms);
  void handle_ack(std::span<const uint8_t> packet, uint64_t now_ms);
  void acknowledge(uint64_t seq, uint64_t now_ms);
  void rtt_sample(double sample_ms);
  void on_loss(uint64_t now_ms);
  void send_ack();
  void deliver_ready();

  ReliableLinkConfig config_;
  PacketSink emit_;
  MessageSink deliver_;
  MessageSink deliver_datagram_;

  // Sender: every packet from the oldest unacknowledged one (send_base_) to next_seq_ - 1.
  uint64_t next_seq_ = 0;
  uint64_t send_base_ = 0;
  std::map<uint64_t, Outgoing> outgoing_; // unacknowledged, sent or not yet sent
  uint64_t next_unsent_ = 0;              // every seq from here on is queued, not yet sent
  uint64_t transmissions_ = 0;            // orders Outgoing::tx_order
  uint32_t in_flight_ = 0;                // sent, not acked, not declared lost
  uint64_t lost_count_ = 0;               // packets with `lost` set
  std::size_t buffered_bytes_ = 0;
  double window_ = 0;
  double ssthresh_ = 0;
  uint64_t recovery_end_seq_ = 0; // no second window cut for losses before this seq
  bool have_rtt_ = false;
  double srtt_ms_ = 0;
  double rttvar_ms_ = 0;
  uint32_t rto_ms_ = 0;

  // Receiver: everything below next_expected_ has been received; received_ holds what lies above,
  // and partial messages below it whose other fragments are still missing are in it too.
  uint64_t next_expected_ = 0;
  uint64_t deliver_from_ = 0; // first seq of the next message to deliver
  std::map<uint64_t, Fragment> received_;
  uint32_t unacked_received_ = 0;
  std::optional<uint64_t> ack_due_ms_;

  uint32_t max_fragments_ = 0; // of the largest message config_ allows

  ReliableLinkStats stats_;
};

} // namespace entre
