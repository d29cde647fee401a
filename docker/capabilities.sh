#!/usr/bin/env bash
# Runs the checks of docker/capabilities.txt in each built worker image and writes
# docs/capabilities.md: every library and program with the version found, per profile, and what
# is absent and why.
#
#   docker/capabilities.sh [--output PATH]
#
# Each image runs docker/capabilities.py as a worker would: read-only root, no network, the
# sandbox user, /tmp and /sandbox small tmpfs mounts, the worker's default limits. A profile whose
# image is not built is listed as such. Exits 1 when a check failed (the document says which).
set -euo pipefail

script_dir=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
repo_dir=$(dirname "$script_dir")
output="$repo_dir/docs/capabilities.md"
declare -A images=([standard]=code-interpreter-worker:latest [full]=code-interpreter-worker:full)

die() { echo "capabilities: error: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --output) [ $# -ge 2 ] || die "--output needs a path"; output=$2; shift 2 ;;
    --output=*) output=${1#*=}; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
docker info >/dev/null 2>&1 || die "the Docker daemon does not answer (try scripts/ensure-dockerd.sh)"

results=$(mktemp -d "${TMPDIR:-/tmp}/ci-capabilities.XXXXXX")
trap 'rm -rf "$results"' EXIT
# The worker's limits (config.toml [worker]) and the backend's mounts and hardening.
sandbox_run=(docker run --rm -i --read-only --network none --user 1000:1000 --cap-drop ALL
             --security-opt no-new-privileges --pids-limit 256 --memory 1g --memory-swap 1g --cpus 1
             --tmpfs "/tmp:rw,nosuid,nodev,size=64m,mode=1777"
             --tmpfs "/sandbox:rw,nosuid,nodev,size=500m,uid=1000,gid=1000,mode=0700"
             -w /sandbox -e HOME=/sandbox -v "$script_dir:/ci-capabilities:ro" --entrypoint python3)

status=0
files=()
for profile in standard full; do
  image=${images[$profile]}
  if ! docker image inspect "$image" >/dev/null 2>&1; then
    echo "capabilities: $profile: $image is not built; skipped"
    continue
  fi
  file="$results/$profile.jsonl"
  docker image inspect --format \
    "@capability {\"profile\": \"$profile\", \"image\": \"$image\", \"id\": \"{{.Id}}\", \"size\": {{.Size}}}" \
    "$image" >"$file"
  echo "capabilities: $profile: running the checks in $image"
  if ! "${sandbox_run[@]}" "$image" /ci-capabilities/capabilities.py check "$profile" \
       <"$script_dir/capabilities.txt" >>"$file"; then
    status=1
  fi
  echo "capabilities: $profile: $(grep -c '"ok": true' "$file" || true) passed, $(grep -c '"ok": false' "$file" || true) failed"
  files+=("/results/$profile.jsonl")
done
[ ${#files[@]} -gt 0 ] || die "no worker image is built (docker/build-image.sh [--profile full])"

# Rendered by the image's own Python: the host needs none.
render_image=${images[standard]}
docker image inspect "$render_image" >/dev/null 2>&1 || render_image=${images[full]}
docker run --rm -i --network none --user "$(id -u):$(id -g)" -v "$script_dir:/ci-capabilities:ro" \
  -v "$results:/results:ro" --entrypoint python3 "$render_image" \
  /ci-capabilities/capabilities.py markdown "${files[@]}" <"$script_dir/capabilities.txt" >"$output.tmp"
mv "$output.tmp" "$output"
echo "capabilities: wrote $output"
exit "$status"
