#!/usr/bin/env bash
# run_bench.sh: kvserver's standard benchmark points, measured with kvbench on a fresh 3-node
# kvserver cluster on 127.0.0.1 — and, when etcd is installed, on a 3-node etcd cluster on
# loopback too, alternating kvserver point, etcd point, next point... — then one table:
# per point, each side's ops/s, p50 and p99 (ms), and the kvserver/etcd throughput ratio.
#
# Points (each --duration seconds after a 2 s warm-up; 100-byte values, 1,000 keys, prefilled;
# kvbench runs one thread so that the load generator does not starve the servers):
#   write1   1 client, writes            write64  64 clients, writes
#   read64   64 clients, linearizable reads (etcd: linearizable range)
#   stale64  64 clients, stale reads (etcd: serializable range)
#
# Usage: kvserver/bench/run_bench.sh [--duration S] [--points write1,read64,...]
#          [--kvserver-bin PATH] [--kvbench-bin PATH] [--with-etcd] [--no-etcd]
#          [--warmup S] [--out FILE] [--keep]
#   --with-etcd  install etcd (Debian etcd-server, with apt-get) when it is missing
#   --no-etcd    kvserver only, even when etcd is installed
#   --out FILE   also append kvbench's JSON lines (one per run, with "point" added) to FILE
#   --keep       keep the temporary directory (data, logs, JSON) instead of deleting it
# Every process it starts is stopped on exit, Ctrl-C included. Ports are picked free in
# 20000-31999 (below Linux's ephemeral range). Logs: <tmp>/kvserver/nodeN.log, <tmp>/etcd/*.log.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DURATION=10
WARMUP=2
POINTS="write1,write64,read64,stale64"
KVSERVER_BIN="${ROOT}/build/kvserver/kvserver"
KVBENCH_BIN="${ROOT}/build/kvserver/bench/kvbench"
WITH_ETCD=0
NO_ETCD=0
OUT=""
KEEP=0

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
die() {
  echo "run_bench.sh: $*" >&2
  exit 1
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --points) POINTS="$2"; shift 2 ;;
    --kvserver-bin) KVSERVER_BIN="$2"; shift 2 ;;
    --kvbench-bin) KVBENCH_BIN="$2"; shift 2 ;;
    --with-etcd) WITH_ETCD=1; shift ;;
    --no-etcd) NO_ETCD=1; shift ;;
    --out) OUT="$(realpath -m "$2")"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

[[ -x "${KVSERVER_BIN}" ]] || die "no kvserver at ${KVSERVER_BIN} (build it, or pass --kvserver-bin)"
[[ -x "${KVBENCH_BIN}" ]] || die "no kvbench at ${KVBENCH_BIN} (build it, or pass --kvbench-bin)"
IFS=',' read -r -a POINT_LIST <<< "${POINTS}"
for p in "${POINT_LIST[@]}"; do
  case "${p}" in
    write1 | write64 | read64 | stale64) ;;
    *) die "unknown point '${p}': write1, write64, read64, stale64" ;;
  esac
done

# --- etcd -------------------------------------------------------------------------------
ETCD_BIN=""
if [[ ${NO_ETCD} -eq 0 ]]; then
  ETCD_BIN="$(command -v etcd || true)"
  if [[ -z "${ETCD_BIN}" && ${WITH_ETCD} -eq 1 ]]; then
    echo "Installing etcd (Debian package etcd-server)..."
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    ${SUDO} apt-get update -qq
    DEBIAN_FRONTEND=noninteractive ${SUDO} apt-get install -y -qq etcd-server > /dev/null
    ETCD_BIN="$(command -v etcd || true)"
    [[ -n "${ETCD_BIN}" ]] || die "etcd-server was installed but no etcd binary is on PATH"
  fi
fi

# --- processes and cleanup ---------------------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/kvbench.XXXXXX")"
PIDS=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [[ -z "${BENCH_PID:-}" ]] || kill -TERM "${BENCH_PID}" 2> /dev/null || true
  for pid in "${PIDS[@]}"; do kill -TERM "${pid}" 2> /dev/null || true; done
  # Give them 5 s to stop gracefully, then kill what is left.
  for _ in $(seq 1 50); do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "${pid}" 2> /dev/null && alive=1; done
    [[ ${alive} -eq 0 ]] && break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL "${pid}" 2> /dev/null || true; done
  wait 2> /dev/null || true
  if [[ ${KEEP} -eq 1 ]]; then
    echo "Kept ${TMP}" >&2
  else
    rm -rf "${TMP}"
  fi
  exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Picks a port nobody uses on this machine (no socket of /proc/net/tcp{,6} has it) and that
# this script has not handed out yet; sets the variable named $1.
USED_PORTS=" "
pick_port() {
  local port hex
  while :; do
    port=$((20000 + RANDOM % 12000))
    [[ "${USED_PORTS}" == *" ${port} "* ]] && continue
    printf -v hex ':%04X ' "${port}"
    if grep -qi -- "${hex}" /proc/net/tcp /proc/net/tcp6 2> /dev/null; then continue; fi
    USED_PORTS+="${port} "
    printf -v "$1" '%s' "${port}"
    return
  done
}

