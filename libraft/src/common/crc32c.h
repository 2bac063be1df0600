// crc32c: the CRC-32C (Castagnoli) checksum that guards every record of the segmented log
// and every frame of the transport.
//
// Uses the SSE4.2 crc32 instruction when the CPU has it (checked once, at run time) and a
// table-driven (slicing-by-8) fallback otherwise. Pure functions; any thread may call them.
#pragma once

#include <cstdint>
#include <string_view>

namespace raft::crc32c {

// The CRC-32C of `data` appended to a stream whose CRC so far is `crc` (0 for none).
std::uint32_t extend(std::uint32_t crc, std::string_view data);
// The CRC-32C of `data`.
inline std::uint32_t value(std::string_view data) { return extend(0, data); }

// A CRC stored next to the data it covers is masked (as LevelDB does), so that the CRC of a
// string that itself holds CRCs is not trivially related to them, and so that all-zero
// bytes (length 0, CRC 0) never pass as a valid record: mask(value("")) != 0.
inline std::uint32_t mask(std::uint32_t crc) {
  constexpr std::uint32_t kMaskDelta = 0xa282ead8u;
  return ((crc >> 15) | (crc << 17)) + kMaskDelta;
}
inline std::uint32_t unmask(std::uint32_t masked) {
  constexpr std::uint32_t kMaskDelta = 0xa282ead8u;
  const std::uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

// For tests and benchmarks: each implementation on its own. extend_hardware() must only be
// called when hardware_available().
bool hardware_available();
std::uint32_t extend_hardware(std::uint32_t crc, std::string_view data);
std::uint32_t extend_software(std::uint32_t crc, std::string_view data);

}  // namespace raft::crc32c
