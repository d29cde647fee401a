#!/usr/bin/env bash
# Starts dockerd in the background when it is installed but not answering, and waits for it.
set -euo pipefail
if docker info >/dev/null 2>&1; then exit 0; fi
command -v dockerd >/dev/null || { echo "ensure-dockerd: dockerd is not installed" >&2; exit 1; }
log=/var/log/code-interpreter-dockerd.log
echo "ensure-dockerd: starting dockerd (log: $log)"
nohup dockerd >"$log" 2>&1 &
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 0.5
done
echo "ensure-dockerd: dockerd did not answer within 30 s; see $log" >&2
exit 1
