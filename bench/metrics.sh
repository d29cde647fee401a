#!/usr/bin/env bash
# Measurements the load generator cannot make from outside: pool fill time, worker memory and the
# gateway process's RSS and threads. Each prints (or writes) one JSON object.
#
#   metrics.sh fill URL ADMIN_TOKEN_FILE GATEWAY_PID WORKERS TIMEOUT_S
#       seconds from the gateway's start (pool empty) until WORKERS workers are idle; returns once
#       none is being created
#   metrics.sh worker-memory [INSTANCE]
#       mean memory of the instance's workers from their cgroups (measure with an idle pool)
#   metrics.sh gateway GATEWAY_PID
#       the gateway's VmRSS, VmHWM and thread count now
#   metrics.sh threads-during GATEWAY_PID JSON_FILE -- COMMAND...
#       runs COMMAND while sampling the gateway's thread count every 100 ms; exits as COMMAND did
#   metrics.sh cpu
#       CPU seconds used so far by the whole machine, Docker's containers (their cgroup), dockerd,
#       containerd, the containerd shims and the gateway (each with its reaped children): take one
#       before and one after a step and subtract
set -euo pipefail

# Seconds since boot, with the gateway's start converted from clock ticks the same way.
uptime_s() { cut -d' ' -f1 /proc/uptime; }
started_s() { awk -v tck="$(getconf CLK_TCK)" '{ print $22 / tck }' "/proc/$1/stat"; }

# One field of GET /status.
status_field() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" <<<"$1"; }

fill() {
  local url=$1 admin_token=$2 pid=$3 workers=$4 timeout=$5 status idle=0 now="" start
  start=$(started_s "$pid")
  local deadline=$((SECONDS + timeout))
  while [ "$SECONDS" -lt "$deadline" ]; do
    status=$(curl -fsS "$url/status" -H "X-Auth-Token: $(cat "$admin_token")")
    idle=$(status_field "$status" idle_workers)
    [ -z "$now" ] && [ "${idle:-0}" -ge "$workers" ] && now=$(uptime_s)
    # Returns once nothing is being created either, so that the pool is exactly the idle workers.
    if [ -n "$now" ] && [ "$(status_field "$status" creating_workers)" = 0 ]; then
      awk -v n="$workers" -v now="$now" -v start="$start" \
        'BEGIN { s = now - start; printf "{\"workers\": %d, \"seconds\": %.2f, \"workers_per_s\": %.2f}\n", n, s, n / s }'
      return 0
    fi
    sleep 0.05
  done
  echo "metrics.sh: only ${idle:-0} of $workers workers idle after ${timeout} s" >&2
  return 1
}

# cgroup v1 (memory controller) or v2 (unified) directory of a container.
cgroup_dir() {
  local id=$1 dir
  for dir in "/sys/fs/cgroup/memory/docker/$id" "/sys/fs/cgroup/system.slice/docker-$id.scope" "/sys/fs/cgroup/docker/$id"; do
    [ -d "$dir" ] && { echo "$dir"; return 0; }
  done
  echo "metrics.sh: no memory cgroup found for container $id" >&2
  return 1
}

# usage: what counts against the worker's limit (page cache included); rss: anonymous memory.
worker_memory() {
  local instance=${1:-default} id dir usage rss
  local ids
  ids=$(docker ps -q --no-trunc --filter label=code-interpreter.managed=true --filter "label=code-interpreter.instance=$instance")
  [ -n "$ids" ] || { echo "metrics.sh: no workers of instance $instance" >&2; return 1; }
  for id in $ids; do
    dir=$(cgroup_dir "$id")
    if [ -f "$dir/memory.usage_in_bytes" ]; then
      usage=$(cat "$dir/memory.usage_in_bytes")
      rss=$(awk '$1 == "total_rss" { print $2 }' "$dir/memory.stat")
    else
      usage=$(cat "$dir/memory.current")
      rss=$(awk '$1 == "anon" { print $2 }' "$dir/memory.stat")
    fi
    echo "$usage $rss"
  done | awk '{ u += $1; r += $2; n++; if ($1 > max) max = $1 }
    END { printf "{\"workers\": %d, \"mean_usage_mb\": %.1f, \"mean_rss_mb\": %.1f, \"max_usage_mb\": %.1f}\n",
          n, u / n / 1048576, r / n / 1048576, max / 1048576 }'
}

gateway() {
  local pid=$1
  awk -v threads="$(ls "/proc/$pid/task" | wc -l)" '
    $1 == "VmRSS:" { rss = $2 } $1 == "VmHWM:" { hwm = $2 }
    END { printf "{\"rss_kb\": %d, \"hwm_kb\": %d, \"threads\": %d}\n", rss, hwm, threads }' "/proc/$pid/status"
}

threads_during() {
  local pid=$1 out=$2 samples sampler status=0
  shift 3  # PID FILE --
  samples=$(mktemp)
  # Builtins only but for sleep: a sampler that forks several processes per sample costs the
  # measured run noticeable CPU on a small machine.
  ( while [ -r "/proc/$pid/status" ]; do
      while read -r key value; do [ "$key" = Threads: ] && echo "$value"; done <"/proc/$pid/status"
      sleep 0.5
    done >"$samples" ) 2>/dev/null &
  sampler=$!
  "$@" || status=$?
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  sort -n "$samples" | awk '{ v[NR] = $1 } END { printf "{\"samples\": %d, \"min_threads\": %d, \"max_threads\": %d}\n", NR, v[1], v[NR] }' >"$out"
  rm -f "$samples"
  return "$status"
}

# Seconds of CPU of the processes named $1 and of the children they reaped.
process_cpu() {
  local tck pid total=0
  tck=$(getconf CLK_TCK)
  for pid in $(pgrep -x "$1"); do
    total=$((total + $(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  awk -v t="$total" -v tck="$tck" 'BEGIN { printf "%.2f", t / tck }'
}

cpu() {
  local containers=null dir
  for dir in /sys/fs/cgroup/cpuacct/docker /sys/fs/cgroup/cpu,cpuacct/docker; do
    [ -f "$dir/cpuacct.usage" ] && { containers=$(awk '{ printf "%.2f", $1 / 1e9 }' "$dir/cpuacct.usage"); break; }
  done
  [ "$containers" = null ] && [ -f /sys/fs/cgroup/docker/cpu.stat ] &&
    containers=$(awk '$1 == "usage_usec" { printf "%.2f", $2 / 1e6 }' /sys/fs/cgroup/docker/cpu.stat)
  # comm is cut to 15 characters: the shims are "containerd-shim".
  printf '{"machine": %s, "containers": %s, "dockerd": %s, "containerd": %s, "shims": %s, "gateway": %s}\n' \
    "$(awk -v tck="$(getconf CLK_TCK)" '$1 == "cpu" { printf "%.2f", ($2 + $3 + $4 + $7 + $8) / tck }' /proc/stat)" \
    "$containers" "$(process_cpu dockerd)" "$(process_cpu containerd)" "$(process_cpu containerd-shim)" \
    "$(process_cpu ci-gateway)"
}

case "${1:-}" in
  fill) shift; fill "$@" ;;
  worker-memory) shift; worker_memory "$@" ;;
  gateway) shift; gateway "$@" ;;
  threads-during) shift; threads_during "$@" ;;
  cpu) cpu ;;
  *) sed -n '2,18p' "$0" >&2; exit 2 ;;
esac
