#include "transport/frame_codec.h"

#include <fmt/format.h>

#include <utility>

#include "common/crc32c.h"
#include "common/text.h"
#include "raft/configuration.h"

namespace raft::transport {

namespace {

void put_be32(std::uint32_t v, char* out) {
  out[0] = static_cast<char>((v >> 24) & 0xff);
  out[1] = static_cast<char>((v >> 16) & 0xff);
  out[2] = static_cast<char>((v >> 8) & 0xff);
  out[3] = static_cast<char>(v & 0xff);
}

std::uint32_t get_be32(const char* in) {
  const auto b = [in](int i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(in[i]));
  };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

}  // namespace

void append_frame(const pb::WireFrame& frame, std::string* out) {
  const std::size_t size = frame.ByteSizeLong();
  const std::size_t start = out->size();
  out->resize(start + kFrameHeaderBytes + size);
  char* header = out->data() + start;
  frame.SerializeWithCachedSizesToArray(
      reinterpret_cast<std::uint8_t*>(header + kFrameHeaderBytes));
  put_be32(static_cast<std::uint32_t>(size), header);
  put_be32(crc32c::mask(crc32c::value(std::string_view(header + kFrameHeaderBytes, size))),
           header + 4);
}

std::string encode_handshake_frame(const pb::Handshake& handshake) {
  pb::WireFrame frame;
  *frame.mutable_handshake() = handshake;
  std::string out;
  append_frame(frame, &out);
  return out;
}

std::string encode_message_frame(const pb::Message& message) {
  pb::WireFrame frame;
  *frame.mutable_message() = message;
  std::string out;
  append_frame(frame, &out);
  return out;
}

std::string encode_reject_frame(const pb::HandshakeReject& reject) {
  pb::WireFrame frame;
  *frame.mutable_reject() = reject;
  std::string out;
  append_frame(frame, &out);
  return out;
}

FrameDecoder::FrameDecoder(std::size_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {}

Status FrameDecoder::fail(ErrorCode code, std::string message) {
  error_ = Status(code, std::move(message));
  buffer_.clear();
  consumed_ = 0;
  return error_;
}

Status FrameDecoder::feed(std::string_view bytes, std::vector<pb::WireFrame>* frames) {
  if (!error_.ok()) return error_;
  if (consumed_ > 0 && consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  }
  buffer_.append(bytes.data(), bytes.size());
  // The length is checked as soon as its 4 bytes arrive, before the checksum's.
  while (buffer_.size() - consumed_ >= 4) {
    const std::uint32_t length = get_be32(buffer_.data() + consumed_);
    if (length > max_frame_bytes_) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("frame length {} exceeds the maximum frame size {}", length,
                              max_frame_bytes_));
    }
    if (buffer_.size() - consumed_ < kFrameHeaderBytes + std::size_t{length}) break;
    const char* body = buffer_.data() + consumed_ + kFrameHeaderBytes;
    const std::uint32_t stored = get_be32(buffer_.data() + consumed_ + 4);
    if (crc32c::unmask(stored) != crc32c::value(std::string_view(body, length))) {
      // Bytes changed on the way (TCP's 16-bit checksum misses some), or the peer speaks
      // protocol version 1, whose frames have no checksum.
      return fail(
          ErrorCode::kCorruption,
          fmt::format("frame {} of {} bytes fails its checksum{}", frames_decoded_ + 1, length,
                      frames_decoded_ == 0
                          ? " (a peer of protocol version 1 sends none: upgrade it)"
                          : ""));
    }
    pb::WireFrame frame;
    if (!frame.ParseFromArray(body, static_cast<int>(length))) {
      return fail(ErrorCode::kCorruption,
                  fmt::format("unparseable frame of {} bytes (not a raft.pb.WireFrame)", length));
    }
    if (frame.body_case() == pb::WireFrame::BODY_NOT_SET) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("frame of {} bytes has an empty or unknown body type", length));
    }
    consumed_ += kFrameHeaderBytes + length;
    ++frames_decoded_;
    frames->push_back(std::move(frame));
  }
  // Drop decoded bytes once they dominate the buffer, so it never grows without end.
  if (consumed_ > 0 && consumed_ >= buffer_.size() / 2) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  return Status::ok_status();
}