# True when GET http://127.0.0.1:$1$2 answers 200 within 2 s (bash's /dev/tcp: no curl needed).
http_ok() {
  # shellcheck disable=SC2016  # expanded by the inner bash
  timeout 2 bash -c '
    exec 3<> "/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" "$2" >&3
    IFS= read -r line <&3
    [[ "${line}" == "HTTP/1."?" 200"* ]]' _ "$1" "$2" 2> /dev/null
}

wait_ok() {  # port path what log
  for _ in $(seq 1 300); do
    http_ok "$1" "$2" && return 0
    sleep 0.1
  done
  echo "run_bench.sh: $3 (port $1) did not answer $2 with 200 within 30 s; its log:" >&2
  tail -n 20 "$4" >&2 || true
  exit 1
}

# --- kvserver cluster ---------------------------------------------------------------------
mkdir -p "${TMP}/kvserver"
KV_HTTP=()
for n in 1 2 3; do pick_port "KV_HTTP[${n}]"; done
start_kvserver() {
  local n="$1" raft_port
  shift
  pick_port raft_port
  "${KVSERVER_BIN}" --id "node${n}" --http-host 127.0.0.1 --http-port "${KV_HTTP[${n}]}" \
    --raft-addr 127.0.0.1 --raft-port "${raft_port}" --data-dir "${TMP}/kvserver/node${n}" \
    "$@" >> "${TMP}/kvserver/node${n}.log" 2>&1 &
  PIDS+=("$!")
}
echo "Starting 3 kvserver nodes (${KVSERVER_BIN}) in ${TMP}/kvserver..."
start_kvserver 1
wait_ok "${KV_HTTP[1]}" /health "kvserver node1" "${TMP}/kvserver/node1.log"
start_kvserver 2 --join "127.0.0.1:${KV_HTTP[1]}"
start_kvserver 3 --join "127.0.0.1:${KV_HTTP[1]}"
for n in 1 2 3; do
  wait_ok "${KV_HTTP[${n}]}" /health "kvserver node${n}" "${TMP}/kvserver/node${n}.log"
done
KV_ENDPOINTS="127.0.0.1:${KV_HTTP[1]},127.0.0.1:${KV_HTTP[2]},127.0.0.1:${KV_HTTP[3]}"

# --- etcd cluster --------------------------------------------------------------------------
ETCD_ENDPOINTS=""
if [[ -n "${ETCD_BIN}" ]]; then
  mkdir -p "${TMP}/etcd"
  ETCD_CLIENT=()
  ETCD_PEER=()
  CLUSTER=""
  for n in 1 2 3; do
    pick_port "ETCD_CLIENT[${n}]"
    pick_port "ETCD_PEER[${n}]"
    CLUSTER+="${CLUSTER:+,}etcd${n}=http://127.0.0.1:${ETCD_PEER[${n}]}"
  done
  echo "Starting 3 etcd members ($("${ETCD_BIN}" --version 2> /dev/null | head -n 1)) in ${TMP}/etcd..."
  for n in 1 2 3; do
    "${ETCD_BIN}" --name "etcd${n}" --data-dir "${TMP}/etcd/etcd${n}" \
      --listen-client-urls "http://127.0.0.1:${ETCD_CLIENT[${n}]}" \
      --advertise-client-urls "http://127.0.0.1:${ETCD_CLIENT[${n}]}" \
      --listen-peer-urls "http://127.0.0.1:${ETCD_PEER[${n}]}" \
      --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER[${n}]}" \
      --initial-cluster "${CLUSTER}" --initial-cluster-state new \
      --initial-cluster-token "kvbench-$$" \
      >> "${TMP}/etcd/etcd${n}.log" 2>&1 &
    PIDS+=("$!")
  done
  for n in 1 2 3; do
    wait_ok "${ETCD_CLIENT[${n}]}" /health "etcd${n}" "${TMP}/etcd/etcd${n}.log"
  done
  ETCD_ENDPOINTS="127.0.0.1:${ETCD_CLIENT[1]},127.0.0.1:${ETCD_CLIENT[2]},127.0.0.1:${ETCD_CLIENT[3]}"
else
  echo "etcd is not installed (pass --with-etcd to install it): kvserver only."
fi

# --- the points ---------------------------------------------------------------------------
point_args() {
  case "$1" in
    write1) echo "--clients 1 --write-ratio 1" ;;
    write64) echo "--clients 64 --write-ratio 1" ;;
    read64) echo "--clients 64 --write-ratio 0 --consistency linearizable" ;;
    stale64) echo "--clients 64 --write-ratio 0 --consistency stale" ;;
  esac
}
point_title() {
  case "$1" in
    write1) echo "1 client, writes" ;;
    write64) echo "64 clients, writes" ;;
    read64) echo "64 clients, linearizable reads" ;;
    stale64) echo "64 clients, stale reads" ;;
  esac
}
fmt_num() {  # number format: "-" stays "-"
  if [[ "$1" == "-" ]]; then echo "-"; else awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'; fi
}
point_op() { [[ "$1" == write* ]] && echo write || echo read; }

