#!/usr/bin/env bash
# start.sh, stop.sh and the presets run the way users type them (`sh start.sh ...`), on the real
# stack. The gateway gets its own config (instance, sockets and volumes under a temporary
# directory), state dir (CI_VAR_DIR) and port, so a developer's gateway and var/ are never touched.
# Needs root, dockerd and the standard worker image (./test.sh provides them). Run by ctest (label
# integration) or by hand: bash tests/scripts/start_scripts_test.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "start_scripts_test: run as root" >&2; exit 1; }

tmp=$(mktemp -d /tmp/ci-start-test.XXXXXX)
instance=st$$
config=$tmp/config.toml
export CI_VAR_DIR=$tmp/var
managed=(--filter label=code-interpreter.managed=true --filter "label=code-interpreter.instance=$instance")

cleanup() {
  sh "$root/stop.sh" --remove-workers >/dev/null 2>&1 || true
  docker ps -aq "${managed[@]}" | xargs -r docker rm -f >/dev/null 2>&1 || true
  findmnt -rn -o TARGET | grep "^$tmp/" | sort -r | xargs -r -n1 umount 2>/dev/null || true
  losetup -nl -O NAME,BACK-FILE | awk -v p="$tmp/" 'index($2, p) == 1 { print $1 }' | xargs -r -n1 losetup -d || true
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  [ ! -f "$CI_VAR_DIR/gateway.log" ] || { echo "--- gateway log:" >&2; tail -n 30 "$CI_VAR_DIR/gateway.log" >&2; }
  exit 1
}
ok() { echo "ok: $*"; }
run() {  # run SCRIPT ARGS...: sh SCRIPT of the repository, as a user types it; output in $out
  local script=$1 status=0
  shift
  out=$(sh "$root/$script" "$@" 2>&1) || status=$?
  [ "$status" -eq 0 ] || { echo "$out" >&2; fail "sh $script $* exited with $status"; }
}
shown() {  # shown NAME VALUE SOURCE: start.sh's settings listing in $out says so
  grep -Eq -- "^  --$1 +$2 +$3\$" <<<"$out" || { echo "$out" >&2; fail "expected --$1 $2 from $3"; }
}

# The repository's config with another instance, and every host path of the gateway under $tmp.
sed -e "s|^path = \"build/|path = \"$root/build/|" \
    -e "s|^instance = \"default\"|instance = \"$instance\"|" \
    -e "s|^run_dir = \"[^\"]*\"|run_dir = \"$tmp/run\"|" \
    -e "s|^image_dir = \"[^\"]*\"|image_dir = \"$tmp/disks\"|" \
    -e "s|^mount_dir = \"[^\"]*\"|mount_dir = \"$tmp/mnt\"|" \
    "$root/config.toml" >"$config"
[ "$(grep -c "^path = \"$root/build/" "$config")" -eq 3 ] && [ "$(grep -c "^instance = \"$instance\"" "$config")" -eq 2 ] &&
  [ "$(grep -c "= \"$tmp/" "$config")" -eq 3 ] || fail "config.toml changed shape: update this test's sed"

port=""
for p in $(seq 3920 3999); do
  ss -Htln "sport = :$p" | grep -q . || { port=$p; break; }
done
[ -n "$port" ] || fail "no free port in 3920-3999"
url=http://127.0.0.1:$port
real_var=$(stat -c '%n %Y %s' "$root"/var/start-settings.env "$root"/var/gateway.pid "$root"/var/gateway.config 2>/dev/null || true)

expect_serving() {  # expect_serving MIN MAX CPU RAM DISK: /health answers, /status has these limits
  local status pair
  [ "$(curl -fsS "$url/health")" = '{"status":"ok"}' ] || fail "/health does not answer on $url"
  status=$(curl -fsS -H "X-Auth-Token: $(cat "$CI_VAR_DIR/admin_token.txt")" "$url/status")
  for pair in min_idle_workers:$1 max_total_workers:$2 worker_cpu:$3 worker_ram_mb:$4 worker_disk_mb:$5; do
    [[ $status == *"\"${pair%%:*}\":${pair#*:}"[,\}]* ]] || fail "/status limits lack $pair: $status"
  done
}
expect_stopped() {  # the gateway is gone with its workers, volumes, loop devices and sockets
  grep -q "gateway stopped" <<<"$out" || fail "stop.sh did not stop the gateway: $out"
  ! curl -fsS "$url/health" >/dev/null 2>&1 || fail "the gateway still answers after stop.sh"
  [ -z "$(docker ps -aq "${managed[@]}")" ] || fail "containers of instance $instance left after stop.sh"
  ! findmnt -rn -o TARGET | grep -q "^$tmp/" || fail "mounts left under $tmp"
  ! losetup -nl -O BACK-FILE | grep -q "^$tmp/" || fail "loop devices left on files under $tmp"
  ! compgen -G "$tmp/disks/$instance-*.img" >/dev/null || fail "volume images left in $tmp/disks"
  [ ! -e "$tmp/run/$instance" ] || fail "socket directory $tmp/run/$instance left"
  [ ! -e "$CI_VAR_DIR/gateway.pid" ] || fail "pid file left"
}

