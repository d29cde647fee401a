#!/usr/bin/env bash
# Runs the whole test suite: installs and starts what it needs (packages, dockerd, the worker
# image), builds, then runs the unit tests and the integration tests on the real stack.
#   ./test.sh            everything
#   ./test.sh -L unit    only the unit tests (any ctest arguments are passed on)
# `sh test.sh` runs this under dash, which lacks what follows: hand it over to bash first.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
cd "$root"
[ "$(id -u)" -eq 0 ] || { echo "test.sh: run as root (the tests drive dockerd and create worker containers)" >&2; exit 1; }

bash scripts/install-deps.sh
bash scripts/build.sh

cd build
status=0
ctest --output-on-failure --timeout 900 "$@" || status=$?

left=$(docker ps -aq --filter label=code-interpreter.managed=true | wc -l)
echo "containers of code-interpreter left after the tests: $left"
[ "$left" -eq 0 ] || status=1
exit $status
