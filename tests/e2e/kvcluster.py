"""Process-level test harness for kvserver (Python 3 standard library only).

A test file does::

    import kvcluster

    class SomeBehaviour(kvcluster.KvTestCase):
        def test_something(self):
            cluster = self.new_cluster()
            node1 = cluster.add_node("node1")
            ...

    if __name__ == "__main__":
        kvcluster.main()

and is run as ``python3 tests/e2e/test_X.py --kvserver /path/to/kvserver [unittest args]``.

What the harness provides:

* ``Node``: one kvserver process (start, stop = SIGTERM, kill = SIGKILL, pause = SIGSTOP,
  resume = SIGCONT, restart with the same flags), its output in a log file, and HTTP helpers.
* ``Cluster``: a temporary directory holding every node's data directory and log, free ports
  chosen at run time, ``wait_until`` that fails fast when a node died unexpectedly and dumps
  the tail of every node's log on time-out.
* ``http_request``: an http.client based client with per-request time-outs that can follow
  307/308 redirects re-sending the same method and body (like ``curl -L``).
* ``wait_until(predicate, timeout, what)``: an explicit poll with a deadline.
* ``main()``: runs the unittest module; on success the temporary directories are removed, on
  failure the failing tests' directories are kept and their paths printed.
"""

import argparse
import http.client
import json
import os
import queue
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

# The kvserver binary under test (set by main()).
KVSERVER = None

# Deadlines, in seconds. Tests also run under ASan (about 3x slower), so they are generous;
# KV_E2E_TIMEOUT_SCALE multiplies them all.
_SCALE = float(os.environ.get("KV_E2E_TIMEOUT_SCALE", "1"))
CLUSTER_WAIT = 30 * _SCALE      # cluster-level events: election, join, catch-up
START_WAIT = 30 * _SCALE        # a started process answers HTTP
EXIT_WAIT = 30 * _SCALE         # a signalled process exits
REQUEST_TIMEOUT = 20 * _SCALE   # one HTTP request (the server's own request time-out is 5 s)

# Statuses a client may legitimately see while the cluster changes leader: no leader known
# (503), outcome unknown (504), a redirect it could not follow to the end (307).
TRANSIENT_STATUSES = (307, 503, 504)

_LOG_MARKER = "==== tail of node logs"


class NotYet(Exception):
    """Raised by a wait_until predicate to say why the condition does not hold yet."""


def wait_until(predicate, timeout, what, diagnostics=None, precheck=None, interval=0.1):
    """Polls predicate() until it returns a truthy value, which is returned.

    The predicate may raise NotYet (or a connection/HTTP/JSON error) to mean "not yet"; the
    last such observation is put in the failure message. precheck() runs before every poll
    and may raise AssertionError to fail at once (e.g. a node died). When the deadline
    passes, AssertionError is raised naming `what`, the last observation and diagnostics().
    """
    deadline = time.monotonic() + timeout
    last = "the predicate was never evaluated"
    while True:
        if precheck is not None:
            precheck()
        try:
            value = predicate()
            if value:
                return value
            last = f"predicate returned {value!r}"
        except NotYet as e:
            last = str(e)
        except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError) as e:
            last = f"{type(e).__name__}: {e}"
        if time.monotonic() >= deadline:
            message = f"timed out after {timeout:.0f} s waiting for {what}; last observation: {last}"
            if diagnostics is not None:
                message += "\n" + diagnostics()
            raise AssertionError(message)
        time.sleep(interval)


# ----------------------------------------------------------------------------------------
# Ports

_used_ports = set()
_port_lock = threading.Lock()