# 1. Pool flags: used, shown as given now, remembered (0600).
run start.sh --config "$config" --no-build --port "$port" --min-idle-workers 1 --max-total-workers 2 \
  --worker-cpu 0.5 --worker-ram-mb 512 --worker-disk-mb 100
shown min-idle-workers 1 flag
shown port "$port" flag
shown worker-ram-mb 512 flag
grep -q "serving on $url" <<<"$out" || fail "start.sh did not report $url: $out"
expect_serving 1 2 0.5 512 100
[ "$(stat -c %a "$CI_VAR_DIR/start-settings.env")" = 600 ] || fail "start-settings.env is not mode 0600"
grep -qx "WORKER_CPU=0.5" "$CI_VAR_DIR/start-settings.env" || fail "WORKER_CPU not remembered"
for _ in $(seq 1 120); do
  [ -n "$(docker ps -q "${managed[@]}")" ] && findmnt -rn -o TARGET | grep -q "^$tmp/mnt/" && break
  sleep 0.5
done
[ -n "$(docker ps -q "${managed[@]}")" ] || fail "no warm worker of instance $instance within 60 s"
ok "sh start.sh with pool flags: serving on $url with the given limits and a warm worker"
run stop.sh
expect_stopped
ok "sh stop.sh: gateway, workers, volumes and sockets gone"

# 2. No flags: the remembered settings again.
run start.sh --config "$config" --no-build
shown min-idle-workers 1 remembered
shown worker-cpu 0.5 remembered
shown port "$port" remembered
expect_serving 1 2 0.5 512 100
ok "sh start.sh without flags: remembered settings shown and used"
run stop.sh
expect_stopped
ok "sh stop.sh again"

# 3. Dry runs (--print-settings): a new flag replaces only its own value; nothing is saved.
saved=$(cat "$CI_VAR_DIR/start-settings.env")
run start.sh --config "$config" --print-settings --worker-cpu 0.25
shown worker-cpu 0.25 flag
shown worker-ram-mb 512 remembered
ok "a flag replaces only its own remembered value"
while read -r preset min max cpu ram disk internet; do
  run "$preset" --config "$config" --print-settings --port 3999
  grep -q -- "--min-idle-workers $min --max-total-workers $max --worker-cpu $cpu --worker-ram-mb $ram --worker-disk-mb $disk " <<<"$out" &&
    grep -q -- "--port 3999 --plugin-setting docker-backend.enable_internet=$internet" <<<"$out" ||
    { echo "$out" >&2; fail "$preset does not pass $min $max $cpu $ram $disk internet=$internet"; }
  shown port 3999 flag
  shown enable-internet "$internet" flag
done <<PRESETS
start-low-offline.sh 1 3 1.0 1024 256 false
start-low-network.sh 1 3 1.0 1024 256 true
start-medium-offline.sh 3 10 1.5 1536 500 false
start-medium-network.sh 3 10 1.5 1536 1500 true
start-high-offline.sh 5 20 2.0 2048 512 false
start-high-network.sh 5 20 2.0 2048 2500 true
PRESETS
ok "the six presets pass their numbers and extra arguments"
run start.sh --config "$config" --print-settings --image-profile full
grep -q -- "--plugin-setting docker-backend.image=code-interpreter-worker:full" <<<"$out" || fail "--image-profile full: $out"
[ "$(cat "$CI_VAR_DIR/start-settings.env")" = "$saved" ] || fail "--print-settings changed the remembered settings"
ok "--image-profile full selects code-interpreter-worker:full; dry runs save nothing"

# 4. --reset-settings forgets them.
run start.sh --config "$config" --print-settings --reset-settings
[ ! -e "$CI_VAR_DIR/start-settings.env" ] || fail "--reset-settings left start-settings.env"
run start.sh --config "$config" --print-settings
shown min-idle-workers 5 config.toml
shown port 3874 config.toml
shown image-profile standard default
ok "--reset-settings forgets the remembered settings"

[ "$(stat -c '%n %Y %s' "$root"/var/start-settings.env "$root"/var/gateway.pid "$root"/var/gateway.config 2>/dev/null || true)" = "$real_var" ] ||
  fail "the repository's var/ changed"
echo "PASS"
