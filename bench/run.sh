#!/usr/bin/env bash
# The whole benchmark suite in one command (issue 5): builds, runs the raw-kernel baseline and the
# gateway side by side on this machine, stops everything it started and writes docs/benchmarks.md
# and docs/benchmarks-latency.png. Run as root, like start.sh; the full run takes several minutes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

usage() {
  cat <<USAGE
usage: bench/run.sh [--quick] [--out DIR] [--results DIR] [--port N] [--sessions-for-threads N]
  --quick                   small sizes (3 users x 20 requests, 3 raw kernels...): a smoke run
  --out DIR                 where benchmarks.md and benchmarks-latency.png go (default docs)
  --results DIR             keep the JSON of every run there (default: a temporary directory)
  --port N                  the gateway's port (default 3874)
  --sessions-for-threads N  concurrent sessions for the thread count (default 200, --quick 0; 0 skips)
USAGE
}

out=docs results="" port=3874 quick=0 thread_sessions=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --out|--results|--port|--sessions-for-threads)
      [ $# -ge 2 ] || { echo "run.sh: $1 needs a value" >&2; exit 2; }
      case "$1" in
        --out) out=$2 ;; --results) results=$2 ;; --port) port=$2 ;; --sessions-for-threads) thread_sessions=$2 ;;
      esac
      shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "run.sh: run as root (the gateway and the baseline drive Docker)" >&2; exit 1; }

if [ "$quick" -eq 1 ]; then
  users=3 requests=20 single=50 new_sessions=5 min_idle=3 max_total=20 refill_users=2 refill_requests=100 burst=2
  crowd_idle=1 crowd_max=6
  thread_sessions=${thread_sessions:-0}
else
  users=25 requests=100 single=1000 new_sessions=40 min_idle=25 max_total=80 refill_users=5 refill_requests=300 burst=10
  # The original project's published pool settings (5 warm workers, at most 30).
  crowd_idle=5 crowd_max=30
  thread_sessions=${thread_sessions:-200}
fi

temporary=0
if [ -z "$results" ]; then results=$(mktemp -d /tmp/ci-bench-results-XXXXXX); temporary=1; fi
mkdir -p "$results" "$out"
: >"$results/commands.txt"
url=http://127.0.0.1:$port
bin=build/bin
gateway_started=0
# start.sh's own files (pid, log, remembered settings) stay with the results, not in var/: the
# pool flags given here are the benchmark's, not the next start's.
export CI_VAR_DIR="$results/var"

# The shipped configuration without worker.preload, next to it so that its relative paths hold.
no_preload_config=$root/config.bench-no-preload.toml
sed -E 's/^preload = .*/preload = []/' config.toml >"$no_preload_config"
grep -q '^preload = \[\]$' "$no_preload_config" || { echo "run.sh: config.toml has no worker.preload line to turn off" >&2; exit 1; }

