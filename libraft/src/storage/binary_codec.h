// Little-endian encoding helpers and a CRC-32 for the small framed files of the stable store
// and the snapshot store (see file_stable_store.h and file_snapshot_store.h for the formats).
// ByteWriter appends to a string it owns; ByteReader reads a view it does not own. Plain
// values: one thread at a time.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "raft/file_system.h"

namespace raft::codec {

// CRC-32 (IEEE 802.3, the zlib/PNG one: reflected polynomial 0xEDB88320). `crc` is the value
// returned for the preceding bytes (0 to start), so the checksum can be computed in pieces.
inline std::uint32_t crc32(std::string_view data, std::uint32_t crc = 0) {
  static const std::array<std::uint32_t, 256> kTable = [] {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    return table;
  }();
  crc = ~crc;
  for (char ch : data) crc = kTable[(crc ^ static_cast<std::uint8_t>(ch)) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

class ByteWriter {
 public:
  void put_u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out_ += static_cast<char>((v >> (8 * i)) & 0xFF);
  }
  void put_u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out_ += static_cast<char>((v >> (8 * i)) & 0xFF);
  }
  void put_bytes(std::string_view bytes) { out_.append(bytes); }
  // A u32 length, then the bytes.
  void put_string(std::string_view s) {
    put_u32(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }
  std::string& buffer() { return out_; }

 private:
  std::string out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}

  bool get_u32(std::uint32_t* v) {
    if (in_.size() < 4) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) *v |= std::uint32_t{static_cast<std::uint8_t>(in_[i])} << (8 * i);
    in_.remove_prefix(4);
    return true;
  }
  bool get_u64(std::uint64_t* v) {
    if (in_.size() < 8) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) *v |= std::uint64_t{static_cast<std::uint8_t>(in_[i])} << (8 * i);
    in_.remove_prefix(8);
    return true;
  }
  bool get_bytes(std::size_t n, std::string_view* out) {
    if (in_.size() < n) return false;
    *out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool get_string(std::string* out) {
    std::uint32_t n = 0;
    std::string_view bytes;
    if (!get_u32(&n) || !get_bytes(n, &bytes)) return false;
    out->assign(bytes);
    return true;
  }
  std::size_t remaining() const { return in_.size(); }

 private:
  std::string_view in_;
};

// The frame both stores use for a small file:
//   magic (8 bytes) | version (u32) | payload length N (u32) | payload (N bytes) |
//   CRC-32 (u32) of everything before it.
inline std::string frame(std::string_view magic, std::uint32_t version, std::string_view payload) {
  ByteWriter w;
  w.put_bytes(magic);
  w.put_u32(version);
  w.put_string(payload);
  w.put_u32(crc32(w.buffer()));
  return std::move(w.buffer());
}

// Checks a frame made by frame(); on success sets *payload (a view into `file`). Returns ""
// when the frame is good, else what is wrong with it.
inline std::string unframe(std::string_view file, std::string_view magic, std::uint32_t version,
                           std::string_view* payload) {
  ByteReader r(file);
  std::string_view got_magic;
  std::uint32_t got_version = 0;
  std::uint32_t length = 0;
  std::uint32_t crc = 0;
  if (!r.get_bytes(magic.size(), &got_magic) || got_magic != magic) return "bad magic";
  if (!r.get_u32(&got_version) || !r.get_u32(&length)) return "truncated header";
  if (!r.get_bytes(length, payload) || !r.get_u32(&crc)) return "truncated record";
  if (r.remaining() != 0) return "trailing bytes after the record";
  if (crc != crc32(file.substr(0, file.size() - 4))) return "checksum mismatch";
  if (got_version != version) return "unsupported version " + std::to_string(got_version);
  return "";
}

// Reads a whole (small) file: a record or a snapshot's metadata.
inline Result<std::string> read_file(FileSystem& fs, const std::string& path) {
  auto file = fs.open_readable(path);
  if (!file.ok()) return file.status();
  auto size = (*file)->size();
  if (!size.ok()) return size.status();
  std::string data;
  if (Status s = (*file)->read(0, *size, &data); !s.ok()) return s;
  return data;
}

}  // namespace raft::codec
