// The relay protocol's byte formats (plugins/common/relay_wire.hpp): records split from any
// chunking of the stream, every bound enforced with a message, endpoint text round trips and its
// errors, and the endpoint reflection that cannot amplify.
#include "relay_wire.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace entre::plugins::relay_wire {
namespace {

Key key_of(uint8_t b) {
  Key k{};
  k.fill(b);
  return k;
}

TEST(RelayRecords, SplitCorrectlyHoweverTheStreamIsChunked) {
  std::vector<uint8_t> stream;
  std::vector<std::vector<uint8_t>> bodies;
  std::mt19937 rng(7);
  for (int i = 0; i < 50; ++i) {
    std::vector<uint8_t> body(1 + rng() % 3000);
    for (auto& b : body) {
      b = static_cast<uint8_t>(rng());
    }
    append_record(stream, body);
    bodies.push_back(std::move(body));
  }
  for (std::size_t chunk : {1U, 2U, 7U, 1000U, 100000U}) {
    RecordReader reader(kMaxRecordBytes);
    std::vector<std::vector<uint8_t>> got;
    for (std::size_t at = 0; at < stream.size(); at += chunk) {
      reader.feed(
          std::span<const uint8_t>(stream).subspan(at, std::min(chunk, stream.size() - at)));
      while (auto body = reader.next()) {
        got.emplace_back(body->begin(), body->end());
      }
    }
    EXPECT_EQ(got, bodies) << "chunk " << chunk;
    EXPECT_TRUE(reader.error().empty());
    EXPECT_EQ(reader.buffered(), 0U);
  }
}

TEST(RelayRecords, ALengthAboveTheBoundOrZeroIsAnErrorBeforeAnyBodyIsRead) {
  RecordReader reader(100);
  reader.feed(std::vector<uint8_t>{0, 101});
  EXPECT_FALSE(reader.next());
  EXPECT_EQ(reader.error(), "record of 101 bytes (allowed 1 to 100)");
  RecordReader zero(100);
  zero.feed(std::vector<uint8_t>{0, 0, 1});
  EXPECT_FALSE(zero.next());
  EXPECT_NE(zero.error().find("record of 0 bytes"), std::string::npos);
  RecordReader partial(100);
  partial.feed(std::vector<uint8_t>{0, 5, 1, 2});
  EXPECT_FALSE(partial.next()) << "a partial body waits for more";
  EXPECT_TRUE(partial.error().empty());
}

TEST(RelayClear, HellosAndRefusalsRoundTrip) {
  std::string why;
  const std::vector<uint8_t> noise(96, 3);
  const auto hello_record = client_hello(noise); // the parse result points into it
  auto hello = parse_clear(hello_record, why);
  ASSERT_TRUE(hello) << why;
  EXPECT_EQ(hello->type, Type::kClientHello);
  EXPECT_EQ(hello->version, kVersion);
  EXPECT_EQ(std::vector<uint8_t>(hello->data.begin(), hello->data.end()), noise);
  const auto reply_record = relay_hello(std::vector<uint8_t>(48, 4));
  auto reply = parse_clear(reply_record, why);
  ASSERT_TRUE(reply) << why;
  EXPECT_EQ(reply->type, Type::kRelayHello);
  EXPECT_EQ(reply->data.size(), 48U);
  const auto no_record = refused(Reason::kBusy, "full\x01");
  auto no = parse_clear(no_record, why);
  ASSERT_TRUE(no) << why;
  EXPECT_EQ(no->reason, Reason::kBusy);
  EXPECT_EQ(std::string(no->data.begin(), no->data.end()), "full?") << "controls are replaced";
}

TEST(RelayClear, MalformedRecordsAreRefusedWithAReason) {
  std::string why;
  EXPECT_FALSE(parse_clear({}, why));
  EXPECT_EQ(why, "empty record");
  EXPECT_FALSE(parse_clear(std::vector<uint8_t>{0x01}, why));
  EXPECT_NE(why.find("hello record of 1 bytes"), std::string::npos);
  EXPECT_FALSE(parse_clear(client_hello(std::vector<uint8_t>(kMaxHelloBytes, 0)), why));
  EXPECT_NE(why.find("hello record of"), std::string::npos);
  EXPECT_FALSE(parse_clear(std::vector<uint8_t>{0x03, 1, 'a', 0x80}, why));
  EXPECT_EQ(why, "refusal text is not printable ASCII");
  EXPECT_FALSE(parse_clear(std::vector<uint8_t>{0x20, 0}, why));
  EXPECT_EQ(why, "unexpected record type 0x20 before the handshake completed");
}

TEST(RelayMessages, EveryTypeRoundTrips) {
  std::string why;
  const std::vector<uint8_t> frame{1, 2, 3};
  for (Type t : {Type::kSend, Type::kDeliver}) {
    const auto record = encode_frame(t, key_of(9), frame);
    auto m = parse_message(record, 16, why);
    ASSERT_TRUE(m) << why;
    EXPECT_EQ(m->type, t);
    EXPECT_EQ(m->key, key_of(9));
    EXPECT_EQ(std::vector<uint8_t>(m->frame.begin(), m->frame.end()), frame);
  }
  Message w;
  w.type = Type::kWelcome;
  w.max_frame = 16384;
  w.idle_ms = 120000;
  auto welcome = parse_message(encode(w), 16, why);
  ASSERT_TRUE(welcome) << why;
  EXPECT_EQ(welcome->max_frame, 16384U);
  EXPECT_EQ(welcome->idle_ms, 120000U);
  Message p;
  p.type = Type::kPing;
  p.nonce = 0x0102030405060708ULL;
  auto ping = parse_message(encode(p), 16, why);
  ASSERT_TRUE(ping) << why;
  EXPECT_EQ(ping->nonce, p.nonce);
  Message u;
  u.type = Type::kUnreachable;
  u.key = key_of(5);
  auto unreachable = parse_message(encode(u), 16, why);
  ASSERT_TRUE(unreachable) << why;
  EXPECT_EQ(unreachable->key, key_of(5));
  Message c;
  c.type = Type::kClosing;
  c.reason = Reason::kSlowConsumer;
  auto closing = parse_message(encode(c), 16, why);
  ASSERT_TRUE(closing) << why;
  EXPECT_EQ(closing->reason, Reason::kSlowConsumer);
  Message a;
  a.type = Type::kAuth;
  EXPECT_TRUE(parse_message(encode(a), 16, why));
}

TEST(RelayMessages, BoundsAndLengthsAreEnforced) {
  std::string why;
  EXPECT_FALSE(
      parse_message(encode_frame(Type::kSend, key_of(1), std::vector<uint8_t>(17, 0)), 16, why));
  EXPECT_EQ(why, "frame of 17 bytes (limit 16)");
  EXPECT_FALSE(parse_message(encode_frame(Type::kSend, key_of(1), {}), 16, why));
  EXPECT_EQ(why, "frame message without a frame");
  EXPECT_FALSE(parse_message(std::vector<uint8_t>{0x30, 1, 2}, 16, why));
  EXPECT_NE(why.find("expected 9"), std::string::npos);
  EXPECT_FALSE(parse_message(std::vector<uint8_t>{0x10, 0}, 16, why));
  EXPECT_FALSE(parse_message(std::vector<uint8_t>{0x7f}, 16, why));
  EXPECT_EQ(why, "unknown message type 0x7f");
  EXPECT_FALSE(parse_message({}, 16, why));
}

// A stand-in link cipher: "seals" by appending a 16-byte tag that sums the counter, the
// associated data and the plaintext, so that a test sees what each part is bound to.
class SumCipher final : public sdk::MediaCipher {
 public:
  sdk::Status seal(uint64_t counter, sdk::ByteView ad, sdk::ByteView frame,
                   sdk::ByteSink& out) noexcept override {
    std::vector<uint8_t> sealed(frame.data, frame.data + frame.size);
    const auto t = tag(counter, ad, frame);
    sealed.insert(sealed.end(), t.begin(), t.end());
    return out.append(sdk::ByteView(sealed)) ? sdk::Status::ok()
                                             : sdk::Status::error(sdk::StatusCode::kInternal, "");
  }
  sdk::Status open(uint64_t counter, sdk::ByteView ad, sdk::ByteView sealed,
                   sdk::ByteSink& out) noexcept override {
    if (sealed.size < 16) {
      return sdk::Status::error(sdk::StatusCode::kAuthFailed, "short");
    }
    const sdk::ByteView plain(sealed.data, sealed.size - 16);
    const auto t = tag(counter, ad, plain);
    if (!std::equal(t.begin(), t.end(), sealed.data + plain.size)) {
      return sdk::Status::error(sdk::StatusCode::kAuthFailed, "tag");
    }
    return out.append(plain) ? sdk::Status::ok()
                             : sdk::Status::error(sdk::StatusCode::kInternal, "");
  }
  void destroy() noexcept override {}

