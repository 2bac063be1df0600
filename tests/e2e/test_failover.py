"""Leader crash (SIGKILL) while clients write: a new leader takes over, no acknowledged write
is lost, and the crashed node comes back, catches up and serves everything."""

import sys

import kvcluster
from kvcluster import CLUSTER_WAIT, BackgroundWriters, NotYet, stat_int

WRITES_BEFORE_KILL = 100
WRITES_AFTER_ELECTION = 100


class LeaderKill(kvcluster.KvTestCase):
    """node1 bootstraps, node2 and node3 join it with --join; writers run throughout."""

    def start_cluster(self):
        cluster = self.new_cluster()
        node1 = cluster.add_node("node1")
        node2 = cluster.add_node("node2", join=node1)
        node3 = cluster.add_node("node3", join=node1)
        self.nodes = [node1, node2, node3]
        leader = cluster.wait_for_leader(self.nodes)
        cluster.wait_for_members(leader, ["node1", "node2", "node3"])
        return leader

    def wait_for_acks(self, writers, count, what):
        def enough():
            n = writers.acked_count()
            if n < count:
                raise NotYet(f"{n} writes acknowledged ({writers.retries} retries)")
            return True
        self.wait_until(enough, CLUSTER_WAIT, what)

    def kill_leader_under_writes(self):
        """Runs writers, SIGKILLs the leader once WRITES_BEFORE_KILL writes are acknowledged,
        waits for a new leader among the survivors and WRITES_AFTER_ELECTION more acks, then
        stops the writers. Returns (old leader, new leader, survivors, acknowledged writes)."""
        old_leader = self.start_cluster()
        old_term = stat_int(old_leader.stats(), "term")
        writers = BackgroundWriters(self.nodes, threads=4).start()
        try:
            self.wait_for_acks(writers, WRITES_BEFORE_KILL, "writes before the kill")
            old_leader.kill()
            survivors = [n for n in self.nodes if n is not old_leader]
            new_leader = self.cluster.wait_for_leader(survivors)
            self.assertGreater(stat_int(new_leader.stats(), "term"), old_term,
                               "the new leader was elected in a later term")
            acked_at_election = writers.acked_count()
            self.wait_for_acks(writers, acked_at_election + WRITES_AFTER_ELECTION,
                               "writes to continue under the new leader")
        finally:
            writers.stop()
        print(f"\n  writers: {writers.acked_count()} writes acknowledged, {writers.retries} "
              f"retried; {old_leader.id} killed, {new_leader.id} took over", file=sys.stderr)
        self.assertEqual(writers.unexpected, [], "writers saw only 200, 307, 503 or 504")
        return old_leader, new_leader, survivors, writers.snapshot()

    def test_acknowledged_writes_survive_a_leader_kill(self):
        """Every write acknowledged before, during and after the leader's SIGKILL reads back
        (linearizable) from both surviving nodes."""
        _, _, survivors, acked = self.kill_leader_under_writes()
        for node in survivors:
            self.assertReadsBack(node, acked, "linearizable", "acknowledged writes")

    def test_killed_leader_restarts_catches_up_and_serves_every_write(self):
        """The killed leader, restarted with the same flags, follows the new leader, applies
        up to its commit index and serves every acknowledged write (stale and linearizable)."""
        old_leader, new_leader, _, acked = self.kill_leader_under_writes()
        commit = stat_int(new_leader.stats(), "commit_index")
        old_leader.restart()
        self.cluster.wait_ready(old_leader)
        self.cluster.wait_caught_up(old_leader, commit)
        self.cluster.wait_for_leader(self.nodes)
        for consistency in ("stale", "linearizable"):
            self.assertReadsBack(old_leader, acked, consistency, "the restarted old leader")


if __name__ == "__main__":
    kvcluster.main()
