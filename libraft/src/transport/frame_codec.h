// The wire format of libraft's transport, and its pure (socket-free) encoder and decoders.
//
// Wire format (protocol version 2). A connection carries raft messages one way, from the
// dialling node (the sender) to the accepting node (the receiver). Each direction is a sequence
// of frames. A frame is an 8-byte header followed by exactly L bytes: one serialized
// `raft.pb.WireFrame` (proto/raft.proto), whose oneof body is a Handshake, a Message or a
// HandshakeReject. The header is [0,4) L, unsigned big-endian, and [4,8) the masked CRC32C
// (common/crc32c.h) of the L bytes, big-endian. A frame whose bytes do not match their
// checksum is refused (kCorruption) before it is parsed: TCP's 16-bit checksum lets some
// corruption through, and a log entry or snapshot chunk changed on the way would otherwise be
// stored as if the leader had sent it. (Version 1 frames had no checksum; a version 1 peer's
// first frame fails the check, and the error says so.) L must not exceed the reader's maximum frame
// size (default 64 MiB for the receiver, kMaxRejectFrameBytes for the sender); a larger L is
// refused as soon as its 4 bytes arrive, before anything is allocated. L = 0 encodes an empty
// envelope, which is refused like any envelope whose body is not set (an unknown type).
//
// Sender to receiver. The first frame of every connection is a Handshake: protocol_version
// (kProtocolVersion), cluster_id, from_id (the sender), to_id (the node the sender believes it
// reaches) and from_address (where the sender can be reached). The receiver refuses a
// handshake of another protocol version, another cluster or another receiver id, naming what
// differed. Every later frame is a Message; a second Handshake (or a HandshakeReject) is an
// error. A Message's `from` must be empty or equal the handshake's from_id, and its `to` empty
// or the receiver's id; empty ones are filled in by the decoder. The sender pipelines its
// messages right behind the handshake, without waiting for an answer.
//
// Receiver to sender. A receiver that accepts a handshake never writes. One that refuses it
// (and only then) writes exactly one frame, a HandshakeReject carrying the reason (at most
// kMaxRejectReasonBytes) and its own cluster_id and local_id, stops writing, discards what the
// sender still sends and closes the connection once the sender has closed it or after a short
// timeout (so that a sender that never reads cannot hold the socket). A reject with `retry`
// set is transient: the receiver, reached under its own id by a node of another cluster, is
// leaving its cluster to join the sender's (see TcpTransportOptions::on_foreign_cluster). Any other
// frame, and any byte after the reject, is an error on the sender's side.
//
// Any error closes the connection: nothing of the offending frame reaches raft, and none of the
// messages behind a refused handshake does. Decoders keep the first error and refuse every
// later byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "raft/raft.pb.h"
#include "raft/status.h"
#include "raft/types.h"

namespace raft::transport {

inline constexpr std::uint32_t kProtocolVersion = 2;
inline constexpr std::size_t kFrameHeaderBytes = 8;  // length + checksum
inline constexpr std::size_t kDefaultMaxFrameBytes = std::size_t{64} << 20;
// A HandshakeReject is small: the sender refuses longer frames, and a receiver cuts the reason.
inline constexpr std::size_t kMaxRejectFrameBytes = std::size_t{64} << 10;
inline constexpr std::size_t kMaxRejectReasonBytes = 1024;

// Appends one frame (header + serialized envelope) to `out`.
void append_frame(const pb::WireFrame& frame, std::string* out);
// One frame carrying a Handshake / a Message / a HandshakeReject.
std::string encode_handshake_frame(const pb::Handshake& handshake);
std::string encode_message_frame(const pb::Message& message);
std::string encode_reject_frame(const pb::HandshakeReject& reject);

// Splits a byte stream into WireFrames. Owned by one connection; not thread-safe.
class FrameDecoder {
 public:
  explicit FrameDecoder(std::size_t max_frame_bytes = kDefaultMaxFrameBytes);

  // Consumes `bytes` and appends each frame it completes to `frames`. Returns the first error
  // (the frames completed before it are still appended); after an error every call returns
  // that same error and consumes nothing.
  Status feed(std::string_view bytes, std::vector<pb::WireFrame>* frames);

