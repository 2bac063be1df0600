"""Bad input never crashes kvserver nor loses data: malformed HTTP requests get precise error
codes with a JSON {"error": ...} body, and bad configuration stops the process at start
with one "kvserver: error:" line on stderr."""

import http.client
import json
import os
import socket
import subprocess

import kvcluster
from kvcluster import REQUEST_TIMEOUT, START_WAIT, free_port

MAX_KEY_BYTES = 4096          # kvserver's defaults
MAX_VALUE_BYTES = 1048576
SENTINEL = ("sentinel", {"written": "before any bad input", "n": [1, 2, 3]})


def raw_exchange(port, payload, close_write=False, timeout=REQUEST_TIMEOUT):
    """Sends raw bytes to 127.0.0.1:port and returns every byte received until the server
    closes the connection (b"" when it closes without answering). With close_write, our
    side is shut down for writing after the payload. AssertionError when the server neither
    answers nor closes within `timeout`."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return received
            except socket.timeout:
                raise AssertionError(f"the server neither answered nor closed within "
                                     f"{timeout:.0f} s after {payload[:80]!r}; received "
                                     f"{received[:200]!r}") from None
            if not chunk:
                return received
            received += chunk


class BadHttpInput(kvcluster.KvTestCase):
    """One single-node server shared by the tests; each test ends by checking that the
    server still answers and still holds the sentinel written at the start."""

    @classmethod
    def setUpClass(cls):
        cluster = cls.new_class_cluster()
        cls.node = cluster.add_node("solo")
        cluster.wait_for_leader([cls.node])
        key, value = SENTINEL
        r = cls.node.put(key, value)
        if r.status != 200:
            raise AssertionError(f"writing the sentinel failed: {r}\n" + cluster.diagnostics())

    def assert_intact(self):
        """The process runs, answers, and the sentinel reads back unchanged."""
        self.cluster.check_alive()
        key, value = SENTINEL
        r = self.node.get(key)
        self.assertStatus(r, 200, "the sentinel after bad input")
        self.assertEqual(r.data, {"key": key, "value": value})

    def assert_rejected(self, response, status, what):
        self.assertStatus(response, status, what)
        self.assertErrorBody(response, what)

    def post_store_raw(self, body):
        return self.node.request("POST", "/store", data=body,
                                 headers={"Content-Type": "application/json"})

    def test_malformed_json_is_400(self):
        """Bodies that are not JSON (truncated, trailing garbage, not UTF-8, empty) → 400."""
        for body in (b'{"key": "k", "value": ', b'{"key": "k", "value": 1} trailing',
                     b"\xff\xfe\x00garbage", b"", b"{'key': 'k', 'value': 1}"):
            self.assert_rejected(self.post_store_raw(body), 400, f"POST /store {body!r}")
        self.assertStatus(self.node.get("k"), 404, "no rejected write happened")
        self.assert_intact()

    def test_number_out_of_range_or_byte_order_mark_is_400_and_stores_nothing(self):
        """A number past double's range anywhere in the body (once a 500), or a byte order
        mark before it (once stored "null" in place of the value) → 400, nothing stored."""
        for body in (b'{"key": "big", "value": 1e400}', b'{"key": "big", "value": 1, "z": -1e999}',
                     b'\xef\xbb\xbf{"key": "big", "value": 42}'):
            self.assert_rejected(self.post_store_raw(body), 400, f"POST /store {body!r}")
        self.assertStatus(self.node.get("big"), 404, "no rejected write happened")
        r = self.node.request("POST", "/raft/join", data=b'{"node_id": "x", "raft_address": '
                              b'"127.0.0.1:1", "n": 1e400}',
                              headers={"Content-Type": "application/json"})
        self.assert_rejected(r, 400, "join with a number out of range")
        self.assert_intact()

    def test_join_with_a_raft_address_that_is_not_host_port_is_400(self):
        """raft_address must be host:port with a port in 1-65535 (once any text was taken, and
        the join hung for 30 s and left the junk member in the configuration)."""
        for address in (":", "nohost", "localhost:0", "[::1]:99999", ":7000", "host:port",
                        "a b:7000", "a/b:7000"):
            r = self.node.join_request("n2", address)
            self.assert_rejected(r, 400, f"join at {address!r}")
        members = kvcluster.config_members(self.node.stats())
        self.assertEqual(list(members), ["solo"], "the configuration after the refused joins")
        self.assert_intact()

    def test_body_that_is_not_an_object_is_400(self):
        """JSON bodies that are not objects (array, string, number, null) → 400."""
        for body in ([1, 2], "key", 7, None):
            r = self.node.request("POST", "/store", body)
            self.assert_rejected(r, 400, f"POST /store {body!r}")
        self.assert_intact()

    def test_missing_or_non_string_key_is_400(self):
        """A missing key, or a key that is a number, null, array or object → 400."""
        for body in ({"value": 1}, {"key": 12, "value": 1}, {"key": None, "value": 1},
                     {"key": ["a"], "value": 1}, {"key": {"a": 1}, "value": 1}):
            r = self.node.request("POST", "/store", body)
            self.assert_rejected(r, 400, f"POST /store {body!r}")
        self.assert_intact()

    def test_missing_value_is_400(self):
        """{"key": ...} without "value" → 400, and nothing is stored."""
        r = self.node.request("POST", "/store", {"key": "no-value"})
        self.assert_rejected(r, 400, "POST /store without value")
        self.assertStatus(self.node.get("no-value"), 404, "the rejected write did not happen")
        self.assert_intact()

    def test_key_longer_than_max_key_bytes_is_413(self):
        """A key of max-key-bytes bytes is accepted; one byte more → 413; the limit counts
        UTF-8 bytes, not characters."""
        self.assertStatus(self.node.put("k" * MAX_KEY_BYTES, 1), 200,
                          f"a key of exactly {MAX_KEY_BYTES} bytes")
        self.assert_rejected(self.node.put("k" * (MAX_KEY_BYTES + 1), 1), 413,
                             f"a key of {MAX_KEY_BYTES + 1} bytes")
        wide = "\u00e9" * (MAX_KEY_BYTES // 2 + 1)  # fewer characters than the limit
        self.assert_rejected(self.node.put(wide, 1), 413,
                             f"a key of {len(wide)} characters, {len(wide.encode())} bytes")
        self.assert_intact()

    def test_value_larger_than_max_value_bytes_is_413(self):
        """A value over max-value-bytes → 413 and is not stored; a 512 KiB value is stored
        and reads back exactly."""
        self.assert_rejected(self.node.put("big", "v" * (MAX_VALUE_BYTES + 1)), 413,
                             f"a value over {MAX_VALUE_BYTES} bytes")
        self.assertStatus(self.node.get("big"), 404, "the oversized value was not stored")
        half = "h" * (MAX_VALUE_BYTES // 2)
        self.assertStatus(self.node.put("half", half), 200, "a 512 KiB value")
        r = self.node.get("half")
        self.assertStatus(r, 200, "GET the 512 KiB value")
        self.assertEqual(r.data["value"], half)
        self.assert_intact()

    def test_join_with_an_id_or_address_that_is_not_text_is_400(self):
        """A node id or raft address with a control character, or an id with a space, is
        refused before it reaches the configuration, which stays as it was."""
        for node_id, address in [("n\u0001", "127.0.0.1:1"), ("two words", "127.0.0.1:1"),
                                 ("n2", "127.0.0.1:1\nforged"), ("n2", "\u0085")]:
            r = self.node.join_request(node_id, address)
            self.assert_rejected(r, 400, f"join of {node_id!r} at {address!r}")
        r = self.node.request("POST", "/raft/remove", {"node_id": "solo\u0007"})
        self.assert_rejected(r, 400, "remove of an id with a control character")
        members = kvcluster.config_members(self.node.stats())
        self.assertEqual(list(members), ["solo"], "the configuration after the refused joins")
        self.assert_intact()

    def test_unknown_route_is_404(self):
        """Paths kvserver does not serve → 404 with an error body."""
        for method, path in (("GET", "/"), ("GET", "/nope"), ("POST", "/raft/nope"),
                             ("GET", "/storex")):
            r = self.node.request(method, path)
            self.assert_rejected(r, 404, f"{method} {path}")
        self.assert_intact()

    def test_wrong_method_on_known_route_is_405(self):
        """Known routes with a method they do not serve → 405 with an error body."""
        for method, path in (("PUT", "/store"), ("GET", "/store"), ("POST", "/raft/stats"),
                             ("GET", "/raft/join"), ("PATCH", "/store/sentinel"),
                             ("DELETE", "/raft/stats")):
            r = self.node.request(method, path)
            self.assert_rejected(r, 405, f"{method} {path}")
        self.assert_intact()

    def test_head_on_a_get_route_answers_like_get_without_a_body(self):
        """HEAD on /store/<key>, /raft/stats, /health and /metrics → GET's status and
        Content-Length, and no body (RFC 9110); HEAD on a POST-only route → 405."""
        self.assertStatus(self.node.put("head-key", "v"), 200)
        for path, status in (("/store/head-key", 200), ("/store/absent", 404),
                             ("/raft/stats", 200), ("/health", 200), ("/metrics", 200)):
            conn = http.client.HTTPConnection("127.0.0.1", self.node.http_port,
                                              timeout=REQUEST_TIMEOUT)
            try:
                conn.request("HEAD", path)
                r = conn.getresponse()
                self.assertEqual(r.status, status, f"HEAD {path}")
                self.assertGreater(int(r.getheader("Content-Length", "0")), 0,
                                   f"HEAD {path}: the length GET's body would have")
                self.assertEqual(r.read(), b"", f"HEAD {path}: no body")
                # The connection stays usable: the next answer is not taken for a body.
                conn.request("GET", "/health")
                self.assertEqual(conn.getresponse().status, 200, f"GET after HEAD {path}")
            finally:
                conn.close()
        r = self.node.request("HEAD", "/store")
        self.assertEqual(r.status, 405)
        self.assert_intact()

    def test_garbage_request_line_gets_400_or_close(self):
        """Bytes that are not HTTP get a 400 answer or a closed connection, not a crash."""
        for garbage in (b"GARBAGE\r\n\r\n", b"\x00\x01\x02\xff\r\n\r\n",
                        b"GET /store/x HTTP/1.1 extra words\r\n\r\n",
                        b"POST /store HTTP/1.1\r\nContent-Length: nope\r\n\r\n{}"):
            answer = raw_exchange(self.node.http_port, garbage)
            if answer:
                self.assertTrue(answer.startswith(b"HTTP/1.1 400") or
                                answer.startswith(b"HTTP/1.0 400"),
                                f"answer to {garbage!r}: {answer[:200]!r}")
            self.cluster.check_alive()
        self.assert_intact()

    def test_body_shorter_than_content_length_then_close_changes_nothing(self):
        """A POST whose body stops short of its Content-Length, followed by a close, is not
        applied and does not disturb the server."""
        body = b'{"key": "partial", "value": 1}'
        head = (f"POST /store HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body) + 100}\r\n\r\n").encode()
        answer = raw_exchange(self.node.http_port, head + body, close_write=True)
        self.assertFalse(answer.startswith(b"HTTP/1.1 200"),
                         f"a truncated body was accepted: {answer[:200]!r}")
        self.assertStatus(self.node.get("partial"), 404, "the truncated write did not happen")
        self.assert_intact()

    def test_huge_content_length_is_refused(self):
        """A Content-Length far over the value limit gets 413 (or a close) without the
        server waiting for, or allocating, that much."""
        head = (b"POST /store HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000000000000\r\n\r\n{\"key\": \"huge\"")
        answer = raw_exchange(self.node.http_port, head)
        if answer:
            self.assertTrue(answer.startswith(b"HTTP/1.1 413") or
                            answer.startswith(b"HTTP/1.1 400"),
                            f"answer to a 1 TB Content-Length: {answer[:200]!r}")
        self.assert_intact()


class ManyIdleConnections(kvcluster.KvTestCase):
    """Idle clients can never take the descriptors the node itself needs."""

    def test_idle_connections_past_the_fd_limit_leave_writes_working(self):
        """With a 256-descriptor limit, 300 idle connections are held or refused while a
        client already connected keeps writing, with a snapshot every 5 entries: every write
        answers 200 and no file the node opens fails. (It used to accept connections up to
        the limit, after which every snapshot failed with "Too many open files", and a
        LevelDB file that could not be opened stopped the node.)"""
        cluster = self.new_cluster()
        node = cluster.add_node("fd", extra_args=["--snapshot-threshold", "5",
                                                  "--trailing-logs", "2"], fd_limit=256)
        cluster.wait_for_leader([node])
        writer = http.client.HTTPConnection("127.0.0.1", node.http_port,
                                            timeout=REQUEST_TIMEOUT)
        idle = []
        try:
            writer.request("GET", "/health")
            writer.getresponse().read()
            for _ in range(300):
                try:
                    idle.append(socket.create_connection(("127.0.0.1", node.http_port),
                                                         timeout=REQUEST_TIMEOUT))
                except OSError:
                    break
            for i in range(100):
                body = json.dumps({"key": f"k{i}", "value": i})
                writer.request("POST", "/store", body=body,
                               headers={"Content-Type": "application/json"})
                r = writer.getresponse()
                answer = r.read()
                self.assertEqual(r.status, 200, f"write {i}: {answer[:200]!r}\n" +
                                 node.log_tail(20))
        finally:
            writer.close()
            for sock in idle:
                sock.close()
        cluster.check_alive()
        r = node.get("k99")
        self.assertStatus(r, 200, "the last write reads back")
        self.assertEqual(r.data["value"], 99)
        # Snapshots are taken in the background: the one after the last writes may lag them.
        cluster.wait_until(lambda: int(node.stats()["last_snapshot_index"]) >= 90,
                           kvcluster.CLUSTER_WAIT,
                           "snapshots kept being taken (one every 5 entries)")
        self.assertFalse("Too many open files" in node.log_text(),
                         "a file the node opened failed for want of a descriptor:\n" +
                         node.log_tail(5))


class BadConfiguration(kvcluster.KvTestCase):
    """A kvserver given bad configuration exits non-zero at start with one line on stderr
    starting with "kvserver: error:"; a server already running is not disturbed."""

    def run_expecting_error(self, argv):
        """Runs kvserver with argv (no seed env vars) and returns its stderr lines after
        checking that it exits non-zero within START_WAIT with exactly one error line."""
        try:
            done = subprocess.run([self.cluster.binary] + argv, env=kvcluster.clean_env(),
                                  cwd=self.cluster.workdir, stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=START_WAIT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"kvserver {argv} was still running after "
                                 f"{START_WAIT:.0f} s; expected a start-up error") from None
        stderr = done.stderr.decode("utf-8", "replace")
        self.assertNotEqual(done.returncode, 0, f"exit code of kvserver {argv}; stderr:\n"
                                                f"{stderr}")
        errors = [line for line in stderr.splitlines() if line.startswith("kvserver: error:")]
        self.assertEqual(len(errors), 1, f'one "kvserver: error:" line on stderr of '
                                         f"kvserver {argv}; stderr was:\n{stderr}")
        self.assertGreater(len(errors[0].strip()), len("kvserver: error:") + 5,
                           "the error line says what is wrong")
        return errors[0]

    def fresh_args(self, node_id, http_port=None, raft_port=None, data_dir=None):
        return ["--id", node_id, "--http-port", str(http_port or free_port()),
                "--raft-port", str(raft_port or free_port()),
                "--data-dir", data_dir or os.path.join(self.cluster.workdir, node_id + "-data")]

    def test_http_port_in_use_is_a_start_up_error(self):
        """A second server on a running server's HTTP port fails at start."""
        cluster = self.new_cluster()
        running = cluster.add_node("first")
        self.run_expecting_error(self.fresh_args("second", http_port=running.http_port))
        cluster.check_alive()
        self.assertStatus(running.request("GET", "/raft/stats"), 200, "the first server")

    def test_raft_port_in_use_is_a_start_up_error(self):
        """A second server on a running server's Raft port fails at start."""
        cluster = self.new_cluster()
        running = cluster.add_node("first")
        self.run_expecting_error(self.fresh_args("second", raft_port=running.raft_port))
        cluster.check_alive()
        self.assertStatus(running.request("GET", "/raft/stats"), 200, "the first server")

    def test_data_dir_of_another_node_id_is_a_start_up_error(self):
        """Starting node "beta" on the data directory of node "alpha" fails at start, and
        alpha still starts on it afterwards."""
        cluster = self.new_cluster()
        alpha = cluster.add_node("alpha")
        cluster.wait_for_leader([alpha])
        self.assertStatus(alpha.put("mine", "alpha's"), 200, "a write on alpha")
        self.assertEqual(alpha.stop(), 0, "alpha's exit code after SIGTERM")
        self.run_expecting_error(self.fresh_args("beta", data_dir=alpha.data_dir))
        alpha.restart()
        cluster.wait_for_leader([alpha])
        r = alpha.get("mine")
        self.assertStatus(r, 200, "alpha's write after beta's refused start")
        self.assertEqual(r.data["value"], "alpha's")

    def test_unwritable_data_dir_is_a_start_up_error(self):
        """A data directory that cannot be created (its parent is a regular file)."""
        self.new_cluster()
        blocker = os.path.join(self.cluster.workdir, "a-file")
        with open(blocker, "w") as f:
            f.write("not a directory\n")
        self.run_expecting_error(self.fresh_args("n", data_dir=os.path.join(blocker, "data")))

    def test_unknown_flag_is_a_start_up_error(self):
        """An unknown command-line flag."""
        self.new_cluster()
        self.run_expecting_error(self.fresh_args("n") + ["--no-such-flag", "1"])

    def test_node_id_that_is_not_utf8_is_a_start_up_error(self):
        """An --id with a byte that is not UTF-8 is refused before the data directory is
        created (it used to reach the stored configuration and fail later)."""
        self.new_cluster()
        args = self.fresh_args("n")
        args[1] = b"n\xff"
        line = self.run_expecting_error(args)
        self.assertIn("UTF-8", line)
        self.assertFalse(os.path.exists(args[-1]), "the data directory was created")

    def test_missing_node_id_is_a_start_up_error(self):
        """Neither --id nor RAFT_NODE_ID."""
        self.new_cluster()
        self.run_expecting_error(self.fresh_args("n")[2:])


if __name__ == "__main__":
    kvcluster.main()