def _port_is_free(port):
    """True when a TCP socket can bind `port` on all interfaces right now."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("0.0.0.0", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port():
    """A port in 20000-32000 (below Linux's ephemeral range) that binds now and that this
    process has not handed out before."""
    with _port_lock:
        for _ in range(500):
            port = random.randint(20000, 32000)
            if port in _used_ports or not _port_is_free(port):
                continue
            _used_ports.add(port)
            return port
    raise RuntimeError("no free port found in 20000-32000")


# ----------------------------------------------------------------------------------------
# HTTP

_NO_BODY = object()


class Response:
    """An HTTP response: status, headers (lower-case names), body bytes, and the URL it came
    from; `history` lists the redirect responses followed to get here."""

    def __init__(self, status, headers, body, url, history=()):
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url
        self.history = list(history)
        self._json = _NO_BODY

    @property
    def json(self):
        """The body parsed as JSON, or None when it is not JSON."""
        if self._json is _NO_BODY:
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                self._json = None
        return self._json

    @property
    def data(self):
        """The "data" member of a success body."""
        body = self.json
        if not isinstance(body, dict) or "data" not in body:
            raise AssertionError(f"expected a JSON body with 'data', got {self}")
        return body["data"]

    @property
    def error(self):
        """The "error" member of an error body, or None."""
        body = self.json
        return body.get("error") if isinstance(body, dict) else None

    def __repr__(self):
        body = self.body[:400]
        more = "..." if len(self.body) > 400 else ""
        return f"<HTTP {self.status} from {self.url}: {body!r}{more}>"

    __str__ = __repr__


def http_request(host, port, method, path, json_body=_NO_BODY, *, data=None, headers=None,
                 timeout=REQUEST_TIMEOUT, follow_redirects=False, max_redirects=5):
    """Sends one request and returns a Response.

    json_body (any JSON value, None included) is sent as application/json; `data` sends raw
    bytes instead. With follow_redirects, 307/308 answers with a Location are followed,
    re-sending the same method and body. Connection errors and time-outs raise (OSError,
    http.client.HTTPException).
    """
    hdrs = dict(headers or {})
    payload = data
    if json_body is not _NO_BODY:
        payload = json.dumps(json_body).encode("utf-8")
        hdrs.setdefault("Content-Type", "application/json")
    history = []
    for _ in range(max_redirects + 1):
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.request(method, path, body=payload, headers=hdrs)
            raw = conn.getresponse()
            body = raw.read()
            response = Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, body,
                                f"http://{host}:{port}{path}", history)
        finally:
            conn.close()
        location = response.headers.get("location")
        if not (follow_redirects and response.status in (307, 308) and location):
            return response
        history.append(response)
        target = urllib.parse.urlsplit(location)
        if target.netloc:
            host = target.hostname
            port = target.port or 80
        path = target.path or "/"
        if target.query:
            path += "?" + target.query
    raise AssertionError(f"more than {max_redirects} redirects; last: {history[-1]}")


def send_request_now(port, method, path, host="127.0.0.1", timeout=REQUEST_TIMEOUT):
    """Connects and sends a body-less request without waiting for the answer (so it can be
    queued at a stopped process); returns the socket for read_response()."""
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                 "Connection: close\r\n\r\n".encode())
    return sock


def read_response(sock, url=""):
    """Reads the answer to a request sent with send_request_now and closes the socket."""
    try:
        raw = http.client.HTTPResponse(sock)
        raw.begin()
        body = raw.read()
        return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, body, url)
    finally:
        sock.close()


def store_path(key, consistency=None):
    """/store/<key> with the key percent-encoded, and ?consistency= when given."""
    path = "/store/" + urllib.parse.quote(key, safe="")
    if consistency:
        path += "?consistency=" + consistency
    return path


# ----------------------------------------------------------------------------------------
# Nodes and clusters


def clean_env():
    """os.environ without the seed's variables, so the caller's shell cannot leak them."""
    return {k: v for k, v in os.environ.items()
            if k not in ("SERVER_PORT", "RAFT_NODE_ID", "RAFT_PORT", "RAFT_VOL_DIR")}


class Node:
    """One kvserver process. Its flags are fixed at construction so restart() uses the same.

    With use_env the seed's environment variables (SERVER_PORT, RAFT_NODE_ID, RAFT_PORT,
    RAFT_VOL_DIR) are used instead of flags.
    """

    def __init__(self, cluster, node_id, http_port, raft_port, data_dir, join=None,
                 extra_args=(), use_env=False, fd_limit=None):
        self.cluster = cluster
        self.fd_limit = fd_limit  # RLIMIT_NOFILE (soft and hard) of the process, if set
        self.id = node_id
        self.http_port = http_port
        self.raft_port = raft_port
        self.data_dir = data_dir
        self.join = join
        self.extra_args = list(extra_args)
        self.use_env = use_env
        self.log_path = os.path.join(cluster.workdir, f"{node_id}.log")
        self.proc = None
        self.paused = False
        self.expected_running = False  # False once the test stopped or killed it
        self._log_file = None

    # -- addresses --------------------------------------------------------------------------

    @property
    def http_address(self):
        return f"127.0.0.1:{self.http_port}"

    @property
    def raft_address(self):
        return f"127.0.0.1:{self.raft_port}"

    # -- process control --------------------------------------------------------------------

    def command(self):
        """(argv, env) used to start this node."""
        env = clean_env()
        argv = [self.cluster.binary]
        if self.use_env:
            env.update(SERVER_PORT=str(self.http_port), RAFT_NODE_ID=self.id,
                       RAFT_PORT=str(self.raft_port), RAFT_VOL_DIR=self.data_dir)
        else:
            argv += ["--id", self.id, "--http-port", str(self.http_port),
                     "--raft-port", str(self.raft_port), "--data-dir", self.data_dir]
            if self.join:
                argv += ["--join", self.join]
        argv += self.extra_args
        return argv, env

    def start(self):
        """Starts the process (it must not be running); output goes to the node's log."""
        if self.running:
            raise AssertionError(f"{self.id} is already running")
        argv, env = self.command()
        if self._log_file is None:
            self._log_file = open(self.log_path, "ab")
        shown_env = " ".join(f"{k}={env[k]}" for k in
                             ("SERVER_PORT", "RAFT_NODE_ID", "RAFT_PORT", "RAFT_VOL_DIR")
                             if k in env)
        self._log_file.write(f"==== harness {time.strftime('%H:%M:%S')}: starting "
                             f"{shown_env} {' '.join(argv)}\n".encode())
        self._log_file.flush()
        limit = self.fd_limit

        def set_limits():
            if limit is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
        self.proc = subprocess.Popen(argv, env=env, cwd=self.cluster.workdir,
                                     stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=set_limits if limit is not None else None)
        self.paused = False
        self.expected_running = True

    restart = start

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def _note(self, text):
        if self._log_file is not None:
            self._log_file.write(f"==== harness {time.strftime('%H:%M:%S')}: {text}\n".encode())
            self._log_file.flush()

    def _signal(self, sig):
        if not self.running:
            raise AssertionError(f"{self.id} is not running (exit code {self.returncode})")
        self._note(f"sending {signal.Signals(sig).name} to pid {self.proc.pid}")
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=EXIT_WAIT):
        """Waits for the process to exit and returns its exit code; AssertionError (with the
        logs) when it does not exit within `timeout`."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.id} (pid {self.proc.pid}) did not exit within "
                                 f"{timeout:.0f} s\n" + self.cluster.diagnostics()) from None
        self._note(f"pid {self.proc.pid} exited with code {code}")
        return code

    def stop(self, timeout=EXIT_WAIT):
        """SIGTERM (graceful shutdown); returns the exit code."""
        self.expected_running = False
        if self.paused:
            self.resume()
        self._signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def kill(self):
        """SIGKILL; returns once the process is gone."""
        self.expected_running = False
        self._signal(signal.SIGKILL)
        self.paused = False
        return self.wait_exit()

    def pause(self):
        """SIGSTOP: the process keeps its sockets but runs no code."""
        self._signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        """SIGCONT."""
        self._signal(signal.SIGCONT)
        self.paused = False

    @property
    def returncode(self):
        return self.proc.poll() if self.proc else None

    def close(self):
        """Kills the process if it still runs and closes the log file."""
        self.expected_running = False
        if self.running:
            if self.paused:
                self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=40):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def describe(self):
        if self.proc is None:
            state = "never started"
        elif self.running:
            state = f"pid {self.proc.pid}, " + ("paused" if self.paused else "running")
        else:
            state = f"exited with code {self.proc.returncode}"
        return (f"{self.id} (http {self.http_port}, raft {self.raft_port}, {state}, "
                f"log {self.log_path})")

    # -- HTTP -------------------------------------------------------------------------------

    def request(self, method, path, json_body=_NO_BODY, **kwargs):
        """An HTTP request to this node (see http_request for the keyword arguments)."""
        return http_request("127.0.0.1", self.http_port, method, path, json_body, **kwargs)

    def stats(self, timeout=REQUEST_TIMEOUT):
        """The /raft/stats map; raises NotYet unless the answer is 200 with a map."""
        r = self.request("GET", "/raft/stats", timeout=timeout)
        if r.status != 200 or not isinstance(r.json, dict) or \
                not isinstance(r.json.get("data"), dict):
            raise NotYet(f"{self.id}: /raft/stats answered {r}")
        return r.json["data"]

    def put(self, key, value, follow_redirects=True, **kwargs):
        """POST /store {"key", "value"}."""
        return self.request("POST", "/store", {"key": key, "value": value},
                            follow_redirects=follow_redirects, **kwargs)

    def get(self, key, consistency=None, follow_redirects=False, **kwargs):
        """GET /store/<key>[?consistency=...]."""
        return self.request("GET", store_path(key, consistency),
                            follow_redirects=follow_redirects, **kwargs)

    def delete(self, key, follow_redirects=True, **kwargs):
        """DELETE /store/<key>."""
        return self.request("DELETE", store_path(key), follow_redirects=follow_redirects,
                            **kwargs)

    def join_request(self, node_id, raft_address, follow_redirects=False, **kwargs):
        """POST /raft/join {"node_id", "raft_address"} to this node."""
        return self.request("POST", "/raft/join",
                            {"node_id": node_id, "raft_address": raft_address},
                            follow_redirects=follow_redirects, **kwargs)


def stat_int(stats, name):
    """An integer field of a stats map."""
    return int(stats[name])


def config_members(stats):
    """{id: suffrage} from a stats map's latest_configuration, which has hashicorp/raft's
    format: [{Suffrage:Voter ID:node1 Address:127.0.0.1:10001} ...]."""
    config = str(stats.get("latest_configuration", ""))
    return {m.group(2): m.group(1)
            for m in re.finditer(r"\{Suffrage:(\w+) ID:(\S+) Address:(\S*)\}", config)}


def config_has(stats, node_id):
    """Whether the stats map's latest_configuration names node_id as a Voter."""
    return config_members(stats).get(node_id) == "Voter"


