#!/usr/bin/env bash
# The README's first command on a bare Debian machine.
#
# A container of kafkaval/bare:bookworm (debootstrap minbase with nothing but
# `make` added: no Python, Java, Maven or Prometheus) gets a copy of this
# checkout's files as a fresh clone has them and this machine's own network
# configuration (its CA files, PIP_* and proxy settings, /etc/pip.conf, Maven
# settings), nothing else. Inside it `make test-kafka-performance QUICK=1
# PROFILE=NAME` must install what it needs, start the stack and pass that QUICK
# profile; `make down` must then stop the stack. The container has its own
# network namespace, so its stack's ports never meet the host's.
#
# Usage: scripts/check-fresh.sh [PROFILE]   (default: snapshot, the one without wall-clock limits:
#        a pass must not hang on how busy the machine is)
#   CHECK_FRESH_TIMEOUT  seconds for the whole run in the container (default 1500)
#   CHECK_FRESH_LOG      where the container's output goes (default /var/tmp/kafkaval-check-fresh.log)
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE="${1:-snapshot}"
case "$PROFILE" in
  throughput|burst|sustained|snapshot|startup) ;;
  *) echo "check-fresh.sh: unknown profile '$PROFILE': choose throughput, burst, sustained, snapshot or startup" >&2
     exit 2 ;;
esac
IMAGE=kafkaval/bare:bookworm
TIMEOUT_S="${CHECK_FRESH_TIMEOUT:-1500}"
LOG="${CHECK_FRESH_LOG:-/var/tmp/kafkaval-check-fresh.log}"
NAME="kafkaval-check-fresh-$$"
command -v git >/dev/null || { echo "check-fresh.sh: git is needed to copy the checkout" >&2; exit 1; }

STAGE=$(mktemp -d /var/tmp/kafkaval-fresh.XXXXXX)
cleanup() {
  docker rm -f "$NAME" >/dev/null 2>&1 || true
  rm -rf "$STAGE"
}
trap cleanup EXIT
trap 'echo "check-fresh: interrupted" >&2; exit 130' INT TERM

bash scripts/start-dockerd.sh >/dev/null
bash docker/build-images.sh bare

# Tracked and new (not ignored) files: no venv, caches, jars or results.
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf - | tar -C "$STAGE" -xf -

# The machine's own configuration for reaching package mirrors, as a fresh
# machine of this kind would have it (never a hard-coded host).
run_args=(--name "$NAME" --init -v "$STAGE:/src" -w /src -e DEBIAN_FRONTEND=noninteractive)
for var in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST PIP_CERT PIP_DEFAULT_TIMEOUT \
           http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  [ -n "${!var:-}" ] && run_args+=(-e "$var")
done
[ -f /etc/pip.conf ] && run_args+=(-v /etc/pip.conf:/etc/pip.conf:ro)
[ -f "$HOME/.m2/settings.xml" ] && run_args+=(-v "$HOME/.m2/settings.xml:/root/.m2/settings.xml:ro")

# Inside: prove the machine is bare, run the README's first command on one
# QUICK profile, show the stack's state, read the run record's verdict, stop.
inside=$(cat <<'INSIDE'
set -euo pipefail
for tool in python3 java mvn prometheus; do
  if command -v "$tool" >/dev/null; then echo "check-fresh: not a bare machine: $tool is installed"; exit 3; fi
done
echo "check-fresh: bare machine (no python3, java, mvn, prometheus); running make test-kafka-performance QUICK=1 PROFILE=$1"
make test-kafka-performance QUICK=1 PROFILE="$1"
.venv/bin/kafkaval stack status
.venv/bin/python - "$1" <<'EOF'
import json, sys
record = json.load(open("results/latest-performance.json"))
names = sorted(record.get("profiles", {}))
if names != [sys.argv[1]] or record.get("passed") is not True:
    sys.exit(f"check-fresh: run record {record.get('run_id')}: profiles {names}, passed {record.get('passed')}")
print(f"check-fresh: run record {record['run_id']}: profile {names[0]} passed")
EOF
test -s reports/performance-baseline.md
make down
INSIDE
)

echo "check-fresh: running the README's first command in a bare Debian container ($IMAGE); log $LOG"
t0=$SECONDS
rc=0
timeout "$TIMEOUT_S" docker run "${run_args[@]}" "$IMAGE" bash -c "$inside" _ "$PROFILE" 2>&1 \
  | tee "$LOG" | sed -u 's/^/  | /' || rc=$?
if [ "$rc" -eq 124 ]; then
  echo "check-fresh: FAIL: not done within ${TIMEOUT_S} s (CHECK_FRESH_TIMEOUT); log $LOG" >&2
  exit 1
elif [ "$rc" -ne 0 ]; then
  echo "check-fresh: FAIL (exit $rc) after $((SECONDS - t0)) s; log $LOG" >&2
  exit 1
fi
echo "check-fresh: PASS in $((SECONDS - t0)) s: a bare Debian machine with make ran the stack and the QUICK $PROFILE profile"
