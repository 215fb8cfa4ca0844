#include "conformance/crypto_conformance.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string_view>

namespace entre {

namespace {

using Bytes = std::vector<uint8_t>;

using conformance::Checks;
using conformance::expect;
using conformance::expect_fail;
using conformance::expect_ok;
using conformance::Owned;

struct Identity {
  Bytes secret;
  Bytes id = Bytes(sdk::kPublicKeyBytes);
};

Identity make_identity(sdk::CryptoSuite& suite) {
  Identity identity;
  sdk::VectorSink sink(identity.secret);
  expect_ok(suite.generate_identity(sink, {identity.id.data(), identity.id.size()}),
            "generate_identity");
  return identity;
}

Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }

struct Pair {
  Owned<sdk::Session> initiator;
  Owned<sdk::Session> responder;
};

const Bytes kPrologue = text("entre conformance v1");

// Runs a complete handshake of `pattern` and returns both sessions; payloads must arrive intact.
Pair handshake(sdk::CryptoSuite& suite, sdk::HandshakePattern pattern, const Identity& a,
               const Identity& b) {
  const bool knows_responder = pattern == sdk::HandshakePattern::kIK;
  sdk::HandshakeParams ip{pattern,
                          sdk::HandshakeRole::kInitiator,
                          sdk::ByteView(a.secret),
                          knows_responder ? sdk::ByteView(b.id) : sdk::ByteView(),
                          sdk::ByteView(kPrologue),
                          {}};
  sdk::HandshakeParams rp{pattern, sdk::HandshakeRole::kResponder, sdk::ByteView(b.secret),
                          {},      sdk::ByteView(kPrologue),       {}};
  sdk::Handshake* raw = nullptr;
  expect_ok(suite.create_handshake(ip, &raw), "create_handshake(initiator)");
  Owned<sdk::Handshake> init(raw);
  expect_ok(suite.create_handshake(rp, &raw), "create_handshake(responder)");
  Owned<sdk::Handshake> resp(raw);

  sdk::Handshake* writer = init.get();
  sdk::Handshake* reader = resp.get();
  for (int step = 0; step < 4; ++step) {
    if (init->status() == sdk::HandshakeStatus::kComplete &&
        resp->status() == sdk::HandshakeStatus::kComplete) {
      break;
    }
    expect(writer->status() == sdk::HandshakeStatus::kWriteMessage, "writer's turn out of order");
    const Bytes payload = text("payload " + std::to_string(step));
    Bytes message;
    sdk::VectorSink msink(message);
    expect_ok(writer->write_message(sdk::ByteView(payload), msink), "write_message");
    Bytes got;
    sdk::VectorSink psink(got);
    expect_ok(reader->read_message(sdk::ByteView(message), psink), "read_message");
    expect(got == payload, "handshake payload changed in transit");
    std::swap(writer, reader);
  }
  expect(init->status() == sdk::HandshakeStatus::kComplete, "initiator did not complete");
  expect(resp->status() == sdk::HandshakeStatus::kComplete, "responder did not complete");

  Bytes seen(sdk::kPublicKeyBytes);
  expect_ok(resp->remote_public({seen.data(), seen.size()}), "responder remote_public");
  expect(seen == a.id, "responder learned the wrong initiator id");
  expect_ok(init->remote_public({seen.data(), seen.size()}), "initiator remote_public");
  expect(seen == b.id, "initiator learned the wrong responder id");

  Bytes h1(sdk::kHandshakeHashMaxBytes);
  Bytes h2(sdk::kHandshakeHashMaxBytes);
  uint64_t n1 = 0;
  uint64_t n2 = 0;
  expect_ok(init->handshake_hash({h1.data(), h1.size()}, &n1), "handshake_hash");
  expect_ok(resp->handshake_hash({h2.data(), h2.size()}, &n2), "handshake_hash");
  expect(n1 == n2 && n1 > 0 && h1 == h2, "handshake hashes differ");

  Pair pair;
  sdk::Session* s = nullptr;
  expect_ok(init->split(&s), "split(initiator)");
  pair.initiator.reset(s);
  expect_ok(resp->split(&s), "split(responder)");
  pair.responder.reset(s);
  return pair;
}

Bytes seal(sdk::Session& session, const Bytes& ad, const Bytes& plaintext) {
  Bytes out;
  sdk::VectorSink sink(out);
  expect_ok(session.encrypt(sdk::ByteView(ad), sdk::ByteView(plaintext), sink), "encrypt");
  return out;
}

sdk::Status open(sdk::Session& session, const Bytes& ad, const Bytes& message, Bytes& plaintext) {
  plaintext.clear();
  sdk::VectorSink sink(plaintext);
  return session.decrypt(sdk::ByteView(ad), sdk::ByteView(message), sink);
}

void round_trip(sdk::Session& from, sdk::Session& to, const std::string& what) {
  const Bytes ad = text("ad");
  const Bytes message = text(what);
  Bytes got;
  expect_ok(open(to, ad, seal(from, ad, message), got), "decrypt " + what);
  expect(got == message, "plaintext changed: " + what);
}

using PairwiseKey = std::array<uint8_t, sdk::PairwiseKeys::kPairwiseKeyBytes>;

PairwiseKey pairwise_of(sdk::PairwiseKeys& pk, const Identity& mine, const Bytes& theirs,
                        std::string_view label) {
  PairwiseKey key{};
  expect_ok(pk.pairwise_key(sdk::ByteView(mine.secret), sdk::ByteView(theirs),
                            sdk::StringView(label), {key.data(), key.size()}),
            "pairwise_key");
  return key;
}

void check_pairwise(Checks& s, sdk::CryptoSuite& cs, sdk::PairwiseKeys& pk) {
  s.check("pairwise keys agree for a pair and differ for every other pair and label", [&] {
    const Identity a = make_identity(cs);
    const Identity b = make_identity(cs);
    const Identity c = make_identity(cs);
    const PairwiseKey ab = pairwise_of(pk, a, b.id, "lan beacon");
    expect(ab == pairwise_of(pk, b, a.id, "lan beacon"), "the two sides derived different keys");
    expect(ab != pairwise_of(pk, a, c.id, "lan beacon"), "another pair derived the same key");
    expect(ab != pairwise_of(pk, a, b.id, "lan meeting"), "another label derived the same key");
    expect(ab != PairwiseKey{}, "the key is all zeros");
    PairwiseKey key{};
    expect(pk.pairwise_key(sdk::ByteView(a.secret), sdk::ByteView(Bytes(sdk::kPublicKeyBytes, 0)),
                           "lan beacon", {key.data(), key.size()})
                   .code == sdk::StatusCode::kAuthFailed,
           "a low-order public key (zero) was not refused as kAuthFailed");
    expect(
        pk.pairwise_key(sdk::ByteView(a.secret), sdk::ByteView(b.id), "", {key.data(), key.size()})
                .code == sdk::StatusCode::kInvalidArgument,
        "an empty label was not refused");
  });

  s.check("keyed hashes depend on key, message and size, and refuse bad sizes", [&] {
    const Identity a = make_identity(cs);
    const Identity b = make_identity(cs);
    const PairwiseKey k1 = pairwise_of(pk, a, b.id, "conformance");
    const PairwiseKey k2 = pairwise_of(pk, a, b.id, "conformance 2");
    auto hash = [&](const PairwiseKey& key, std::string_view message, std::size_t size) {
      Bytes out(size);
      expect_ok(pk.keyed_hash(sdk::ByteView(key.data(), key.size()), sdk::ByteView(text(message)),
                              {out.data(), out.size()}),
                "keyed_hash");
      return out;
    };
    const Bytes h = hash(k1, "epoch 7", 16);
    expect(h == hash(k1, "epoch 7", 16), "the same input hashed differently");
    expect(h != hash(k2, "epoch 7", 16), "another key gave the same hash");
    expect(h != hash(k1, "epoch 8", 16), "another message gave the same hash");
    const Bytes longer = hash(k1, "epoch 7", 32);
    expect(!std::equal(h.begin(), h.end(), longer.begin()),
           "a longer output starts with the shorter one");
    Bytes out(8);
    expect(pk.keyed_hash(sdk::ByteView(k1.data(), k1.size()), {}, {out.data(), out.size()}).code ==
               sdk::StatusCode::kInvalidArgument,
           "an 8-byte output was not refused");
  });
}

} // namespace

