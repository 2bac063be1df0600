// The transport's wire format: frames, the incremental decoders (both directions), the
// handshake rule and the receiver's reject.
#include "transport/frame_codec.h"

#include <google/protobuf/stubs/logging.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/crc32c.h"

namespace raft::transport {
namespace {

pb::Handshake make_handshake(std::string cluster = "c1", std::string from = "n2",
                             std::string to = "n1", std::uint32_t version = kProtocolVersion) {
  pb::Handshake h;
  h.set_protocol_version(version);
  h.set_cluster_id(std::move(cluster));
  h.set_from_id(std::move(from));
  h.set_to_id(std::move(to));
  return h;
}

pb::Message make_message(std::uint64_t index, std::string data = "payload") {
  pb::Message m;
  m.set_type(pb::MSG_APPEND);
  m.set_from("n2");
  m.set_to("n1");
  m.set_term(7);
  m.set_index(index);
  pb::Entry* e = m.add_entries();
  e->set_term(7);
  e->set_index(index + 1);
  e->set_data(std::move(data));
  return m;
}

HandshakeRule rule() { return HandshakeRule{"c1", "n1", kProtocolVersion}; }

// Counts the lines libprotobuf logs while it lives (it would write them to stderr). Tests are
// single-threaded, as SetLogHandler requires.
class ProtobufLogCounter {
 public:
  ProtobufLogCounter() {
    count_ = 0;
    previous_ = google::protobuf::SetLogHandler(&ProtobufLogCounter::on_log);
  }
  ~ProtobufLogCounter() { google::protobuf::SetLogHandler(previous_); }
  ProtobufLogCounter(const ProtobufLogCounter&) = delete;
  ProtobufLogCounter& operator=(const ProtobufLogCounter&) = delete;
  int count() const { return count_; }

 private:
  static void on_log(google::protobuf::LogLevel, const char*, int, const std::string&) { ++count_; }
  static inline int count_ = 0;
  google::protobuf::LogHandler* previous_ = nullptr;
};

// A handshake then `count` messages with indexes 0..count-1.
std::string good_stream(int count) {
  std::string s = encode_handshake_frame(make_handshake());
  for (int i = 0; i < count; ++i) s += encode_message_frame(make_message(i));
  return s;
}

std::string be32(std::uint32_t v) {
  std::string s(4, '\0');
  s[0] = static_cast<char>(v >> 24);
  s[1] = static_cast<char>(v >> 16);
  s[2] = static_cast<char>(v >> 8);
  s[3] = static_cast<char>(v);
  return s;
}

// A frame around `body` (any bytes) with a correct header: length and checksum.
std::string raw_frame(const std::string& body) {
  return be32(static_cast<std::uint32_t>(body.size())) + be32(crc32c::mask(crc32c::value(body))) +
         body;
}

TEST_CASE("a frame is a big-endian length, the masked CRC32C and the serialized envelope",
          "[codec]") {
  pb::Message m = make_message(3);
  std::string frame = encode_message_frame(m);
  pb::WireFrame envelope;
  *envelope.mutable_message() = m;
  const std::string body = envelope.SerializeAsString();
  REQUIRE(frame.size() == 8 + body.size());
  REQUIRE(frame.substr(0, 4) == be32(static_cast<std::uint32_t>(body.size())));
  REQUIRE(frame.substr(4, 4) == be32(crc32c::mask(crc32c::value(body))));
  REQUIRE(frame.substr(8) == body);
}

TEST_CASE("a frame whose bytes changed on the way is refused and reaches nothing", "[codec]") {
  const std::string handshake = encode_handshake_frame(make_handshake());
  const std::string good = encode_message_frame(make_message(1));
  // Every single-bit change of the envelope, and of the stored checksum, is caught.
  for (std::size_t bit = 4 * 8; bit < good.size() * 8; ++bit) {
    std::string bad = good;
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    InboundDecoder decoder(rule());
    std::vector<pb::Message> out;
    Status s = decoder.feed(handshake + encode_message_frame(make_message(0)) + bad, &out);
    REQUIRE(s.code() == ErrorCode::kCorruption);
    REQUIRE(s.message().find("frame 3 of") != std::string::npos);
    REQUIRE(s.message().find("fails its checksum") != std::string::npos);
    REQUIRE(out.size() == 1);  // the frame before it, not the changed one
    REQUIRE(out[0].index() == 0);
  }
}

TEST_CASE("a first frame without a checksum (protocol version 1) is refused, naming the version",
          "[codec]") {
  pb::WireFrame envelope;
  *envelope.mutable_handshake() = make_handshake("c1", "n2", "n1", 1);
  const std::string body = envelope.SerializeAsString();
  pb::WireFrame message;
  *message.mutable_message() = make_message(1);
  const std::string next = message.SerializeAsString();
  InboundDecoder decoder(rule());
  std::vector<pb::Message> out;
  Status s = decoder.feed(be32(static_cast<std::uint32_t>(body.size())) + body +
                              be32(static_cast<std::uint32_t>(next.size())) + next,
                          &out);
  REQUIRE(s.code() == ErrorCode::kCorruption);
  REQUIRE(s.message().find("protocol version 1") != std::string::npos);
  REQUIRE_FALSE(decoder.handshake_done());
}

TEST_CASE("frames round trip through the decoder", "[codec]") {
  InboundDecoder decoder(rule());
  std::vector<pb::Message> out;
  REQUIRE(decoder.feed(good_stream(3), &out).ok());
  REQUIRE(decoder.handshake_done());
  REQUIRE(decoder.peer_id() == "n2");
  REQUIRE(out.size() == 3);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(out[i].SerializeAsString() == make_message(i).SerializeAsString());
  }
  REQUIRE_FALSE(decoder.mid_frame());
}

TEST_CASE("frames split at every byte boundary decode the same", "[codec]") {
  const std::string stream = good_stream(3);
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    InboundDecoder decoder(rule());
    std::vector<pb::Message> out;
    REQUIRE(decoder.feed(std::string_view(stream).substr(0, cut), &out).ok());
    REQUIRE(decoder.feed(std::string_view(stream).substr(cut), &out).ok());
    REQUIRE(out.size() == 3);
    REQUIRE(out[2].index() == 2);
  }
  // And one byte at a time.
  InboundDecoder decoder(rule());
  std::vector<pb::Message> out;
  for (char c : stream) REQUIRE(decoder.feed(std::string_view(&c, 1), &out).ok());
  REQUIRE(out.size() == 3);
}

