#!/bin/sh
# Preset: 3 warm workers, at most 10, each 1.5 CPU, 1536 MB RAM, 1500 MB disk, internet access.
# Extra arguments are passed on to start.sh (later flags win, e.g. --port 3875).
exec bash "$(dirname "$0")/start.sh" --min-idle-workers 3 --max-total-workers 10 --worker-cpu 1.5 \
  --worker-ram-mb 1536 --worker-disk-mb 1500 --enable-internet "$@"
