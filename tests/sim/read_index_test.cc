// ReadIndex on the simulator, scripted: a leader is cut off from its peers (CheckQuorum off,
// so it keeps believing it leads) while the others elect a new leader that commits a newer
// write; then a client reads on the old leader. A correct old leader never confirms the read
// (the client retries on the new leader and sees the newer write). With the injected
// read_index_without_quorum bug the old leader serves the stale value at once, and the
// linearizability checker rejects the history. Also: reads on followers go through the
// leader and see the latest write.
#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lincheck/linearizability_checker.h"
#include "sim/sim_cluster.h"
#include "sim/sim_test_options.h"

namespace raft::sim {
namespace {

// A register replicated through the log: each command is the value written.
std::optional<std::string> applied_value(const SimCluster& c, int i) {
  std::optional<std::string> value;
  for (const pb::Entry& e : c.node(i).applied_log()) {
    if (e.type() == pb::ENTRY_NORMAL) value = e.data();
  }
  return value;
}

lincheck::KvOp put(std::uint64_t client, const std::string& value, SimTime call, SimTime ret) {
  lincheck::KvOp op;
  op.client = client;
  op.kind = lincheck::OpKind::kPut;
  op.key = "x";
  op.value = value;
  op.call = static_cast<std::uint64_t>(call);
  op.ret = static_cast<std::uint64_t>(ret);
  return op;
}

// Collects the ReadStates every node hands out.
struct ReadLog {
  struct Answer {
    int node = -1;
    ReadState read;
  };
  std::vector<Answer> answers;

  const Answer* find(const std::string& context) const {
    for (const Answer& a : answers) {
      if (a.read.context == context) return &a;
    }
    return nullptr;
  }
};

// Reads the register on node i through ReadIndex: asks, waits for the ReadState and for node i
// to apply its index, then reads locally. Records the get in `history` if it succeeded.
// Returns the ReadState (nullopt: no answer within `timeout`; a refusal of read_index itself
// comes back as a ReadState with its status, after a short pause).
std::optional<ReadState> read(SimCluster& c, ReadLog& log, int i, const std::string& context,
                              SimTime timeout, std::vector<lincheck::KvOp>* history) {
  const SimTime call = c.now();
  Status st = c.read_index(i, context);
  if (!st.ok()) {
    c.run_for(milliseconds(10));
    ReadState refused;
    refused.context = context;
    refused.status = st;
    return refused;
  }
  const bool answered = c.run_until(
      [&] {
        const ReadLog::Answer* a = log.find(context);
        return a != nullptr && (!a->read.status.ok() || c.node(i).applied_index() >= a->read.index);
      },
      timeout);
  if (!answered) return std::nullopt;
  const ReadState rs = log.find(context)->read;
  if (rs.status.ok()) {
    lincheck::KvOp get;
    get.client = 2;
    get.kind = lincheck::OpKind::kGet;
    get.key = "x";
    get.read = applied_value(c, i);
    get.call = static_cast<std::uint64_t>(call);
    get.ret = static_cast<std::uint64_t>(c.now());
    history->push_back(get);
  }
  return rs;
}

struct StaleReadRun {
  std::vector<lincheck::KvOp> history;
  // The old leader's answer to the read while it was cut off (nullopt: none).
  std::optional<ReadState> cut_off_answer;
  // Its answer once back in touch with the others.
  std::optional<ReadState> later_answer;
};

StaleReadRun run_stale_read(std::uint64_t seed, bool bug) {
  SimOptions o = sim_options(5, seed);
  o.check_quorum = false;
  o.bugs.read_index_without_quorum = bug;
  SimCluster c(o);
  ReadLog log;
  c.set_read_observer([&](int node, const ReadState& rs) { log.answers.push_back({node, rs}); });
  StaleReadRun run;

  const int old_leader = c.check_one_leader();
  SimTime call = c.now();
  c.one("a", 5, true);
  run.history.push_back(put(1, "a", call, c.now()));

  // The leader is cut off; the others elect a new one, which commits "b".
  c.disconnect(old_leader);
  REQUIRE(c.run_until([&] { return c.leader().has_value(); }, seconds(5)));
  call = c.now();
  c.one("b", 4, true);
  run.history.push_back(put(1, "b", call, c.now()));
  REQUIRE(c.raw(old_leader)->role() == Role::kLeader);
  c.run_for(milliseconds(1));  // the read starts after "b" was acknowledged

  // A client that reached the old leader reads there.
  run.cut_off_answer = read(c, log, old_leader, "stale", c.election_timeout() * 3, &run.history);
  if (run.cut_off_answer) REQUIRE(log.find("stale") != nullptr);
  c.connect(old_leader);
  if (!run.cut_off_answer) {
    REQUIRE(c.run_until([&] { return log.find("stale") != nullptr; }, seconds(2)));
    run.later_answer = log.find("stale")->read;
  }
  // The client retries on the leader and reads what is there.
  REQUIRE(c.run_until([&] { return c.leader().has_value(); }, seconds(5)));
  const auto retried = read(c, log, *c.leader(), "retry", seconds(2), &run.history);
  REQUIRE(retried.has_value());
  REQUIRE(retried->status.ok());
  return run;
}

}  // namespace

TEST_CASE("ReadIndex scripted: a leader cut off from its peers confirms no read",
          "[sim][readindex]") {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    INFO("seed " << seed);
    const StaleReadRun run = run_stale_read(seed, /*bug=*/false);
    CHECK_FALSE(run.cut_off_answer.has_value());
    // Back in touch, it learns of the newer term and fails the read.
    REQUIRE(run.later_answer.has_value());
    CHECK(run.later_answer->status.code() == ErrorCode::kNotLeader);
    const auto check = lincheck::check_linearizable(run.history);
    INFO(check.explanation);
    CHECK(check.linearizable);
  }
}

TEST_CASE("bug switch: ReadIndex without a quorum round serves a stale read the checker catches",
          "[sim][readindex][bugs]") {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    INFO("seed " << seed);
    const StaleReadRun run = run_stale_read(seed, /*bug=*/true);
    REQUIRE(run.cut_off_answer.has_value());
    CHECK(run.cut_off_answer->status.ok());
    const auto check = lincheck::check_linearizable(run.history);
    CHECK_FALSE(check.linearizable);
  }
}

TEST_CASE("ReadIndex reads on every node see the latest completed write", "[sim][readindex]") {
  SimCluster c(sim_options(5, 3, NetworkOptions::unreliable()));
  ReadLog log;
  c.set_read_observer([&](int node, const ReadState& rs) { log.answers.push_back({node, rs}); });
  std::vector<lincheck::KvOp> history;
  c.check_one_leader();
  for (int round = 0; round < 5; ++round) {
    const std::string value = "v" + std::to_string(round);
    const SimTime call = c.now();
    c.one(value, 5, true);
    history.push_back(put(1, value, call, c.now()));
    for (int i = 0; i < c.size(); ++i) {
      const std::string context = value + "@" + std::to_string(i);
      // A lost forwarded read is the host's to time out: retry with a new context.
      std::optional<ReadState> rs;
      for (int attempt = 0; attempt < 10 && !(rs && rs->status.ok()); ++attempt) {
        rs = read(c, log, i, context + "#" + std::to_string(attempt), milliseconds(300), &history);
      }
      REQUIRE(rs.has_value());
      REQUIRE(rs->status.ok());
      CHECK(applied_value(c, i) == value);
    }
  }
  const auto check = lincheck::check_linearizable(history);
  INFO(check.explanation);
  CHECK(check.linearizable);
}

}  // namespace raft::sim
