// libFuzzer target for SegmentedLog's recovery: the input becomes a log directory (one to
// four segment files and, optionally, META) on the in-memory fault-injecting file system,
// and the log is opened. Opening may fail (that is a refusal, and fine); a crash, a
// sanitizer report or a broken invariant of a log that did open is a bug:
//   - every entry from first_index() to last_index() reads back, with consecutive indexes;
//   - the log takes an append after its last entry and reopens clean, holding it.
//
// Input: byte 0 holds flags (bits 0-1: segments - 1; bit 2: give each segment a valid
// header; bit 3: set each record's CRC to the right value, so that the fuzzer reaches the
// entry decoding; bit 4: write a valid META), byte 1 the META's index. Then per segment: two
// bytes of first index, two bytes of length, then that many bytes of file (after the
// header, when bit 2 is set).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "raft/segmented_log.h"
#include "storage/fault_injecting_file_system.h"
#include "storage/segment_format.h"

namespace {

namespace sf = raft::segment_format;

const std::string kDir = "/log";

// Aborts (a finding) with the failed condition's line when `ok` is false.
#define check(ok) check_at((ok), __LINE__)
void check_at(bool ok, int line) {
  if (!ok) {
    std::fprintf(stderr, "segment_recovery_fuzz: check failed at line %d\n", line);
    std::abort();
  }
}

// Gives every record that fits a correct CRC, walking by the lengths found.
void fix_crcs(std::string* data) {
  std::size_t at = sf::kHeaderSize;
  while (at + sf::kRecordHeaderSize <= data->size()) {
    const std::uint32_t len = sf::get32(data->data() + at);
    if (len == 0 || len > data->size() - at - sf::kRecordHeaderSize) break;
    const std::string_view payload(data->data() + at + sf::kRecordHeaderSize, len);
    sf::put32(data->data() + at + 4, sf::record_crc(payload));
    at += sf::kRecordHeaderSize + len;
  }
}

raft::SegmentedLog::Options options() {
  raft::SegmentedLog::Options o;
  o.segment_size = 4096;
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const unsigned flags = data[0];
  raft::FaultInjectingFileSystem fs;
  check(fs.create_dirs(kDir).ok());
  auto write = [&](const std::string& path, const std::string& bytes) {
    auto file = fs.create_writable(path);
    check(file.ok());
    check((*file)->append(bytes).ok());
    check((*file)->sync().ok());
  };
  if (flags & 16u) write(kDir + "/" + std::string(sf::kMetaName), sf::encode_meta(data[1], 1, 0));
  std::size_t at = 2;
  const unsigned segments = 1 + (flags & 3u);
  for (unsigned k = 0; k < segments && at + 4 <= size; ++k) {
    const raft::Index first = static_cast<unsigned char>(in[at]) |
                              (static_cast<unsigned>(static_cast<unsigned char>(in[at + 1])) << 8);
    const std::size_t len = static_cast<unsigned char>(in[at + 2]) |
                            (static_cast<std::size_t>(static_cast<unsigned char>(in[at + 3])) << 8);
    at += 4;
    std::string file;
    if (flags & 4u) file = sf::encode_header(first, 0);
    file += in.substr(at, len);
    at += std::min(len, size - at);
    if (flags & 8u) fix_crcs(&file);
    write(kDir + "/" + sf::segment_name(first), file);
  }
  check(fs.sync_dir(kDir).ok());

  raft::Index appended = 0;
  {
    auto log = raft::SegmentedLog::open(fs, kDir, options());
    if (!log.ok()) return 0;
    const raft::Index first = (*log)->first_index();
    const raft::Index last = (*log)->last_index();
    check(first <= last + 1);
    auto entries = (*log)->entries(first, last + 1, UINT64_MAX);
    check(entries.ok());
    check(entries->size() == last + 1 - first);
    for (std::size_t k = 0; k < entries->size(); ++k) {
      check((*entries)[k].index() == first + k);
      check((*log)->term(first + k).ok());
    }
    auto last_term = (*log)->term(last);
    check(last_term.ok());
    raft::pb::Entry next;
    next.set_index(last + 1);
    next.set_term(*last_term);
    next.set_data("appended");
    check((*log)->append({next}).ok());
    appended = last + 1;
  }
  auto again = raft::SegmentedLog::open(fs, kDir, options());
  check(again.ok());
  check(!(*again)->recovery().cut);
  check((*again)->last_index() == appended);
  auto entry = (*again)->entries(appended, appended + 1, UINT64_MAX);
  check(entry.ok() && entry->size() == 1 && (*entry)[0].data() == "appended");
  return 0;
}
