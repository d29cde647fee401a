#!/usr/bin/env bash
# Builds the libFuzzer targets with clang into build/fuzz (incremental) and runs each one for a
# bounded time over its seeds in tests/fuzz/corpus/<target>/. Fails on any crash, sanitizer
# report, leak, timeout or broken property; the input that did it is saved under
# build/fuzz/artifacts/<target>/.
#   tests/fuzz/run.sh                       all targets, FUZZ_SECONDS (default 15) each
#   tests/fuzz/run.sh --seconds 300 config_toml
#   build/fuzz/<target> FILE                 runs one input again, e.g. a saved crash
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build="$root/build/fuzz"
seconds=${FUZZ_SECONDS:-15}
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(http_body agent_protocol result_format jupyter_wire execution_collector config_toml)

cxx=clang++-14
command -v "$cxx" >/dev/null || { echo "fuzz: $cxx not found; run scripts/install-deps.sh" >&2; exit 1; }
mkdir -p "$build/logs"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$here/targets" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" >"$build/logs/build.log" 2>&1 ||
    { cat "$build/logs/build.log" >&2; echo "fuzz: configure failed" >&2; exit 1; }
fi
echo "fuzz: building (log: $build/logs/build.log)"
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" >"$build/logs/build.log" 2>&1 ||
  { grep -E -A5 "error" "$build/logs/build.log" | head -n 60 >&2; echo "fuzz: build failed" >&2; exit 1; }

# halt_on_error makes undefined behaviour fatal.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-/usr/lib/llvm-14/bin/llvm-symbolizer}

failed=()
for t in "${targets[@]}"; do
  dict="$here/dicts/json.dict"
  [ "$t" = config_toml ] && dict="$here/dicts/toml.dict"
  # libFuzzer writes what it learns to the first directory: the working corpus, not the seeds.
  mkdir -p "$build/corpus/$t" "$build/artifacts/$t"
  start=$SECONDS
  if "$build/$t" "$build/corpus/$t" "$here/corpus/$t" -dict="$dict" \
      -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -max_len=8192 \
      -artifact_prefix="$build/artifacts/$t/" -print_final_stats=1 >"$build/logs/$t.log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$build/logs/$t.log" | grep -o '[0-9]*$' || echo '?')
    echo "fuzz: $t ok ($runs inputs, $((SECONDS - start)) s)"
  else
    echo "fuzz: $t FAILED after $((SECONDS - start)) s; log: $build/logs/$t.log" >&2
    grep -v -E '^#[0-9]+' "$build/logs/$t.log" | tail -n 40 >&2
    failed+=("$t")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: failed: ${failed[*]}" >&2; exit 1; }
