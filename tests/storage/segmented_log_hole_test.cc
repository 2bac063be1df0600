// Recovery of SegmentedLog from an unsynced batch whose pages reached the disk out of order:
// a zero-filled hole (a sector never written) followed by valid records of the same batch.
// The fault-injecting file system tears or zeroes a write's tail but cannot persist its pages
// out of order, so these tests craft the images: every mix of the pages (and of the
// sectors) of the synced image and of the image with the batch written.
#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "log_test_support.h"
#include "raft/segmented_log.h"
#include "storage/fault_injecting_file_system.h"

namespace raft {
namespace {

using testing::make_entries;
using testing::make_entry;
using Fs = FaultInjectingFileSystem;

constexpr std::uint64_t kNoLimit = UINT64_MAX;
constexpr std::size_t kPage = 4096;
constexpr std::size_t kSector = 512;
constexpr std::size_t kDataSize = 300;  // an entry's data: records of about 320 bytes
const std::string kDir = "/data/log";
const std::string kFirstSegment = kDir + "/00000000000000000001.log";

SegmentedLog::Options big_segments() {
  SegmentedLog::Options options;
  options.segment_size = 64 * 1024;
  return options;
}

// Bytes of a segment holding entries 1..last of make_entry(i, 1, kDataSize).
std::size_t end_of(Index last) {
  std::size_t size = 32;
  for (Index i = 1; i <= last; ++i) size += 8 + make_entry(i, 1, kDataSize).ByteSizeLong();
  return size;
}

// The last segment before and after an unsynced batch: entries 1..synced are synced, the
// batch synced+1..last was written but (as far as a crash is concerned) never synced.
struct Images {
  std::string synced;   // the file as the last sync left it
  std::string written;  // the file with the batch written over its unused space
  std::size_t begin = 0;
  std::size_t end = 0;  // the batch's bytes
};

Images make_images(Fs& fs, Index synced, Index last) {
  Images images;
  {
    auto log = SegmentedLog::open(fs, kDir, big_segments());
    REQUIRE(log.ok());
    for (Index i = 1; i <= synced; i += 4) {
      REQUIRE((*log)->append(make_entries(i, std::min(i + 3, synced), 1, kDataSize)).ok());
    }
    images.synced = *fs.contents(kFirstSegment);
    REQUIRE((*log)->append(make_entries(synced + 1, last, 1, kDataSize)).ok());
    images.written = *fs.contents(kFirstSegment);
    REQUIRE((*log)->segment_count() == 1);
  }
  images.begin = end_of(synced);
  images.end = end_of(last);
  REQUIRE(images.synced.size() == images.written.size());
  return images;
}

// Opens the log after a crash left `image` on disk: it must open, keep every synced entry,
// hold a prefix of the batch, take appends and reopen to the same entries.
void check_opens_to_a_prefix(Fs& fs, const std::string& image, Index synced, Index last) {
  REQUIRE(fs.set_contents(kFirstSegment, image).ok());
  auto log = SegmentedLog::open(fs, kDir, big_segments());
  INFO(log.status().to_string());
  REQUIRE(log.ok());
  const Index end = (*log)->last_index();
  CHECK(end >= synced);
  CHECK(end <= last);
  auto all = (*log)->entries(1, end + 1, kNoLimit);
  REQUIRE(all.ok());
  REQUIRE(all->size() == end);
  for (Index i = 1; i <= end; ++i) {
    CHECK((*all)[i - 1].SerializeAsString() == make_entry(i, 1, kDataSize).SerializeAsString());
  }
  REQUIRE((*log)->append(make_entries(end + 1, end + 2, 7, kDataSize)).ok());
  log->reset();
  auto again = SegmentedLog::open(fs, kDir, big_segments());
  REQUIRE(again.ok());
  CHECK_FALSE((*again)->recovery().cut);
  CHECK((*again)->last_index() == end + 2);
  CHECK(*(*again)->term(end + 2) == 7);
  CHECK((*again)->entries(1, end + 3, kNoLimit)->size() == end + 2);
}

TEST_CASE(
    "segmented log hole: a zero page inside an unsynced batch followed by valid records is cut",
    "[storage][segmented_log][hole]") {
  Fs fs;
  const Index synced = 10;
  const Index last = 30;
  const Images images = make_images(fs, synced, last);
  // The second page the batch touches never reached the disk; those after it did.
  const std::size_t hole = (images.begin / kPage + 1) * kPage;
  REQUIRE(hole + kPage < images.end);
  std::string image = images.written;
  image.replace(hole, kPage, images.synced, hole, kPage);
  REQUIRE(image.substr(hole, kPage) == std::string(kPage, '\0'));
  REQUIRE(fs.set_contents(kFirstSegment, image).ok());

  auto log = SegmentedLog::open(fs, kDir, big_segments());
  INFO(log.status().to_string());
  REQUIRE(log.ok());
  // Cut at the record the hole damaged: the records wholly before it stay.
  Index kept = synced;
  while (end_of(kept + 1) <= hole) ++kept;
  CHECK((*log)->last_index() == kept);
  const SegmentedLog::Recovery& r = (*log)->recovery();
  CHECK(r.cut);
  CHECK(r.hole);
  CHECK(r.path == kFirstSegment);
  CHECK(r.offset == end_of(kept));
  CHECK(r.hole_offset == hole);
  CHECK(r.records > 0);
  CHECK(r.records < last - kept);
  CHECK(r.bytes == images.end - end_of(kept));
  CHECK(r.description.find(kFirstSegment) != std::string::npos);
  CHECK(r.description.find("offset " + std::to_string(hole)) != std::string::npos);
  // The dropped records are gone from the file, not merely skipped.
  const std::string after = *fs.contents(kFirstSegment);
  CHECK(after.size() == big_segments().segment_size);
  CHECK(after.find_first_not_of('\0', end_of(kept)) == std::string::npos);
  log->reset();
  check_opens_to_a_prefix(fs, after, kept, kept);
}

TEST_CASE("segmented log hole: a zero header at the start of an unsynced batch is cut",
          "[storage][segmented_log][hole]") {
  Fs fs;
  const Index synced = 10;
  const Index last = 30;
  const Images images = make_images(fs, synced, last);
  // The page holding the batch's first record header was lost, the later ones were not.
  const std::size_t page = images.begin / kPage * kPage;
  REQUIRE(images.begin % kSector <= kSector - 8);
  std::string image = images.written;
  image.replace(page, kPage, images.synced, page, kPage);
  REQUIRE(fs.set_contents(kFirstSegment, image).ok());
  auto log = SegmentedLog::open(fs, kDir, big_segments());
  INFO(log.status().to_string());
  REQUIRE(log.ok());
  CHECK((*log)->last_index() == synced);
  CHECK((*log)->recovery().hole);
  CHECK((*log)->recovery().hole_offset == images.begin);
}

TEST_CASE("segmented log hole: a torn sector followed by a zero sector is cut at the torn record",
          "[storage][segmented_log][hole]") {
  Fs fs;
  const Index synced = 10;
  const Index last = 30;
  const Images images = make_images(fs, synced, last);
  // A sector well inside the batch is half new data, half zeros; the next one is all zeros;
  // the rest of the batch reached the disk.
  const std::size_t torn = (images.begin / kSector + 3) * kSector;
  std::string image = images.written;
  image.replace(torn + kSector / 2, kSector + kSector / 2, images.synced, torn + kSector / 2,
                kSector + kSector / 2);
  REQUIRE(fs.set_contents(kFirstSegment, image).ok());
  auto log = SegmentedLog::open(fs, kDir, big_segments());
  INFO(log.status().to_string());
  REQUIRE(log.ok());
  Index kept = synced;
  while (end_of(kept + 1) <= torn + kSector / 2) ++kept;
  CHECK((*log)->last_index() == kept);
  CHECK((*log)->recovery().hole_offset == torn + kSector);
}

TEST_CASE("segmented log hole: any mix of synced and written pages of a batch opens to a prefix",
          "[storage][segmented_log][hole]") {
  // Several synced lengths, so the batch starts at different places in its first page.
  for (Index synced : {5u, 10u, 17u}) {
    const Index last = synced + 14;  // a batch of about 4.5 KiB: two or three pages
    Fs fs;
    const Images images = make_images(fs, synced, last);
    INFO("synced " << synced << ", batch at " << images.begin << ".." << images.end);
    REQUIRE(images.begin % kSector <= kSector - 8);  // see the rule's limits in the header
    const std::size_t first_page = images.begin / kPage;
    const std::size_t pages = (images.end + kPage - 1) / kPage - first_page;
    for (std::uint32_t mask = 0; mask < (1u << pages); ++mask) {
      INFO("pages persisted " << mask);
      std::string image = images.synced;
      for (std::size_t k = 0; k < pages; ++k) {
        if ((mask >> k & 1u) == 0) continue;
        const std::size_t at = (first_page + k) * kPage;
        image.replace(at, kPage, images.written, at, kPage);
      }
      check_opens_to_a_prefix(fs, image, synced, last);
    }
  }
}

TEST_CASE("segmented log hole: any mix of synced and written sectors of a batch opens to a prefix",
          "[storage][segmented_log][hole]") {
  std::mt19937_64 rng(42);
  for (Index synced : {5u, 10u, 17u}) {
    const Index last = synced + 14;
    Fs fs;
    const Images images = make_images(fs, synced, last);
    REQUIRE(images.begin % kSector <= kSector - 8);
    const std::size_t first = images.begin / kSector;
    const std::size_t sectors = (images.end + kSector - 1) / kSector - first;
    for (int round = 0; round < 200; ++round) {
      std::string image = images.synced;
      std::string persisted;
      for (std::size_t k = 0; k < sectors; ++k) {
        const bool kept = (rng() & 1u) != 0;
        persisted += kept ? '1' : '0';
        if (!kept) continue;
        const std::size_t at = (first + k) * kSector;
        image.replace(at, kSector, images.written, at, kSector);
      }
      INFO("synced " << synced << ", sectors persisted " << persisted);
      check_opens_to_a_prefix(fs, image, synced, last);
    }
  }
}

TEST_CASE("segmented log hole: a flipped byte followed by valid records is still corruption",
          "[storage][segmented_log][hole]") {
  Fs fs;
  const Images images = make_images(fs, 10, 30);
  // A byte in the payload of entry 5 (synced long ago) in the big last segment.
  const std::size_t record = end_of(4);
  std::string image = images.written;
  image[record + 100] ^= 0x20;
  REQUIRE(fs.set_contents(kFirstSegment, image).ok());
  auto log = SegmentedLog::open(fs, kDir, big_segments());
  REQUIRE_FALSE(log.ok());
  CHECK(log.status().code() == ErrorCode::kCorruption);
  CHECK(log.status().message().find(kFirstSegment) != std::string::npos);
  CHECK(log.status().message().find("offset " + std::to_string(record)) != std::string::npos);
  // Nothing was cut.
  CHECK(*fs.contents(kFirstSegment) == image);
}

TEST_CASE(
    "segmented log hole: zeros shorter than a sector followed by valid records are corruption",
    "[storage][segmented_log][hole]") {
  Fs fs;
  const Images images = make_images(fs, 10, 30);
  // The header and the first bytes of entry 5's record are zeros, ending inside its sector.
  const std::size_t record = end_of(4);
  REQUIRE(record % kSector + 40 < kSector);
  std::string image = images.written;
  image.replace(record, 28, std::string(28, '\0'));
  REQUIRE(fs.set_contents(kFirstSegment, image).ok());
  auto log = SegmentedLog::open(fs, kDir, big_segments());
  REQUIRE_FALSE(log.ok());
  CHECK(log.status().code() == ErrorCode::kCorruption);
  CHECK(log.status().message().find("offset " + std::to_string(record)) != std::string::npos);
}

TEST_CASE("segmented log hole: a zero sector in a segment that is not the last is corruption",
          "[storage][segmented_log][hole]") {
  Fs fs;
  SegmentedLog::Options options;
  options.segment_size = 8 * 1024;
  {
    auto log = SegmentedLog::open(fs, kDir, options);
    REQUIRE(log.ok());
    for (Index i = 1; i <= 60; i += 4) {
      REQUIRE((*log)->append(make_entries(i, i + 3, 1, kDataSize)).ok());
    }
    REQUIRE((*log)->segment_count() >= 3);
  }
  std::string data = *fs.contents(kFirstSegment);
  const std::size_t hole = kPage;
  REQUIRE(hole + kPage < data.size());
  data.replace(hole, kPage, std::string(kPage, '\0'));
  REQUIRE(fs.set_contents(kFirstSegment, data).ok());
  auto log = SegmentedLog::open(fs, kDir, options);
  REQUIRE_FALSE(log.ok());
  CHECK(log.status().code() == ErrorCode::kCorruption);
  CHECK(log.status().message().find(kFirstSegment) != std::string::npos);
  CHECK(log.status().message().find("offset") != std::string::npos);
}

TEST_CASE("segmented log hole: a torn tail without valid records after it is reported",
          "[storage][segmented_log][hole]") {
  Fs fs;
  const Images images = make_images(fs, 10, 30);
  // Only the batch's first page reached the disk.
  std::string image = images.synced;
  const std::size_t page_end = (images.begin / kPage + 1) * kPage;
  image.replace(images.begin, page_end - images.begin, images.written, images.begin,
                page_end - images.begin);
  REQUIRE(fs.set_contents(kFirstSegment, image).ok());
  auto log = SegmentedLog::open(fs, kDir, big_segments());
  REQUIRE(log.ok());
  Index kept = 10;
  while (end_of(kept + 1) <= page_end) ++kept;
  CHECK((*log)->last_index() == kept);
  const SegmentedLog::Recovery& r = (*log)->recovery();
  CHECK(r.cut);
  CHECK_FALSE(r.hole);
  CHECK(r.records == 0);
  CHECK(r.offset == end_of(kept));
  CHECK(r.bytes > 0);
  CHECK(r.bytes <= page_end - end_of(kept));
  CHECK(r.description.find(kFirstSegment) != std::string::npos);
}

}  // namespace
}  // namespace raft
