#!/usr/bin/env bash
# Installs what kvserver needs (Debian packages), builds it, and runs a local three-node
# cluster in the foreground: node1 on http://127.0.0.1:20001 (Raft 10001), node2 on 20002
# (10002), node3 on 20003 (10003). Ctrl-C stops all three (gracefully).
#
# Data lives in ${KV_DATA:-./kvserver-data}/node{1,2,3}: a second run restarts the same cluster
# with its data (delete the directory for a fresh one). Logs: <data>/nodeN.log.
# KV_HTTP_BASE / KV_RAFT_BASE move the ports (default 20000 / 10000: ports base+1..base+3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$(realpath -m "${KV_DATA:-./kvserver-data}")"
HTTP_BASE="${KV_HTTP_BASE:-20000}"
RAFT_BASE="${KV_RAFT_BASE:-10000}"
BIN="${ROOT}/build/kvserver/kvserver"

bash "${ROOT}/tests/install_deps.sh"
cmake -S "${ROOT}" -B "${ROOT}/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "${ROOT}/build" --target kvserver

mkdir -p "${DATA}"
pids=()
stop_all() {
  trap - INT TERM
  echo
  echo "Stopping the cluster..."
  for pid in "${pids[@]}"; do kill -TERM "${pid}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "Stopped. Data kept in ${DATA} (delete it for a fresh cluster)."
  exit 0
}
trap stop_all INT TERM

# node1 bootstraps a one-node cluster on its first start; node2 and node3 ask node1 to add
# them (--join). On later runs every node restarts from its data and --join does nothing.
start_node() {
  local n="$1"
  shift
  "${BIN}" --id "node${n}" --http-port "$((HTTP_BASE + n))" --raft-port "$((RAFT_BASE + n))" \
           --data-dir "${DATA}/node${n}" "$@" >> "${DATA}/node${n}.log" 2>&1 &
  pids+=("$!")
  echo "node${n}: pid $!, http://127.0.0.1:$((HTTP_BASE + n)), log ${DATA}/node${n}.log"
}

wait_healthy() {
  local port="$1"
  for _ in $(seq 1 300); do
    if curl -sf "http://127.0.0.1:${port}/health" > /dev/null 2>&1; then return 0; fi
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:${port}/health', timeout=1)" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "error: node on port ${port} did not become healthy; see its log" >&2
  stop_all
}

start_node 1
wait_healthy "$((HTTP_BASE + 1))"
start_node 2 --join "127.0.0.1:$((HTTP_BASE + 1))"
start_node 3 --join "127.0.0.1:$((HTTP_BASE + 1))"
wait_healthy "$((HTTP_BASE + 2))"
wait_healthy "$((HTTP_BASE + 3))"

H1="localhost:$((HTTP_BASE + 1))"
H2="localhost:$((HTTP_BASE + 2))"
H3="localhost:$((HTTP_BASE + 3))"
cat <<TRY

The cluster is up. Try, in another terminal:

  curl -L -X POST ${H1}/store -H 'Content-Type: application/json' -d '{"key": "hello", "value": "world"}'
  curl ${H2}/store/hello                          # linearizable read, on any node
  curl '${H3}/store/hello?consistency=stale'      # local read, as the seed did
  curl -L -X DELETE ${H2}/store/hello             # -L follows the redirect to the leader
  curl ${H1}/raft/stats                           # who leads, terms, indexes
  curl ${H1}/metrics

Kill the leader and watch the others elect a new one (within an election timeout, 1-2 s):

  curl -s ${H1}/raft/stats | grep -o '"leader":"[^"]*"'   # which node leads
  kill -9 <that node's pid, printed above>
  curl -s ${H2}/raft/stats | grep -o '"leader":"[^"]*"'   # (ask a live node) the new leader

This script then prints the command that restarts the killed node; it catches up on its own.

Ctrl-C here stops all three nodes; run this script again to restart them with their data.
TRY

# Keep running until Ctrl-C; report a node that exits on its own (e.g. killed).
while true; do
  for i in "${!pids[@]}"; do
    pid="${pids[$i]}"
    if [[ "${pid}" != "-" ]] && ! kill -0 "${pid}" 2>/dev/null; then
      n=$((i + 1))
      echo "node${n} (pid ${pid}) stopped. Restart it with:"
      echo "  ${BIN} --id node${n} --http-port $((HTTP_BASE + n)) --raft-port $((RAFT_BASE + n)) --data-dir ${DATA}/node${n}"
      pids[$i]="-"
    fi
  done
  sleep 1
done
