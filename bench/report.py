#!/usr/bin/python3
"""Writes docs/benchmarks.md and the latency chart from the JSON files bench/run.sh collected.

usage: report.py RESULTS_DIR MARKDOWN_FILE PNG_FILE
Runs with the host's /usr/bin/python3 (matplotlib). A figure that was not measured reads "n/a".
"""
import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

results, md_path, png_path = sys.argv[1:4]


def load(name):
    try:
        with open(os.path.join(results, name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):  # not measured, or the measurement failed
        return None


def get(data, *keys):
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def fmt(value, digits=1, unit=""):
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def mb(kb):
    return None if kb is None else kb / 1024


def ratio(a, b):
    return "n/a" if a is None or not b else f"{a / b:.2f}x"


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    mem_kb = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True).stdout.strip()
    return {"cores": os.cpu_count(), "cpu": cpu, "ram_gb": mem_kb / 1048576, "kernel": platform.release(),
            "commit": commit or "?"}


runs = {name: load(name) for name in ["raw", "raw-nohist", "raw-lean", "raw-single", "raw-single-nohist", "raw-single-lean",
                                       "gw-main", "gw-original", "gw-single", "gw-new", "gw-new-imports",
                                       "gw-new-imports-no-preload", "gw-crowd", "gw-crowd-again",
                                       "gw-refill-quiet", "gw-refill-burst", "gw-200"]}
fill, fill200, memory = load("fill"), load("fill-200"), load("memory")
fill_bare, memory_bare = load("fill-no-preload"), load("memory-no-preload")


def cpu_per_worker(before, after, filled):
    """CPU seconds per worker made, by component, between two `metrics.sh cpu` snapshots."""
    b, a, n = load(before), load(after), get(load(filled), "workers")
    if not b or not a or not n:
        return None
    per = {k: (a[k] - b[k]) / n for k in a if isinstance(a.get(k), (int, float)) and isinstance(b.get(k), (int, float))}
    if "machine" in per:
        per["other"] = per["machine"] - sum(v for k, v in per.items() if k != "machine")
    return per


cpu_fill = cpu_per_worker("cpu-before-fill", "cpu-after-fill", "fill")
cpu_fill_bare = cpu_per_worker("cpu-before-fill-no-preload", "cpu-after-fill-no-preload", "fill-no-preload")
cpu_parts = [("containers", "the worker's container (agent, kernel start, imports)"), ("shims", "containerd's shims and the OCI runtime they run"),
             ("containerd", "containerd"), ("dockerd", "dockerd"), ("gateway", "the gateway and its plugins"),
             ("other", "the rest (the kernel's own work: namespaces, cgroups, mounts, loop devices)"), ("machine", "in all")]
gw_start, gw_end, gw_200 = load("gateway-start"), load("gateway-end"), load("gateway-200")
threads_main, threads_200 = load("threads-main"), load("threads-200")
with open(os.path.join(results, "commands.txt")) as f:
    commands = f.read().strip()
m = machine()


def lat(run, key):
    return get(runs[run], "latency_ms", key)


def rps(run):
    return get(runs[run], "requests_per_s")


def row(run):
    r = runs[run]
    if r is None:
        return f"| {run}: not measured | | | | | | | | | |"
    l = r["latency_ms"]
    return (f"| {r['label']} | {r['attempted']} | {r['success_rate']:.1f}% | {r['verification_rate']:.1f}% | "
            f"{r['requests_per_s']:.1f} | {l['mean']:.1f} | {l['p50']:.1f} | {l['p95']:.1f} | {l['p99']:.1f} | {l['max']:.1f} |")


def target(name, wanted, shown, value, ok):
    verdict = "n/a" if value is None else ("met" if ok(value) else "**not met**")
    return f"| {name} | {wanted} | {shown} | {verdict} |"


main = runs["gw-main"]
size = "stateful load" if main is None else f"{main['users']} users x {main['requests_per_user']}"
# Like for like: the gateway's kernels run lean and its executions skip the history by default,
# so its added cost is measured against a bare kernel configured and called the same way.
added_p50 = None if lat("gw-single", "p50") is None or lat("raw-single-lean", "p50") is None \
    else lat("gw-single", "p50") - lat("raw-single-lean", "p50")
