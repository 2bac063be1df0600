"""Whole-cluster restarts: after every node is SIGKILLed, or shut down with SIGTERM, and
restarted with the same flags, every acknowledged write is still there."""

import kvcluster
from kvcluster import EXIT_WAIT, write_keys

KEYS = 300


class RestartAll(kvcluster.KvTestCase):
    """node1 bootstraps, node2 and node3 join it; KEYS writes are acknowledged first."""

    def start_cluster_with_data(self):
        cluster = self.new_cluster()
        node1 = cluster.add_node("node1")
        self.nodes = [node1, cluster.add_node("node2", join=node1),
                      cluster.add_node("node3", join=node1)]
        leader = cluster.wait_for_leader(self.nodes)
        cluster.wait_for_members(leader, [n.id for n in self.nodes])
        items = {f"key-{i}": [i, f"value-{i}"] for i in range(KEYS)}
        return write_keys(self.nodes, items, threads=8)

    def restart_and_check(self, acked, what):
        """Restarts every node, waits for a leader and reads every acknowledged write
        (linearizable) spread over the three nodes."""
        for node in self.nodes:
            node.restart()
        for node in self.nodes:
            self.cluster.wait_ready(node)
        self.cluster.wait_for_leader(self.nodes)
        keys = sorted(acked)
        for i, node in enumerate(self.nodes):
            part = {k: acked[k] for k in keys[i::len(self.nodes)]}
            self.assertReadsBack(node, part, "linearizable", f"after {what}")
        kvcluster.put_until_acknowledged(self.nodes, "after-restart", what)
        for node in self.nodes:
            r = node.get("after-restart", "linearizable")
            self.assertEqual(r.data["value"] if r.status == 200 else r, what,
                             f"a write after the restart reads back from {node.id}")

    def test_acknowledged_writes_survive_sigkill_of_every_node(self):
        """SIGKILL all three nodes, restart them: every acknowledged write reads back."""
        acked = self.start_cluster_with_data()
        for node in self.nodes:
            node.kill()
        self.restart_and_check(acked, "SIGKILL of every node")

    def test_sigterm_exits_zero_and_data_survives_restart(self):
        """SIGTERM each node in turn (the leader first): each exits with code 0 within the
        deadline, the last one too though it has no quorum left; after a restart every
        acknowledged write reads back."""
        acked = self.start_cluster_with_data()
        leader = self.cluster.wait_for_leader(self.nodes)
        order = [leader] + [n for n in self.nodes if n is not leader]
        for node in order:
            code = node.stop(timeout=EXIT_WAIT)
            self.assertEqual(code, 0, f"{node.id} exit code after SIGTERM\n"
                                      + self.cluster.diagnostics())
        self.restart_and_check(acked, "SIGTERM of every node")


if __name__ == "__main__":
    kvcluster.main()
