#include "kvserver/stderr_logger.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>

namespace kv {

void StderrLogger::log(raft::LogLevel level, std::string_view line) {
  if (level < min_level_) return;
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::string text = fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z {:5} {}\n", fmt::gmtime(seconds),
                                 ms.count() % 1000, raft::to_string(level), line);
  // One write(2) per line, so that lines of concurrent threads do not interleave.
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(STDERR_FILENO, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

raft::LogLevel parse_log_level(std::string_view name) {
  if (name == "debug") return raft::LogLevel::kDebug;
  if (name == "warn") return raft::LogLevel::kWarn;
  if (name == "error") return raft::LogLevel::kError;
  return raft::LogLevel::kInfo;
}

}  // namespace kv