burst = get(runs["gw-refill-burst"], "settings", "burst")
quiet_p95 = lat("gw-refill-quiet", "p95")
refill_p95 = get(burst, "users_latency_during_refill_ms", "p95")
p95_rise = None if quiet_p95 is None or refill_p95 is None else (refill_p95 / quiet_p95 - 1) * 100
rise = "n/a" if p95_rise is None else f"{p95_rise:+.0f}%"
many = get(runs["gw-200"], "users")

targets = [
    target(f"{size}: success and verification", "100%",
           f"{fmt(get(main, 'success_rate'))}% / {fmt(get(main, 'verification_rate'))}%",
           get(main, "verification_rate"), lambda v: v == 100 and main["success_rate"] == 100),
    target(f"{size}: throughput vs raw default kernels", ">= 1.5x", ratio(rps("gw-main"), rps("raw")),
           rps("raw") and rps("gw-main"), lambda v: v >= 1.5 * rps("raw")),
    target(f"{size}: P95 vs mean", "<= 2x", ratio(lat("gw-main", "p95"), lat("gw-main", "mean")),
           lat("gw-main", "p95"), lambda v: v <= 2 * lat("gw-main", "mean")),
    target(f"{size}: P99", "< 150 ms", fmt(lat("gw-main", "p99"), 1, " ms"), lat("gw-main", "p99"), lambda v: v < 150),
    target("Added P50 over a direct kernel call (1 user)", "<= 0.5 ms", fmt(added_p50, 2, " ms"), added_p50,
           lambda v: v <= 0.5),
    target("New session P50 (warm pool)", "<= 10 ms", fmt(lat("gw-new", "p50"), 1, " ms"), lat("gw-new", "p50"),
           lambda v: v <= 10),
    target("New session P99 (warm pool)", "<= 50 ms", fmt(lat("gw-new", "p99"), 1, " ms"), lat("gw-new", "p99"),
           lambda v: v <= 50),
    # Issue 5 had no preload: its memory and fill targets are judged on workers without it.
    target("Idle worker memory, no preload (mean cgroup usage)", "<= 60 MB",
           fmt(get(memory_bare, "mean_usage_mb"), 1, " MB") + f" (with the default preload: {fmt(get(memory, 'mean_usage_mb'), 1, ' MB')})",
           get(memory_bare, "mean_usage_mb"), lambda v: v <= 60),
    target("Pool fill from empty, no preload", ">= 2 workers/s",
           fmt(get(fill_bare, "workers_per_s"), 2, " workers/s") + f" (with: {fmt(get(fill, 'workers_per_s'), 2)})",
           get(fill_bare, "workers_per_s"), lambda v: v >= 2),
    target("Pool refill under load", ">= 2 workers/s", fmt(get(burst, "workers_per_s"), 2, " workers/s"),
           get(burst, "workers_per_s"), lambda v: v >= 2),
    target("Running sessions' P95 during a refill", "<= +20%", rise, p95_rise, lambda v: v <= 20),
    f"| Gateway threads with {many or 'n/a'} concurrent sessions | small, fixed | "
    f"{get(threads_200, 'max_threads') or 'n/a'} (idle gateway: {get(gw_start, 'threads') or 'n/a'}) | see the figures |",
]

