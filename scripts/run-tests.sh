#!/usr/bin/env bash
# `make test`: the unit tier, then the integration tier against real services.
# Integration fixtures start (and stop) what they need themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
# The Docker tier needs an engine and the locally built images (all of
# docker/build-images.sh's, the cdc profile's postgres and connect too). Where Docker
# is installed it is started here; where it cannot be (no dockerd, not root)
# the Docker tests report themselves skipped with the reason.
if command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ]; then
  bash scripts/start-dockerd.sh
  PYTHON="$VENV/bin/python" bash docker/build-images.sh
fi
"$VENV/bin/pytest" -q -p no:cacheprovider -rs tests/unit tests/integration "$@"
