"""The seed README's flow (../shared/seed/raft-example-README.md) against kvserver.

Three nodes are started with only the seed's environment variables (SERVER_PORT,
RAFT_NODE_ID, RAFT_PORT, RAFT_VOL_DIR), each becomes leader of itself, then node2 and node3
are joined to node1 with POST /raft/join. The README's own join commands use the wrong ids
("node_2" for a node started as "node2"); kvserver refuses them with 409.
"""

import urllib.parse

import kvcluster
from kvcluster import CLUSTER_WAIT, NotYet


class SeedFlow(kvcluster.KvTestCase):
    """Each test starts three fresh nodes from environment variables, as the seed does."""

    def start_three_from_env(self):
        cluster = self.new_cluster()
        self.nodes = [cluster.add_node(f"node{i}", use_env=True) for i in (1, 2, 3)]
        return self.nodes

    def wait_self_leader(self, node):
        """Waits until `node` is leader of its own one-node cluster."""
        def is_leader():
            stats = node.stats(timeout=5)
            if stats["state"] != "Leader" or stats["leader"] != node.id:
                raise NotYet(f"{node.id}: state {stats['state']}, leader {stats['leader']!r}")
            return stats
        return self.wait_until(is_leader, CLUSTER_WAIT, f"{node.id} to lead itself")

    def form_cluster(self):
        """Runs the corrected seed flow: wait for three self-leaders, join node2 and node3 to
        node1, wait until node1 leads all three. Returns the three nodes."""
        node1, node2, node3 = self.start_three_from_env()
        for node in (node1, node2, node3):
            self.wait_self_leader(node)
        for node in (node2, node3):
            r = node1.join_request(node.id, node.raft_address)
            self.assertStatus(r, 200, f"join {node.id} to node1")
        self.wait_for_cluster_of_three()
        return node1, node2, node3

    def wait_for_cluster_of_three(self):
        node1 = self.nodes[0]
        leader = self.cluster.wait_for_leader(self.nodes)
        self.assertEqual(leader.id, "node1", "node1, to which the others joined, leads")
        self.cluster.wait_for_members(node1, ["node1", "node2", "node3"])
        return leader

    def test_each_node_started_from_env_vars_leads_itself(self):
        """Every node started from the seed's env vars alone reports state Leader, leader =
        itself, on its own HTTP port."""
        for node in self.start_three_from_env():
            stats = self.wait_self_leader(node)
            self.assertEqual(stats["id"], node.id)
            self.assertEqual(kvcluster.config_members(stats), {node.id: "Voter"},
                             f"{node.id} is the only voter of its configuration")

    def test_join_with_the_readme_wrong_id_is_refused_naming_both_ids(self):
        """Joining node2 (started as "node2") as "node_2" answers 409 with an error naming
        both ids; once answered, node1's configuration is as before."""
        node1, node2, _ = self.start_three_from_env()
        for node in (node1, node2):
            self.wait_self_leader(node)
        r = node1.join_request("node_2", node2.raft_address)
        self.assertStatus(r, 409, "join of node2's address as node_2")
        self.assertErrorBody(r)
        self.assertIn("node2", r.error, f"the error names the real id: {r}")
        self.assertIn("node_2", r.error, f"the error names the requested id: {r}")
        self.assertEqual(kvcluster.config_members(node1.stats()), {"node1": "Voter"},
                         "once the 409 is answered, node1's configuration holds no trace of "
                         "the refused join")

    def test_join_with_the_right_id_after_a_refused_one_forms_the_cluster(self):
        """After the README's wrong-id joins are refused (409), the corrected joins answer
        200 and node1 leads node1..node3, with no trace of node_2 or node_3."""
        node1, node2, node3 = self.start_three_from_env()
        for node in (node1, node2, node3):
            self.wait_self_leader(node)
        for node, wrong in ((node2, "node_2"), (node3, "node_3")):
            self.assertStatus(node1.join_request(wrong, node.raft_address), 409,
                              f"join of {node.id} as {wrong}")
        for node in (node2, node3):
            self.assertStatus(node1.join_request(node.id, node.raft_address), 200,
                              f"join of {node.id} with its own id after the refused one")
        self.wait_for_cluster_of_three()

        def exactly_three():
            members = kvcluster.config_members(node1.stats(timeout=5))
            if set(members) != {"node1", "node2", "node3"}:
                raise NotYet(f"configuration {members}")
            return True
        self.wait_until(exactly_three, CLUSTER_WAIT, "node1's configuration to be node1..3")

    def test_join_answers_200_with_the_stats_map(self):
        """A successful join answers 200 with data = node1's stats map."""
        node1, node2, _ = self.start_three_from_env()
        for node in (node1, node2):
            self.wait_self_leader(node)
        r = node1.join_request("node2", node2.raft_address)
        self.assertStatus(r, 200, "join node2")
        self.assertIsInstance(r.data, dict, f"join's data is the stats map: {r}")
        self.assertEqual(r.data.get("id"), "node1", f"the stats are node1's: {r}")
        self.assertIn("state", r.data, f"the stats map has a state: {r}")

    def test_joined_nodes_follow_node1(self):
        """After both joins: exactly one Leader (node1), two Followers, and every node names
        node1 as leader and counts two peers."""
        self.form_cluster()
        states = {}
        for node in self.nodes:
            def follows(node=node):
                stats = node.stats(timeout=5)
                if stats["num_peers"] != "2":
                    raise NotYet(f"{node.id}: num_peers {stats['num_peers']!r}")
                return stats
            stats = self.wait_until(follows, CLUSTER_WAIT, f"{node.id} to count two peers")
            states[node.id] = stats["state"]
            self.assertEqual(stats["leader"], "node1", f"{node.id}'s leader: {stats}")
        self.assertEqual(states, {"node1": "Leader", "node2": "Follower", "node3": "Follower"})

    def test_value_written_on_leader_reads_back_from_every_node(self):
        """POST /store to node1 answers 200 with the pair; GET from every node returns the
        exact JSON stored: a string, an object and numbers."""
        node1, _, _ = self.form_cluster()
        values = {
            "hello": "world",
            "object": {"nested": [1, 2.5, None, True, {"s": "caf\u00e9 \u2603"}], "n": -7},
            "number": 42,
            "float": 3.25,
        }
        for key, value in values.items():
            r = node1.put(key, value, follow_redirects=False)
            self.assertStatus(r, 200, f"POST /store {key}")
            self.assertEqual(r.data, {"key": key, "value": value}, f"POST answer: {r}")
        for node in self.nodes:
            for key, value in values.items():
                r = node.get(key)
                self.assertStatus(r, 200, f"GET {key} from {node.id}")
                self.assertEqual(r.data, {"key": key, "value": value},
                                 f"GET {key} from {node.id}: {r}")

    def test_write_to_follower_is_redirected_to_the_leader(self):
        """POST /store to a follower (redirects not followed) answers 307 with Location at
        node1's HTTP address, same path, and a body naming the leader."""
        node1, node2, node3 = self.form_cluster()
        for follower in (node2, node3):
            r = follower.put("redirected", "x", follow_redirects=False)
            self.assertStatus(r, 307, f"POST /store to follower {follower.id}")
            location = urllib.parse.urlsplit(r.headers.get("location", ""))
            self.assertEqual((location.hostname, location.port, location.path),
                             ("127.0.0.1", node1.http_port, "/store"),
                             f"Location of {r} (headers {r.headers})")
            self.assertErrorBody(r)
            self.assertIsInstance(r.json.get("leader"), dict,
                                  f"the 307 body describes the leader: {r}")
        self.assertStatus(node1.get("redirected"), 404,
                          "a redirected write that was not re-sent did not happen")

    def test_delete_through_follower_removes_the_key_everywhere(self):
        """DELETE /store/<key> sent to a follower, following the redirect, answers 200 and
        the key then reads 404 from every node."""
        node1, node2, _ = self.form_cluster()
        self.assertStatus(node1.put("hello", "world"), 200, "POST /store hello")
        r = node2.delete("hello", follow_redirects=True)
        self.assertStatus(r, 200, "DELETE via node2 following redirects")
        self.assertTrue(r.history and r.history[0].status == 307,
                        f"node2 redirected the delete: {r.history}")
        for node in self.nodes:
            r = node.get("hello")
            self.assertStatus(r, 404, f"GET hello from {node.id} after the delete")
            self.assertErrorBody(r)


if __name__ == "__main__":
    kvcluster.main()
