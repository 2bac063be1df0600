// Fast log back-up (after the 6.824 test TestBackup2B, made multi-term): a rejected
// AppendEntries carries the follower's conflict hint (reject_hint, log_term), which lets the
// leader skip a whole term of divergent entries per round trip instead of one entry.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <string>

#include "sim/sim_cluster.h"
#include "sim/sim_test_options.h"

namespace raft::sim {
namespace {

bool is_leader_in_term_above(SimCluster& c, int i, Term term) {
  RawNode* raw = c.raw(i);
  return raw != nullptr && raw->role() == Role::kLeader && raw->term() > term;
}

TEST_CASE("the leader backs up over a long multi-term divergent log in few round trips",
          "[sim][agreement][backup]") {
  SimCluster c(sim_options(5, 2101));
  c.one("base", 5, false);
  const int first_leader = c.check_one_leader();
  const int a = first_leader;
  const int b = (first_leader + 1) % 5;
  const int x = (first_leader + 2) % 5;
  const int y = (first_leader + 3) % 5;
  const int z = (first_leader + 4) % 5;
  const Index base = c.storage(a).last_index();
  constexpr int kPerTerm = 20;
  constexpr int kDivergentTerms = 3;

  // Build a divergent, never-committed suffix on a and b in kDivergentTerms terms: each round,
  // a leader among {a, b} appends kPerTerm entries that only the two of them store. Rounds
  // after the first need x's vote to elect a new leader among {a, b}; x is cut off again the
  // moment the election is won, before any entry reaches it.
  for (int i : {x, y, z}) c.disconnect(i);
  int leader = a;
  int follower = b;
  Term term = c.raw(a)->term();
  for (int round = 0; round < kDivergentTerms; ++round) {
    if (round > 0) {
      // CheckQuorum: the leader of {a, b} steps down before x may take part again.
      REQUIRE(c.run_until(
          [&] { return c.raw(a)->role() != Role::kLeader && c.raw(b)->role() != Role::kLeader; },
          seconds(2)));
      c.connect(x);
      REQUIRE(c.run_until(
          [&] {
            return is_leader_in_term_above(c, a, term) || is_leader_in_term_above(c, b, term);
          },
          seconds(5)));
      c.disconnect(x);
      leader = c.raw(a)->role() == Role::kLeader ? a : b;
      follower = leader == a ? b : a;
      term = c.raw(leader)->term();
    }
    for (int k = 0; k < kPerTerm; ++k) {
      REQUIRE(c.propose(leader, fmt::format("divergent-{}-{}", round, k)).ok());
    }
    REQUIRE(c.run_until(
        [&] { return c.storage(follower).last_index() == c.storage(leader).last_index(); },
        seconds(1)));
  }
  const Index divergent_end = c.storage(a).last_index();
  REQUIRE(divergent_end >= base + kDivergentTerms * kPerTerm);
  CHECK(c.storage(x).last_index() == base);

  // Meanwhile x, y and z (a majority) commit their own entries in several terms: after each
  // batch the leader crashes and restarts, so the next batch comes from a new term.
  c.disconnect(a);
  c.disconnect(b);
  for (int i : {x, y, z}) c.connect(i);
  Term majority_term = 0;
  for (int round = 0; round < kDivergentTerms; ++round) {
    const int m = c.check_one_leader();
    REQUIRE(c.raw(m)->term() > majority_term);
    majority_term = c.raw(m)->term();
    for (int k = 0; k < kPerTerm; ++k) c.one(fmt::format("majority-{}-{}", round, k), 3, true);
    if (round + 1 < kDivergentTerms) c.restart(m);
  }

  // a and b come back: the leader must overwrite 60+ divergent entries on each of them.
  c.reset_stats();
  c.connect(a);
  c.connect(b);
  const Index last = c.one("final", 5, true);
  CHECK(c.node(a).command_at(last) == std::optional<std::string>("final"));
  CHECK(c.node(b).command_at(last) == std::optional<std::string>("final"));
  const auto divergent_entries = divergent_end - base;
  INFO("divergent entries per follower: " << divergent_entries);
  INFO("rejections from a: " << c.stats().append_rejections[static_cast<std::size_t>(a)]);
  INFO("rejections from b: " << c.stats().append_rejections[static_cast<std::size_t>(b)]);
  // At most one rejected round trip per divergent term on either side (3 + 3), plus one
  // duplicate probe for a heartbeat racing the first rejection. Backing up one entry per
  // round trip would need 60+.
  constexpr std::uint64_t kBound = 2 * kDivergentTerms + 1;
  CHECK(c.stats().append_rejections[static_cast<std::size_t>(a)] <= kBound);
  CHECK(c.stats().append_rejections[static_cast<std::size_t>(b)] <= kBound);
}

}  // namespace
}  // namespace raft::sim
