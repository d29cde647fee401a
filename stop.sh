#!/usr/bin/env bash
# Stops the gateway started by start.sh; the gateway removes every worker it made, unless
# pool.keep_workers_on_stop keeps them for the next start (pool.state_file names them; a crashed
# gateway leaves them too). --remove-workers removes such kept workers, their volumes and the state
# file as well. The instance and paths come from the config file the gateway was started with.
# `sh stop.sh` runs this under dash, which lacks what follows: hand it over to bash first.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
. "$root/scripts/common.sh"
cd "$root"
remove_workers=false
case "${1:-}" in
  --remove-workers) remove_workers=true ;;
  "") ;;
  *) echo "usage: sh stop.sh [--remove-workers]" >&2; exit 2 ;;
esac

pidfile=$var_dir/gateway.pid
config=$(cat "$var_dir/gateway.config" 2>/dev/null) || config=$root/config.toml
instance=$(toml_get "$config" plugins.docker-backend instance) || instance=default
run_dir=$(config_path "$config" plugins.docker-backend run_dir /run/code-interpreter)
disk_instance=$(toml_get "$config" plugins.loop-disk instance) || disk_instance=default
mount_dir=$(config_path "$config" plugins.loop-disk mount_dir /run/code-interpreter-disks)
image_dir=$(config_path "$config" plugins.loop-disk image_dir /var/lib/code-interpreter/disks)
statefile=$(config_path "$config" pool state_file var/pool-state.json)

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

if [ -n "$statefile" ] && [ -f "$statefile" ] && [ "$remove_workers" = false ]; then
  echo "stop.sh: workers kept for the next start ($statefile); sh stop.sh --remove-workers removes them"
  exit 0
fi
if docker info >/dev/null 2>&1; then
  left=$(docker ps -aq --filter label=code-interpreter.managed=true --filter "label=code-interpreter.instance=$instance")
  if [ -n "$left" ]; then
    echo "stop.sh: removing $(echo "$left" | wc -l) leftover worker(s)"
    echo "$left" | xargs docker rm -f >/dev/null
  fi
fi
# Volumes are <instance>-<worker id> and worker ids hold no '-': instance "a" skips those of "a-b".
for mount in "$mount_dir/$disk_instance"-*; do
  id=${mount#"$mount_dir/$disk_instance"-}
  [[ -d $mount && $id != *-* ]] || continue
  umount "$mount" 2>/dev/null || true  # the loop device detaches itself (autoclear)
  rmdir "$mount"
done
for img in "$image_dir/$disk_instance"-*.img; do
  id=${img#"$image_dir/$disk_instance"-}
  [[ $id == *-* ]] || rm -f "$img"
done
[ -z "$statefile" ] || rm -f "$statefile"
# Each worker's directory is a tmpfs of its own: unmount it before removing the tree, which then
# never crosses into another file system.
for dir in "${run_dir:?}/${instance:?}"/*/; do
  mountpoint -q "$dir" && { umount "$dir" 2>/dev/null || umount -l "$dir"; }
done
rm -rf --one-file-system "${run_dir:?}/${instance:?}"
