// The POSIX FileSystem: plain system calls, each retried on EINTR, each error naming the
// call, the path and strerror. Thread-safe (no shared mutable state); a file object is used
// by one thread at a time.
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "raft/file_system.h"

namespace raft {
namespace {

Status posix_error(std::string_view call, const std::string& path, int err) {
  const ErrorCode code = err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIoError;
  return Status(code, fmt::format("{} {}: {}", call, path, std::strerror(err)));
}

// Runs a system call until it does not fail with EINTR.
template <typename F>
auto retry(F&& f) {
  for (;;) {
    auto r = f();
    if (r != -1 || errno != EINTR) return r;
  }
}

std::string parent_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd, std::uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  PosixWritableFile(const PosixWritableFile&) = delete;
  PosixWritableFile& operator=(const PosixWritableFile&) = delete;

  Status append(std::string_view data) override { return write_at(size_, data); }

  Status append_all(const std::vector<std::string_view>& parts) override {
    if (Status s = check_open("pwritev"); !s.ok()) return s;
    std::vector<iovec> iov;
    iov.reserve(parts.size());
    for (auto part : parts) {
      if (!part.empty()) iov.push_back(iovec{const_cast<char*>(part.data()), part.size()});
    }
    std::size_t first = 0;
    while (first < iov.size()) {
      const int count = static_cast<int>(std::min<std::size_t>(iov.size() - first, IOV_MAX));
      const ssize_t n =
          retry([&] { return ::pwritev(fd_, &iov[first], count, static_cast<off_t>(size_)); });
      if (n < 0) return posix_error("pwritev", path_, errno);
      size_ += static_cast<std::uint64_t>(n);
      // Skips what was written; a partly written buffer continues where it stopped.
      auto done = static_cast<std::size_t>(n);
      while (first < iov.size() && done >= iov[first].iov_len) {
        done -= iov[first].iov_len;
        ++first;
      }
      if (done > 0) {
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + done;
        iov[first].iov_len -= done;
      }
    }
    return Status();
  }

  Status write_at(std::uint64_t offset, std::string_view data) override {
    if (Status s = check_open("pwrite"); !s.ok()) return s;
    const char* p = data.data();
    std::size_t left = data.size();
    std::uint64_t at = offset;
    while (left > 0) {  // short writes continue
      const ssize_t n = retry([&] { return ::pwrite(fd_, p, left, static_cast<off_t>(at)); });
      if (n < 0) return posix_error("pwrite", path_, errno);
      p += n;
      left -= static_cast<std::size_t>(n);
      at += static_cast<std::uint64_t>(n);
      size_ = std::max(size_, at);
    }
    return Status();
  }

  Status sync() override {
    if (Status s = check_open("fdatasync"); !s.ok()) return s;
    if (retry([&] { return ::fdatasync(fd_); }) != 0) {
      return posix_error("fdatasync", path_, errno);
    }
    return Status();
  }

  Status preallocate(std::uint64_t offset, std::uint64_t length) override {
    if (Status s = check_open("fallocate"); !s.ok()) return s;
#if defined(__linux__)
    const int r = retry([&] {
      return ::fallocate(fd_, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                         static_cast<off_t>(length));
    });
    if (r != 0) {
      if (errno == EOPNOTSUPP || errno == ENOSYS) return Status();  // not supported: no-op
      return posix_error("fallocate", path_, errno);
    }
#else
    (void)offset;
    (void)length;
#endif
    return Status();
  }

  Status truncate(std::uint64_t size) override {
    if (Status s = check_open("ftruncate"); !s.ok()) return s;
    if (retry([&] { return ::ftruncate(fd_, static_cast<off_t>(size)); }) != 0) {
      return posix_error("ftruncate", path_, errno);
    }
    size_ = size;
    return Status();
  }

  Status close() override {
    if (fd_ < 0) return Status();
    const int fd = fd_;
    fd_ = -1;
    // close(2) is not retried on EINTR: on Linux the descriptor is released regardless.
    if (::close(fd) != 0 && errno != EINTR) return posix_error("close", path_, errno);
    return Status();
  }

  std::uint64_t size() const override { return size_; }

 private:
  Status check_open(std::string_view call) const {
    if (fd_ >= 0) return Status();
    return Status(ErrorCode::kIoError, fmt::format("{} {}: file is closed", call, path_));
  }

  std::string path_;
  int fd_;
  std::uint64_t size_;
};

class PosixReadableFile final : public ReadableFile {
 public:
  PosixReadableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixReadableFile() override { ::close(fd_); }
  PosixReadableFile(const PosixReadableFile&) = delete;
  PosixReadableFile& operator=(const PosixReadableFile&) = delete;

  Status read(std::uint64_t offset, std::size_t n, std::string* out) const override {
    out->resize(n);
    std::size_t done = 0;
    while (done < n) {
      const ssize_t r = retry([&] {
        return ::pread(fd_, out->data() + done, n - done, static_cast<off_t>(offset + done));
      });
      if (r < 0) {
        out->clear();
        return posix_error("pread", path_, errno);
      }
      if (r == 0) break;  // end of file
      done += static_cast<std::size_t>(r);
    }
    out->resize(done);
    return Status();
  }

