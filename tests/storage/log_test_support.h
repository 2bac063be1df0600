// Helpers shared by the segmented log and POSIX file system tests: a fresh temporary
// directory removed at the end of the test, and entry builders. Test-only; one thread.
#pragma once

#include <cstdlib>
#include <string>
#include <vector>

#include "raft/file_system.h"
#include "raft/raft.pb.h"
#include "raft/types.h"

namespace raft::testing {

// A directory made by mkdtemp under /tmp, removed with everything in it when destroyed.
class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/libraft-storage-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() { (void)posix_file_system().remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline pb::Entry make_entry(Index index, Term term, std::size_t size = 16) {
  pb::Entry e;
  e.set_index(index);
  e.set_term(term);
  std::string data(size, '\0');
  for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<char>('a' + (index + i) % 26);
  e.set_data(data);
  return e;
}

// Entries lo..hi inclusive, all in `term`.
inline std::vector<pb::Entry> make_entries(Index lo, Index hi, Term term, std::size_t size = 16) {
  std::vector<pb::Entry> out;
  for (Index i = lo; i <= hi; ++i) out.push_back(make_entry(i, term, size));
  return out;
}

}  // namespace raft::testing
