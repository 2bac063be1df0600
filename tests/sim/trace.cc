#include "sim/trace.h"

#include <fmt/format.h>

#include <utility>

namespace raft::sim {
namespace {

constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;

std::string node_name(int node) { return node < 0 ? "-" : fmt::format("n{}", node + 1); }

}  // namespace

std::string_view to_string(TraceKind kind) {
  switch (kind) {
    case TraceKind::kTick:
      return "tick";
    case TraceKind::kDeliver:
      return "deliver";
    case TraceKind::kDrop:
      return "drop";
    case TraceKind::kCrash:
      return "crash";
    case TraceKind::kRestart:
      return "restart";
    case TraceKind::kPropose:
      return "propose";
    case TraceKind::kTransfer:
      return "transfer";
    case TraceKind::kCampaign:
      return "campaign";
    case TraceKind::kNetwork:
      return "network";
    case TraceKind::kPersist:
      return "persist";
    case TraceKind::kPause:
      return "pause";
    case TraceKind::kResume:
      return "resume";
    case TraceKind::kBuffer:
      return "buffer";
    case TraceKind::kClock:
      return "clock";
    case TraceKind::kTornWrite:
      return "torn";
    case TraceKind::kConfChange:
      return "confchange";
    case TraceKind::kSnapshot:
      return "snapshot";
    case TraceKind::kRestore:
      return "restore";
    case TraceKind::kReadIndex:
      return "readindex";
    case TraceKind::kReadState:
      return "readstate";
  }
  return "?";
}

Trace::Trace(bool keep_lines) : keep_lines_(keep_lines), hash_(kFnvOffset) {}

void Trace::mix(std::uint64_t value) {
  for (int i = 0; i < 8; ++i) {
    hash_ ^= (value >> (8 * i)) & 0xff;
    hash_ *= kFnvPrime;
  }
}

void Trace::mix(std::string_view bytes) {
  mix(static_cast<std::uint64_t>(bytes.size()));
  for (char c : bytes) {
    hash_ ^= static_cast<unsigned char>(c);
    hash_ *= kFnvPrime;
  }
}

void Trace::record(TraceRecord record) {
  ++events_;
  mix(static_cast<std::uint64_t>(record.time));
  mix(static_cast<std::uint64_t>(record.kind));
  mix(static_cast<std::uint64_t>(record.node + 1));
  mix(static_cast<std::uint64_t>(record.peer + 1));
  mix(static_cast<std::uint64_t>(record.type));
  mix(record.term);
  mix(record.index);
  mix(record.log_term);
  mix(record.commit);
  mix(record.n_entries);
  mix(record.reject ? 1 : 0);
  mix(record.value);
  mix(record.note);
  if (keep_lines_) lines_.push_back(format(record));
  if (recent_.size() == kRecentEvents) recent_.pop_front();
  recent_.push_back(std::move(record));
}

void Trace::record_message(SimTime time, TraceKind kind, int to, int from,
                           const pb::Message& message, std::string note) {
  TraceRecord r;
  r.time = time;
  r.kind = kind;
  r.node = to;
  r.peer = from;
  r.type = message.type();
  r.term = message.term();
  r.index = message.index();
  r.log_term = message.log_term();
  r.commit = message.commit();
  r.n_entries = static_cast<std::uint64_t>(message.entries_size());
  r.reject = message.reject();
  r.value = message.reject_hint();
  r.note = std::move(note);
  record(std::move(r));
}

std::string Trace::recent() const {
  std::string out;
  for (const auto& r : recent_) {
    out += "    ";
    out += format(r);
    out += '\n';
  }
  return out;
}

std::string Trace::format(const TraceRecord& r) {
  const double ms = static_cast<double>(r.time) / static_cast<double>(kMillisecond);
  switch (r.kind) {
    case TraceKind::kDeliver:
    case TraceKind::kDrop:
    case TraceKind::kBuffer:
      return fmt::format(
          "{:10.3f}ms {:<8} {} {}->{} term={} index={} log_term={} commit={} n={}{}{}", ms,
          to_string(r.kind), pb::MessageType_Name(r.type), node_name(r.peer), node_name(r.node),
          r.term, r.index, r.log_term, r.commit, r.n_entries,
          r.reject ? fmt::format(" reject hint={}", r.value) : std::string(),
          r.note.empty() ? std::string() : " (" + r.note + ")");
    default:
      return fmt::format("{:10.3f}ms {:<8} {} term={} index={} n={} value={}{}", ms,
                         to_string(r.kind), node_name(r.node), r.term, r.index, r.n_entries,
                         r.value, r.note.empty() ? std::string() : " (" + r.note + ")");
  }
}

}  // namespace raft::sim
