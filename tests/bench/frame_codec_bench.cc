// frame_codec_bench: the CPU cost of libraft's wire format, with no socket — encoding an
// AppendEntries message into a frame (encode_message_frame) and splitting a byte stream of
// such frames back into messages (FrameDecoder::feed, which parses each WireFrame).
//
// Usage: frame_codec_bench [--seconds S] [--size BYTES] [--entries 1,16,256,...]
//                          [--chunk BYTES]
// For each count of entries per message: frames/s and MB/s of frame bytes, encoding and
// decoding. Decoding feeds the stream in pieces of --chunk bytes (default 65536, about what
// one socket read returns under load), so frames straddle feeds as they do on a socket.
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "transport/frame_codec.h"

namespace {

using Clock = std::chrono::steady_clock;

std::vector<int> parse_list(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) out.push_back(std::atoi(part.c_str()));
  return out;
}

raft::pb::Message make_append(int entries, std::size_t size) {
  raft::pb::Message m;
  m.set_type(raft::pb::MSG_APPEND);
  m.set_from("node1");
  m.set_to("node2");
  m.set_term(3);
  m.set_log_term(3);
  m.set_index(1000);
  m.set_commit(990);
  const std::string payload(size, 'v');
  for (int i = 0; i < entries; ++i) {
    raft::pb::Entry* e = m.add_entries();
    e->set_term(3);
    e->set_index(1001 + static_cast<std::uint64_t>(i));
    e->set_type(raft::pb::ENTRY_NORMAL);
    e->set_data(payload);
  }
  return m;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void run(int entries, std::size_t size, double seconds, std::size_t chunk) {
  const raft::pb::Message message = make_append(entries, size);

  // Encoding: a fresh frame per message, as the transport builds one per send.
  std::uint64_t encoded = 0;
  std::uint64_t encoded_bytes = 0;
  auto start = Clock::now();
  double elapsed = 0;
  while (elapsed < seconds) {
    for (int i = 0; i < 64; ++i) {
      const std::string frame = raft::transport::encode_message_frame(message);
      encoded_bytes += frame.size();
      ++encoded;
    }
    elapsed = seconds_since(start);
  }
  const double encode_s = elapsed;

  // Decoding: a stream of the same frame, fed in `chunk`-byte pieces, over and over.
  const std::string frame = raft::transport::encode_message_frame(message);
  std::string stream;
  while (stream.size() < (std::size_t{4} << 20)) stream += frame;
  const std::size_t frames_per_stream = stream.size() / frame.size();
  std::uint64_t decoded = 0;
  std::uint64_t decoded_bytes = 0;
  std::vector<raft::pb::WireFrame> out;
  start = Clock::now();
  elapsed = 0;
  while (elapsed < seconds) {
    raft::transport::FrameDecoder decoder;
    for (std::size_t at = 0; at < stream.size(); at += chunk) {
      const std::string_view piece(stream.data() + at, std::min(chunk, stream.size() - at));
      if (!decoder.feed(piece, &out).ok()) std::abort();
      for (const raft::pb::WireFrame& f : out) {
        if (f.message().entries_size() != entries) std::abort();
      }
      decoded += out.size();
      out.clear();
    }
    decoded_bytes += stream.size();
    if (decoded % frames_per_stream != 0) std::abort();
    elapsed = seconds_since(start);
  }
  const double decode_s = elapsed;

  fmt::print(
      "entries {:>4}  size {:>5} B  frame {:>7} B  encode {:>9.0f} frames/s {:>7.1f} MB/s  "
      "decode {:>9.0f} frames/s {:>7.1f} MB/s\n",
      entries, size, frame.size(), static_cast<double>(encoded) / encode_s,
      static_cast<double>(encoded_bytes) / encode_s / 1e6, static_cast<double>(decoded) / decode_s,
      static_cast<double>(decoded_bytes) / decode_s / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1.0;
  std::size_t size = 100;
  std::size_t chunk = 65536;
  std::vector<int> counts = {1, 16, 256};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--seconds" && has_value) {
      seconds = std::atof(argv[++i]);
    } else if (arg == "--size" && has_value) {
      size = static_cast<std::size_t>(std::atol(argv[++i]));
    } else if (arg == "--chunk" && has_value) {
      chunk = static_cast<std::size_t>(std::atol(argv[++i]));
    } else if (arg == "--entries" && has_value) {
      counts = parse_list(argv[++i]);
    } else {
      fmt::print(stderr,
                 "usage: frame_codec_bench [--seconds S] [--size BYTES] [--entries 1,16,256] "
                 "[--chunk BYTES]\n");
      return 2;
    }
  }
  if (seconds <= 0 || chunk == 0 || counts.empty()) {
    fmt::print(stderr, "frame_codec_bench: --seconds and --chunk must be positive\n");
    return 2;
  }
  for (int n : counts) {
    if (n < 0) {
      fmt::print(stderr, "frame_codec_bench: a count of entries cannot be negative\n");
      return 2;
    }
    run(n, size, seconds, chunk);
  }
  return 0;
}
