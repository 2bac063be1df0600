// durable_counter: a one-node replicated counter on disk, built against the installed
// libraftcpp package. Each run bootstraps the node if its data directory is new, elects
// itself, commits one increment, and prints the count (which survives restarts because the
// log is durable and replayed at start).
//
//   durable_counter <data-dir>   -> "count = N"
#include <raft/configuration.h>
#include <raft/durable_storage.h>
#include <raft/file_system.h>
#include <raft/raw_node.h>

#include <cstdio>
#include <string>

namespace {

int fail(const std::string& what, const raft::Status& status) {
  std::fprintf(stderr, "durable_counter: %s: %s\n", what.c_str(), status.to_string().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: durable_counter <data-dir>\n");
    return 2;
  }
  auto storage = raft::DurableStorage::open(raft::posix_file_system(), argv[1]);
  if (!storage.ok()) return fail("open", storage.status());
  if (!(*storage)->has_state()) {
    raft::pb::Configuration configuration;
    raft::pb::Server* self = configuration.add_servers();
    self->set_id("n1");
    self->set_address("127.0.0.1:7001");
    if (auto s = (*storage)->bootstrap(configuration); !s.ok()) return fail("bootstrap", s);
  }
  raft::Config config;
  config.id = "n1";
  auto node = raft::RawNode::create(config, storage->get());
  if (!node.ok()) return fail("create", node.status());

  long count = 0;
  bool proposed = false;
  if (auto s = (*node)->campaign(); !s.ok()) return fail("campaign", s);
  for (int round = 0; round < 100; ++round) {
    if ((*node)->role() == raft::Role::kLeader && !proposed) {
      auto index = (*node)->propose("+1");
      if (!index.ok()) return fail("propose", index.status());
      proposed = true;
    }
    if (!(*node)->has_ready()) {
      if (proposed) break;
      continue;
    }
    raft::Ready rd = (*node)->ready();
    if (auto s = (*storage)->persist(rd); !s.ok()) return fail("persist", s);
    for (const auto& e : rd.committed_entries) {
      if (e.type() == raft::pb::ENTRY_NORMAL && e.data() == "+1") ++count;
    }
    (*node)->advance();
  }
  std::printf("count = %ld\n", count);
  return proposed ? 0 : 1;
}
