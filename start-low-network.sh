#!/bin/sh
# Preset: 1 warm worker, at most 3, each 1 CPU, 1024 MB RAM, 256 MB disk, internet access.
# Extra arguments are passed on to start.sh (later flags win, e.g. --port 3875).
exec bash "$(dirname "$0")/start.sh" --min-idle-workers 1 --max-total-workers 3 --worker-cpu 1.0 \
  --worker-ram-mb 1024 --worker-disk-mb 256 --enable-internet "$@"