crowd = runs["gw-crowd"]
users_crowd = get(crowd, "users") or "n/a"
crowd_max = lat("gw-crowd", "max")
targets16 = [
    target("First cell importing numpy, pandas, matplotlib: new session, warm pool, P50", "<= 50 ms",
           fmt(lat("gw-new-imports", "p50"), 1, " ms") + f" (without the preload: {fmt(lat('gw-new-imports-no-preload', 'p50'), 1, ' ms')})",
           lat("gw-new-imports", "p50"), lambda v: v <= 50),
    target("The same, P99", "<= 100 ms", fmt(lat("gw-new-imports", "p99"), 1, " ms"), lat("gw-new-imports", "p99"),
           lambda v: v <= 100),
    target("Pool fill from empty to 25 ready", ">= 4 workers/s",
           fmt(get(fill, "workers_per_s"), 2, " workers/s") + f" (without the preload: {fmt(get(fill_bare, 'workers_per_s'), 2)})",
           get(fill, "workers_per_s"), lambda v: v >= 4),
    target("A crowd (25 users at once, the original's settings and stress test): slowest request", "<= 3 s",
           fmt(None if crowd_max is None else crowd_max / 1000, 2, " s"), crowd_max, lambda v: v <= 3000),
    target("A crowd: P99", "<= 100 ms", fmt(lat("gw-crowd", "p99"), 1, " ms"), lat("gw-crowd", "p99"), lambda v: v <= 100),
    target("The same crowd again, within pool.arrival_window: slowest request", "<= 3 s",
           fmt(None if lat("gw-crowd-again", "max") is None else lat("gw-crowd-again", "max") / 1000, 2, " s") +
           f", P99 {fmt(lat('gw-crowd-again', 'p99'), 1, ' ms')}", lat("gw-crowd-again", "max"), lambda v: v <= 3000),
    target("Running sessions' P95 during a refill of 10", "<= +20%", rise, p95_rise, lambda v: v <= 20),
    target(f"{size}: throughput vs the same lean kernels driven directly", ">= 0.97x", ratio(rps("gw-main"), rps("raw-lean")),
           rps("raw-lean") and rps("gw-main"), lambda v: v >= 0.97 * rps("raw-lean")),
    target("Added P50 over a direct kernel call (1 user)", "<= 0.5 ms", fmt(added_p50, 2, " ms"), added_p50,
           lambda v: v <= 0.5),
]

