#!/usr/bin/env bash
# `make test`: the unit tier, then the integration tier against real services.
# Integration fixtures start (and stop) what they need themselves.
#
# The integration tier runs as two pytest sessions side by side, then a short
# tail alone. Each session has its own stacks on its own ports
# (KAFKAVAL_TEST_PORT_OFFSET, 1000 apart), so they share only the machine:
#   local   local processes only: the delivery scenarios and mutations (most of
#           their time is spent waiting out faults), stack restarts, the
#           secured stack. Every test that creates or counts iptables partition
#           rules is here, since those are machine-wide.
#   engine  everything else, including all of the Docker tier (swarm mode and
#           the engine's containers are engine-wide).
#   tail    run alone afterwards: the regression verdicts (a scheduled A-vs-A
#           repeat, an interleaved A/A) must not be judged across a neighbour
#           that starts or stops in the middle.
# Arguments (files, -k EXPR, ...) run one session over what they name, as pytest would.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYTEST=("$VENV/bin/pytest" -q -p no:cacheprovider -rs)
# The Docker tier needs an engine and the locally built images (all of
# docker/build-images.sh's, the cdc profile's postgres and connect too). Where Docker
# is installed it is started here; where it cannot be (no dockerd, not root)
# the Docker tests report themselves skipped with the reason.
if command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ]; then
  bash scripts/start-dockerd.sh
  PYTHON="$VENV/bin/python" bash docker/build-images.sh
fi
if [ "$#" -gt 0 ]; then
  exec "${PYTEST[@]}" "$@"
fi

IT=tests/integration
LOCAL=(test_delivery_scenarios test_delivery_mutations test_delivery_mutations_unclean
       test_delivery_interrupt test_fault_binding test_secured_stack test_stack
       test_targets test_jmx_metrics test_metrics_lint_live test_bench_scale)
TAIL=(test_scheduler_regression test_perf_ab)
local_files=() tail_files=() engine_files=()
for name in "${LOCAL[@]}"; do local_files+=("$IT/$name.py"); done
for name in "${TAIL[@]}"; do tail_files+=("$IT/$name.py"); done
for f in "$IT"/test_*.py; do
  name=$(basename "$f" .py)
  [[ " ${LOCAL[*]} ${TAIL[*]} " == *" $name "* ]] || engine_files+=("$f")
done
for f in "${local_files[@]}" "${tail_files[@]}"; do
  [ -f "$f" ] || { echo "run-tests.sh: $f is listed in a group but does not exist" >&2; exit 2; }
done

"${PYTEST[@]}" tests/unit

offset="${KAFKAVAL_TEST_PORT_OFFSET:-0}"
local_log=$(mktemp /var/tmp/kafkaval-tests-local.XXXXXX)
echo "integration: the 'local' group runs alongside (log $local_log, printed at its end)"
# A background job of a script ignores SIGINT; --default-signal gives Ctrl-C
# back to it, so both sessions tear their stacks down.
KAFKAVAL_TEST_PORT_OFFSET=$((offset - 1000)) env --default-signal=INT \
  "${PYTEST[@]}" "${local_files[@]}" >"$local_log" 2>&1 &
local_pid=$!
trap 'kill -INT "$local_pid" 2>/dev/null || true; wait "$local_pid" 2>/dev/null || true' EXIT
engine_rc=0
"${PYTEST[@]}" "${engine_files[@]}" || engine_rc=$?
local_rc=0
wait "$local_pid" || local_rc=$?
trap - EXIT
echo "---- integration group 'local' ----"
cat "$local_log"
rm -f "$local_log"
echo "---- integration tail (alone) ----"
tail_rc=0
"${PYTEST[@]}" "${tail_files[@]}" || tail_rc=$?
echo "integration: engine group exit $engine_rc, local group exit $local_rc, tail exit $tail_rc"
[ "$engine_rc" -eq 0 ] && [ "$local_rc" -eq 0 ] && [ "$tail_rc" -eq 0 ]
