#!/usr/bin/env bash
# Starts the code-interpreter gateway in the background on http://127.0.0.1:3874, first
# installing, building and starting whatever is missing (packages, binaries, dockerd, image).
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
cd "$root"

usage() {
  cat <<USAGE
usage: ./start.sh [options]
  --min-idle-workers N   warm workers kept ready (default 5)
  --max-total-workers N  cap on workers in all (default 50)
  --worker-cpu CORES     CPU limit per worker (default 1.0)
  --worker-ram-mb MB     memory limit per worker (default 1024)
  --worker-disk-mb MB    workspace size per worker (default 500)
  --port N               port to listen on (default 3874)
  --api-key TOKEN        use TOKEN as the user token (written to var/auth_token.txt)
  --enable-internet      let workers open outbound connections to public addresses
                         (never to private, link-local or metadata ranges, other workers or the gateway)
  --config PATH          configuration file (default ./config.toml)
USAGE
}

gateway_args=()
config="$root/config.toml"
api_key=""
while [ $# -gt 0 ]; do
  case "$1" in
    --min-idle-workers|--max-total-workers|--worker-cpu|--worker-ram-mb|--worker-disk-mb|--port)
      [ $# -ge 2 ] || { echo "start.sh: $1 needs a value" >&2; exit 2; }
      gateway_args+=("$1" "$2"); shift 2 ;;
    --api-key)
      [ $# -ge 2 ] || { echo "start.sh: --api-key needs a value" >&2; exit 2; }
      api_key="$2"; shift 2 ;;
    --config)
      [ $# -ge 2 ] || { echo "start.sh: --config needs a value" >&2; exit 2; }
      config=$(realpath "$2"); shift 2 ;;
    --enable-internet)
      echo "start.sh: WARNING: --enable-internet lets user code open outbound connections to public addresses" >&2
      gateway_args+=(--plugin-setting docker-backend.enable_internet=true); shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "start.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

[ "$(id -u)" -eq 0 ] || { echo "start.sh: run as root (the gateway manages containers, mounts and firewall rules)" >&2; exit 1; }

mkdir -p var
pidfile=var/gateway.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "start.sh: the gateway is already running (pid $(cat "$pidfile")); run ./stop.sh first to restart it" >&2
  exit 1
fi

started=$SECONDS
bash scripts/install-deps.sh
bash scripts/build.sh

if [ -n "$api_key" ]; then
  [ ${#api_key} -ge 16 ] || { echo "start.sh: --api-key must be at least 16 characters" >&2; exit 2; }
  [ "$config" = "$root/config.toml" ] || echo "start.sh: note: --api-key writes var/auth_token.txt; make sure $config uses that token_file"
  (umask 077; printf '%s\n' "$api_key" > var/auth_token.txt)
fi

log="$root/var/gateway.log"
touch "$log"
offset=$(stat -c %s "$log")
nohup "$root/build/bin/ci-gateway" --config "$config" "${gateway_args[@]}" >>"$log" 2>&1 &
echo $! > "$pidfile"

# The gateway logs the address it listens on; /health answering there means it serves.
for _ in $(seq 1 240); do
  url=$(tail -c +$((offset + 1)) "$log" | grep -o 'listening on http://[^ ]*' | tail -n 1 | cut -d' ' -f3 || true)
  if [ -n "$url" ] && curl -fsS "$url/health" >/dev/null 2>&1; then
    echo "code-interpreter is serving on $url (start took $((SECONDS - started)) s)"
    echo "  user token:  $root/var/auth_token.txt   (send it as X-Auth-Token)"
    echo "  admin token: $root/var/admin_token.txt  (for GET /status)"
    echo "  log:         $log"
    echo "  stop with:   ./stop.sh"
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
echo "start.sh: the gateway did not answer /health within 120 s; see $log" >&2
exit 1
