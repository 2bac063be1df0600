// libFuzzer target for the transport's decoders: the receiver's (frames + handshake rule) and
// the sender's (the one reject a receiver may write back). The input is split into chunks at
// sizes taken from its first bytes, so that split frames are explored too. Any crash,
// sanitizer report or leak is a bug; errors are expected and fine.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "transport/frame_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t chunk = 1 + data[0] % 64;
  const std::string_view all(reinterpret_cast<const char*>(data + 1), size - 1);
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