  Result<std::uint64_t> size() const override {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return posix_error("fstat", path_, errno);
    return static_cast<std::uint64_t>(st.st_size);
  }

 private:
  std::string path_;
  int fd_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override { ::close(fd_); }  // closing the descriptor releases the flock
  PosixFileLock(const PosixFileLock&) = delete;
  PosixFileLock& operator=(const PosixFileLock&) = delete;

 private:
  int fd_;
};

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<WritableFile>> open_writable(const std::string& path) override {
    return open_for_write(path, O_WRONLY | O_CREAT | O_CLOEXEC);
  }

  Result<std::unique_ptr<WritableFile>> create_writable(const std::string& path) override {
    return open_for_write(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC);
  }

  Result<std::unique_ptr<ReadableFile>> open_readable(const std::string& path) override {
    const int fd = retry([&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); });
    if (fd < 0) return posix_error("open", path, errno);
    return std::unique_ptr<ReadableFile>(std::make_unique<PosixReadableFile>(path, fd));
  }

  Status rename(const std::string& from, const std::string& to) override {
    if (retry([&] { return ::rename(from.c_str(), to.c_str()); }) != 0) {
      return posix_error("rename", from + " -> " + to, errno);
    }
    return Status();
  }

  Status remove(const std::string& path) override {
    if (retry([&] { return ::unlink(path.c_str()); }) != 0) {
      return posix_error("unlink", path, errno);
    }
    return Status();
  }

  Status remove_all(const std::string& path) override {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return Status();
      return posix_error("lstat", path, errno);
    }
    if (!S_ISDIR(st.st_mode)) return remove(path);
    auto names = list(path);
    if (!names.ok()) return names.status();
    for (const auto& name : *names) {
      if (Status s = remove_all(path + "/" + name); !s.ok()) return s;
    }
    if (retry([&] { return ::rmdir(path.c_str()); }) != 0) {
      return posix_error("rmdir", path, errno);
    }
    return Status();
  }

  Status sync_dir(const std::string& path) override {
    const int fd = retry([&] { return ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
    if (fd < 0) return posix_error("open", path, errno);
    const int r = retry([&] { return ::fsync(fd); });
    const int err = errno;
    ::close(fd);
    if (r != 0) return posix_error("fsync", path, err);
    return Status();
  }

  Status create_dirs(const std::string& path) override {
    if (path.empty()) return Status();
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) return Status();
      return Status(ErrorCode::kIoError, fmt::format("mkdir {}: not a directory", path));
    }
    const std::string parent = parent_of(path);
    if (parent != path && parent != "." && parent != "/") {
      if (Status s = create_dirs(parent); !s.ok()) return s;
    }
    if (retry([&] { return ::mkdir(path.c_str(), 0755); }) != 0) {
      if (errno == EEXIST) return Status();  // made by someone else, who syncs it
      return posix_error("mkdir", path, errno);
    }
    // The new entry in the parent is durable only once the parent is synced.
    return sync_dir(parent);
  }

  Result<std::vector<std::string>> list(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return posix_error("opendir", dir, errno);
    std::vector<std::string> names;
    for (;;) {
      errno = 0;
      const dirent* e = ::readdir(d);
      if (e == nullptr) {
        const int err = errno;
        ::closedir(d);
        if (err != 0) return posix_error("readdir", dir, err);
        break;
      }
      const std::string_view name = e->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  Result<bool> exists(const std::string& path) override {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return posix_error("stat", path, errno);
  }

  Result<std::unique_ptr<FileLock>> lock(const std::string& path) override {
    const int fd = retry([&] { return ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644); });
    if (fd < 0) return posix_error("open", path, errno);
    if (retry([&] { return ::flock(fd, LOCK_EX | LOCK_NB); }) != 0) {
      const int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return Status(ErrorCode::kIoError,
                      fmt::format("data directory {} is in use by another process (flock {}: {})",
                                  parent_of(path), path, std::strerror(err)));
      }
      return posix_error("flock", path, err);
    }
    return std::unique_ptr<FileLock>(std::make_unique<PosixFileLock>(fd));
  }

 private:
  // Without O_APPEND (on Linux it would make pwrite(2) ignore its offset): the file object
  // writes at explicit offsets, appends at the size it keeps.
  Result<std::unique_ptr<WritableFile>> open_for_write(const std::string& path, int flags) {
    const int fd = retry([&] { return ::open(path.c_str(), flags, 0644); });
    if (fd < 0) return posix_error("open", path, errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      return posix_error("fstat", path, err);
    }
    return std::unique_ptr<WritableFile>(
        std::make_unique<PosixWritableFile>(path, fd, static_cast<std::uint64_t>(st.st_size)));
  }
};

}  // namespace

FileSystem& posix_file_system() {
  static PosixFileSystem* const fs = new PosixFileSystem();  // never destroyed
  return *fs;
}

}  // namespace raft
