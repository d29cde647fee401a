#!/usr/bin/env bash
# Starts the code-interpreter gateway in the background on http://127.0.0.1:3874, first
# installing, building and starting whatever is missing (packages, binaries, dockerd, image).
# The pool and worker settings given as flags are remembered for the next start.
# `sh start.sh` runs this under dash, which lacks what follows: hand it over to bash first.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
. "$root/scripts/common.sh"

usage() {
  cat <<USAGE
usage: sh start.sh [options]
  --min-idle-workers N   warm workers kept ready (config default 5)
  --max-total-workers N  cap on workers in all (config default 50)
  --worker-cpu CORES     CPU limit per worker (config default 1.0)
  --worker-ram-mb MB     memory limit per worker (config default 1024)
  --worker-disk-mb MB    workspace size per worker (config default 500)
  --port N               port to listen on (config default 3874)
  --enable-internet      let workers open outbound connections to public addresses
                         (never to private, link-local or metadata ranges, other workers or the gateway)
  --disable-internet     workers without network (the default)
  --image-profile P      worker image: standard (default) or full (built as code-interpreter-worker:full)
  --api-key-file PATH    use the token in PATH (- reads it from stdin) as the user token, written
                         to the config's token_file; never on the command line, where ps shows it
  --config PATH          configuration file (default ./config.toml)
  --reset-settings       forget the remembered settings (also with --print-settings)
  --print-settings       show the settings and gateway arguments a start would use, then exit
  --no-build             skip installing and building: use build/bin and the existing worker image
The flags above --api-key-file are remembered in $var_dir/start-settings.env and reused
by later starts; a flag given again replaces only its own value. Presets pass a set of them:
start-low-offline.sh, start-low-network.sh, start-medium-*.sh, start-high-*.sh.
CI_VAR_DIR moves start.sh's own files (pid, log, remembered settings; default ./var).
USAGE
}
die() { echo "start.sh: $1" >&2; exit "${2:-1}"; }

# The remembered settings, in the order they are shown; each is named after its flag.
settings=(min-idle-workers max-total-workers worker-cpu worker-ram-mb worker-disk-mb port enable-internet image-profile)
# Where the config file holds each (table.key), and the value when neither a flag, memory nor the
# file sets it.
declare -A config_key=(
  [min-idle-workers]=pool.min_idle_workers [max-total-workers]=pool.max_total_workers
  [worker-cpu]=worker.cpu [worker-ram-mb]=worker.ram_mb [worker-disk-mb]=worker.disk_mb
  [port]=server.port [enable-internet]=plugins.docker-backend.enable_internet)
declare -A builtin=(
  [min-idle-workers]=5 [max-total-workers]=50 [worker-cpu]=1.0 [worker-ram-mb]=1024
  [worker-disk-mb]=500 [port]=3874 [enable-internet]=false [image-profile]=standard)
# valid NAME VALUE: checked before a value is used or remembered.
valid() {
  case $1 in
    worker-cpu) [[ $2 =~ ^[0-9]+(\.[0-9]+)?$ ]] ;;
    enable-internet) [[ $2 == true || $2 == false ]] ;;
    image-profile) [[ $2 == standard || $2 == full ]] ;;
    *) [[ $2 =~ ^[0-9]+$ ]] ;;
  esac
}

