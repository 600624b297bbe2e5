"""Processes the local stack started, remembered in pid files.

Each managed process has a JSON pid file ``<state_dir>/pids/<name>.json``
holding its pid, its start time (from /proc, so a recycled pid is not
mistaken for ours), the argv and the log file. That file is the only way
``down``, ``status`` and chaos find a process: what we did not start, we do not
touch. A pid file whose process is gone (or whose pid now belongs to another
process) is stale and is cleaned up.
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from kafkaval.errors import KafkavalError
from kafkaval.files import write_atomic

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes(pid: int | None = None) -> int | None:
    """Resident memory of ``pid`` (None: this process), or None when it is gone."""
    try:
        with open(f"/proc/{pid or 'self'}/statm") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


def _proc_start_ticks(pid: int, proc: Path = Path("/proc")) -> int | None:
    """Start time of ``pid`` in clock ticks since boot, or None if it does not exist."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may hold spaces; fields after the last ')' are fixed.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie is dead for our purposes
        return None
    return int(fields[19])


@dataclasses.dataclass
class ManagedProcess:
    """A process of the stack: how to start it and, once started, who it is."""

    name: str
    argv: list[str]
    log: Path
    pid_dir: Path
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    # Added to the environment at start but never written to the pid file (nor
    # shown in argv, which any user can read in ps): client secrets.
    secret_env: dict[str, str] = dataclasses.field(default_factory=dict, repr=False)
    cwd: str | None = None
    pid: int | None = None
    start_ticks: int | None = None
    # A helper of one run (a chaos consumer), not a service: it gets SIGTERM
    # when the process that started it dies, even by SIGKILL, so it never
    # outlives its run. The stack's own services must survive `stack up`.
    die_with_parent: bool = False

    @property
    def pid_file(self) -> Path:
        return self.pid_dir / f"{self.name}.json"

    def is_running(self) -> bool:
        """True if our process (same pid and start time) is alive."""
        if self.pid is None:
            return False
        ticks = _proc_start_ticks(self.pid)
        return ticks is not None and ticks == self.start_ticks

    def start(self) -> None:
        """Start the process detached (own session), output appended to the log.

        Raises:
            KafkavalError: the executable cannot be started.
        """
        if self.is_running():
            return
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, **self.secret_env}
        with self.log.open("ab") as out:
            try:
                # A new session: Ctrl-C in the caller's terminal does not hit
                # the broker, and we can signal the whole group later.
                popen = subprocess.Popen(
                    self.argv,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    cwd=self.cwd,
                    start_new_session=True,
                    preexec_fn=parent_death_hook() if self.die_with_parent else None,
                )
            except OSError as e:
                raise KafkavalError(f"cannot start {self.name} ({self.argv[0]}): {e}") from e
        self.pid = popen.pid
        self.start_ticks = _proc_start_ticks(popen.pid)
        self.save()

    def save(self) -> None:
        record = {
            "name": self.name,
            "pid": self.pid,
            "start_ticks": self.start_ticks,
            "argv": self.argv,
            "log": str(self.log),
            "env": self.env,
            "cwd": self.cwd,
            "die_with_parent": self.die_with_parent,
        }
        write_atomic(self.pid_file, json.dumps(record, indent=1))

    def signal(self, sig: int) -> None:
        """Send ``sig`` to our process if it is running (no-op otherwise)."""
        if self.is_running():
            assert self.pid is not None
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def wait_exit(self, timeout: float) -> bool:
        """Wait until the process is gone; True if it exited within ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                return True
            _reap(self.pid)
            time.sleep(0.05)
        return not self.is_running()

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL; forget the pid file."""
        if self.is_running():
            self.signal(signal.SIGTERM)
            if not self.wait_exit(timeout):
                self.signal(signal.SIGKILL)
                self.wait_exit(10.0)
        self.pid_file.unlink(missing_ok=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def parent_death_hook() -> Callable[[], None]:
    """A preexec_fn asking the kernel for SIGTERM when the parent (thread) that
    started the child exits. libc is loaded here, in the parent: the child may
    not import or take locks between fork and exec. Linux only, like the rest
    of the stack (/proc, cgroups)."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)

    return hook


def _reap(pid: int | None) -> None:
    # Our own children become zombies until waited for; reap without blocking.
    if pid is None:
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def load_managed(pid_dir: Path) -> list[ManagedProcess]:
    """Every process with a pid file in ``pid_dir``, running or stale, by name."""
    found = []
    for path in sorted(pid_dir.glob("*.json")):
        try:
            rec = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            path.unlink(missing_ok=True)  # a torn pid file names nothing we can trust
            continue
        found.append(
            ManagedProcess(
                name=rec["name"],
                argv=rec["argv"],
                log=Path(rec["log"]),
                pid_dir=pid_dir,
                env=rec.get("env") or {},
                cwd=rec.get("cwd"),
                pid=rec.get("pid"),
                start_ticks=rec.get("start_ticks"),
                die_with_parent=bool(rec.get("die_with_parent")),
            )
        )
    return found


def find_managed(pid_dir: Path, name: str) -> ManagedProcess:
    """The managed process called ``name``.

    Raises:
        KafkavalError: no such process was started by the stack.
    """
    for proc in load_managed(pid_dir):
        if proc.name == name:
            return proc
    known = ", ".join(p.name for p in load_managed(pid_dir)) or "none"
    raise KafkavalError(f"no stack process named {name!r} (known: {known}); is the stack up?")
