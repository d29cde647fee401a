#!/usr/bin/env bash
# Before and after on the same machine, minutes apart: two checkouts (each built, with its worker
# image: scripts/build.sh there) run the same scenarios in alternation, ROUNDS times each, so that
# the machine's drift (it moves figures by 20% between runs) falls on both alike. Run as root.
#   bench/compare.sh [--rounds N] [--port N] TREE_A TREE_B
# Per run: fill of 25 workers from empty (counted from the gateway's start), 1 user x 1000, 25 x 100,
# then 5 users x 300 with a quiet pool and while 10 new sessions take workers (the refill). One line
# per run; the load generator is this checkout's.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rounds=2 port=3874
while [ $# -gt 2 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || { echo "usage: bench/compare.sh [--rounds N] [--port N] TREE_A TREE_B" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "compare.sh: run as root (the gateways drive Docker)" >&2; exit 1; }
results=$(mktemp -d /tmp/ci-bench-compare-XXXXXX)
trap 'rm -rf "$results"' EXIT
url=http://127.0.0.1:$port

one_run() {  # TREE NAME
  local tree=$1 out=$results/$2 pid
  mkdir -p "$out"
  local loadgen=("$here/build/bin/ci-bench-loadgen" --url "$url" --token-file "$tree/var/auth_token.txt"
                 --admin-token-file "$tree/var/admin_token.txt")
  (cd "$tree" && CI_VAR_DIR="$out/var" ./start.sh --no-build --min-idle-workers 25 --max-total-workers 80 \
     --port "$port" >"$out/start.log" 2>&1) || { echo "compare.sh: $tree did not start; see $out/start.log" >&2; cat "$out/start.log" >&2; return 1; }
  pid=$(cat "$out/var/gateway.pid")
  "$here/bench/metrics.sh" fill "$url" "$tree/var/admin_token.txt" "$pid" 25 600 >"$out/fill.json" || true
  "${loadgen[@]}" --users 1 --requests 1000 --json "$out/single.json" >/dev/null 2>>"$out/loadgen.log" || true
  "${loadgen[@]}" --users 25 --requests 100 --json "$out/main.json" >/dev/null 2>>"$out/loadgen.log" || true
  "${loadgen[@]}" --users 5 --requests 300 --json "$out/quiet.json" >/dev/null 2>>"$out/loadgen.log" || true
  "${loadgen[@]}" --users 5 --requests 300 --burst 10 --json "$out/burst.json" >/dev/null 2>>"$out/loadgen.log" || true
  (cd "$tree" && CI_VAR_DIR="$out/var" ./stop.sh --remove-workers >/dev/null 2>&1) || kill -TERM "$pid" 2>/dev/null || true
  sleep 5
  /usr/bin/python3 - "$out" "$2" "$tree" <<'PY'
import json, os, sys
out, name, tree = sys.argv[1:]
def load(n):
    try:
        return json.load(open(os.path.join(out, n)))
    except (OSError, ValueError):
        return {}
fill, single, main, quiet, burst = (load(n) for n in ("fill.json", "single.json", "main.json", "quiet.json", "burst.json"))
nan = float("nan")
lat = lambda run, k: run.get("latency_ms", {}).get(k, nan)
refill = burst.get("settings", {}).get("burst", {})
print(f"| {name} | {tree} | {fill.get('workers_per_s', nan)} | {lat(single, 'p50'):.2f} | "
      f"{main.get('requests_per_s', nan):.1f} | {lat(main, 'p95'):.1f} | {lat(quiet, 'p95'):.1f} | "
      f"{refill.get('users_latency_during_refill_ms', {}).get('p95', nan):.1f} | {refill.get('workers_per_s', nan):.2f} |")
PY
}

echo "| Run | Tree | Fill workers/s | 1 user P50 ms | 25x100 req/s | 25x100 P95 ms | 5 users P95 ms, quiet | the same during a refill | Refill workers/s |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for round in $(seq 1 "$rounds"); do
  one_run "$1" "A$round"
  one_run "$2" "B$round"
done
