#!/usr/bin/env bash
# Starts Debian's dockerd if no engine answers: host networking only, no bridge, no iptables.
# overlay2 is tried first (a container starts in ~0.25 s); vfs is the fallback.
set -euo pipefail
if docker version >/dev/null 2>&1; then
  echo "a Docker engine already answers"; exit 0
fi
command -v dockerd >/dev/null || { echo "dockerd is not installed (apt-get install docker.io)" >&2; exit 1; }
LOG_DIR=${STACKDRILL_LOG_DIR:-/var/log/stackdrill}
mkdir -p "$LOG_DIR"
for driver in overlay2 vfs; do
  echo "starting dockerd with --storage-driver=$driver"
  setsid dockerd --storage-driver="$driver" --iptables=false --ip6tables=false --bridge=none \
    >"$LOG_DIR/dockerd.log" 2>&1 < /dev/null &
  pid=$!
  for _ in $(seq 1 60); do
    if docker version >/dev/null 2>&1; then echo "dockerd ($driver) is up, pid $pid"; exit 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  echo "dockerd with $driver did not come up:" >&2; tail -n 5 "$LOG_DIR/dockerd.log" >&2 || true
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
done
echo "no Docker engine could be started (see $LOG_DIR/dockerd.log)" >&2
exit 1
