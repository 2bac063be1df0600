"""Without a quorum, writes fail with the contract's errors instead of hanging or lying:
503 with "leader": null when no leader is known, 504 when the outcome is unknown."""

import kvcluster
from kvcluster import CLUSTER_WAIT, NotYet


class QuorumLoss(kvcluster.KvTestCase):

    def start_three(self, extra_args=()):
        cluster = self.new_cluster()
        node1 = cluster.add_node("node1", extra_args=extra_args)
        nodes = [node1] + [cluster.add_node(i, join=node1, extra_args=extra_args)
                           for i in ("node2", "node3")]
        leader = cluster.wait_for_leader(nodes)
        cluster.wait_for_members(leader, [n.id for n in nodes])
        return leader, [n for n in nodes if n is not leader]

    def test_write_on_a_node_without_leader_answers_503_with_null_leader(self):
        """With the leader and one follower killed, the last follower soon knows no leader:
        a write to it answers 503 {"error": ..., "leader": null}, and nothing is stored."""
        leader, (last, other) = self.start_three()
        leader.kill()
        other.kill()

        def no_leader():
            r = last.put("orphan", 1, follow_redirects=False, timeout=10)
            if r.status != 503:
                raise NotYet(f"{last.id} answered {r}")
            return r
        r = self.wait_until(no_leader, CLUSTER_WAIT, f"a write on {last.id} to answer 503")
        self.assertErrorBody(r)
        self.assertIn("leader", r.json, f"the 503 body has a leader member: {r}")
        self.assertIsNone(r.json["leader"], f"the 503 body's leader is null: {r}")
        r = last.get("orphan", "stale")
        self.assertStatus(r, 404, "the refused write was not applied")

    def test_write_that_cannot_commit_answers_504(self):
        """A leader that lost both followers but does not yet know it (election timeout 10 s,
        request timeout 500 ms) answers a write with 504 (outcome unknown), not 200."""
        flags = ["--election-timeout-ms", "10000", "--request-timeout-ms", "500"]
        leader, followers = self.start_three(flags)
        for f in followers:
            f.kill()
        r = leader.put("uncommitted", 1, follow_redirects=False)
        self.assertStatus(r, 504, f"a write that cannot reach a quorum, while {leader.id} "
                                  "still leads (its election timeout is 10 s)")
        self.assertErrorBody(r)


if __name__ == "__main__":
    kvcluster.main()
