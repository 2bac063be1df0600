#include "storage/segment_format.h"

#include <fmt/format.h>

#include "common/crc32c.h"

namespace raft::segment_format {

std::string segment_name(Index first) { return fmt::format("{:020d}.log", first); }

bool parse_segment_name(std::string_view name, Index* first) {
  if (name.size() != 24 || name.substr(20) != ".log") return false;
  Index v = 0;
  for (std::size_t i = 0; i < 20; ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return false;
    const auto digit = static_cast<Index>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  *first = v;
  return true;
}

std::string encode_header(Index first, std::uint32_t generation) {
  std::string h(kHeaderSize, '\0');
  std::memcpy(h.data(), kSegmentMagic.data(), kSegmentMagic.size());
  put32(h.data() + 8, kVersion);
  put32(h.data() + 12, generation);
  put64(h.data() + 16, first);
  put32(h.data() + 24, crc32c::mask(crc32c::value(std::string_view(h.data(), 24))));
  return h;
}

std::string decode_header(std::string_view data, Index* first, std::uint32_t* generation) {
  if (data.size() < kHeaderSize) return "short header";
  if (data.substr(0, 8) != kSegmentMagic) return "bad magic";
  if (crc32c::unmask(get32(data.data() + 24)) != crc32c::value(data.substr(0, 24))) {
    return "header checksum mismatch";
  }
  if (const std::uint32_t v = get32(data.data() + 8); v != kVersion) {
    return fmt::format("unsupported format version {}", v);
  }
  if (get32(data.data() + 28) != 0) return "reserved bytes [28,32) are not zero";
  *first = get64(data.data() + 16);
  *generation = get32(data.data() + 12);
  return "";
}

std::string encode_meta(Index index, Term term, std::uint32_t generation) {
  std::string m(kMetaSize, '\0');
  std::memcpy(m.data(), kMetaMagic.data(), kMetaMagic.size());
  put32(m.data() + 8, kVersion);
  put32(m.data() + 12, generation);
  put64(m.data() + 16, index);
  put64(m.data() + 24, term);
  put32(m.data() + 32, crc32c::mask(crc32c::value(std::string_view(m.data(), 32))));
  return m;
}

std::string decode_meta(std::string_view data, Index* index, Term* term,
                        std::uint32_t* generation) {
  if (data.size() != kMetaSize) return fmt::format("size {} (expected {})", data.size(), kMetaSize);
  if (data.substr(0, 8) != kMetaMagic) return "bad magic";
  if (crc32c::unmask(get32(data.data() + 32)) != crc32c::value(data.substr(0, 32))) {
    return "checksum mismatch";
  }
  if (const std::uint32_t v = get32(data.data() + 8); v != kVersion) {
    return fmt::format("unsupported format version {}", v);
  }
  if (get32(data.data() + 36) != 0) return "reserved bytes [36,40) are not zero";
  if (const Index i = get64(data.data() + 16); i > kMaxIndex) {
    return fmt::format("snapshot index {} is past the highest index {}", i, kMaxIndex);
  }
  *index = get64(data.data() + 16);
  *term = get64(data.data() + 24);
  *generation = get32(data.data() + 12);
  return "";
}

std::uint32_t record_crc(std::string_view payload) { return crc32c::mask(crc32c::value(payload)); }

void append_record(const pb::Entry& entry, std::string* out) {
  const std::size_t n = entry.ByteSizeLong();
  const std::size_t at = out->size();
  out->resize(at + kRecordHeaderSize + n);
  char* p = out->data() + at;
  entry.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(p + kRecordHeaderSize));
  put32(p, static_cast<std::uint32_t>(n));
  put32(p + 4, record_crc(std::string_view(p + kRecordHeaderSize, n)));
}

}  // namespace raft::segment_format
