"""A node joining after the log was compacted is caught up by a snapshot and then serves
every key written before it joined."""

import kvcluster
from kvcluster import CLUSTER_WAIT, NotYet, config_has, stat_int, write_keys

SNAPSHOT_FLAGS = ["--snapshot-threshold", "200", "--trailing-logs", "50"]
KEYS = 2500


class SnapshotJoin(kvcluster.KvTestCase):
    """Three nodes compacting every 200 entries (keeping 50) take KEYS writes; node4 joins."""

    def test_node_joining_after_compaction_is_caught_up_by_snapshot(self):
        """node4 becomes a voter (in the leader's configuration; Follower with a leader of
        its own), has installed a snapshot (last_snapshot_index > 0), and once its
        applied_index reaches the leader's commit index every key reads back from it with
        consistency=stale."""
        cluster = self.new_cluster()
        node1 = cluster.add_node("node1", extra_args=SNAPSHOT_FLAGS)
        nodes = [node1] + [cluster.add_node(i, join=node1, extra_args=SNAPSHOT_FLAGS)
                           for i in ("node2", "node3")]
        leader = cluster.wait_for_leader(nodes)
        cluster.wait_for_members(leader, [n.id for n in nodes])

        items = {f"key-{i:05d}": {"i": i, "pad": "p" * (i % 50)} for i in range(KEYS)}
        write_keys(nodes, items, threads=8)

        def compacted():
            snap = stat_int(leader.stats(timeout=5), "last_snapshot_index")
            if snap <= 0:
                raise NotYet(f"{leader.id} last_snapshot_index {snap}")
            return True
        self.wait_until(compacted, CLUSTER_WAIT, f"{leader.id} to take a snapshot "
                        f"after {KEYS} writes with --snapshot-threshold 200")

        node4 = cluster.add_node("node4", join=leader, extra_args=SNAPSHOT_FLAGS)
        cluster.wait_for_members(leader, ["node4"])

        def follows():
            stats = node4.stats(timeout=5)
            if stats["state"] != "Follower" or stats["leader"] != leader.id:
                raise NotYet(f"node4: state {stats['state']}, leader {stats['leader']!r}")
            return stats
        self.wait_until(follows, CLUSTER_WAIT, f"node4 to follow {leader.id}")

        commit = stat_int(leader.stats(), "commit_index")
        cluster.wait_caught_up(node4, commit)
        stats = node4.stats()
        self.assertGreater(stat_int(stats, "last_snapshot_index"), 0,
                           f"node4 was caught up by a snapshot: {stats}")
        self.assertTrue(config_has(stats, "node4"),
                        f"node4 sees itself in the configuration: {stats}")

        self.assertReadsBack(node4, items, "stale", "keys written before node4 joined")


if __name__ == "__main__":
    kvcluster.main()