_all_clusters = []
_keep_all = False


class Cluster:
    """A set of kvserver nodes sharing a temporary directory (data directories and logs)."""

    def __init__(self, name, binary=None):
        self.binary = binary or KVSERVER
        if not self.binary:
            raise RuntimeError("the kvserver binary is not set (pass --kvserver)")
        safe = re.sub(r"[^\w.-]", "_", name)[:60]
        self.workdir = tempfile.mkdtemp(prefix=f"kvserver-e2e-{safe}-")
        self.nodes = {}
        self.keep = False  # set when a test using the cluster failed
        _all_clusters.append(self)

    def __getitem__(self, node_id):
        return self.nodes[node_id]

    def add_node(self, node_id, join=None, extra_args=(), use_env=False, start=True,
                 wait_ready=True, fd_limit=None):
        """Creates a node with fresh ports and data directory <workdir>/<id>-data.

        `join` is a Node (its HTTP address is used) or a "host:port" string. With start, the
        node is started; if it exits at once because a port was taken meanwhile, it is
        retried with new ports. With wait_ready, returns once it answers /raft/stats.
        """
        if isinstance(join, Node):
            join = join.http_address
        node = Node(self, node_id, free_port(), free_port(),
                    os.path.join(self.workdir, f"{node_id}-data"), join, extra_args, use_env,
                    fd_limit)
        self.nodes[node_id] = node
        if start:
            for attempt in range(3):
                node.start()
                if not wait_ready:
                    break
                try:
                    self.wait_ready(node)
                    break
                except AssertionError:
                    lost_port = node.proc.poll() is not None and \
                        "in use" in node.log_tail(5).lower()
                    if not lost_port or attempt == 2:
                        raise
                    node.expected_running = False
                    node.http_port, node.raft_port = free_port(), free_port()
        return node

    def wait_ready(self, node, timeout=START_WAIT):
        """Waits until `node` answers GET /raft/stats with 200; fails at once if it exits."""
        def answers():
            if node.proc.poll() is not None:
                raise AssertionError(f"{node.id} exited with code {node.proc.returncode} "
                                     "while starting\n" + self.diagnostics())
            return node.stats(timeout=5)
        return wait_until(answers, timeout, f"{node.id} to answer GET /raft/stats",
                          diagnostics=self.diagnostics)

    def running_nodes(self):
        return [n for n in self.nodes.values() if n.running and not n.paused]

    def check_alive(self):
        """AssertionError when a node the test did not stop has exited."""
        for n in self.nodes.values():
            if n.expected_running and n.proc is not None and n.proc.poll() is not None:
                raise AssertionError(f"{n.id} exited unexpectedly with code "
                                     f"{n.proc.returncode}\n" + self.diagnostics())

    def wait_until(self, predicate, timeout, what, interval=0.1):
        """wait_until that fails at once when a node died and dumps the logs on time-out."""
        return wait_until(predicate, timeout, what, diagnostics=self.diagnostics,
                          precheck=self.check_alive, interval=interval)

    def wait_for_leader(self, nodes=None, timeout=CLUSTER_WAIT, exclude=None):
        """Waits until exactly one of `nodes` (default: running, unpaused nodes) says it is
        Leader and all of them name it as leader; returns that Node. With `exclude`, the
        leader must not be that node."""
        def agreed_leader():
            members = nodes if nodes is not None else self.running_nodes()
            stats = {n.id: n.stats(timeout=5) for n in members}
            summary = ", ".join(f"{i}: {s.get('state')}/leader={s.get('leader')!r}/"
                                f"term={s.get('term')}" for i, s in stats.items())
            leaders = [i for i, s in stats.items() if s["state"] == "Leader"]
            if len(leaders) != 1:
                raise NotYet(f"{len(leaders)} leaders ({summary})")
            if any(s["leader"] != leaders[0] for s in stats.values()):
                raise NotYet(f"not all agree on {leaders[0]} ({summary})")
            if exclude is not None and leaders[0] == exclude.id:
                raise NotYet(f"{exclude.id} is still the leader ({summary})")
            return self.nodes[leaders[0]]
        ids = [n.id for n in nodes] if nodes is not None else "the running nodes"
        return self.wait_until(agreed_leader, timeout, f"one leader agreed on by {ids}")

    def wait_for_members(self, leader, member_ids, timeout=CLUSTER_WAIT):
        """Waits until `leader`'s latest_configuration has every id in member_ids as a
        Voter."""
        def all_members():
            stats = leader.stats(timeout=5)
            missing = [i for i in member_ids if not config_has(stats, i)]
            if missing:
                raise NotYet(f"{missing} not voters in latest_configuration "
                             f"{stats.get('latest_configuration')!r}")
            return stats
        return self.wait_until(all_members, timeout,
                               f"{leader.id}'s configuration to contain {member_ids}")

    def wait_caught_up(self, node, index, timeout=CLUSTER_WAIT):
        """Waits until `node`'s applied_index is at least `index`."""
        def caught_up():
            applied = stat_int(node.stats(timeout=5), "applied_index")
            if applied < index:
                raise NotYet(f"{node.id} applied_index {applied} < {index}")
            return True
        self.wait_until(caught_up, timeout, f"{node.id} to apply up to index {index}")

    def diagnostics(self, lines=40):
        """The tail of every node's log, with each node's state."""
        parts = [f"{_LOG_MARKER} (directory {self.workdir}) ===="]
        for n in self.nodes.values():
            parts.append(f"---- {n.describe()} ----")
            parts.append(n.log_tail(lines) or "(empty log)")
        return "\n".join(parts)

    def close(self):
        """Kills every process still running (logs and data stay until remove())."""
        for n in self.nodes.values():
            n.close()

    def remove(self):
        shutil.rmtree(self.workdir, ignore_errors=True)


