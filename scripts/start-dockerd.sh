#!/usr/bin/env bash
# Start the Docker engine in the background unless its socket already answers,
# then wait (bounded) until it does. Idempotent: safe to run before every test run.
# Services never start by themselves on these machines (policy-rc.d), hence this.
set -euo pipefail

SOCK="${DOCKER_SOCK:-/var/run/docker.sock}"
DEADLINE_S="${DOCKERD_START_TIMEOUT:-60}"
LOG="${DOCKERD_LOG:-/var/log/kafkaval-dockerd.log}"

answers() { docker -H "unix://$SOCK" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if answers; then
  echo "dockerd: already answering on $SOCK"
  exit 0
fi
if ! command -v dockerd >/dev/null 2>&1 && ! [ -x /usr/sbin/dockerd ]; then
  echo "dockerd not installed: run scripts/install-system-deps.sh (Debian package docker.io)" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "dockerd is not running and starting it needs root: sudo $0" >&2
  exit 1
fi
# A stale pid file from a killed daemon makes dockerd refuse to start.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  rm -f /var/run/docker.pid
fi
if ! [ -f /var/run/docker.pid ]; then
  echo "dockerd: starting (log $LOG)"
  PATH="/usr/sbin:/usr/bin:$PATH" setsid nohup dockerd -H "unix://$SOCK" >>"$LOG" 2>&1 </dev/null &
fi
for _ in $(seq 1 $((DEADLINE_S * 4))); do
  if answers; then
    echo "dockerd: answering on $SOCK"
    exit 0
  fi
  sleep 0.25
done
echo "dockerd did not answer on $SOCK within ${DEADLINE_S} s; read $LOG" >&2
tail -n 15 "$LOG" >&2 || true
exit 1
