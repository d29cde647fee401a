#!/bin/sh
# Preset: 5 warm workers, at most 20, each 2 CPU, 2048 MB RAM, 512 MB disk, no network.
# Extra arguments are passed on to start.sh (later flags win, e.g. --port 3875).
exec bash "$(dirname "$0")/start.sh" --min-idle-workers 5 --max-total-workers 20 --worker-cpu 2.0 \
  --worker-ram-mb 2048 --worker-disk-mb 512 --disable-internet "$@"