  // True when bytes of an unfinished frame are buffered (a read timeout should be running).
  bool mid_frame() const { return buffer_.size() > consumed_; }
  std::size_t buffered_bytes() const { return buffer_.size() - consumed_; }
  const Status& error() const { return error_; }

 private:
  Status fail(ErrorCode code, std::string message);

  std::size_t max_frame_bytes_;
  std::string buffer_;  // bytes received and not yet decoded start at consumed_
  std::size_t consumed_ = 0;
  std::uint64_t frames_decoded_ = 0;  // frames accepted so far (to name the bad one)
  Status error_;
};

// What a receiver expects of the handshake of each connection it accepts.
struct HandshakeRule {
  std::string cluster_id;
  NodeId local_id;  // the handshake's to_id must equal this
  std::uint32_t protocol_version = kProtocolVersion;
};

// OK when `handshake` satisfies `rule`; otherwise an error naming what differed.
Status check_handshake(const pb::Handshake& handshake, const HandshakeRule& rule);

// The answer of a receiver following `rule` to a handshake it refused with `refusal`: the
// refusal's message (cut to kMaxRejectReasonBytes, on a UTF-8 boundary) and the rule's ids.
pb::HandshakeReject make_reject(const Status& refusal, const HandshakeRule& rule);

// The receiving side of one connection: frames, then the handshake rule, then messages.
// Owned by one connection; not thread-safe.
class InboundDecoder {
 public:
  explicit InboundDecoder(HandshakeRule rule, std::size_t max_frame_bytes = kDefaultMaxFrameBytes);

  // Consumes `bytes`, appending each valid Message to `messages`. Returns the first error
  // (messages completed before it are still appended); the error is then permanent.
  Status feed(std::string_view bytes, std::vector<pb::Message>* messages);

  bool handshake_done() const { return !peer_id_.empty(); }
  // True when the error is the refusal of the handshake by the rule (the receiver then answers
  // with make_reject(error(), rule)); false for framing and protocol errors.
  bool handshake_refused() const { return handshake_refused_; }
  // The sender's id from its handshake ("" before it).
  const NodeId& peer_id() const { return peer_id_; }
  // The address the sender advertised in its handshake ("" if none).
  const std::string& peer_address() const { return peer_address_; }
  bool mid_frame() const { return frames_.mid_frame(); }
  const Status& error() const { return error_; }
  const HandshakeRule& rule() const { return rule_; }
  // The handshake the rule refused (when handshake_refused()).
  const std::optional<pb::Handshake>& refused_handshake() const { return refused_handshake_; }

 private:
  Status on_frame(pb::WireFrame& frame, std::vector<pb::Message>* messages);

  HandshakeRule rule_;
  FrameDecoder frames_;
  std::vector<pb::WireFrame> scratch_;
  NodeId peer_id_;
  std::string peer_address_;
  bool handshake_refused_ = false;
  std::optional<pb::Handshake> refused_handshake_;
  Status error_;
};

// The sending side of one connection: the receiver writes nothing, or one HandshakeReject just
// before it closes. Owned by one connection; not thread-safe.
class OutboundDecoder {
 public:
  explicit OutboundDecoder(std::size_t max_frame_bytes = kMaxRejectFrameBytes);

  // Consumes `bytes`. OK while nothing, part of a frame or exactly one HandshakeReject has
  // arrived (reject() then holds it). An error for malformed bytes, any other frame, and any
  // byte after the reject; the error is then permanent and takes precedence over reject().
  Status feed(std::string_view bytes);

  // The receiver's refusal, once its whole frame has arrived.
  const std::optional<pb::HandshakeReject>& reject() const { return reject_; }
  bool mid_frame() const { return frames_.mid_frame(); }
  const Status& error() const { return error_; }

 private:
  FrameDecoder frames_;
  std::vector<pb::WireFrame> scratch_;
  std::optional<pb::HandshakeReject> reject_;
  Status error_;
};

}  // namespace raft::transport
