"""promtool over the project's Prometheus files: configs, rules, rule unit tests.

promtool works offline and ships with Prometheus (Debian: apt-get install prometheus);
scripts/install-system-deps.sh installs it, so a missing promtool is a failure here.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from kafkaval.config import load_settings
from stack.prometheus import COMPOSE_CONFIG, RULES_DIR, compose_config, rule_files, scrape_config

REPO = Path(__file__).resolve().parents[2]


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    assert exe, "promtool not found: apt-get install prometheus"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60)


def test_rule_files_exist() -> None:
    names = {p.name for p in rule_files()}
    assert {"loadgen.yml", "alerts.yml"} <= names
    assert not any(n.endswith("_test.yml") for n in names)


def test_check_rules() -> None:
    result = promtool("check", "rules", *map(str, rule_files()))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("test_file", sorted(RULES_DIR.glob("*_test.yml")), ids=lambda p: p.name)
def test_rule_unit_tests(test_file: Path) -> None:
    result = promtool("test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_local_config(tmp_path: Path) -> None:
    settings = dataclasses.replace(load_settings(environ={}), state_dir=str(tmp_path))
    (tmp_path / "targets").mkdir()
    config = tmp_path / "prometheus.yml"
    config.write_text(scrape_config(settings))
    result = promtool("check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_compose_config_is_generated_and_valid(tmp_path: Path) -> None:
    text = compose_config()
    assert COMPOSE_CONFIG.read_text() == text, (
        "prometheus/prometheus.compose.yml is stale: run `python -m stack.prometheus`"
    )
    # In compose the folder is mounted at /etc/prometheus; point it at the repo to check.
    config = tmp_path / "prometheus.compose.yml"
    config.write_text(text.replace("/etc/prometheus/", f"{REPO / 'prometheus'}/"))
    result = promtool("check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    for path in rule_files():
        assert f"/etc/prometheus/rules/{path.name}" in text
