#!/usr/bin/env bash
# `make test`: the unit tier, then the integration tier against real services.
# Integration fixtures start (and stop) what they need themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
"$VENV/bin/pytest" -q -p no:cacheprovider tests/unit tests/integration "$@"
