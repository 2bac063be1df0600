#!/usr/bin/env bash
# Builds and runs examples/ready_loop.cc: three libraft cores in one process, driven by hand
# with the Ready loop. Installs the Debian packages first (tests/install_deps.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

echo "==== Debian packages ===="
bash tests/install_deps.sh

echo "==== Build ready_loop ===="
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLIBRAFT_BUILD_EXAMPLES=ON
cmake --build build --target ready_loop

echo "==== Run ready_loop ===="
exec ./build/examples/ready_loop
