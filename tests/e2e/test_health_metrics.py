"""GET /health (readiness: a leader is known and everything known committed is applied) and
GET /metrics (Prometheus text format)."""

import re

import kvcluster
from kvcluster import CLUSTER_WAIT, NotYet, stat_int

# One sample line of the Prometheus text format: name, optional {labels}, value.
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"'
                    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*,?)?\})? '
                    r'([-+]?(?:[0-9.eE+-]+|NaN|Inf))( [0-9]+)?$')


def parse_metrics(text):
    """[(name, labels dict, float value)] of every sample line; AssertionError naming the
    first line that is neither a sample, a # comment nor blank."""
    samples = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise AssertionError(f"not a Prometheus sample line: {line!r}")
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        samples.append((m.group(1), labels, float(m.group(3))))
    return samples


class HealthAndMetrics(kvcluster.KvTestCase):

    def metrics(self, node):
        r = node.request("GET", "/metrics")
        self.assertStatus(r, 200, "GET /metrics")
        self.assertTrue(r.headers.get("content-type", "").startswith("text/plain"),
                        f"Content-Type of /metrics: {r.headers}")
        return parse_metrics(r.body.decode("utf-8"))

    def test_health_is_200_on_a_node_that_leads_itself(self):
        """A bootstrapped single node answers /health 200 once it leads."""
        cluster = self.new_cluster()
        node = cluster.add_node("solo")
        cluster.wait_for_leader([node])
        self.wait_until(lambda: node.request("GET", "/health", timeout=5).status == 200,
                        CLUSTER_WAIT, "/health to answer 200")

    def test_health_is_503_when_a_follower_has_lost_its_leader(self):
        """With the leader and the other follower killed, the last node knows no leader and
        answers /health 503 with an error body."""
        cluster = self.new_cluster()
        node1 = cluster.add_node("node1")
        nodes = [node1, cluster.add_node("node2", join=node1),
                 cluster.add_node("node3", join=node1)]
        leader = cluster.wait_for_leader(nodes)
        cluster.wait_for_members(leader, [n.id for n in nodes])
        last = [n for n in nodes if n is not leader][0]
        self.wait_until(lambda: last.request("GET", "/health", timeout=5).status == 200,
                        CLUSTER_WAIT, f"/health on {last.id} to answer 200 in a healthy cluster")
        for n in nodes:
            if n is not last:
                n.kill()

        def unhealthy():
            r = last.request("GET", "/health", timeout=5)
            if r.status != 503:
                raise NotYet(f"{last.id} /health answered {r}")
            return r
        r = self.wait_until(unhealthy, CLUSTER_WAIT, f"/health on {last.id} to answer 503")
        self.assertErrorBody(r, "/health 503")

    def test_metrics_report_the_raft_term(self):
        """/metrics is Prometheus text with kvserver_raft_term equal to the stats' term."""
        cluster = self.new_cluster()
        node = cluster.add_node("solo")
        cluster.wait_for_leader([node])
        term = stat_int(node.stats(), "term")
        values = [v for name, _, v in self.metrics(node) if name == "kvserver_raft_term"]
        self.assertEqual(values, [float(term)], "kvserver_raft_term samples")

    def test_metrics_count_http_requests_by_code(self):
        """kvserver_http_requests_total, summed over routes, grows by the requests made with
        each status code."""
        cluster = self.new_cluster()
        node = cluster.add_node("solo")
        cluster.wait_for_leader([node])

        def total(code):
            return sum(v for name, labels, v in self.metrics(node)
                       if name == "kvserver_http_requests_total" and labels.get("code") == code)
        before_404, before_200 = total("404"), total("200")
        for i in range(3):
            self.assertStatus(node.get(f"missing-{i}"), 404)
        for i in range(2):
            self.assertStatus(node.put(f"present-{i}", i), 200)
        counted = self.wait_until(lambda: total("404") - before_404 >= 3 and
                                  total("404") - before_404, CLUSTER_WAIT,
                                  "the three 404 answers to be counted")
        self.assertEqual(counted, 3, "404 answers counted (no more than were made)")
        # The /metrics GETs made by total() are 200s too: count at least the two writes.
        self.assertGreaterEqual(total("200") - before_200, 2, "200 answers counted")


if __name__ == "__main__":
    kvcluster.main()