std::vector<ConformanceCheck> run_crypto_conformance(sdk::CryptoSuite& suite,
                                                     sdk::PairwiseKeys* pairwise) {
  Checks s;
  auto& cs = suite;

  s.check("suite id is stable and not empty", [&] {
    const std::string first(cs.suite_id().str());
    expect(!first.empty(), "empty suite id");
    expect(first == std::string(cs.suite_id().str()), "suite id changed between calls");
  });

  s.check("identities are random and their ids derive from the secret", [&] {
    const Identity a = make_identity(cs);
    const Identity b = make_identity(cs);
    expect(a.id != b.id, "two identities have the same id");
    Bytes again(sdk::kPublicKeyBytes);
    expect_ok(cs.identity_public(sdk::ByteView(a.secret), {again.data(), again.size()}),
              "identity_public");
    expect(again == a.id, "identity_public disagrees with generate_identity");
    expect_fail(cs.identity_public(sdk::ByteView(a.secret.data(), 3), {again.data(), again.size()}),
                "identity_public of a truncated secret");
  });

  s.check("signatures verify and tampering is detected", [&] {
    const Identity a = make_identity(cs);
    const Identity b = make_identity(cs);
    Bytes key(sdk::kSigningKeyBytes);
    Bytes other(sdk::kSigningKeyBytes);
    expect_ok(cs.signing_public(sdk::ByteView(a.secret), {key.data(), key.size()}),
              "signing_public");
    expect_ok(cs.signing_public(sdk::ByteView(b.secret), {other.data(), other.size()}),
              "signing_public");
    Bytes message = text("beacon epoch 42");
    Bytes sig(sdk::kSignatureBytes);
    expect_ok(cs.sign(sdk::ByteView(a.secret), sdk::ByteView(message), {sig.data(), sig.size()}),
              "sign");
    expect_ok(cs.verify(sdk::ByteView(key), sdk::ByteView(message), sdk::ByteView(sig)), "verify");
    expect_fail(cs.verify(sdk::ByteView(other), sdk::ByteView(message), sdk::ByteView(sig)),
                "verify with another key");
    message[0] ^= 1;
    expect_fail(cs.verify(sdk::ByteView(key), sdk::ByteView(message), sdk::ByteView(sig)),
                "verify of a tampered message");
  });

  s.check("contact codes round-trip and reject corruption", [&] {
    const Identity a = make_identity(cs);
    std::string code;
    sdk::StringSink sink(code);
    expect_ok(cs.encode_contact_code(sdk::ByteView(a.id), "udp:192.0.2.1:7400", sink),
              "encode_contact_code");
    Bytes id(sdk::kPublicKeyBytes);
    std::string hints;
    sdk::StringSink hsink(hints);
    expect_ok(cs.parse_contact_code(sdk::StringView(code), {id.data(), id.size()}, hsink),
              "parse_contact_code");
    expect(id == a.id, "contact code gave another id");
    expect(hints == "udp:192.0.2.1:7400", "contact code hints changed: " + hints);
    for (std::size_t i = code.find(':') + 1; i < code.size(); i += 7) {
      std::string bad = code;
      bad[i] = bad[i] == 'x' ? 'y' : 'x';
      std::string ignored;
      sdk::StringSink isink(ignored);
      if (cs.parse_contact_code(sdk::StringView(bad), {id.data(), id.size()}, isink).is_ok()) {
        expect(id == a.id, "a corrupted code parsed to another id");
      }
    }
    std::string ignored;
    sdk::StringSink isink(ignored);
    expect_fail(cs.parse_contact_code("tox:" + code, {id.data(), id.size()}, isink),
                "a code with a foreign prefix");
  });

  s.check("safety numbers are symmetric and distinguish pairs", [&] {
    const Identity a = make_identity(cs);
    const Identity b = make_identity(cs);
    const Identity c = make_identity(cs);
    auto number = [&](const Identity& x, const Identity& y) {
      std::string out;
      sdk::StringSink sink(out);
      expect_ok(cs.safety_number(sdk::ByteView(x.id), sdk::ByteView(y.id), sink), "safety_number");
      return out;
    };
    expect(number(a, b) == number(b, a), "safety number depends on the order");
    expect(number(a, b) != number(a, c), "two pairs share a safety number");
    std::string f1;
    std::string f2;
    sdk::StringSink s1(f1);
    sdk::StringSink s2(f2);
    expect_ok(cs.fingerprint(sdk::ByteView(a.id), s1), "fingerprint");
    expect_ok(cs.fingerprint(sdk::ByteView(a.id), s2), "fingerprint");
    expect(!f1.empty() && f1 == f2, "fingerprint is empty or unstable");
  });

  for (auto pattern : {sdk::HandshakePattern::kXX, sdk::HandshakePattern::kIK}) {
    const std::string name = pattern == sdk::HandshakePattern::kXX ? "XX" : "IK";
    s.check(name + " handshake authenticates both sides and seeds working sessions", [&] {
      const Identity a = make_identity(cs);
      const Identity b = make_identity(cs);
      Pair p = handshake(cs, pattern, a, b);
      for (int i = 0; i < 5; ++i) {
        round_trip(*p.initiator, *p.responder, "a to b " + std::to_string(i));
        round_trip(*p.responder, *p.initiator, "b to a " + std::to_string(i));
      }
    });
  }

  s.check("IK to the wrong responder key fails", [&] {
    const Identity a = make_identity(cs);
    const Identity b = make_identity(cs);
    const Identity c = make_identity(cs);
    sdk::HandshakeParams ip{sdk::HandshakePattern::kIK, sdk::HandshakeRole::kInitiator,
                            sdk::ByteView(a.secret),    sdk::ByteView(c.id),
                            sdk::ByteView(kPrologue),   {}};
    sdk::HandshakeParams rp{sdk::HandshakePattern::kIK, sdk::HandshakeRole::kResponder,
                            sdk::ByteView(b.secret),    {},
                            sdk::ByteView(kPrologue),   {}};
    sdk::Handshake* raw = nullptr;
    expect_ok(cs.create_handshake(ip, &raw), "create_handshake");
    Owned<sdk::Handshake> init(raw);
    expect_ok(cs.create_handshake(rp, &raw), "create_handshake");
    Owned<sdk::Handshake> resp(raw);
    Bytes message;
    sdk::VectorSink msink(message);
    expect_ok(init->write_message({}, msink), "write_message");
    Bytes payload;
    sdk::VectorSink psink(payload);
    expect_fail(resp->read_message(sdk::ByteView(message), psink), "read by the wrong responder");
    expect(resp->status() == sdk::HandshakeStatus::kFailed, "responder not marked failed");
  });

  s.check("a prologue mismatch fails the handshake", [&] {
    const Identity a = make_identity(cs);
    const Identity b = make_identity(cs);
    const Bytes other = text("entre conformance v0");
    sdk::HandshakeParams ip{sdk::HandshakePattern::kXX, sdk::HandshakeRole::kInitiator,
                            sdk::ByteView(a.secret),    {},
                            sdk::ByteView(kPrologue),   {}};
    sdk::HandshakeParams rp{sdk::HandshakePattern::kXX, sdk::HandshakeRole::kResponder,
                            sdk::ByteView(b.secret),    {},
                            sdk::ByteView(other),       {}};
    sdk::Handshake* raw = nullptr;
    expect_ok(cs.create_handshake(ip, &raw), "create_handshake");
    Owned<sdk::Handshake> init(raw);
    expect_ok(cs.create_handshake(rp, &raw), "create_handshake");
    Owned<sdk::Handshake> resp(raw);
    Bytes m1;
    Bytes m2;
    Bytes p;
    sdk::VectorSink s1(m1);
    sdk::VectorSink s2(m2);
    sdk::VectorSink sp(p);
    expect_ok(init->write_message({}, s1), "write 1");
    expect_ok(resp->read_message(sdk::ByteView(m1), sp), "read 1");
    expect_ok(resp->write_message({}, s2), "write 2");
    expect_fail(init->read_message(sdk::ByteView(m2), sp), "read 2 across prologues");
  });

  s.check("sessions refuse tampering, replays and wrong associated data, then keep working", [&] {
    const Identity a = make_identity(cs);
    const Identity b = make_identity(cs);
    Pair p = handshake(cs, sdk::HandshakePattern::kXX, a, b);
    const Bytes ad = text("ad");
    const Bytes message = seal(*p.initiator, ad, text("hello"));
    Bytes got;
    for (std::size_t i = 0; i < message.size(); i += 5) {
      Bytes bad = message;
      bad[i] ^= 0x01;
      expect_fail(open(*p.responder, ad, bad, got), "a tampered message");
    }
    expect_fail(open(*p.responder, text("other"), message, got), "wrong associated data");
    expect_fail(open(*p.responder, ad, Bytes(message.begin(), message.begin() + 3), got),
                "a truncated message");
    expect_ok(open(*p.responder, ad, message, got), "the genuine message after tampering");
    expect(got == text("hello"), "plaintext changed");
    expect_fail(open(*p.responder, ad, message, got), "a replay");
    round_trip(*p.responder, *p.initiator, "still working");
  });

  s.check("sessions accept out-of-order delivery exactly once", [&] {
    const Identity a = make_identity(cs);
    const Identity b = make_identity(cs);
    Pair p = handshake(cs, sdk::HandshakePattern::kXX, a, b);
    const Bytes ad = text("ad");
    std::vector<Bytes> sent;
    for (int i = 0; i < 6; ++i) {
      sent.push_back(seal(*p.initiator, ad, text("m" + std::to_string(i))));
    }
    for (int i : {5, 0, 3, 1, 4, 2}) {
      Bytes got;
      expect_ok(open(*p.responder, ad, sent[i], got), "out-of-order message " + std::to_string(i));
      expect(got == text("m" + std::to_string(i)), "wrong plaintext");
    }
    Bytes got;
    expect_fail(open(*p.responder, ad, sent[3], got), "an out-of-order replay");
  });

  s.check("serialised sessions restore and continue", [&] {
    const Identity a = make_identity(cs);
    const Identity b = make_identity(cs);
    Pair p = handshake(cs, sdk::HandshakePattern::kXX, a, b);
    round_trip(*p.initiator, *p.responder, "before");
    Bytes state;
    sdk::VectorSink sink(state);
    expect_ok(p.responder->serialize(sink), "serialize");
    sdk::Session* raw = nullptr;
    expect_ok(cs.restore_session(sdk::ByteView(state), &raw), "restore_session");
    Owned<sdk::Session> restored(raw);
    round_trip(*p.initiator, *restored, "after restore");
    round_trip(*restored, *p.initiator, "reply after restore");
    Bytes corrupt = state;
    corrupt.resize(corrupt.size() / 2);
    expect_fail(cs.restore_session(sdk::ByteView(corrupt), &raw), "restore of a truncated state");
  });

  s.check("media keys agree and media frames refuse replays and other calls", [&] {
    const Identity a = make_identity(cs);
    const Identity b = make_identity(cs);
    Pair p = handshake(cs, sdk::HandshakePattern::kXX, a, b);
    Bytes ka(sdk::kMediaKeyBytes);
    Bytes kb(sdk::kMediaKeyBytes);
    Bytes kc(sdk::kMediaKeyBytes);
    const Bytes call = text("call-1");
    expect_ok(p.initiator->derive_media_key(sdk::ByteView(call), {ka.data(), ka.size()}), "key");
    expect_ok(p.responder->derive_media_key(sdk::ByteView(call), {kb.data(), kb.size()}), "key");
    expect(ka == kb, "the two sides derived different media keys");
    expect_ok(p.initiator->derive_media_key(sdk::ByteView(text("call-2")), {kc.data(), kc.size()}),
              "key");
    expect(kc != ka, "two calls share a media key");
    sdk::MediaCipher* raw = nullptr;
    expect_ok(cs.create_media_cipher(sdk::ByteView(ka), 0, &raw), "create_media_cipher");
    Owned<sdk::MediaCipher> tx(raw);
    expect_ok(cs.create_media_cipher(sdk::ByteView(kb), 0, &raw), "create_media_cipher");
    Owned<sdk::MediaCipher> rx(raw);
    expect_ok(cs.create_media_cipher(sdk::ByteView(kc), 0, &raw), "create_media_cipher");
    Owned<sdk::MediaCipher> other(raw);
    const Bytes frame = text("opus frame");
    Bytes sealed;
    sdk::VectorSink ssink(sealed);
    expect_ok(tx->seal(7, {}, sdk::ByteView(frame), ssink), "seal");
    Bytes got;
    sdk::VectorSink gsink(got);
    sdk::Status st = other->open(7, {}, sdk::ByteView(sealed), gsink);
    expect(st.code == sdk::StatusCode::kAuthFailed, "a frame opened under another call's key");
    expect_ok(rx->open(7, {}, sdk::ByteView(sealed), gsink), "open");
    expect(got == frame, "frame changed");
    got.clear();
    sdk::VectorSink g2(got);
    st = rx->open(7, {}, sdk::ByteView(sealed), g2);
    expect(st.code == sdk::StatusCode::kOutOfRange, "a replayed frame was not refused as such");
  });

  s.check("storage at rest binds records and refuses a wrong key", [&] {
    Bytes salt(cs.storage_salt_bytes());
    cs.random_bytes({salt.data(), salt.size()});
    Bytes key(sdk::kStorageKeyBytes);
    Bytes wrong(sdk::kStorageKeyBytes);
    const sdk::KdfCost cost{sdk::KdfStrength::kInteractive, 0, 0};
    expect_ok(
        cs.derive_storage_key("correct horse", sdk::ByteView(salt), cost, {key.data(), key.size()}),
        "derive_storage_key");
    expect_ok(cs.derive_storage_key("wrong horse", sdk::ByteView(salt), cost,
                                    {wrong.data(), wrong.size()}),
              "derive_storage_key");
    const Bytes plaintext = text("ratchet state");
    Bytes blob;
    sdk::VectorSink bsink(blob);
    expect_ok(cs.seal_at_rest(sdk::ByteView(key), sdk::ByteView(text("row 1")),
                              sdk::ByteView(plaintext), bsink),
              "seal_at_rest");
    Bytes out;
    sdk::VectorSink osink(out);
    expect_ok(cs.open_at_rest(sdk::ByteView(key), sdk::ByteView(text("row 1")), sdk::ByteView(blob),
                              osink),
              "open_at_rest");
    expect(out == plaintext, "sealed plaintext changed");
    Bytes none;
    sdk::VectorSink nsink(none);
    sdk::Status st = cs.open_at_rest(sdk::ByteView(wrong), sdk::ByteView(text("row 1")),
                                     sdk::ByteView(blob), nsink);
    expect(st.code == sdk::StatusCode::kAuthFailed, "a wrong key was not refused as such");
    expect(none.empty(), "a failed open wrote output");
    expect_fail(cs.open_at_rest(sdk::ByteView(key), sdk::ByteView(text("row 2")),
                                sdk::ByteView(blob), nsink),
                "a blob moved to another row");
  });

  if (pairwise != nullptr) {
    check_pairwise(s, cs, *pairwise);
  }
  return s.results;
}

} // namespace entre
