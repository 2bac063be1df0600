#!/usr/bin/env bash
# Builds and runs the examples: replicated_counter.cc (three raft::Raft nodes in one process
# over loopback TCP, the README's hello world), then ready_loop.cc (three bare cores driven by
# hand with the Ready loop). Installs the Debian packages first (tests/install_deps.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

echo "==== Debian packages ===="
bash tests/install_deps.sh

echo "==== Build the examples ===="
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLIBRAFT_BUILD_EXAMPLES=ON
cmake --build build --target replicated_counter ready_loop

echo "==== Run replicated_counter ===="
./build/examples/replicated_counter

echo "==== Run ready_loop ===="
exec ./build/examples/ready_loop
