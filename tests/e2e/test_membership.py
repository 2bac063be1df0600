"""Membership changes over HTTP: POST /raft/remove, and join/remove sent to a follower."""

import json
import os
import select
import socket
import urllib.parse

import kvcluster
from kvcluster import CLUSTER_WAIT, NotYet, config_members, put_until_acknowledged


class Membership(kvcluster.KvTestCase):
    """node1 bootstraps, node2 and node3 join it with --join."""

    def setUp(self):
        cluster = self.new_cluster()
        node1 = cluster.add_node("node1")
        self.nodes = [node1, cluster.add_node("node2", join=node1),
                      cluster.add_node("node3", join=node1)]
        self.leader = cluster.wait_for_leader(self.nodes)
        cluster.wait_for_members(self.leader, [n.id for n in self.nodes])
        self.followers = [n for n in self.nodes if n is not self.leader]

    def assert_redirected_to_leader(self, response, path, what):
        self.assertStatus(response, 307, what)
        location = urllib.parse.urlsplit(response.headers.get("location", ""))
        self.assertEqual((location.port, location.path), (self.leader.http_port, path),
                         f"{what}: Location {response.headers.get('location')!r}")
        self.assertEqual(response.json.get("leader", {}).get("id"), self.leader.id,
                         f"{what}: the body names the leader: {response}")

    def test_removed_node_leaves_the_configuration_and_the_rest_keep_writing(self):
        """POST /raft/remove {"node_id"} on the leader answers 200; the removed follower is
        gone from the leader's configuration; with it killed, the other two still commit."""
        removed = self.followers[-1]
        r = self.leader.request("POST", "/raft/remove", {"node_id": removed.id})
        self.assertStatus(r, 200, f"remove {removed.id}")
        remaining = {n.id: "Voter" for n in self.nodes if n is not removed}

        def removed_from_config():
            members = config_members(self.leader.stats(timeout=5))
            if members != remaining:
                raise NotYet(f"configuration {members}")
            return True
        self.wait_until(removed_from_config, CLUSTER_WAIT,
                        f"{removed.id} to leave the leader's configuration")
        removed.kill()
        survivors = [n for n in self.nodes if n is not removed]
        put_until_acknowledged(survivors, "after-remove", 1)
        for n in survivors:
            r = n.get("after-remove")
            self.assertStatus(r, 200, f"read on {n.id} after the remove")
            self.assertEqual(r.data["value"], 1)

    def test_remove_sent_to_a_follower_is_redirected_to_the_leader(self):
        """POST /raft/remove on a follower answers 307 to the leader's /raft/remove and
        changes nothing by itself."""
        follower = self.followers[0]
        r = follower.request("POST", "/raft/remove", {"node_id": self.followers[1].id})
        self.assert_redirected_to_leader(r, "/raft/remove", "remove sent to a follower")
        self.assertEqual(config_members(self.leader.stats()),
                         {n.id: "Voter" for n in self.nodes}, "nobody was removed")

    def test_join_sent_to_a_follower_is_redirected_to_the_leader(self):
        """POST /raft/join on a follower answers 307 to the leader's /raft/join; following
        the redirect adds the new node as a voter."""
        node4 = self.cluster.add_node("node4")
        self.cluster.wait_for_leader([node4])  # it bootstrapped itself, as in the seed flow
        follower = self.followers[0]
        r = follower.join_request("node4", node4.raft_address)
        self.assert_redirected_to_leader(r, "/raft/join", "join sent to a follower")
        r = follower.join_request("node4", node4.raft_address, follow_redirects=True)
        self.assertStatus(r, 200, "the followed join")
        self.cluster.wait_for_members(self.leader, ["node1", "node2", "node3", "node4"])
        leader = self.cluster.wait_for_leader(self.nodes + [node4])
        self.assertEqual(leader.id, self.leader.id, "node4 follows the cluster's leader")

    def test_join_with_a_voters_id_at_another_address_is_409_and_moves_nothing(self):
        """A join naming a voter at another address, or another id at a voter's address,
        answers 409 and leaves every member where it was: two such joins once left a
        three-node cluster with no reachable majority."""
        for follower in self.followers:
            r = self.leader.join_request(follower.id, "127.0.0.1:1")
            self.assertStatus(r, 409, f"join of {follower.id} at another address")
            self.assertErrorBody(r)
            self.assertIn("/raft/remove", r.error, f"the error says what to do: {r}")
        r = self.leader.join_request("node9", self.followers[0].raft_address)
        self.assertStatus(r, 409, f"join of node9 at {self.followers[0].id}'s address")
        stats = self.leader.stats()
        self.assertEqual(config_members(stats), {n.id: "Voter" for n in self.nodes})
        for n in self.nodes:
            self.assertIn(n.raft_address, stats["latest_configuration"],
                          f"{n.id} keeps its address")
        put_until_acknowledged(self.nodes, "after-refused-moves", 1)

    def test_redirect_of_an_absolute_form_target_names_only_the_leader(self):
        """A request to a follower with an absolute-form target ("http://other.host/store")
        is redirected to the leader's own host with the target's path, never to the host
        the client named."""
        follower = self.followers[0]
        body = b'{"key":"abs","value":1}'
        request = (b"POST http://evil.example/store?x=1 HTTP/1.1\r\nHost: evil.example\r\n"
                   b"Content-Type: application/json\r\nContent-Length: %d\r\n"
                   b"Connection: close\r\n\r\n%s" % (len(body), body))
        with socket.create_connection(("127.0.0.1", follower.http_port),
                                      timeout=kvcluster.REQUEST_TIMEOUT) as sock:
            sock.sendall(request)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        self.assertTrue(head.startswith("HTTP/1.1 307"), f"answer: {head!r}")
        locations = [line.split(":", 1)[1].strip() for line in head.split("\r\n")[1:]
                     if line.lower().startswith("location:")]
        self.assertEqual(len(locations), 1, f"answer: {head!r}")
        location = urllib.parse.urlsplit(locations[0])
        self.assertEqual((location.port, location.path, location.query),
                         (self.leader.http_port, "/store", "x=1"), f"Location {locations[0]!r}")
        self.assertNotIn("evil", location.netloc, f"Location {locations[0]!r}")

    def test_identity_records_who_founded_the_cluster_and_who_joined(self):
        """IDENTITY says "origin founded" on the node that bootstrapped the cluster and
        "origin joined" on the nodes that joined it: only a founder may bootstrap."""
        for n in self.nodes:
            with open(os.path.join(n.data_dir, "IDENTITY")) as f:
                identity = f.read()
            expected = "origin founded" if n.id == "node1" else "origin joined"
            self.assertIn(expected, identity, f"IDENTITY of {n.id}:\n{identity}")

    def test_two_joins_at_one_address_at_once_add_only_one_member(self):
        """Two joins naming one raft address under two ids, sent at the same moment, add one
        member: the other is answered 409, though both passed the check when they arrived
        (each join is checked again against the configuration its change is guarded by)."""
        address = f"127.0.0.1:{kvcluster.free_port()}"  # nothing listens: it stays staging
        socks = []
        for node_id in ("node8", "node9"):
            body = json.dumps({"node_id": node_id, "raft_address": address}).encode()
            sock = socket.create_connection(("127.0.0.1", self.leader.http_port),
                                            timeout=CLUSTER_WAIT)
            socks.append((node_id, sock, (
                f"POST /raft/join HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body))
        try:
            for _, sock, request in socks:
                sock.sendall(request)
            ready, _, _ = select.select([sock for _, sock, _ in socks], [], [], CLUSTER_WAIT)
            self.assertTrue(ready, "neither join was answered within "
                                   f"{CLUSTER_WAIT:.0f} s: both went ahead")
            refused = kvcluster.read_response(ready[0])
            self.assertStatus(refused, 409, "the join that came second")
            self.assertIn(address, refused.error)
            members = config_members(self.leader.stats())
            added = [i for i in ("node8", "node9") if i in members]
            self.assertEqual(len(added), 1, f"members at {address}: {members}")
            self.assertEqual(members[added[0]], "Staging")
        finally:
            for _, sock, _ in socks:
                sock.close()

    def test_remove_of_an_unknown_node_is_an_error(self):
        """POST /raft/remove of an id that is not in the configuration answers a 4xx error
        and leaves the configuration unchanged."""
        r = self.leader.request("POST", "/raft/remove", {"node_id": "nobody"})
        self.assertTrue(400 <= r.status < 500, f"remove of an unknown id: {r}")
        self.assertErrorBody(r)
        self.assertEqual(config_members(self.leader.stats()),
                         {n.id: "Voter" for n in self.nodes})


class JoinedNodeRestart(kvcluster.KvTestCase):
    """A node that joined a cluster never founds one of its own."""

    def test_a_joined_node_restarted_without_join_before_any_log_waits_for_its_leader(self):
        """A node whose IDENTITY says it joined cluster C, restarted without --join before
        C's leader sent it anything (an empty log), does not bootstrap: a one-node cluster
        under C's own id would be a second leader C's members cannot tell from theirs."""
        cluster = self.new_cluster()
        node = cluster.add_node("node5", start=False)
        os.makedirs(node.data_dir)
        with open(os.path.join(node.data_dir, "IDENTITY"), "w") as f:
            f.write("node_id node5\ncluster_id 00000000deadbeef\norigin joined\n")
        node.start()
        cluster.wait_ready(node)
        cluster.wait_until(lambda: "waiting for its leader" in node.log_text(),
                           kvcluster.CLUSTER_WAIT, "the node says it waits for its leader")
        stats = node.stats()
        self.assertNotEqual(stats["state"], "Leader", f"stats: {stats}")
        self.assertEqual(config_members(stats), {}, "no configuration of its own")
        self.assertNotIn("bootstrapped", node.log_text())


class InterruptedSwitch(kvcluster.KvTestCase):
    """A crash while a node gives up its state to switch clusters leaves a node that starts."""

    def test_a_switch_interrupted_after_discarding_kv_restarts_and_replays(self):
        """The switch renames kv/ away first, then raft/: a crash between the two leaves
        kv.discarded and a whole raft/. The node starts, rebuilds its data from the log and
        removes the leftover (it used to delete raft/ first, after which the node could not
        start: "the state machine has applied index 3 but the log ends at 0")."""
        cluster = self.new_cluster()
        node = cluster.add_node("solo")
        cluster.wait_for_leader([node])
        self.assertStatus(node.put("kept", 7), 200)
        node.stop()
        os.rename(os.path.join(node.data_dir, "kv"), os.path.join(node.data_dir, "kv.discarded"))
        node.start()
        cluster.wait_ready(node)
        cluster.wait_for_leader([node])
        r = node.get("kept", consistency="linearizable")
        self.assertStatus(r, 200, "the write is rebuilt from the log")
        self.assertEqual(r.data["value"], 7)
        self.assertFalse(os.path.exists(os.path.join(node.data_dir, "kv.discarded")))


if __name__ == "__main__":
    kvcluster.main()