md = f"""# Benchmarks

Written by `bench/run.sh` on {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} (commit `{m['commit']}`).
Every figure comes from one run on one machine: {m['cores']} cores ({m['cpu']}), {m['ram_gb']:.1f} GB RAM, Linux {m['kernel']}.
Other load on the machine during the run skews the figures.

The workload is stateful: each user's first request sets a counter to a per-user base, each later request increments and
shows it (`n += 1` then `n`), and every answer is checked against the expected value. Latencies are those of answered
requests as the client measured them; percentiles are nearest-rank. The raw baseline runs the same workload on bare
ipykernels started in the same worker image (one container each, network none, the sandbox user, the worker's default
CPU and memory limits, the home on the container's disk), driven directly over ZeroMQ by one client thread per kernel:
as installed ("raw", Jupyter's defaults), with `store_history` false ("no history"), and with the options the agent
starts its kernels with ("lean": docs/architecture.md, "The kernel's configuration"), which is what the gateway runs.

## Targets (issue 16: the first real cell, a crowd, the last hops)

| Target | Wanted | Measured | |
| --- | --- | --- | --- |
{chr(10).join(targets16)}

## Targets (issue 5)

| Target | Wanted | Measured | |
| --- | --- | --- | --- |
{chr(10).join(targets)}

## Stateful load, side by side

| Run | Requests | Success | Verified | Requests/s | Mean ms | P50 ms | P95 ms | P99 ms | Max ms |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
{row('raw')}
{row('raw-nohist')}
{row('raw-lean')}
{row('gw-main')}
{row('gw-original')}
{row('raw-single')}
{row('raw-single-nohist')}
{row('raw-single-lean')}
{row('gw-single')}

- Gateway / raw default kernels: throughput {ratio(rps('gw-main'), rps('raw'))}, P50 {ratio(lat('gw-main', 'p50'), lat('raw', 'p50'))}, P95 {ratio(lat('gw-main', 'p95'), lat('raw', 'p95'))}, P99 {ratio(lat('gw-main', 'p99'), lat('raw', 'p99'))}.
- Gateway / raw kernels with `store_history` false: throughput {ratio(rps('gw-main'), rps('raw-nohist'))}, P95 {ratio(lat('gw-main', 'p95'), lat('raw-nohist', 'p95'))}, P99 {ratio(lat('gw-main', 'p99'), lat('raw-nohist', 'p99'))}. Without history the bare kernels manage {ratio(rps('raw-nohist'), rps('raw'))} the default's throughput.
- Gateway / raw lean kernels (the same kernels, driven directly, each by its own client, without fair scheduling): throughput {ratio(rps('gw-main'), rps('raw-lean'))}, P95 {ratio(lat('gw-main', 'p95'), lat('raw-lean', 'p95'))}, P99 {ratio(lat('gw-main', 'p99'), lat('raw-lean', 'p99'))}. The lean configuration alone gives bare kernels {ratio(rps('raw-lean'), rps('raw'))} the default's throughput.
- The original project's own stress test (its three scenarios, an integer counter, a list sum and a numpy array, by user; every printed number checked as it checks them; `--workload original`): {fmt(rps('gw-original'))} requests/s, P95 {fmt(lat('gw-original', 'p95'), 1, ' ms')}, {fmt(get(runs['gw-original'], 'verification_rate'))}% verified. The original project publishes ~32.8 requests/s and P95 496.5 ms for the same 25 x 100 on an i5-14400 (its README).
- One user, one request at a time: the gateway adds {fmt(added_p50, 2, ' ms')} to the P50 of a direct call to a lean kernel without history, as the gateway makes it ({fmt(lat('gw-single', 'p50'), 2)} ms against {fmt(lat('raw-single-lean', 'p50'), 2)} ms): HTTP, the gateway, the signed ipc hop and the agent. A direct call to a default kernel takes {fmt(lat('raw-single', 'p50'), 2)} ms (with history) and {fmt(lat('raw-single-nohist', 'p50'), 2)} ms (without).

![Latency distributions](benchmarks-latency.png)

## New sessions

A fresh `user_uuid`'s first `/execute` with a warm pool, one at a time, each session released after and the next one sent
once the pool is full and quiet again.

| First cell | Sessions | P50 ms | P95 ms | P99 ms | Max ms |
| --- | --- | --- | --- | --- | --- |
{chr(10).join(f"| {label} | {get(runs[name], 'attempted') or 'n/a'} | {fmt(lat(name, 'p50'))} | {fmt(lat(name, 'p95'))} | {fmt(lat(name, 'p99'))} | {fmt(lat(name, 'max'))} |" for name, label in [("gw-new", "`n = 41; n + 1`"), ("gw-new-imports", "`import numpy as np, pandas as pd; import matplotlib.pyplot as plt`, then the same (default `worker.preload`)"), ("gw-new-imports-no-preload", "the same, `worker.preload = []`")])}

## A crowd

{users_crowd} new users at once, each running the original project's stress test ({get(crowd, 'requests_per_user') or 'n/a'} requests, its three scenarios), on a gateway
with the original's published settings (5 warm workers, at most 30, 1 CPU, 1024 MB, 500 MB disk); the first request of each user,
which waits for a worker when none is idle, is measured. Then the same crowd again, once the pool has stopped making
workers: it keeps as many idle workers as sessions arrived within `pool.arrival_window`, so the second crowd finds them.

| Run | Requests | Success | Verified | Requests/s | Mean ms | P50 ms | P95 ms | P99 ms | Max ms |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
{row('gw-crowd')}
{row('gw-crowd-again')}

The first crowd's slowest requests are the first requests of the users who found no idle worker: they wait for workers
made two at a time (`pool.create_concurrency`) on a machine whose CPU is already busy with the first users' load.

## The pool

- Fill from empty, counted from the gateway's process start: {get(fill, 'workers') or 'n/a'} workers in {fmt(get(fill, 'seconds'), 1, ' s')} ({fmt(get(fill, 'workers_per_s'), 2)} workers/s) with the default preload, {get(fill_bare, 'workers') or 'n/a'} in {fmt(get(fill_bare, 'seconds'), 1, ' s')} ({fmt(get(fill_bare, 'workers_per_s'), 2)} workers/s) without; {get(fill200, 'workers') or 'n/a'} workers in {fmt(get(fill200, 'seconds'), 1, ' s')} ({fmt(get(fill200, 'workers_per_s'), 2)} workers/s).
- Refill under load: {get(burst, 'sessions') or 'n/a'} new sessions take idle workers at once while {get(runs['gw-refill-burst'], 'users') or 'n/a'} users run; the pool is full again after {fmt(get(burst, 'refill_s'), 1, ' s')} ({fmt(get(burst, 'workers_per_s'), 2)} workers/s).
- The running users' latency meanwhile: P95 {fmt(refill_p95, 1, ' ms')} against {fmt(quiet_p95, 1, ' ms')} with a quiet pool ({rise}), P99 {fmt(get(burst, 'users_latency_during_refill_ms', 'p99'), 1, ' ms')} against {fmt(lat('gw-refill-quiet', 'p99'), 1, ' ms')}.

## Where a worker's CPU goes

CPU seconds per worker while the pool filled from empty (`metrics.sh cpu` before the start and once the pool was full,
divided by the workers made; the shims' figure includes the OCI runtime runs they reaped):

| Part | With the default preload | Without |
| --- | --- | --- |
{chr(10).join(f"| {label} | {fmt(get(cpu_fill, key), 2, ' s')} | {fmt(get(cpu_fill_bare, key), 2, ' s')} |" for key, label in cpu_parts)}

With the CPU-bound fill running on {m['cores']} cores, the fill rate cannot pass {m['cores']} / (CPU seconds per worker):
{fmt(None if not get(cpu_fill, 'machine') else m['cores'] / cpu_fill['machine'], 2)} workers/s with the preload, {fmt(None if not get(cpu_fill_bare, 'machine') else m['cores'] / cpu_fill_bare['machine'], 2)} without.

## Memory and threads

- Idle worker, mean of {get(memory, 'workers') or 'n/a'} from their cgroups: {fmt(get(memory, 'mean_usage_mb'), 1, ' MB')} charged (page cache included), {fmt(get(memory, 'mean_rss_mb'), 1, ' MB')} anonymous, largest {fmt(get(memory, 'max_usage_mb'), 1, ' MB')}, with the default preload (numpy, pandas, matplotlib); without it {fmt(get(memory_bare, 'mean_usage_mb'), 1, ' MB')} charged, {fmt(get(memory_bare, 'mean_rss_mb'), 1, ' MB')} anonymous.
- Gateway RSS: {fmt(mb(get(gw_start, 'rss_kb')), 1, ' MB')} with the pool just filled, {fmt(mb(get(gw_end, 'rss_kb')), 1, ' MB')} after every run above (peak {fmt(mb(get(gw_end, 'hwm_kb')), 1, ' MB')}).
- Gateway threads: {get(gw_start, 'threads') or 'n/a'} idle, at most {get(threads_main, 'max_threads') or 'n/a'} during the {size} run, at most {get(threads_200, 'max_threads') or 'n/a'} with {many or 'n/a'} concurrent sessions ({fmt(get(runs['gw-200'], 'success_rate'), 1, '%')} answered; gateway RSS then {fmt(mb(get(gw_200, 'rss_kb')), 1, ' MB')}).

## How to reproduce

`bench/run.sh` (as root) builds, runs everything above, stops everything it started and rewrites this file. The commands
it ran, in order:

```sh
{commands}
```
"""

