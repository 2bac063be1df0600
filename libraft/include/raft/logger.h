// Logger: where libraft writes its diagnostic lines. The host owns the logger and must keep it
// alive as long as any node using it; calls come from whichever thread drives that node.
#pragma once

#include <string_view>

namespace raft {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

std::string_view to_string(LogLevel level);

class Logger {
 public:
  virtual ~Logger() = default;
  // One complete line, without a trailing newline. The core already prefixes node id and term.
  virtual void log(LogLevel level, std::string_view line) = 0;
  // Lines below this level are not even formatted.
  virtual LogLevel min_level() const { return LogLevel::kInfo; }
};

// Discards everything; the default when no logger is configured.
Logger& null_logger();

}  // namespace raft
