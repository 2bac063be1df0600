// StderrLogger: kvserver's raft::Logger. One line per call on stderr, prefixed with the UTC
// time and the level; lines below the configured level are dropped. Thread-safe (one write
// per line).
#pragma once

#include <string_view>

#include "raft/logger.h"

namespace kv {

class StderrLogger final : public raft::Logger {
 public:
  explicit StderrLogger(raft::LogLevel min_level) : min_level_(min_level) {}
  void log(raft::LogLevel level, std::string_view line) override;
  raft::LogLevel min_level() const override { return min_level_; }

 private:
  const raft::LogLevel min_level_;
};

// "debug" | "info" | "warn" | "error" (Config validates the name).
raft::LogLevel parse_log_level(std::string_view name);

}  // namespace kv
