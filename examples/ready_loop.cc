// ready_loop: drive three libraft consensus cores yourself, in one process.
//
// Each node is a raft::RawNode over its own raft::MemoryStorage (its "disk"); the "network" is
// one in-memory queue of messages. The program ticks the nodes until one is elected leader,
// proposes a few commands to it, keeps the Ready loop going until every node has applied them,
// prints what each node applied and exits 0 (1 if the cluster does not converge in time).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "raft/memory_storage.h"
#include "raft/raw_node.h"

namespace {

constexpr int kMaxTicks = 1000;
const std::vector<std::string> kCommands = {"set x=1", "set y=2", "set x=3"};

struct Node {
  raft::MemoryStorage storage;          // what this node made durable
  std::unique_ptr<raft::RawNode> raft;  // the consensus core
  std::vector<std::string> applied;     // this node's state machine: the commands it applied
};

// Acts on every pending Ready of `node`, in exactly the order raft/ready.h prescribes.
void handle_ready(Node& node, std::deque<raft::pb::Message>& network) {
  while (node.raft->has_ready()) {
    raft::Ready rd = node.raft->ready();
    // 1. These depend only on state that is already durable: send them at once.
    for (raft::pb::Message& m : rd.messages) network.push_back(std::move(m));
    // 2. Make the new entries and hard state durable (a real host fsyncs here when
    //    rd.must_sync; MemoryStorage counts as durable as soon as it is written).
    if (!rd.entries.empty() && !node.storage.append(rd.entries).ok()) std::abort();
    if (rd.hard_state) node.storage.set_hard_state(*rd.hard_state);
    // 3. Votes and append acknowledgements promise that something is on disk: send them now.
    for (raft::pb::Message& m : rd.persisted_messages) network.push_back(std::move(m));
    // 4. Apply committed entries, in order, exactly once (a new leader's no-op is skipped).
    for (const raft::pb::Entry& e : rd.committed_entries) {
      if (e.type() == raft::pb::ENTRY_NORMAL) node.applied.push_back(e.data());
    }
    // 5. Done: the next Ready will not repeat anything of this one.
    node.raft->advance();
  }
}

}  // namespace

int main() {
  const std::vector<std::string> ids = {"n1", "n2", "n3"};
  raft::pb::Configuration configuration;
  for (const std::string& id : ids) {
    raft::pb::Server* server = configuration.add_servers();
    server->set_id(id);
    server->set_suffrage(raft::pb::VOTER);
  }

  std::map<std::string, Node> nodes;
  std::uint64_t seed = 1;
  for (const std::string& id : ids) {
    Node& node = nodes[id];
    node.storage.set_configuration(configuration);  // a fresh cluster: bootstrap configuration
    raft::Config config;
    config.id = id;
    config.random_seed = seed++;  // different seeds: different election timeouts
    auto created = raft::RawNode::create(config, &node.storage);
    if (!created.ok()) {
      std::fprintf(stderr, "%s: %s\n", id.c_str(), created.status().to_string().c_str());
      return 1;
    }
    node.raft = std::move(created).value();
  }

  std::deque<raft::pb::Message> network;
  bool proposed = false;
  for (int tick = 1; tick <= kMaxTicks; ++tick) {
    // Time passes for everyone; then deliver messages until the network is quiet.
    for (auto& [id, node] : nodes) node.raft->tick();
    for (auto& [id, node] : nodes) handle_ready(node, network);
    while (!network.empty()) {
      raft::pb::Message m = std::move(network.front());
      network.pop_front();
      Node& to = nodes.at(m.to());
      // An error only says the message was dropped (e.g. from an old term); carry on.
      static_cast<void>(to.raft->step(m));
      handle_ready(to, network);
    }

    for (auto& [id, node] : nodes) {
      if (proposed || node.raft->role() != raft::Role::kLeader) continue;
      std::printf("tick %d: %s is leader of term %llu\n", tick, id.c_str(),
                  static_cast<unsigned long long>(node.raft->term()));
      for (const std::string& command : kCommands) {
        auto index = node.raft->propose(command);
        if (!index.ok()) {
          std::fprintf(stderr, "propose: %s\n", index.status().to_string().c_str());
          return 1;
        }
        std::printf("  proposed \"%s\" at index %llu\n", command.c_str(),
                    static_cast<unsigned long long>(*index));
      }
      proposed = true;
      handle_ready(node, network);
    }

    bool all_applied = proposed;
    for (auto& [id, node] : nodes) all_applied = all_applied && node.applied == kCommands;
    if (all_applied) {
      for (auto& [id, node] : nodes) {
        std::printf("%s applied:", id.c_str());
        for (const std::string& command : node.applied) std::printf(" \"%s\"", command.c_str());
        std::printf("\n");
      }
      return 0;
    }
  }
  std::fprintf(stderr, "the cluster did not converge within %d ticks\n", kMaxTicks);
  return 1;
}