# ----------------------------------------------------------------------------------------
# Clients used by several tests


def put_until_acknowledged(nodes, key, value, timeout=CLUSTER_WAIT, request_timeout=None):
    """Writes key=value, trying `nodes` in turn (following redirects) and retrying on
    connection errors and transient statuses until a 200 arrives; returns that Response.
    AssertionError on any other status or when `timeout` passes without a 200."""
    deadline = time.monotonic() + timeout
    last = None
    i = random.randrange(len(nodes))
    while time.monotonic() < deadline:
        node = nodes[i % len(nodes)]
        i += 1
        try:
            r = node.put(key, value, timeout=request_timeout or REQUEST_TIMEOUT)
        except (OSError, http.client.HTTPException) as e:
            last = f"{node.id}: {type(e).__name__}: {e}"
            time.sleep(0.05)
            continue
        if r.status == 200:
            return r
        if r.status not in TRANSIENT_STATUSES:
            raise AssertionError(f"POST /store {key!r} answered {r}, expected 200 or one of "
                                 f"{TRANSIENT_STATUSES}")
        last = str(r)
        time.sleep(0.05)
    raise AssertionError(f"POST /store {key!r} not acknowledged within {timeout:.0f} s; "
                         f"last: {last}")


def run_in_threads(items, worker, threads=8):
    """Calls worker(item) for every item from `threads` threads; returns {item: result}.
    The first exception raised by a worker is re-raised here."""
    work = queue.Queue()
    for item in items:
        work.put(item)
    results = {}
    errors = []
    lock = threading.Lock()

    def loop():
        while not errors:
            try:
                item = work.get_nowait()
            except queue.Empty:
                return
            try:
                result = worker(item)
            except BaseException as e:  # noqa: B902 - re-raised in the caller
                with lock:
                    errors.append(e)
                return
            with lock:
                results[item] = result

    pool = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]
    return results


