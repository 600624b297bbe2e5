"""Install from nothing: the core package alone (no extras) gives a working CLI.

A clean virtualenv gets ``pip install <copy of the checkout>`` with only the
``[project] dependencies``; every module of the shipped packages must then
import and the entry verbs must print their help. A third-party import that
is missing from the dependencies fails here, not on a user's machine.
"""

from __future__ import annotations

import shutil
import subprocess
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

# Imports every module of the shipped packages (report.charts imports
# matplotlib, the optional [report] extra, only when it draws).
_IMPORT_ALL = """
import importlib, pkgutil, sys
failed = []
for top in sys.argv[1:]:
    pkg = importlib.import_module(top)
    for info in pkgutil.walk_packages(pkg.__path__, top + "."):
        if info.name.endswith(".__main__"):
            continue  # runs the CLI when imported
        try:
            importlib.import_module(info.name)
        except ImportError as e:
            failed.append(f"{info.name}: {e}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def _packages() -> list[str]:
    import tomllib

    with open(REPO / "pyproject.toml", "rb") as f:
        include = tomllib.load(f)["tool"]["setuptools"]["packages"]["find"]["include"]
    return [name.rstrip("*") for name in include]


def _copy_checkout(dest: Path) -> None:
    """Tracked and new (not ignored) files only: no venv, caches or build leftovers."""
    files = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = REPO / name.decode()
        if src.is_file():
            target = dest / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def _run(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def test_core_install_runs_the_cli(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is needed to copy the checkout")
    src = tmp_path / "src"
    _copy_checkout(src)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    done = _run([str(bin_dir / "pip"), "install", "-q", "--no-input", str(src)], timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]

    done = _run([str(bin_dir / "python"), "-c", _IMPORT_ALL, *_packages()], timeout=120)
    assert done.returncode == 0, f"modules failing to import:\n{done.stdout}{done.stderr[-2000:]}"

    kafkaval = str(bin_dir / "kafkaval")
    for argv in (["--help"], ["perf", "run", "--help"], ["--version"]):
        done = _run([kafkaval, *argv], timeout=60)
        assert done.returncode == 0, f"kafkaval {' '.join(argv)}: {done.stderr[-2000:]}"
        assert "Traceback" not in done.stderr
    assert "perf" in _run([kafkaval, "--help"], timeout=60).stdout
