#include "sim/kv_state_machine.h"

namespace raft::sim {

KvResult KvStateMachine::apply(const KvCommand& c) {
  Session& session = sessions_[c.client];
  // Each client has one command outstanding at a time, with increasing sequence numbers: an
  // older or equal sequence number is a retry (or an abandoned command) and is not applied.
  if (c.seq <= session.seq) return session.result;
  KvResult result;
  auto it = data_.find(c.key);
  switch (c.kind) {
    case lincheck::OpKind::kPut:
      data_[c.key] = c.value;
      break;
    case lincheck::OpKind::kDelete:
      if (it != data_.end()) data_.erase(it);
      break;
    case lincheck::OpKind::kGet:
      if (it != data_.end()) result.read = it->second;
      break;
    case lincheck::OpKind::kCas: {
      std::optional<std::string> current;
      if (it != data_.end()) current = it->second;
      if (current == c.expected) {
        data_[c.key] = c.value;
        result.cas_ok = true;
      }
      break;
    }
  }
  session.seq = c.seq;
  session.result = result;
  return result;
}

std::optional<std::string> KvStateMachine::local_get(const std::string& key) const {
  auto it = data_.find(key);
  if (it == data_.end()) return std::nullopt;
  return it->second;
}

}  // namespace raft::sim
