// libFuzzer target for the transport's decoders: the receiver's (frames + handshake rule) and
// the sender's (the one reject a receiver may write back). The input is split into chunks at
// sizes taken from its first bytes, so that split frames are explored too. Every frame
// carries a checksum, which random bytes almost never match: when the first byte is odd, the
// rest is taken as frame bodies instead (each a 1-byte length and that many bytes) and framed
// with correct headers, so that the parsing and the handshake rule behind the checksum are
// explored as well. Any crash, sanitizer report or leak is a bug; errors are expected and fine.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/crc32c.h"
#include "transport/frame_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t chunk = 1 + (data[0] >> 1) % 64;
  std::string_view all(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string framed;
  if (data[0] & 1) {
    for (std::string_view rest = all; !rest.empty();) {
      const std::size_t n =
          std::min<std::size_t>(static_cast<unsigned char>(rest[0]), rest.size() - 1);
      const std::string_view body = rest.substr(1, n);
      rest.remove_prefix(1 + n);
      const std::uint32_t crc = raft::crc32c::mask(raft::crc32c::value(body));
      for (std::uint32_t v : {static_cast<std::uint32_t>(n), crc}) {
        for (int shift = 24; shift >= 0; shift -= 8)
          framed.push_back(static_cast<char>(v >> shift));
      }
      framed.append(body);
    }
    all = framed;
  }
  raft::transport::InboundDecoder inbound({"cluster", "n1", raft::transport::kProtocolVersion},
                                          std::size_t{1} << 20);
  std::vector<raft::pb::Message> messages;
  for (std::string_view input = all; !input.empty();) {
    const std::size_t n = input.size() < chunk ? input.size() : chunk;
    if (!inbound.feed(input.substr(0, n), &messages).ok()) break;
    input.remove_prefix(n);
  }
  // A refused handshake is answered with a reject built from the refusal: it must encode.
  if (inbound.handshake_refused()) {
    (void)raft::transport::encode_reject_frame(
        raft::transport::make_reject(inbound.error(), inbound.rule()));
  }
  raft::transport::OutboundDecoder outbound;
  for (std::string_view input = all; !input.empty();) {
    const std::size_t n = input.size() < chunk ? input.size() : chunk;
    if (!outbound.feed(input.substr(0, n)).ok()) break;
    input.remove_prefix(n);
  }
  return 0;
}