TEST_CASE("several frames in one read all come out, in order", "[codec]") {
  InboundDecoder decoder(rule());
  std::vector<pb::Message> out;
  REQUIRE(decoder.feed(good_stream(100), &out).ok());
  REQUIRE(out.size() == 100);
  for (int i = 0; i < 100; ++i) REQUIRE(out[i].index() == static_cast<std::uint64_t>(i));
}

TEST_CASE("empty from and to are filled in from the handshake", "[codec]") {
  pb::Message m = make_message(1);
  m.clear_from();
  m.clear_to();
  InboundDecoder decoder(rule());
  std::vector<pb::Message> out;
  REQUIRE(
      decoder.feed(encode_handshake_frame(make_handshake()) + encode_message_frame(m), &out).ok());
  REQUIRE(out.size() == 1);
  REQUIRE(out[0].from() == "n2");
  REQUIRE(out[0].to() == "n1");
}

TEST_CASE("a truncated frame yields nothing and leaves the decoder mid-frame", "[codec]") {
  const std::string stream = good_stream(1);
  InboundDecoder decoder(rule());
  std::vector<pb::Message> out;
  REQUIRE(decoder.feed(std::string_view(stream).substr(0, stream.size() - 1), &out).ok());
  REQUIRE(out.empty());
  REQUIRE(decoder.mid_frame());
}

TEST_CASE("a 4 GiB length is refused as soon as its header arrives", "[codec]") {
  FrameDecoder decoder;
  std::vector<pb::WireFrame> frames;
  Status s = decoder.feed(be32(0xffffffffu), &frames);
  REQUIRE_FALSE(s.ok());
  REQUIRE(s.message().find("4294967295") != std::string::npos);
  REQUIRE(s.message().find("maximum") != std::string::npos);
  REQUIRE(decoder.buffered_bytes() == 0);
  // The error is permanent.
  REQUIRE_FALSE(decoder.feed(good_stream(1), &frames).ok());
  REQUIRE(frames.empty());
}

TEST_CASE("a length just above a configured maximum is refused, one at it accepted", "[codec]") {
  pb::WireFrame envelope;
  *envelope.mutable_message() = make_message(1);
  std::string frame;
  append_frame(envelope, &frame);
  const std::size_t size = envelope.ByteSizeLong();
  std::vector<pb::WireFrame> frames;
  FrameDecoder exact(size);
  REQUIRE(exact.feed(frame, &frames).ok());
  REQUIRE(frames.size() == 1);
  FrameDecoder small(size - 1);
  REQUIRE_FALSE(small.feed(frame, &frames).ok());
}

