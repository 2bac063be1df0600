#!/usr/bin/env bash
# Compiles every public header of libraft (libraft/include/raft/*.h) on its own, as the first
# and only include of a translation unit, with the warnings our own code is built with:
# each header must bring what it needs and compile under every compiler an embedder may use
# (gcc accepted a defaulted operator== that clang refuses; see git log of ready.h).
#
# usage: check_public_headers.sh [--together] CXX INCLUDE_DIR GENERATED_PROTO_DIR
# --together: one translation unit including every header (a second compiler's check: 1 s
# instead of 20; that each header is self-contained is the build compiler's check).
set -euo pipefail
shopt -s nullglob
together=0
if [[ "${1:-}" == "--together" ]]; then
  together=1
  shift
fi
if (($# != 3)); then
  echo "usage: $0 [--together] CXX INCLUDE_DIR GENERATED_PROTO_DIR" >&2
  exit 2
fi
cxx="$1"
include_dir="$2"
proto_dir="$3"
version="$("${cxx}" --version | sed -n 1p)"
flags=(-std=c++20 -fsyntax-only -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor
  -Wold-style-cast -Wpedantic -I "${include_dir}" -I "${proto_dir}")
failed=0
count=0
if ((together)); then
  source=""
  for header in "${include_dir}"/raft/*.h; do
    source+="#include \"raft/$(basename "${header}")\""$'\n'
    count=$((count + 1))
  done
  if ((count == 0)); then
    echo "no headers found in ${include_dir}/raft" >&2
    exit 1
  fi
  printf '%s' "${source}" | "${cxx}" "${flags[@]}" -x c++ -
  echo "${count} public headers compiled together with ${version}"
  exit 0
fi
for header in "${include_dir}"/raft/*.h; do
  name="raft/$(basename "${header}")"
  count=$((count + 1))
  if ! printf '#include "%s"\n' "${name}" | "${cxx}" "${flags[@]}" -x c++ -; then
    echo "FAILED: ${name} does not compile on its own with ${cxx}" >&2
    failed=$((failed + 1))
  fi
done
if ((count == 0)); then
  echo "no headers found in ${include_dir}/raft" >&2
  exit 1
fi
echo "${count} public headers checked with ${version}: ${failed} failed"
((failed == 0))
