#!/usr/bin/env bash
# Builds the gateway, plugins, agent and tests into build/ (incremental), then the worker image and
# the gateway's image (for Kubernetes: docs/kubernetes.md).
#   scripts/build.sh [--image-profile standard|full]
# standard (default) is code-interpreter-worker:latest; full is code-interpreter-worker:full,
# made by docker/build-image.sh --profile full.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build"
log="$build/build.log"
profile=standard
case "${1:-}" in
  --image-profile) profile=${2:-} ;;
  "") ;;
  *) echo "usage: scripts/build.sh [--image-profile standard|full]" >&2; exit 2 ;;
esac
case "$profile" in
  standard) image_args=() ;;  # build-image.sh's default; it builds the standard image without --profile
  full) image_args=(--profile full) ;;
  *) echo "build: unknown image profile '$profile' (standard or full)" >&2; exit 2 ;;
esac
mkdir -p "$build"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$log" 2>&1 ||
    { cat "$log" >&2; echo "build: cmake configure failed" >&2; exit 1; }
fi
echo "build: compiling (log: $log)"
if ! cmake --build "$build" -j"$(nproc)" >"$log" 2>&1; then
  grep -E -A5 "error|Error" "$log" | head -n 60 >&2
  echo "build: compilation failed; full log: $log" >&2
  exit 1
fi
bash "$root/scripts/ensure-dockerd.sh"
bash "$root/docker/build-image.sh" --agent "$build/bin/ci-agent" "${image_args[@]}"
bash "$root/docker/build-image.sh" --profile gateway
