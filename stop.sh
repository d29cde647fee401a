#!/usr/bin/env bash
# Stops the gateway started by start.sh; the gateway removes every worker it made, unless
# pool.keep_workers_on_stop keeps them for the next start (var/pool-state.json names them; a
# crashed gateway leaves them too). --remove-workers removes such kept workers, their volumes
# and the state file as well (default instance and paths of config.toml).
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
cd "$root"
pidfile=var/gateway.pid
statefile=var/pool-state.json
instance=default
remove_workers=false
case "${1:-}" in
  --remove-workers) remove_workers=true ;;
  "") ;;
  *) echo "usage: ./stop.sh [--remove-workers]" >&2; exit 2 ;;
esac

if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  pid=$(cat "$pidfile")
  kill -TERM "$pid"
  for _ in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "stop.sh: the gateway did not stop within 60 s; killing it" >&2
    kill -KILL "$pid" || true
  fi
  echo "stop.sh: gateway stopped"
else
  echo "stop.sh: the gateway is not running"
fi
rm -f "$pidfile"

if [ -f "$statefile" ] && [ "$remove_workers" = false ]; then
  echo "stop.sh: workers kept for the next start ($statefile); ./stop.sh --remove-workers removes them"
  exit 0
fi
if docker info >/dev/null 2>&1; then
  left=$(docker ps -aq --filter label=code-interpreter.managed=true --filter "label=code-interpreter.instance=$instance")
  if [ -n "$left" ]; then
    echo "stop.sh: removing $(echo "$left" | wc -l) leftover worker(s)"
    echo "$left" | xargs docker rm -f >/dev/null
  fi
fi
for mount in /run/code-interpreter-disks/"$instance"-*; do
  [ -d "$mount" ] || continue
  umount "$mount" 2>/dev/null || true  # the loop device detaches itself (autoclear)
  rmdir "$mount"
done
rm -f /var/lib/code-interpreter/disks/"$instance"-*.img "$statefile"
rm -rf "/run/code-interpreter/$instance"