Status check_handshake(const pb::Handshake& handshake, const HandshakeRule& rule) {
  // Every value the peer sent is quoted with printable(): it may hold any bytes.
  const std::string from = printable(handshake.from_id());
  if (handshake.protocol_version() != rule.protocol_version) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("handshake from '{}': unsupported protocol version {} (this node "
                              "speaks {})",
                              from, handshake.protocol_version(), rule.protocol_version));
  }
  if (handshake.cluster_id() != rule.cluster_id) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("handshake from '{}': cluster id '{}' differs from this node's "
                              "cluster id '{}'",
                              from, printable(handshake.cluster_id()), rule.cluster_id));
  }
  if (handshake.to_id() != rule.local_id) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("handshake from '{}': intended receiver id '{}' differs from this "
                              "node's id '{}'",
                              from, printable(handshake.to_id()), rule.local_id));
  }
  if (Status s = validate_server_id(handshake.from_id(), "handshake sender id"); !s.ok()) {
    return s;
  }
  if (!handshake.from_address().empty()) {
    if (Status s = validate_server_address(handshake.from_address(),
                                           fmt::format("handshake from '{}': address", from));
        !s.ok()) {
      return s;
    }
  }
  return Status::ok_status();
}

pb::HandshakeReject make_reject(const Status& refusal, const HandshakeRule& rule) {
  std::string reason = refusal.message();
  reason.resize(utf8_cut(reason, kMaxRejectReasonBytes));  // stays valid UTF-8 text
  pb::HandshakeReject reject;
  reject.set_reason(std::move(reason));
  reject.set_cluster_id(rule.cluster_id);
  reject.set_local_id(rule.local_id);
  return reject;
}

InboundDecoder::InboundDecoder(HandshakeRule rule, std::size_t max_frame_bytes)
    : rule_(std::move(rule)), frames_(max_frame_bytes) {}

Status InboundDecoder::feed(std::string_view bytes, std::vector<pb::Message>* messages) {
  if (!error_.ok()) return error_;
  scratch_.clear();
  Status status = frames_.feed(bytes, &scratch_);
  for (pb::WireFrame& frame : scratch_) {
    Status frame_status = on_frame(frame, messages);
    if (!frame_status.ok()) {
      error_ = std::move(frame_status);
      scratch_.clear();
      return error_;
    }
  }
  scratch_.clear();
  if (!status.ok()) error_ = status;
  return status;
}

Status InboundDecoder::on_frame(pb::WireFrame& frame, std::vector<pb::Message>* messages) {
  if (!handshake_done()) {
    if (frame.body_case() != pb::WireFrame::kHandshake) {
      return Status(ErrorCode::kInvalidArgument,
                    "the first frame of the connection is not a handshake");
    }
    Status status = check_handshake(frame.handshake(), rule_);
    if (!status.ok()) {
      handshake_refused_ = true;
      refused_handshake_ = frame.handshake();
      return status;
    }
    peer_id_ = frame.handshake().from_id();
    peer_address_ = frame.handshake().from_address();
    return Status::ok_status();
  }
  if (frame.body_case() == pb::WireFrame::kHandshake) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("'{}' sent a second handshake on one connection", peer_id_));
  }
  if (frame.body_case() != pb::WireFrame::kMessage) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("'{}' sent a handshake reject to the node it dialled", peer_id_));
  }
  pb::Message* message = frame.mutable_message();
  if (message->from().empty()) {
    message->set_from(peer_id_);
  } else if (message->from() != peer_id_) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("message from '{}' on the connection of '{}'",
                              printable(message->from()), peer_id_));
  }
  if (message->to().empty()) {
    message->set_to(rule_.local_id);
  } else if (message->to() != rule_.local_id) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("'{}' sent a message for '{}' to '{}'", peer_id_,
                              printable(message->to()), rule_.local_id));
  }
  messages->push_back(std::move(*message));
  return Status::ok_status();
}

OutboundDecoder::OutboundDecoder(std::size_t max_frame_bytes) : frames_(max_frame_bytes) {}

Status OutboundDecoder::feed(std::string_view bytes) {
  if (!error_.ok()) return error_;
  if (reject_.has_value() && !bytes.empty()) {
    error_ = Status(ErrorCode::kInvalidArgument,
                    fmt::format("{} bytes after the handshake reject", bytes.size()));
    return error_;
  }
  scratch_.clear();
  Status status = frames_.feed(bytes, &scratch_);
  for (pb::WireFrame& frame : scratch_) {
    if (reject_.has_value()) {
      error_ = Status(ErrorCode::kInvalidArgument, "a second frame after the handshake reject");
    } else if (frame.body_case() != pb::WireFrame::kReject) {
      error_ = Status(ErrorCode::kInvalidArgument,
                      frame.body_case() == pb::WireFrame::kHandshake
                          ? "the receiver sent a handshake (only a handshake reject may come back)"
                          : "the receiver sent a message (only a handshake reject may come back)");
    } else {
      reject_ = std::move(*frame.mutable_reject());
      continue;
    }
    scratch_.clear();
    return error_;
  }
  scratch_.clear();
  if (!status.ok()) {
    error_ = status;
  } else if (reject_.has_value() && frames_.mid_frame()) {
    error_ = Status(ErrorCode::kInvalidArgument,
                    fmt::format("{} bytes after the handshake reject", frames_.buffered_bytes()));
  }
  return error_;
}

}  // namespace raft::transport