 private:
  static std::array<uint8_t, 16> tag(uint64_t counter, sdk::ByteView ad, sdk::ByteView plain) {
    std::array<uint8_t, 16> t{};
    t[0] = static_cast<uint8_t>(counter);
    for (uint64_t i = 0; i < ad.size; ++i) {
      t[1 + i % 7] = static_cast<uint8_t>(t[1 + i % 7] * 31 + ad.data[i]);
    }
    for (uint64_t i = 0; i < plain.size; ++i) {
      t[8 + i % 8] = static_cast<uint8_t>(t[8 + i % 8] * 31 + plain.data[i]);
    }
    return t;
  }
};

TEST(RelaySealed, AFrameTravelsAfterItsSealedHeadAndIsBoundToIt) {
  SumCipher cipher;
  const std::vector<uint8_t> frame(300, 0x42);
  std::vector<uint8_t> stream;
  ASSERT_TRUE(append_sealed_record(stream, cipher, 7, encode_frame(Type::kSend, key_of(3), frame)));
  Message ping;
  ping.type = Type::kPing;
  ping.nonce = 99;
  ASSERT_TRUE(append_sealed_record(stream, cipher, 8, encode(ping)));
  EXPECT_EQ(stream.size(), 2 + kSealedFrameOverhead + frame.size() + 2 + 1 + 9 + 16)
      << "the frame is not encrypted again, only its head";
  EXPECT_NE(std::search(stream.begin(), stream.end(), frame.begin(), frame.end()), stream.end());

  RecordReader reader(kMaxRecordBytes);
  reader.feed(stream);
  std::vector<uint8_t> head;
  std::string why;
  bool unverified = false;
  auto first = reader.next();
  ASSERT_TRUE(first);
  const std::vector<uint8_t> first_body(first->begin(), first->end());
  auto m = open_sealed_record(cipher, 7, first_body, head, 1024, why, unverified);
  ASSERT_TRUE(m) << why;
  EXPECT_EQ(m->type, Type::kSend);
  EXPECT_EQ(m->key, key_of(3));
  EXPECT_EQ(std::vector<uint8_t>(m->frame.begin(), m->frame.end()), frame);
  auto second = reader.next();
  ASSERT_TRUE(second);
  auto p = open_sealed_record(cipher, 8, *second, head, 1024, why, unverified);
  ASSERT_TRUE(p) << why;
  EXPECT_EQ(p->nonce, 99U);

  // A changed frame byte, the wrong counter, or a frame limit below the frame: each refused.
  std::vector<uint8_t> tampered = first_body;
  tampered.back() ^= 1;
  EXPECT_FALSE(open_sealed_record(cipher, 7, tampered, head, 1024, why, unverified));
  EXPECT_TRUE(unverified) << "the frame is authenticated with its head";
  EXPECT_FALSE(open_sealed_record(cipher, 8, first_body, head, 1024, why, unverified));
  EXPECT_TRUE(unverified);
  EXPECT_FALSE(open_sealed_record(cipher, 7, first_body, head, 299, why, unverified));
  EXPECT_FALSE(unverified);
  EXPECT_EQ(why, "frame of 300 bytes (limit 299)");
  // A head length that does not fit the record.
  std::vector<uint8_t> bad = first_body;
  bad[0] = 255;
  EXPECT_FALSE(split_sealed(std::vector<uint8_t>(bad.begin(), bad.begin() + 100), why));
  EXPECT_FALSE(split_sealed(std::vector<uint8_t>{5, 1, 2, 3, 4, 5}, why)) << "shorter than a tag";
}

TEST(RelayEndpoints, RoundTripAndNameTheirPlace) {
  std::string why;
  const std::string relay = std::string(64, 'a') + "@relay.example.org:443";
  auto r = parse_relay(relay, why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(r->host, "relay.example.org");
  EXPECT_EQ(r->port, 443);
  EXPECT_EQ(r->key, key_of(0xaa));
  EXPECT_EQ(r->text(), relay);
  EXPECT_EQ(r->place(), "relay.example.org:443");
  auto v6 = parse_relay(std::string(64, 'b') + "@[2001:db8::1]:8443", why);
  ASSERT_TRUE(v6) << why;
  EXPECT_EQ(v6->host, "2001:db8::1");
  EXPECT_EQ(v6->place(), "[2001:db8::1]:8443");
  const std::string endpoint = "relay:" + relay + "/" + std::string(64, 'c');
  auto e = parse_endpoint(endpoint, why);
  ASSERT_TRUE(e) << why;
  EXPECT_EQ(e->peer, key_of(0xcc));
  EXPECT_EQ(e->text(), endpoint);
}

TEST(RelayEndpoints, EachMistakeHasItsOwnMessage) {
  const std::string k(64, 'a');
  const std::vector<std::pair<std::string, std::string>> bad_relays = {
      {"relay.example.org:443", "found no '@'"},
      {"abc@relay.example.org:443", "64 hexadecimal digits"},
      {std::string(63, 'a') + "g@h:1", "64 hexadecimal digits"},
      {k + "@relay.example.org", "found no port"},
      {k + "@relay.example.org:0", "1 to 65535"},
      {k + "@relay.example.org:65536", "1 to 65535"},
      {k + "@relay.example.org:44x", "1 to 65535"},
      {k + "@2001:db8::1:443", "in brackets"},
      {k + "@[2001:db8::1:443", "[<IPv6 address>]:<port>"},
      {k + "@bad host:1", "not a host name"},
      {k + "@:1", "not a host name"},
  };
  for (const auto& [text, expect] : bad_relays) {
    std::string why;
    EXPECT_FALSE(parse_relay(text, why)) << text;
    EXPECT_NE(why.find(expect), std::string::npos) << text << ": " << why;
  }
  std::string why;
  EXPECT_FALSE(parse_endpoint("udp:1.2.3.4:5", why));
  EXPECT_EQ(why, "a relay endpoint starts with 'relay:'");
  EXPECT_FALSE(parse_endpoint("relay:" + k + "@h:1", why));
  EXPECT_EQ(why, "a relay endpoint ends with /<peer key>");
  EXPECT_FALSE(parse_endpoint("relay:" + k + "@h:1/" + k + std::string(1, '\0'), why));
}

TEST(RelayReflection, RequestAndResponseRoundTripWithoutAmplification) {
  ReflectNonce nonce{};
  nonce.fill(0x11);
  const auto request = reflect_request(nonce);
  EXPECT_EQ(request.size(), kReflectRequestBytes);
  ASSERT_TRUE(parse_reflect_request(request));
  EXPECT_EQ(*parse_reflect_request(request), nonce);
  Reflected v6;
  v6.v6 = true;
  v6.address.fill(0xfe);
  v6.port = 40000;
  const auto response = reflect_response(nonce, v6);
  EXPECT_LE(response.size(), request.size()) << "the reflector never sends more than it got";
  EXPECT_TRUE(looks_like_reflect_response(response));
  auto seen = parse_reflect_response(response, nonce);
  ASSERT_TRUE(seen);
  EXPECT_TRUE(seen->v6);
  EXPECT_EQ(seen->port, 40000);
  EXPECT_EQ(seen->address, v6.address);
  Reflected v4;
  v4.address = {192, 0, 2, 7};
  v4.port = 7400;
  auto seen4 = parse_reflect_response(reflect_response(nonce, v4), nonce);
  ASSERT_TRUE(seen4);
  EXPECT_FALSE(seen4->v6);
  EXPECT_EQ(seen4->address[3], 7);
}

TEST(RelayReflection, ShortForeignOrMismatchedDatagramsAreIgnored) {
  ReflectNonce nonce{};
  nonce.fill(0x22);
  auto short_request = reflect_request(nonce);
  short_request.pop_back();
  EXPECT_FALSE(parse_reflect_request(short_request)) << "a short request could amplify";
  auto foreign = reflect_request(nonce);
  foreign[0] = 'X';
  EXPECT_FALSE(parse_reflect_request(foreign));
  Reflected v4;
  v4.port = 1;
  auto response = reflect_response(nonce, v4);
  ReflectNonce other = nonce;
  other[0] ^= 1;
  EXPECT_FALSE(parse_reflect_response(response, other)) << "a response to another request";
  response.pop_back();
  EXPECT_FALSE(parse_reflect_response(response, nonce));
  Reflected no_port;
  EXPECT_FALSE(parse_reflect_response(reflect_response(nonce, no_port), nonce));
}

} // namespace
} // namespace entre::plugins::relay_wire
