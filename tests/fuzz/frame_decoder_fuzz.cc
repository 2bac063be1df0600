// libFuzzer target for the transport's inbound decoder (frames + handshake rule). The input
// is split into chunks at sizes taken from its first bytes, so that split frames are explored
// too. Any crash, sanitizer report or leak is a bug; errors are expected and fine.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "transport/frame_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t chunk = 1 + data[0] % 64;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  raft::transport::InboundDecoder decoder({"cluster", "n1", raft::transport::kProtocolVersion},
                                          std::size_t{1} << 20);
  std::vector<raft::pb::Message> messages;
  while (!input.empty()) {
    const std::size_t n = input.size() < chunk ? input.size() : chunk;
    if (!decoder.feed(input.substr(0, n), &messages).ok()) break;
    input.remove_prefix(n);
  }
  return 0;
}
