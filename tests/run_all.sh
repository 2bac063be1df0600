#!/usr/bin/env bash
# The one command to build and test libraft on a fresh Debian bookworm machine (and in CI):
#   1. install the Debian packages (tests/install_deps.sh; quick when all are there),
#   2. build everything in build/ (RelWithDebInfo) and run every test,
#   3. build everything again in build-asan/ with ASan + UBSan and run every test again.
# Exits non-zero on the first failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
JOBS="${JOBS:-$(nproc)}"
# Stated explicitly so that an old CMakeCache.txt in build/ cannot switch a part off.
CMAKE_OPTIONS=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DLIBRAFT_BUILD_TESTS=ON
               -DLIBRAFT_BUILD_EXAMPLES=ON)

section() {
  printf '\n==================== %s ====================\n' "$*"
}

section "Debian packages"
bash tests/install_deps.sh

section "Configure build/ (RelWithDebInfo)"
cmake -S . -B build -G Ninja "${CMAKE_OPTIONS[@]}" -DLIBRAFT_SANITIZE=OFF

section "Build build/"
cmake --build build -j "${JOBS}"

section "Test build/"
(cd build && ctest --output-on-failure --no-tests=error -j2)

section "Configure build-asan/ (ASan + UBSan)"
cmake -S . -B build-asan -G Ninja "${CMAKE_OPTIONS[@]}" -DLIBRAFT_SANITIZE=ON

section "Build build-asan/"
cmake --build build-asan -j "${JOBS}"

section "Test build-asan/ (ASan + UBSan)"
(
  cd build-asan
  export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  ctest --output-on-failure --no-tests=error -j2
)

section "All builds and tests passed"