# The number after "key": in a JSON line ("-" when absent).
json_number() {
  local v
  v="$(grep -o "\"$2\":[-0-9.e+]*" <<< "$1" | head -n 1 | cut -d: -f2)"
  echo "${v:--}"
}

# run_point <point> <target> <endpoints>: runs kvbench and sets RESULT to its JSON line (empty
# when it failed). kvbench runs in the background so that a signal stops the script at once.
BENCH_PID=""
run_point() {
  local point="$1" target="$2" endpoints="$3" out="${TMP}/point.json"
  : > "${out}"
  # shellcheck disable=SC2046  # point_args is a list of words
  "${KVBENCH_BIN}" --target "${target}" --endpoints "${endpoints}" $(point_args "${point}") \
    --value-size 100 --keys 1000 --prefill --threads 1 --duration "${DURATION}" \
    --warmup "${WARMUP}" --json > "${out}" 2>> "${TMP}/kvbench.log" &
  BENCH_PID=$!
  if ! wait "${BENCH_PID}"; then
    echo "  ${target} ${point}: kvbench failed (see ${TMP}/kvbench.log)" >&2
  fi
  BENCH_PID=""
  RESULT="$(tail -n 1 "${out}")"
  if [[ -n "${RESULT}" ]]; then
    RESULT="{\"point\":\"${point}\",${RESULT#\{}"
    echo "${RESULT}" >> "${TMP}/results.jsonl"
    [[ -z "${OUT}" ]] || echo "${RESULT}" >> "${OUT}"
  fi
}

declare -A KV_RESULT ETCD_RESULT
for point in "${POINT_LIST[@]}"; do
  echo "Running ${point} ($(point_title "${point}"), ${DURATION} s): kvserver..."
  run_point "${point}" kvserver "${KV_ENDPOINTS}"
  KV_RESULT[${point}]="${RESULT}"
  if [[ -n "${ETCD_ENDPOINTS}" ]]; then
    echo "Running ${point} ($(point_title "${point}"), ${DURATION} s): etcd..."
    run_point "${point}" etcd "${ETCD_ENDPOINTS}"
    ETCD_RESULT[${point}]="${RESULT}"
  fi
done

# --- the table ----------------------------------------------------------------------------
echo
echo "kvbench: ${DURATION} s per point after ${WARMUP} s warm-up, 100-byte values, 1,000 keys" \
  "(prefilled), 1 kvbench thread; $(nproc) CPUs; latencies in ms"
printf '%-32s %10s %8s %8s %6s | %10s %8s %8s %6s | %8s\n' "point" "kv ops/s" "p50" "p99" "err" \
  "etcd ops/s" "p50" "p99" "err" "kv/etcd"
for point in "${POINT_LIST[@]}"; do
  op="$(point_op "${point}")"
  kv="${KV_RESULT[${point}]:-}"
  etcd="${ETCD_RESULT[${point}]:-}"
  kv_ops="$(json_number "${kv}" "${op}_ops_per_s")"
  etcd_ops="$(json_number "${etcd}" "${op}_ops_per_s")"
  ratio="-"
  if [[ "${kv_ops}" != "-" && "${etcd_ops}" != "-" ]]; then
    ratio="$(awk -v a="${kv_ops}" -v b="${etcd_ops}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')"
  fi
  printf '%-32s %10s %8s %8s %6s | %10s %8s %8s %6s | %8s\n' "$(point_title "${point}")" \
    "$(fmt_num "${kv_ops}" %.0f)" "$(fmt_num "$(json_number "${kv}" "${op}_p50_ms")" %.2f)" \
    "$(fmt_num "$(json_number "${kv}" "${op}_p99_ms")" %.2f)" "$(json_number "${kv}" total_errors)" \
    "$(fmt_num "${etcd_ops}" %.0f)" "$(fmt_num "$(json_number "${etcd}" "${op}_p50_ms")" %.2f)" \
    "$(fmt_num "$(json_number "${etcd}" "${op}_p99_ms")" %.2f)" \
    "$(json_number "${etcd}" total_errors)" "${ratio}"
done
for point in "${POINT_LIST[@]}"; do
  for side in kvserver etcd; do
    if [[ ${side} == kvserver ]]; then line="${KV_RESULT[${point}]:-}"; else line="${ETCD_RESULT[${point}]:-}"; fi
    errors="$(grep -o '"errors":{[^}]*}' <<< "${line}" || true)"
    if [[ -n "${errors}" && "${errors}" != '"errors":{}' ]]; then
      echo "  ${point} ${side} ${errors}"
    fi
  done
done