declare -A given=() remembered=() value=() source=()
config="$root/config.toml"
api_key_file=""
build=true
print_only=false
reset=false
while [ $# -gt 0 ]; do
  case "$1" in
    --min-idle-workers|--max-total-workers|--worker-cpu|--worker-ram-mb|--worker-disk-mb|--port|--image-profile)
      [ $# -ge 2 ] || die "$1 needs a value" 2
      valid "${1#--}" "$2" || die "$1: '$2' is not a valid value (see --help)" 2
      given[${1#--}]=$2; shift 2 ;;
    --enable-internet) given[enable-internet]=true; shift ;;
    --disable-internet) given[enable-internet]=false; shift ;;
    --api-key-file)
      [ $# -ge 2 ] || die "--api-key-file needs a path (or - for stdin)" 2
      api_key_file=$2; shift 2 ;;
    --api-key|--api-key=*)
      die "--api-key TOKEN would show the token to every host user in ps; put it in a file (mode 0600) and pass
  --api-key-file PATH, or pipe it: printf '%s' \"\$TOKEN\" | sh start.sh --api-key-file -" 2 ;;
    --config)
      [ $# -ge 2 ] || die "--config needs a value" 2
      config=$(realpath -m "$2"); shift 2 ;;
    --reset-settings) reset=true; shift ;;
    --print-settings) print_only=true; shift ;;
    --no-build) build=false; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "start.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[ -f "$config" ] || die "no configuration file $config" 2
# Read now (stdin may be a pipe) into a variable: builtins write it later, so it is in no argv.
api_key=""
if [ -n "$api_key_file" ]; then
  if [ "$api_key_file" = - ]; then
    IFS= read -r api_key || [ -n "$api_key" ] || die "--api-key-file -: no token on stdin" 2
  else
    [ -r "$api_key_file" ] || die "--api-key-file: cannot read $api_key_file" 2
    IFS= read -r api_key <"$api_key_file" || [ -n "$api_key" ] || die "--api-key-file: $api_key_file is empty" 2
  fi
  api_key=${api_key#"${api_key%%[![:space:]]*}"}; api_key=${api_key%"${api_key##*[![:space:]]}"}
  [ ${#api_key} -ge 16 ] || die "--api-key-file: the token must be at least 16 characters" 2
fi
cd "$root"

settings_file=$var_dir/start-settings.env
if [ "$reset" = true ]; then
  rm -f "$settings_file"
elif [ -f "$settings_file" ]; then
  # KEY=VALUE lines, read as data and never run: a key start.sh does not know or a value that is
  # not valid is skipped with a warning.
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in ''|'#'*) continue ;; esac
    name=${line%%=*}; name=${name,,}; name=${name//_/-}
    if [[ $line == *=* && $name =~ ^[a-z-]+$ ]] && [ -n "${builtin[$name]+x}" ] && valid "$name" "${line#*=}"; then
      remembered[$name]=${line#*=}
    else
      echo "start.sh: ignoring '$line' in $settings_file" >&2
    fi
  done <"$settings_file"
fi

config_name=$(basename "$config")
for name in "${settings[@]}"; do
  key=${config_key[$name]:-}
  if [ -n "${given[$name]+x}" ]; then
    value[$name]=${given[$name]}; source[$name]=flag
  elif [ -n "${remembered[$name]+x}" ]; then
    value[$name]=${remembered[$name]}; source[$name]=remembered
  elif [ -n "$key" ] && v=$(toml_get "$config" "${key%.*}" "${key##*.}"); then
    value[$name]=$v; source[$name]=$config_name
  else
    value[$name]=${builtin[$name]}; source[$name]=default
  fi
done

# Settings from the config file need no flag: the gateway reads the file itself.
gateway_args=()
for name in "${settings[@]}"; do
  case ${source[$name]} in flag|remembered) ;; *) continue ;; esac
  case $name in
    enable-internet) gateway_args+=(--plugin-setting "docker-backend.enable_internet=${value[$name]}") ;;
    image-profile) ;;
    *) gateway_args+=("--$name" "${value[$name]}") ;;
  esac
done
image=$(toml_get "$config" plugins.docker-backend image) || image=code-interpreter-worker:latest
if [ "${value[image-profile]}" = full ]; then
  image=code-interpreter-worker:full
  gateway_args+=(--plugin-setting "docker-backend.image=$image")
fi