def write_keys(nodes, items, threads=8, timeout=CLUSTER_WAIT):
    """Writes every (key, value) of the dict `items` with put_until_acknowledged from
    `threads` threads; returns the dict of acknowledged writes (all of them)."""
    run_in_threads(list(items), lambda k: put_until_acknowledged(nodes, k, items[k], timeout),
                   threads)
    return dict(items)


def read_keys(node, keys, consistency=None, threads=8):
    """GET every key from `node` (no redirects); returns {key: Response}."""
    return run_in_threads(list(keys), lambda k: node.get(k, consistency), threads)


def mismatches(responses, expected):
    """Describes each key whose response is not 200 with exactly the expected value."""
    bad = []
    for key, want in expected.items():
        r = responses[key]
        if r.status != 200 or not isinstance(r.json, dict) or \
                r.json.get("data") != {"key": key, "value": want}:
            bad.append(f"{key!r}: expected value {want!r}, got {r}")
    return bad


class BackgroundWriters:
    """Threads writing unique keys <prefix><thread>-<n> through any node for as long as
    they run. A write is retried (same key, same value) on connection errors and transient
    statuses; only writes answered 200 are recorded in `acked`. Any other status is recorded
    in `unexpected`."""

    def __init__(self, nodes, threads=4, prefix="w"):
        self.nodes = list(nodes)
        self.threads = threads
        self.prefix = prefix
        self.acked = {}
        self.unexpected = []
        self.retries = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = []

    def start(self):
        self._pool = [threading.Thread(target=self._run, args=(t,), daemon=True)
                      for t in range(self.threads)]
        for t in self._pool:
            t.start()
        return self

    def stop(self, timeout=CLUSTER_WAIT + REQUEST_TIMEOUT):
        self._stop.set()
        for t in self._pool:
            t.join(timeout)
            if t.is_alive():
                raise AssertionError("a writer thread did not finish")

    def acked_count(self):
        with self._lock:
            return len(self.acked)

    def snapshot(self):
        with self._lock:
            return dict(self.acked)

    def _run(self, thread_index):
        n = 0
        i = thread_index
        while not self._stop.is_set():
            key = f"{self.prefix}{thread_index}-{n}"
            value = {"writer": thread_index, "seq": n}
            while not self._stop.is_set():
                node = self.nodes[i % len(self.nodes)]
                i += 1
                try:
                    r = node.put(key, value, timeout=REQUEST_TIMEOUT)
                except (OSError, http.client.HTTPException):
                    r = None
                if r is not None and r.status == 200:
                    with self._lock:
                        self.acked[key] = value
                    break
                if r is not None and r.status not in TRANSIENT_STATUSES:
                    with self._lock:
                        self.unexpected.append(f"{node.id}: POST /store {key!r}: {r}")
                with self._lock:
                    self.retries += 1
                self._stop.wait(0.05)
            n += 1


