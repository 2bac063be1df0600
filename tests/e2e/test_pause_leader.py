"""A leader frozen with SIGSTOP is replaced; when it wakes (SIGCONT) it still believes it
leads, yet it must never serve the value that the new leader has since overwritten."""

import http.client
import sys
import threading

import kvcluster
from kvcluster import CLUSTER_WAIT, NotYet

KEY = "paused-key"
V1 = "v1"
V2 = "v2"
READS_QUEUED_WHILE_PAUSED = 4
READS_AFTER_RESUME = 6


class PausedLeader(kvcluster.KvTestCase):
    """node1 bootstraps, node2 and node3 join; KEY=v1 is written, the leader is paused, the
    new leader writes KEY=v2, the old leader is resumed and read from at once."""

    def stale_leader_reads(self, consistency):
        """Runs the scenario and returns the old leader's answers to GETs of KEY with
        `consistency` (redirects not followed): some sent while it was stopped (they wait in
        its socket backlog), the rest sent right after SIGCONT."""
        cluster = self.new_cluster()
        node1 = cluster.add_node("node1")
        nodes = [node1, cluster.add_node("node2", join=node1),
                 cluster.add_node("node3", join=node1)]
        old = cluster.wait_for_leader(nodes)
        cluster.wait_for_members(old, [n.id for n in nodes])
        self.assertStatus(old.put(KEY, V1), 200, f"write {KEY}={V1}")
        for n in nodes:
            self.assertEqual(n.get(KEY, follow_redirects=True).data["value"], V1)

        old.pause()
        survivors = [n for n in nodes if n is not old]
        new = cluster.wait_for_leader(survivors)
        self.assertStatus(new.put(KEY, V2, follow_redirects=False), 200,
                          f"write {KEY}={V2} on the new leader {new.id}")

        path = kvcluster.store_path(KEY, consistency)
        queued = [kvcluster.send_request_now(old.http_port, "GET", path)
                  for _ in range(READS_QUEUED_WHILE_PAUSED)]
        answers = []
        lock = threading.Lock()

        def record(read):
            try:
                r = read()
            except (OSError, http.client.HTTPException) as e:
                r = e  # a time-out, reset or close is an error answer, never a stale value
            with lock:
                answers.append(r)

        old.resume()
        readers = [threading.Thread(target=record,
                                    args=(lambda s=s: kvcluster.read_response(s, path),))
                   for s in queued]
        for t in readers:
            t.start()
        for _ in range(READS_AFTER_RESUME):
            record(lambda: old.get(KEY, consistency, follow_redirects=False))
        for t in readers:
            t.join()

        # Afterwards the old leader follows and serves the new value.
        def serves_v2():
            r = old.get(KEY, "linearizable", follow_redirects=True, timeout=5)
            if r.status != 200 or r.data["value"] != V2:
                raise NotYet(f"{old.id} answered {r}")
            return True
        self.wait_until(serves_v2, CLUSTER_WAIT, f"the resumed {old.id} to serve {V2}")
        return answers

    def check_never_stale(self, answers, consistency):
        summary = [r.status if isinstance(r, kvcluster.Response) else type(r).__name__
                   for r in answers]
        print(f"\n  answers of the resumed old leader ({consistency}): {summary}",
              file=sys.stderr)
        self.assertEqual(len(answers), READS_QUEUED_WHILE_PAUSED + READS_AFTER_RESUME)
        for r in answers:
            if isinstance(r, Exception):
                continue
            if r.status == 200:
                self.assertEqual(r.data, {"key": KEY, "value": V2},
                                 f"{consistency} read from the resumed old leader returned "
                                 f"a value other than the latest: {r}")
            else:
                self.assertNotEqual(r.status, 404, f"{KEY} exists: {r}")
                self.assertErrorBody(r, f"{consistency} read from the resumed old leader")

    def test_linearizable_read_on_resumed_old_leader_is_never_stale(self):
        """GET ?consistency=linearizable on the old leader right after SIGCONT answers 200
        with v2, or an error / 307 — never 200 with v1."""
        self.check_never_stale(self.stale_leader_reads("linearizable"), "linearizable")

    def test_lease_read_on_resumed_old_leader_is_never_stale(self):
        """GET ?consistency=leader (lease read) on the old leader right after SIGCONT: its
        lease ran out while it was stopped, so it never answers 200 with v1."""
        self.check_never_stale(self.stale_leader_reads("leader"), "leader")


if __name__ == "__main__":
    kvcluster.main()