TEST_CASE("unparseable bytes are an error", "[codec]") {
  FrameDecoder decoder;
  std::vector<pb::WireFrame> frames;
  // Field 1, wire type 2 (length-delimited) claiming 100 bytes but only 1 follows.
  std::string body = "\x0a\x64x";
  Status s = decoder.feed(raw_frame(body), &frames);
  REQUIRE_FALSE(s.ok());
  REQUIRE(s.message().find("unparseable") != std::string::npos);
}

TEST_CASE("an empty envelope or an unknown body type is an error", "[codec]") {
  {
    FrameDecoder decoder;
    std::vector<pb::WireFrame> frames;
    Status s = decoder.feed(raw_frame(""), &frames);
    REQUIRE_FALSE(s.ok());
    REQUIRE(s.message().find("empty or unknown") != std::string::npos);
  }
  {
    // Field 9 (varint 1): a body type from the future.
    FrameDecoder decoder;
    std::vector<pb::WireFrame> frames;
    std::string body = "\x48\x01";
    REQUIRE_FALSE(decoder.feed(raw_frame(body), &frames).ok());
    REQUIRE(frames.empty());
  }
}

TEST_CASE("random bytes never crash the decoder and never yield a message", "[codec]") {
  std::mt19937_64 rng(20240601);
  for (int round = 0; round < 2000; ++round) {
    std::string bytes(1 + rng() % 300, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    InboundDecoder decoder(rule(), 1 << 20);
    std::vector<pb::Message> out;
    std::size_t pos = 0;
    while (pos < bytes.size()) {
      std::size_t n = 1 + rng() % 17;
      if (!decoder.feed(std::string_view(bytes).substr(pos, n), &out).ok()) break;
      pos += n;
    }
    REQUIRE(out.empty());
  }
}

TEST_CASE("another cluster's handshake is refused, naming both cluster ids", "[codec]") {
  InboundDecoder decoder(rule());
  std::vector<pb::Message> out;
  Status s = decoder.feed(
      encode_handshake_frame(make_handshake("other")) + encode_message_frame(make_message(1)),
      &out);
  REQUIRE_FALSE(s.ok());
  REQUIRE(s.message().find("cluster id 'other'") != std::string::npos);
  REQUIRE(s.message().find("'c1'") != std::string::npos);
  REQUIRE(out.empty());
}

TEST_CASE("a handshake for another receiver is refused, naming both ids", "[codec]") {
  InboundDecoder decoder(rule());
  std::vector<pb::Message> out;
  Status s = decoder.feed(encode_handshake_frame(make_handshake("c1", "n2", "n3")), &out);
  REQUIRE_FALSE(s.ok());
  REQUIRE(s.message().find("receiver id 'n3'") != std::string::npos);
  REQUIRE(s.message().find("'n1'") != std::string::npos);
}

TEST_CASE(
    "a sender id that is not UTF-8 text is refused and quoted, with nothing logged by "
    "protobuf",
    "[codec]") {
  ProtobufLogCounter protobuf_logs;
  for (const std::string& bad :
       {std::string("n\xff"), std::string("n2\nINFO forged line"), std::string("")}) {
    InboundDecoder decoder(rule());
    std::vector<pb::Message> out;
    Status s = decoder.feed(encode_handshake_frame(make_handshake("c1", bad, "n1")) +
                                encode_message_frame(make_message(1)),
                            &out);
    REQUIRE(s.code() == ErrorCode::kInvalidArgument);
    REQUIRE(decoder.handshake_refused());
    REQUIRE(s.message().find("handshake sender id") != std::string::npos);
    for (char c : s.message()) REQUIRE((c >= 0x20 && c < 0x7f));  // ASCII: all quoted
    REQUIRE(out.empty());
  }
  CHECK(protobuf_logs.count() == 0);
}

TEST_CASE("a cluster id or address that is not UTF-8 text is refused, quoted printably",
          "[codec]") {
  ProtobufLogCounter protobuf_logs;
  InboundDecoder other_cluster(rule());
  std::vector<pb::Message> out;
  Status s = other_cluster.feed(encode_handshake_frame(make_handshake("c\xfe")), &out);
  REQUIRE(s.code() == ErrorCode::kInvalidArgument);
  REQUIRE(s.message().find("cluster id 'c\\xfe'") != std::string::npos);
  InboundDecoder other_receiver(rule());
  s = other_receiver.feed(encode_handshake_frame(make_handshake("c1", "n2", "n1'\xff")), &out);
  REQUIRE(s.code() == ErrorCode::kInvalidArgument);
  REQUIRE(s.message().find("receiver id 'n1\\'\\xff'") != std::string::npos);
  pb::Handshake bad_address = make_handshake();
  bad_address.set_from_address("h\x01:7000");
  InboundDecoder address(rule());
  s = address.feed(encode_handshake_frame(bad_address), &out);
  REQUIRE(s.code() == ErrorCode::kInvalidArgument);
  REQUIRE(s.message().find("'h\\x01:7000'") != std::string::npos);
  CHECK(protobuf_logs.count() == 0);
}

TEST_CASE("a reject whose ids are not UTF-8 decodes on the sending side, protobuf logging nothing",
          "[codec]") {
  ProtobufLogCounter protobuf_logs;
  pb::HandshakeReject reject;
  reject.set_local_id("n\xff");
  reject.set_cluster_id("c\xc0");
  reject.set_reason("why \xfe");
  OutboundDecoder decoder;
  REQUIRE(decoder.feed(encode_reject_frame(reject)).ok());
  REQUIRE(decoder.reject().has_value());
  REQUIRE(decoder.reject()->local_id() == "n\xff");
  CHECK(protobuf_logs.count() == 0);
}

TEST_CASE("an unsupported protocol version is refused", "[codec]") {
  InboundDecoder decoder(rule());
  std::vector<pb::Message> out;
  Status s = decoder.feed(encode_handshake_frame(make_handshake("c1", "n2", "n1", 99)), &out);
  REQUIRE_FALSE(s.ok());
  REQUIRE(s.message().find("protocol version 99") != std::string::npos);
}

TEST_CASE("a message before the handshake is refused", "[codec]") {
  InboundDecoder decoder(rule());
  std::vector<pb::Message> out;
  Status s = decoder.feed(encode_message_frame(make_message(1)), &out);
  REQUIRE_FALSE(s.ok());
  REQUIRE(s.message().find("not a handshake") != std::string::npos);
  REQUIRE(out.empty());
}

TEST_CASE("a second handshake or a message from someone else is refused", "[codec]") {
  {
    InboundDecoder decoder(rule());
    std::vector<pb::Message> out;
    Status s = decoder.feed(good_stream(1) + encode_handshake_frame(make_handshake()), &out);
    REQUIRE_FALSE(s.ok());
    REQUIRE(s.message().find("second handshake") != std::string::npos);
    REQUIRE(out.size() == 1);  // the good message before it still counts
  }
  {
    pb::Message m = make_message(1);
    m.set_from("n3");
    InboundDecoder decoder(rule());
    std::vector<pb::Message> out;
    REQUIRE_FALSE(
        decoder.feed(encode_handshake_frame(make_handshake()) + encode_message_frame(m), &out)
            .ok());
    REQUIRE(out.empty());
  }
}

TEST_CASE("a refused handshake is flagged as refused, a protocol error is not", "[codec]") {
  {
    InboundDecoder decoder(rule());
    std::vector<pb::Message> out;
    REQUIRE_FALSE(decoder.feed(encode_handshake_frame(make_handshake("other")), &out).ok());
    REQUIRE(decoder.handshake_refused());
  }
  {
    InboundDecoder decoder(rule());
    std::vector<pb::Message> out;
    REQUIRE_FALSE(decoder.feed(encode_message_frame(make_message(1)), &out).ok());
    REQUIRE_FALSE(decoder.handshake_refused());
  }
  {
    InboundDecoder decoder(rule());
    std::vector<pb::Message> out;
    REQUIRE_FALSE(decoder.feed(be32(0xffffffff), &out).ok());
    REQUIRE_FALSE(decoder.handshake_refused());
  }
}

TEST_CASE("a reject sent to the receiver is refused", "[codec]") {
  InboundDecoder decoder(rule());
  std::vector<pb::Message> out;
  Status s = decoder.feed(good_stream(0) + encode_reject_frame(pb::HandshakeReject()), &out);
  REQUIRE_FALSE(s.ok());
  REQUIRE(s.message().find("handshake reject") != std::string::npos);
  REQUIRE_FALSE(decoder.handshake_refused());
}

TEST_CASE("a reject carries the refusal and the refusing node's own ids", "[codec]") {
  const pb::HandshakeReject reject =
      make_reject(Status(ErrorCode::kInvalidArgument, "why not"), rule());
  REQUIRE(reject.reason() == "why not");
  REQUIRE(reject.cluster_id() == "c1");
  REQUIRE(reject.local_id() == "n1");
}

TEST_CASE("a long reject reason is cut on a UTF-8 character boundary", "[codec]") {
  // "x" then two-byte characters: the limit (even) falls inside one.
  std::string text = "x";
  while (text.size() < 2 * kMaxRejectReasonBytes) text += "\xc3\xa9";  // U+00E9
  const pb::HandshakeReject reject = make_reject(Status(ErrorCode::kInvalidArgument, text), rule());
  REQUIRE(reject.reason().size() == kMaxRejectReasonBytes - 1);
  REQUIRE(text.compare(0, reject.reason().size(), reject.reason()) == 0);
  // It stays valid UTF-8 and decodes on the sending side.
  OutboundDecoder decoder;
  REQUIRE(decoder.feed(encode_reject_frame(reject)).ok());
  REQUIRE(decoder.reject().has_value());
  REQUIRE(decoder.reject()->reason() == reject.reason());
}

TEST_CASE("the sending side decodes a reject split at every byte boundary", "[codec]") {
  const pb::HandshakeReject reject =
      make_reject(Status(ErrorCode::kInvalidArgument, "intended receiver id"), rule());
  const std::string frame = encode_reject_frame(reject);
  for (std::size_t split = 0; split <= frame.size(); ++split) {
    OutboundDecoder decoder;
    REQUIRE(decoder.feed(std::string_view(frame).substr(0, split)).ok());
    REQUIRE(decoder.reject().has_value() == (split == frame.size()));
    REQUIRE(decoder.feed(std::string_view(frame).substr(split)).ok());
    REQUIRE(decoder.reject().has_value());
    REQUIRE(decoder.reject()->local_id() == "n1");
    REQUIRE(decoder.reject()->cluster_id() == "c1");
    REQUIRE(decoder.reject()->reason() == "intended receiver id");
  }
}

TEST_CASE("the sending side refuses a message or a handshake from the receiver", "[codec]") {
  for (const std::string& frame :
       {encode_message_frame(make_message(1)), encode_handshake_frame(make_handshake())}) {
    OutboundDecoder decoder;
    Status s = decoder.feed(frame);
    REQUIRE_FALSE(s.ok());
    REQUIRE(s.message().find("only a handshake reject") != std::string::npos);
    REQUIRE_FALSE(decoder.reject().has_value());
    REQUIRE_FALSE(decoder.feed(encode_reject_frame(pb::HandshakeReject())).ok());  // permanent
  }
}

TEST_CASE("the sending side refuses bytes after the reject", "[codec]") {
  const std::string frame = encode_reject_frame(pb::HandshakeReject());
  {
    OutboundDecoder decoder;
    REQUIRE_FALSE(decoder.feed(frame + "x").ok());
  }
  {
    OutboundDecoder decoder;
    REQUIRE_FALSE(decoder.feed(frame + frame).ok());
  }
  {
    OutboundDecoder decoder;
    REQUIRE(decoder.feed(frame).ok());
    Status s = decoder.feed("x");
    REQUIRE_FALSE(s.ok());
    REQUIRE(s.message().find("after the handshake reject") != std::string::npos);
  }
}

TEST_CASE("the sending side refuses a frame longer than a reject can be", "[codec]") {
  OutboundDecoder decoder;
  Status s = decoder.feed(be32(static_cast<std::uint32_t>(kMaxRejectFrameBytes + 1)));
  REQUIRE_FALSE(s.ok());
  REQUIRE(s.message().find("exceeds the maximum frame size") != std::string::npos);
}

TEST_CASE("random bytes never crash the sending side's decoder", "[codec]") {
  std::mt19937_64 rng(20240602);
  for (int round = 0; round < 2000; ++round) {
    std::string bytes(1 + rng() % 300, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    OutboundDecoder decoder;
    std::size_t pos = 0;
    while (pos < bytes.size()) {
      std::size_t n = 1 + rng() % 17;
      if (!decoder.feed(std::string_view(bytes).substr(pos, n)).ok()) break;
      pos += n;
    }
  }
}

}  // namespace
}  // namespace raft::transport
