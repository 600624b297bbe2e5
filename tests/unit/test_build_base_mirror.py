"""docker/base/build-base.sh takes its Debian mirror from apt's sources, never a built-in host."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "docker" / "base" / "build-base.sh"


def mirror(apt_etc: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BASE_")}
    environ.update(APT_ETC=str(apt_etc), **env)
    return subprocess.run(
        ["bash", str(SCRIPT), "--print-mirror"],
        capture_output=True,
        text=True,
        env=environ,
        timeout=30,
    )


@pytest.fixture
def apt_etc(tmp_path: Path) -> Path:
    (tmp_path / "sources.list.d").mkdir()
    return tmp_path


DEB822 = (
    "Types: deb\n"
    "URIs: http://security.mirror.example/debian-security\n"
    "Suites: bookworm-security\n"
    "Components: main\n"
    "\n"
    "Types: deb\n"
    "URIs: http://off.mirror.example/debian\n"
    "Suites: bookworm\n"
    "Enabled: no\n"
    "\n"
    "Types: deb-src deb\n"
    "# a comment line inside the stanza\n"
    "URIs: http://main.mirror.example/debian\n"
    "Suites: bookworm bookworm-updates\n"
    "Components: main\n"
)
ONE_LINE = (
    "deb-src http://src.mirror.example/debian bookworm main\n"
    "deb http://sec.mirror.example/debian-security bookworm-security main\n"
    "deb [arch=amd64 signed-by=/k.gpg] https://one.mirror.example/debian bookworm main\n"
)


@pytest.mark.parametrize(
    "name, text, expected",
    [
        # The stanza for exactly the suite, enabled; not -security.
        ("sources.list.d/debian.sources", DEB822, "http://main.mirror.example/debian"),
        # Options in brackets skipped, deb-src and -security ignored.
        ("sources.list", ONE_LINE, "https://one.mirror.example/debian"),
    ],
)
def test_mirror_from_apt_sources(apt_etc: Path, name: str, text: str, expected: str) -> None:
    (apt_etc / name).write_text(text)
    done = mirror(apt_etc)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected


def test_explicit_variable_wins(apt_etc: Path) -> None:
    (apt_etc / "sources.list").write_text("deb http://one.mirror.example/debian bookworm main\n")
    done = mirror(apt_etc, BASE_MIRROR="http://chosen.mirror.example/debian")
    assert done.stdout.strip() == "http://chosen.mirror.example/debian"


def test_no_mirror_is_one_clear_line(apt_etc: Path) -> None:
    (apt_etc / "sources.list").write_text(
        "deb http://sec.mirror.example/debian-security bookworm-security main\n"
    )
    done = mirror(apt_etc)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "set BASE_MIRROR" in lines[0]
