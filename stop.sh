#!/usr/bin/env bash
# Stops the gateway started by start.sh; the gateway removes every worker it made. Workers of this
# instance that are still there afterwards (a gateway that crashed) are removed here.
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
cd "$root"
pidfile=var/gateway.pid
instance=default

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

if docker info >/dev/null 2>&1; then
  left=$(docker ps -aq --filter label=code-interpreter.managed=true --filter "label=code-interpreter.instance=$instance")
  if [ -n "$left" ]; then
    echo "stop.sh: removing $(echo "$left" | wc -l) leftover worker(s)"
    echo "$left" | xargs docker rm -f >/dev/null
  fi
fi
rm -rf "/run/code-interpreter/$instance"
