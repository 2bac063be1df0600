"""GET /store/<key>?consistency=linearizable|leader|stale on the leader and on followers."""

import urllib.parse

import kvcluster
from kvcluster import CLUSTER_WAIT, NotYet


class ReadConsistency(kvcluster.KvTestCase):
    """node1 bootstraps, node2 and node3 join it; each test writes through the leader."""

    def setUp(self):
        cluster = self.new_cluster()
        node1 = cluster.add_node("node1")
        self.nodes = [node1, cluster.add_node("node2", join=node1),
                      cluster.add_node("node3", join=node1)]
        self.leader = cluster.wait_for_leader(self.nodes)
        cluster.wait_for_members(self.leader, [n.id for n in self.nodes])
        self.followers = [n for n in self.nodes if n is not self.leader]

    def test_linearizable_read_on_follower_sees_the_write_just_acknowledged(self):
        """Each write acknowledged by the leader is returned at once by a linearizable read
        on every follower (ReadIndex), with no waiting."""
        for i in range(20):
            self.assertStatus(self.leader.put("counter", i), 200, f"write counter={i}")
            for f in self.followers:
                r = f.get("counter", "linearizable")
                self.assertStatus(r, 200, f"linearizable read on {f.id}")
                self.assertEqual(r.data["value"], i, f"linearizable read on {f.id} after "
                                                     f"counter={i} was acknowledged")

    def test_default_consistency_is_linearizable(self):
        """Without ?consistency, a follower's read also sees the write just acknowledged."""
        for i in range(20):
            self.assertStatus(self.leader.put("counter", i), 200, f"write counter={i}")
            for f in self.followers:
                r = f.get("counter")
                self.assertStatus(r, 200, f"default read on {f.id}")
                self.assertEqual(r.data["value"], i, f"default read on {f.id}")

    def test_leader_read_on_leader_answers_200(self):
        """?consistency=leader on the leader serves the value (lease read)."""
        self.assertStatus(self.leader.put("k", "v"), 200)
        r = self.leader.get("k", "leader")
        self.assertStatus(r, 200, "lease read on the leader")
        self.assertEqual(r.data, {"key": "k", "value": "v"})

    def test_leader_read_on_follower_is_redirected_to_the_leader(self):
        """?consistency=leader on a follower answers 307 with Location at the leader's HTTP
        address, same path and query; following it yields the value."""
        self.assertStatus(self.leader.put("k", "v"), 200)
        for f in self.followers:
            r = f.get("k", "leader")
            self.assertStatus(r, 307, f"lease read on follower {f.id}")
            location = urllib.parse.urlsplit(r.headers.get("location", ""))
            self.assertEqual((location.port, location.path, location.query),
                             (self.leader.http_port, "/store/k", "consistency=leader"),
                             f"Location of {r}: {r.headers.get('location')}")
            r = f.get("k", "leader", follow_redirects=True)
            self.assertStatus(r, 200, "the followed lease read")
            self.assertEqual(r.data["value"], "v")

    def test_stale_read_on_follower_is_local_and_eventually_current(self):
        """?consistency=stale on a follower answers 200 from its own state, which reaches
        the acknowledged value."""
        self.assertStatus(self.leader.put("k", "v"), 200)
        for f in self.followers:
            def current(f=f):
                r = f.get("k", "stale", timeout=5)
                if r.status != 200:
                    raise NotYet(f"{f.id}: {r}")
                return r
            r = self.wait_until(current, CLUSTER_WAIT, f"a stale read on {f.id} to find k")
            self.assertEqual(r.data, {"key": "k", "value": "v"})

    def test_unknown_consistency_is_400(self):
        """?consistency=<anything else> answers 400 with an error body."""
        r = self.leader.get("k", "eventual")
        self.assertStatus(r, 400, "?consistency=eventual")
        self.assertErrorBody(r)


if __name__ == "__main__":
    kvcluster.main()