# ----------------------------------------------------------------------------------------
# unittest glue


class KvTestCase(unittest.TestCase):
    """Base class: new_cluster() gives the test a Cluster killed at the end of the test (or
    class, for clusters made in setUpClass with new_class_cluster)."""

    cluster = None

    def new_cluster(self, name=None):
        cluster = Cluster(name or f"{type(self).__name__}.{self._testMethodName}")
        self.cluster = cluster
        self.addCleanup(cluster.close)
        return cluster

    @classmethod
    def new_class_cluster(cls, name=None):
        cluster = Cluster(name or cls.__name__)
        cls.cluster = cluster
        cls.addClassCleanup(cluster.close)
        return cluster

    def wait_until(self, predicate, timeout, what, interval=0.1):
        if self.cluster is not None:
            return self.cluster.wait_until(predicate, timeout, what, interval)
        return wait_until(predicate, timeout, what, interval=interval)

    def assertStatus(self, response, status, what=""):
        """Asserts the response has `status` (one int or a tuple of them)."""
        wanted = status if isinstance(status, tuple) else (status,)
        if response.status not in wanted:
            raise AssertionError(f"{what + ': ' if what else ''}expected HTTP "
                                 f"{' or '.join(map(str, wanted))}, got {response}")

    def assertReadsBack(self, node, expected, consistency, what=""):
        """GETs every key of `expected` from `node` with `consistency` (8 threads) and
        asserts each answers 200 with exactly the expected value; the failure message
        counts the wrong keys and shows the first ten."""
        bad = mismatches(read_keys(node, expected, consistency), expected)
        if bad:
            raise AssertionError(f"{what + ': ' if what else ''}{len(bad)} of {len(expected)} "
                                 f"{consistency} reads from {node.id} wrong, e.g.\n  "
                                 + "\n  ".join(bad[:10]))

    def assertErrorBody(self, response, what=""):
        """Asserts the body is a JSON object with a non-empty string "error"."""
        err = response.error
        if not isinstance(err, str) or not err:
            raise AssertionError(f"{what + ': ' if what else ''}expected a JSON body "
                                 f'{{"error": "..."}}, got {response}')


