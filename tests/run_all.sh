#!/usr/bin/env bash
# The one command to build and test libraft on a fresh Debian bookworm machine (and in CI):
#   1. install the Debian packages (tests/install_deps.sh; quick when all are there),
#   2. build everything in build/ (RelWithDebInfo) and run every test,
#   3. install it to a temporary prefix and build and run examples/installed against the
#      installed package (find_package(libraftcpp)),
#   4. build everything again in build-asan/ with ASan + UBSan and run every test again.
# Exits non-zero on the first failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
JOBS="${JOBS:-$(nproc)}"
# Stated explicitly so that an old CMakeCache.txt in build/ cannot switch a part off.
CMAKE_OPTIONS=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DLIBRAFT_BUILD_TESTS=ON)

section() {
  printf '\n==================== %s ====================\n' "$*"
}

section "Debian packages"
bash tests/install_deps.sh

section "Configure build/ (RelWithDebInfo)"
cmake -S . -B build -G Ninja "${CMAKE_OPTIONS[@]}" -DLIBRAFT_SANITIZE=OFF \
      -DLIBRAFT_BUILD_EXAMPLES=ON -DLIBRAFT_BUILD_BENCHMARKS=ON

section "Build build/"
cmake --build build -j "${JOBS}"

section "Test build/"
(cd build && ctest --output-on-failure --no-tests=error -j2)

section "Install to a temporary prefix; build and run a program against the package"
PREFIX="$(mktemp -d)"
trap 'rm -rf "${PREFIX}"' EXIT
cmake --install build --prefix "${PREFIX}" > /dev/null
cmake -S examples/installed -B "${PREFIX}/example-build" -G Ninja \
      -DCMAKE_PREFIX_PATH="${PREFIX}" > /dev/null
cmake --build "${PREFIX}/example-build"
# Two runs on one data directory: the count survives the restart.
"${PREFIX}/example-build/durable_counter" "${PREFIX}/data" | tee "${PREFIX}/run1"
"${PREFIX}/example-build/durable_counter" "${PREFIX}/data" | tee "${PREFIX}/run2"
grep -qx "count = 1" "${PREFIX}/run1" && grep -qx "count = 2" "${PREFIX}/run2" || {
  echo "install-and-link test: expected count = 1 then count = 2" >&2
  exit 1
}
# The runtime from the package: three nodes over loopback TCP; exit 0 when all agree.
"${PREFIX}/example-build/replicated_counter" > "${PREFIX}/counter.out" || {
  cat "${PREFIX}/counter.out"
  echo "install-and-link test: replicated_counter failed" >&2
  exit 1
}
tail -n 3 "${PREFIX}/counter.out"

section "Configure build-asan/ (ASan + UBSan)"
# The examples and benchmark programs run no test, so this build leaves them out (build/ has
# compiled them with the same warnings).
cmake -S . -B build-asan -G Ninja "${CMAKE_OPTIONS[@]}" -DLIBRAFT_SANITIZE=ON \
      -DLIBRAFT_BUILD_EXAMPLES=OFF -DLIBRAFT_BUILD_BENCHMARKS=OFF

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
