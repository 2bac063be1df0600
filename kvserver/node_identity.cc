#include "kvserver/node_identity.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace kv {

namespace fs = std::filesystem;
using raft::ErrorCode;
using raft::Result;
using raft::Status;

namespace {

constexpr char kFile[] = "IDENTITY";
constexpr char kTemp[] = "IDENTITY.tmp";

Status io_error(const std::string& what, int error) {
  return Status(ErrorCode::kIoError, fmt::format("{}: {}", what, std::strerror(error)));
}

Status fsync_path(const fs::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return io_error("opening " + path.string(), errno);
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0) return io_error("syncing " + path.string(), error);
  return Status::ok_status();
}

}  // namespace

Result<std::optional<NodeIdentity>> read_identity(const fs::path& data_dir) {
  const fs::path path = data_dir / kFile;
  std::ifstream in(path);
  if (!in) {
    std::error_code ec;
    if (!fs::exists(path, ec)) return std::optional<NodeIdentity>();
    return io_error("reading " + path.string(), errno);
  }
  NodeIdentity identity;
  std::string line;
  int fields = 0;
  while (std::getline(in, line)) {
    const auto space = line.find(' ');
    const std::string name = line.substr(0, space);
    const std::string value = space == std::string::npos ? "" : line.substr(space + 1);
    if (name == "node_id") {
      identity.node_id = value;
      ++fields;
    } else if (name == "cluster_id") {
      identity.cluster_id = value;
      ++fields;
    } else if (name == "origin" && (value == "founded" || value == "joined")) {
      identity.founded = value == "founded";
    } else if (!line.empty()) {
      return Status(ErrorCode::kCorruption,
                    fmt::format("{}: unexpected line '{}'", path.string(), line));
    }
  }
  if (fields != 2 || identity.node_id.empty()) {
    return Status(
        ErrorCode::kCorruption,
        fmt::format("{}: expected the lines 'node_id <id>' and 'cluster_id <id>'", path.string()));
  }
  return std::optional<NodeIdentity>(std::move(identity));
}

Status write_identity(const fs::path& data_dir, const NodeIdentity& identity) {
  const fs::path temp = data_dir / kTemp;
  const std::string content =
      fmt::format("node_id {}\ncluster_id {}\norigin {}\n", identity.node_id, identity.cluster_id,
                  identity.founded ? "founded" : "joined");
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("creating " + temp.string(), errno);
  std::size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return io_error("writing " + temp.string(), error);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    return io_error("syncing " + temp.string(), error);
  }
  ::close(fd);
  if (::rename(temp.c_str(), (data_dir / kFile).c_str()) != 0) {
    return io_error("renaming " + temp.string(), errno);
  }
  return fsync_path(data_dir, O_RDONLY | O_DIRECTORY);
}

Status sync_directory(const fs::path& dir) { return fsync_path(dir, O_RDONLY | O_DIRECTORY); }

std::string new_cluster_id() {
  std::random_device device;
  std::uint64_t value = (std::uint64_t{device()} << 32) | device();
  return fmt::format("{:016x}", value);
}

}  // namespace kv
