#include "raft/logger.h"

namespace raft {

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarn:
      return "WARN";
    case LogLevel::kError:
      return "ERROR";
  }
  return "?";
}

namespace {

class NullLogger final : public Logger {
 public:
  void log(LogLevel, std::string_view) override {}
  LogLevel min_level() const override { return LogLevel::kError; }
};

}  // namespace

Logger& null_logger() {
  static NullLogger logger;
  return logger;
}

}  // namespace raft
