#!/usr/bin/env bash
# Installs the Debian packages needed to build, run and test code-interpreter.
# Idempotent: does nothing when every package is already installed.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config git
  libpistache-dev nlohmann-json3-dev libtomlplusplus-dev
  libboost-dev libboost-filesystem-dev
  libcurl4-openssl-dev libzmq3-dev cppzmq-dev libssl-dev
  libgtest-dev libgmock-dev libyaml-cpp-dev
  # fuzz tests (tests/fuzz): clang with libFuzzer and the sanitizer runtimes, llvm-symbolizer
  clang-14 libclang-rt-14-dev llvm-14
  # browser test of the console page (tests/browser): headless Chromium
  chromium
  # run: the Docker engine, and what the worker image build needs
  docker.io debootstrap curl ca-certificates iptables e2fsprogs util-linux
  # the Kubernetes suite's test CA and certificates (tests/kubernetes)
  openssl
  # docs/openapi.json through a validator and a client generator from npm (tests/openapi/check.sh),
  # and the MCP endpoint through the official MCP SDK and conformance suite (tests/mcp)
  nodejs npm
  # the Python client package (clients/python): its tests and an offline pip install of it
  python3 python3-pip python3-setuptools python3-wheel
)

# Installed, or provided by an installed package: NodeSource's nodejs provides (and conflicts with) npm.
installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" && return 0
  dpkg-query -W -f='${db:Status-Abbrev} ${Provides}\n' 2>/dev/null | awk -v p="$1" '
    $1 == "ii" { for (i = 2; i <= NF; i++) { name = $i; sub(/,$/, "", name); if (name == p) found = 1 } }
    END { exit !found }'
}

missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
