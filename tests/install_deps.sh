#!/usr/bin/env bash
# Installs the Debian (bookworm) packages needed to build and test libraft. Used by
# tests/run_all.sh and examples/demo.sh. Returns at once when every package is installed;
# otherwise runs apt-get update + install, through sudo when not root.
set -euo pipefail

PACKAGES=(
  libasio-dev libprotobuf-dev protobuf-compiler libleveldb-dev libsnappy-dev libcxxopts-dev
  libfmt-dev catch2 ninja-build cmake g++ clang libhttp-parser-dev nlohmann-json3-dev python3 curl
)

missing=()
for package in "${PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Status}' "${package}" 2>/dev/null || true)"
  if [[ "${status}" != "installed" ]]; then
    missing+=("${package}")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "All ${#PACKAGES[@]} Debian packages are already installed."
  exit 0
fi

echo "Installing missing Debian packages: ${missing[*]}"
sudo_cmd=()
if [[ "$(id -u)" -ne 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "error: not root and sudo is not available; install as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  sudo_cmd=(sudo)
fi
"${sudo_cmd[@]}" apt-get update
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