with open(md_path, "w") as f:
    f.write(md)

# The cumulative share of requests answered within x ms (the log scale shows the tail), and the
# percentiles side by side.
series = [runs[name] for name in ["raw", "raw-nohist", "raw-lean", "gw-main", "gw-new", "gw-new-imports", "gw-crowd"]
          if runs[name]]
fig, (ecdf, bars) = plt.subplots(1, 2, figsize=(13, 5))
for run in series:
    xs = sorted(run["latencies_ms"])
    ecdf.plot(xs, [(i + 1) / len(xs) for i in range(len(xs))], label=run["label"])
ecdf.set_xscale("log")
ecdf.set_xlabel("latency (ms, log scale)")
ecdf.set_ylabel("share of requests answered")
ecdf.grid(True, which="both", alpha=0.3)
ecdf.legend()
keys = ["p50", "p95", "p99"]
width = 0.8 / max(len(series), 1)
for i, run in enumerate(series):
    bars.bar([k + i * width for k in range(len(keys))], [run["latency_ms"][k] for k in keys], width, label=run["label"])
bars.set_xticks([k + width * (len(series) - 1) / 2 for k in range(len(keys))], [k.upper() for k in keys])
bars.set_ylabel("latency (ms)")
bars.legend()
fig.suptitle(f"Latency: gateway and bare kernels ({m['cores']} cores, {m['cpu']})")
fig.tight_layout()
fig.savefig(png_path, dpi=110)