echo "start.sh: settings (flag: given now; remembered: $settings_file; $config_name: $config):"
for name in "${settings[@]}"; do
  printf '  --%-18s %-9s %s\n' "$name" "${value[$name]}" "${source[$name]}"
done
if [ "$print_only" = true ]; then
  echo "gateway arguments: --config $config ${gateway_args[*]}"
  exit 0
fi
[ "${value[enable-internet]}" = false ] ||
  echo "start.sh: WARNING: internet access is on: user code may open outbound connections to public addresses" >&2

[ "$(id -u)" -eq 0 ] || die "run as root (the gateway manages containers, mounts and firewall rules)"

mkdir -p "$var_dir"
pidfile=$var_dir/gateway.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  die "the gateway is already running (pid $(cat "$pidfile")); run sh stop.sh first to restart it"
fi

started=$SECONDS
if [ "$build" = true ]; then
  bash scripts/install-deps.sh
  bash scripts/build.sh --image-profile "${value[image-profile]}"
else
  bash scripts/ensure-dockerd.sh
  [ -x build/bin/ci-gateway ] || die "--no-build: build/bin/ci-gateway is missing; start without --no-build"
  docker image inspect "$image" >/dev/null 2>&1 || die "--no-build: the worker image $image is missing; start without --no-build"
fi

token_file=$(config_path "$config" plugins.auth-token token_file var/auth_token.txt)
admin_token_file=$(config_path "$config" plugins.auth-token admin_token_file var/admin_token.txt)
if [ -n "$api_key" ]; then
  mkdir -p "$(dirname "$token_file")"
  (umask 077; printf '%s\n' "$api_key" > "$token_file")
fi

# stop.sh reads the instance and the paths of leftovers from the config this gateway runs with.
printf '%s\n' "$config" > "$var_dir/gateway.config"
log="$var_dir/gateway.log"
touch "$log"
offset=$(stat -c %s "$log")
nohup "$root/build/bin/ci-gateway" --config "$config" "${gateway_args[@]}" >>"$log" 2>&1 &
echo $! > "$pidfile"

# Remembered only once the gateway serves, so settings it refused are not tried again next time.
save_settings() {
  local name key lines=()
  for name in "${settings[@]}"; do
    case ${source[$name]} in flag|remembered) ;; *) continue ;; esac
    key=${name^^}
    lines+=("${key//-/_}=${value[$name]}")
  done
  rm -f "$settings_file.new"
  if [ ${#lines[@]} -eq 0 ]; then rm -f "$settings_file"; return; fi
  (umask 077; printf '%s\n' "# Reused by the next sh start.sh; sh start.sh --reset-settings forgets them." \
     "${lines[@]}" > "$settings_file.new")
  mv "$settings_file.new" "$settings_file"
}

stop_command="${CI_VAR_DIR:+CI_VAR_DIR=$var_dir }sh $root/stop.sh"
# The gateway logs the address it listens on; /health answering there means it serves.
for _ in $(seq 1 240); do
  url=$(tail -c +$((offset + 1)) "$log" | grep -o 'listening on http://[^ ]*' | tail -n 1 | cut -d' ' -f3 || true)
  if [ -n "$url" ] && curl -fsS "$url/health" >/dev/null 2>&1; then
    save_settings
    echo "code-interpreter is serving on $url (start took $((SECONDS - started)) s)"
    echo "  user token:  $token_file   (send it as X-Auth-Token)"
    echo "  admin token: $admin_token_file  (for GET /status)"
    echo "  log:         $log"
    [ ! -f "$settings_file" ] ||
      echo "  settings:    remembered in $settings_file (sh start.sh --reset-settings forgets them)"
    echo "  stop with:   $stop_command"
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "start.sh: the gateway exited during start-up; last lines of $log:" >&2
    tail -n 20 "$log" >&2
    rm -f "$pidfile"
    exit 1
  fi
  sleep 0.5
done
die "the gateway did not answer /health within 120 s; see $log (stop it with: $stop_command)"
