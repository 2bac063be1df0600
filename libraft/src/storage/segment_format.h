// segment_format: encoding and decoding of the segmented log's files (segment header,
// record, META and segment names), as described in raft/segmented_log.h. Pure functions;
// any thread may call them.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "raft/raft.pb.h"
#include "raft/types.h"

namespace raft::segment_format {

// The highest index the log takes (raft::kMaxIndex in raft/types.h): no entry, restore or
// META past it, and no segment named past kMaxIndex + 1 (an empty segment after the last
// possible entry).
using raft::kMaxIndex;

inline constexpr std::size_t kHeaderSize = 32;
inline constexpr std::size_t kRecordHeaderSize = 8;
inline constexpr std::size_t kMetaSize = 40;
inline constexpr std::uint32_t kVersion = 1;
inline constexpr std::string_view kSegmentMagic{"RAFTSEG\n", 8};
inline constexpr std::string_view kMetaMagic{"RAFTMETA", 8};
inline constexpr std::string_view kMetaName = "META";
inline constexpr std::string_view kMetaTempName = "META.tmp";
inline constexpr std::string_view kLockName = "LOCK";

inline void put32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xffu);
}
inline void put64(char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xffu);
}
inline std::uint32_t get32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
inline std::uint64_t get64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// "00000000000000000001.log" for 1.
std::string segment_name(Index first);
// True (and *first set) if `name` is a segment's name.
bool parse_segment_name(std::string_view name, Index* first);

std::string encode_header(Index first, std::uint32_t generation);
// An empty string if `data` (kHeaderSize bytes) is a valid header, else what is wrong.
std::string decode_header(std::string_view data, Index* first, std::uint32_t* generation);

std::string encode_meta(Index index, Term term, std::uint32_t generation);
std::string decode_meta(std::string_view data, Index* index, Term* term, std::uint32_t* generation);

// Appends the record of `entry` (length, masked CRC32C, payload) to `out`.
void append_record(const pb::Entry& entry, std::string* out);
// The masked CRC32C stored for `payload`.
std::uint32_t record_crc(std::string_view payload);

}  // namespace raft::segment_format
