// The wire format of libraft's transport, and its pure (socket-free) encoder and decoders.
//
// Wire format. A connection is a one-way byte stream from the dialling node (the sender) to
// the accepting node (the receiver); the receiver never writes. The stream is a sequence of
// frames. A frame is a 4-byte unsigned big-endian length L followed by exactly L bytes: one
// serialized `raft.pb.WireFrame` (proto/raft.proto), whose oneof body is either a Handshake
// or a Message. L must not exceed the receiver's maximum frame size (default 64 MiB); a larger
// L is refused as soon as its 4 bytes arrive, before anything is allocated. L = 0 encodes an
// empty envelope, which is refused like any envelope whose body is not set (an unknown type).
//
// The first frame of every connection is a Handshake: protocol_version (kProtocolVersion),
// cluster_id, from_id (the sender) and to_id (the node the sender believes it reaches). The
// receiver refuses a handshake of another protocol version, another cluster or another
// receiver id, naming what differed. Every later frame is a Message; a second Handshake is an
// error. A Message's `from` must be empty or equal the handshake's from_id, and its `to` empty
// or the receiver's id; empty ones are filled in by the decoder.
//
// Any error closes the connection: nothing of the offending frame reaches raft. Decoders keep
// the first error and refuse every later byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "raft/raft.pb.h"
#include "raft/status.h"
#include "raft/types.h"

namespace raft::transport {

inline constexpr std::uint32_t kProtocolVersion = 1;
inline constexpr std::size_t kFrameHeaderBytes = 4;
inline constexpr std::size_t kDefaultMaxFrameBytes = std::size_t{64} << 20;

// Appends one frame (header + serialized envelope) to `out`.
void append_frame(const pb::WireFrame& frame, std::string* out);
// One frame carrying a Handshake / a Message.
std::string encode_handshake_frame(const pb::Handshake& handshake);
std::string encode_message_frame(const pb::Message& message);

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

// The receiving side of one connection: frames, then the handshake rule, then messages.
// Owned by one connection; not thread-safe.
class InboundDecoder {
 public:
  explicit InboundDecoder(HandshakeRule rule, std::size_t max_frame_bytes = kDefaultMaxFrameBytes);

  // Consumes `bytes`, appending each valid Message to `messages`. Returns the first error
  // (messages completed before it are still appended); the error is then permanent.
  Status feed(std::string_view bytes, std::vector<pb::Message>* messages);

  bool handshake_done() const { return !peer_id_.empty(); }
  // The sender's id from its handshake ("" before it).
  const NodeId& peer_id() const { return peer_id_; }
  bool mid_frame() const { return frames_.mid_frame(); }
  const Status& error() const { return error_; }

 private:
  Status on_frame(pb::WireFrame& frame, std::vector<pb::Message>* messages);

  HandshakeRule rule_;
  FrameDecoder frames_;
  std::vector<pb::WireFrame> scratch_;
  NodeId peer_id_;
  Status error_;
};

}  // namespace raft::transport
