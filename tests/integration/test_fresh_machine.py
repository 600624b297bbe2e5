"""The README's first command on a bare Debian machine (scripts/check-fresh.sh).

A debootstrap container with nothing but ``make`` runs ``make
test-kafka-performance QUICK=1 PROFILE=snapshot`` on a copy of this checkout:
system packages, virtualenv, Python packages and Kafka jars are installed by
the Make targets themselves, the stack comes up, the QUICK profile passes and
``make down`` stops it. The container has its own network namespace, so it
can run next to the host's tests without port clashes.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from docker_helpers import REPO, engine_or_skip

pytestmark = [pytest.mark.integration, pytest.mark.docker]

TIMEOUT_S = 1500


@pytest.mark.timeout(TIMEOUT_S + 300)
def test_readme_first_command_on_a_bare_debian_machine() -> None:
    engine = engine_or_skip()
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "check-fresh.sh"), "snapshot"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "CHECK_FRESH_TIMEOUT": str(TIMEOUT_S)},
        timeout=TIMEOUT_S + 240,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    # The evidence, not only the exit code: bare to begin with, the stack up,
    # the profile's own verdict from its run record, the stack stopped again.
    assert "check-fresh: bare machine" in output
    assert "profile snapshot passed" in output
    assert "check-fresh: PASS" in output
    assert not engine.containers.list(all=True, filters={"name": "kafkaval-check-fresh-"})