cleanup() {
  if [ "$gateway_started" -eq 1 ]; then stop_gateway >/dev/null 2>&1 || echo "run.sh: stopping the gateway failed" >&2; fi
  rm -f "$no_preload_config"
  if [ "$temporary" -eq 1 ]; then rm -rf "$results"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { echo "== $*" >&2; }
# Logs the command for docs/benchmarks.md (the results directory as $RESULTS, the gateway's pid as
# $GATEWAY_PID), then runs it.
run() {
  local arg line=""
  for arg in "$@"; do
    [ "$arg" = "${pid:-}" ] && arg='$GATEWAY_PID'
    [[ $arg == *" "* ]] && arg="'$arg'"
    line+="${line:+ }${arg//$results/\$RESULTS}"
  done
  printf '%s\n' "$line" >>"$results/commands.txt"
  "$@"
}
# A run whose failure is itself a result: the report shows what it measured.
measure() { run "$@" || echo "run.sh: exit status $? from: $*; continuing" >&2; }
loadgen_cmd=("$bin/ci-bench-loadgen" --url "$url" --token-file var/auth_token.txt --admin-token-file var/admin_token.txt)
loadgen() { measure "${loadgen_cmd[@]}" "$@"; }

# start_gateway MIN_IDLE MAX_TOTAL RESULT [more start.sh flags]
start_gateway() {
  run ./start.sh --no-build --min-idle-workers "$1" --max-total-workers "$2" --port "$port" "${@:4}" >&2
  pid=$(cat "$CI_VAR_DIR/gateway.pid")
  gateway_started=1
  step "waiting for $1 idle workers"
  measure bench/metrics.sh fill "$url" var/admin_token.txt "$pid" "$1" 1800 >"$results/$3.json"
}

# ./stop.sh goes by $CI_VAR_DIR/gateway.pid; the gateway this script started must be gone whatever it says.
stop_gateway() {
  run ./stop.sh --remove-workers >&2
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
  gateway_started=0
}

step "build"
run scripts/build.sh >&2

step "raw kernels: $users x $requests; default, without history, and lean as the agent runs them"
measure "$bin/ci-bench-rawkernel" --kernels "$users" --requests "$requests" --json "$results/raw.json"
measure "$bin/ci-bench-rawkernel" --kernels "$users" --requests "$requests" --store-history false \
  --json "$results/raw-nohist.json"
measure "$bin/ci-bench-rawkernel" --kernels "$users" --requests "$requests" --store-history false \
  --kernel-config lean --json "$results/raw-lean.json"

step "gateway with $min_idle idle workers"
# Where the fill's CPU goes: a snapshot before the start and one once the pool is full.
measure bench/metrics.sh cpu >"$results/cpu-before-fill.json"
start_gateway "$min_idle" "$max_total" fill
measure bench/metrics.sh cpu >"$results/cpu-after-fill.json"
measure bench/metrics.sh worker-memory >"$results/memory.json"
measure bench/metrics.sh gateway "$pid" >"$results/gateway-start.json"
# One user: the bare kernels right next to the gateway's run (its pool idle meanwhile), since this
# machine's speed drifts over minutes. The gateway's kernels run lean and its executions skip the
# history by default: its added latency is measured against a bare kernel configured and called
# the same way.
step "1 x $single: bare kernels, then the gateway"
measure "$bin/ci-bench-rawkernel" --kernels 1 --requests "$single" --json "$results/raw-single.json"
measure "$bin/ci-bench-rawkernel" --kernels 1 --requests "$single" --store-history false --json "$results/raw-single-nohist.json"
measure "$bin/ci-bench-rawkernel" --kernels 1 --requests "$single" --store-history false --kernel-config lean \
  --json "$results/raw-single-lean.json"
loadgen --users 1 --requests "$single" --json "$results/gw-single.json"
step "gateway: $users x $requests"
measure bench/metrics.sh threads-during "$pid" "$results/threads-main.json" -- \
  "${loadgen_cmd[@]}" --users "$users" --requests "$requests" --json "$results/gw-main.json"
step "gateway: $users x $requests, the original project's stress test"
loadgen --workload original --users "$users" --requests "$requests" --label "gateway, the original's stress test" \
  --json "$results/gw-original.json"
step "gateway: $new_sessions new sessions"
loadgen --mode new-session --sessions "$new_sessions" --json "$results/gw-new.json"
loadgen --mode new-session --first-cell imports --sessions "$new_sessions" \
  --label "gateway new session, first cell imports numpy, pandas, matplotlib" --json "$results/gw-new-imports.json"
step "gateway: $refill_users users with a quiet pool, then while $burst workers are refilled"
loadgen --users "$refill_users" --requests "$refill_requests" --label "gateway, quiet pool" \
  --json "$results/gw-refill-quiet.json"
loadgen --users "$refill_users" --requests "$refill_requests" --burst "$burst" --label "gateway, pool refilling" \
  --json "$results/gw-refill-burst.json"
measure bench/metrics.sh gateway "$pid" >"$results/gateway-end.json"
stop_gateway

step "without worker.preload: pool fill, idle memory, a new session's first cell with imports"
measure bench/metrics.sh cpu >"$results/cpu-before-fill-no-preload.json"
start_gateway "$min_idle" "$max_total" fill-no-preload --config "$no_preload_config"
measure bench/metrics.sh cpu >"$results/cpu-after-fill-no-preload.json"
measure bench/metrics.sh worker-memory >"$results/memory-no-preload.json"
loadgen --mode new-session --first-cell imports --sessions "$new_sessions" \
  --label "no preload: new session, first cell imports numpy, pandas, matplotlib" --json "$results/gw-new-imports-no-preload.json"
stop_gateway

step "a crowd: $users new users at once on the original's settings ($crowd_idle warm workers, at most $crowd_max)"
start_gateway "$crowd_idle" "$crowd_max" fill-crowd
loadgen --workload original --users "$users" --requests "$requests" --warmup 0 \
  --label "crowd: $users new users at once, the original's stress test and settings" --json "$results/gw-crowd.json"
# The same crowd again once the pool has followed the first one's arrivals (pool.arrival_window):
# the load generator first waits until no worker is being made.
loadgen --workload original --users "$users" --requests "$requests" --warmup 0 \
  --label "the same crowd again, once the pool followed the arrivals" --json "$results/gw-crowd-again.json"
stop_gateway

if [ "$thread_sessions" -gt 0 ]; then
  step "gateway threads with $thread_sessions concurrent sessions"
  # Small workspaces: the loop-disk counts what every volume may grow to, and 200 of the default
  # 500 MB need more free disk than a small host has; this step measures the gateway's threads only.
  # Without the preload: 200 idle workers with it would hold ~19 GB.
  start_gateway "$thread_sessions" $((thread_sessions + 10)) fill-200 --worker-disk-mb 64 --config "$no_preload_config"
  measure bench/metrics.sh threads-during "$pid" "$results/threads-200.json" -- \
    "${loadgen_cmd[@]}" --users "$thread_sessions" --requests 5 --json "$results/gw-200.json"
  measure bench/metrics.sh gateway "$pid" >"$results/gateway-200.json"
  stop_gateway
fi

step "report"
/usr/bin/python3 bench/report.py "$results" "$out/benchmarks.md" "$out/benchmarks-latency.png"
echo "run.sh: wrote $out/benchmarks.md and $out/benchmarks-latency.png" >&2