class _DumpingResult(unittest.TextTestResult):
    """Prints the node logs of a failed test's cluster and keeps its directory."""

    def _dump(self, test, err):
        global _keep_all
        cluster = getattr(test, "cluster", None)
        if cluster is None:  # e.g. setUpClass failed: keep every directory
            _keep_all = True
            for c in _all_clusters:
                self.stream.writeln("\n" + c.diagnostics())
            return
        cluster.keep = True
        text = self._exc_info_to_string(err, test)
        if _LOG_MARKER not in text:
            self.stream.writeln("\n" + cluster.diagnostics())
        self.stream.writeln(f"\n[kvcluster] logs and data kept in {cluster.workdir}")
        self.stream.flush()

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._dump(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._dump(test, err)


def main():
    """Parses --kvserver (or $KVSERVER), runs the __main__ module's tests, removes the
    temporary directories of passing tests, exits 0 when all passed."""
    global KVSERVER
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--kvserver", default=os.environ.get("KVSERVER"),
                        help="path to the kvserver binary")
    args, rest = parser.parse_known_args()
    if not args.kvserver:
        sys.exit("usage: test_X.py --kvserver /path/to/kvserver [unittest options]")
    KVSERVER = os.path.abspath(args.kvserver)
    if not os.access(KVSERVER, os.X_OK):
        sys.exit(f"kvserver binary {KVSERVER} does not exist or is not executable")
    runner = unittest.TextTestRunner(resultclass=_DumpingResult, verbosity=2)
    program = unittest.main(module="__main__", argv=[sys.argv[0]] + rest, testRunner=runner,
                            exit=False)
    ok = program.result.wasSuccessful()
    for cluster in _all_clusters:
        cluster.close()
        if cluster.keep or _keep_all:
            print(f"[kvcluster] kept {cluster.workdir}", file=sys.stderr)
        else:
            cluster.remove()
    sys.exit(0 if ok else 1)
