"""What a fault acts on: the `Target` interface and its local-process backend.

A `Target` is one thing chaos may break and must restore: a broker or a
consumer process of the local stack (`ProcessTarget`, here) or a Docker
container (`chaos.docker_backend`, same interface). Scenarios and faults only
talk to this interface, so a new backend plugs in without changing them.

Contract every backend keeps (the docker backend is written against it):

- ``name``: the stable, user-visible name (``broker-2``, a container name).
- ``kind``: the backend, ``"process"`` or ``"container"``.
- ``kill()``: SIGKILL now; does NOT start it again (a fault calls ``start``).
- ``stop(timeout)``: graceful stop (SIGTERM, wait ``timeout`` s, then SIGKILL).
- ``start()``: start it again after ``kill``/``stop``; returns without waiting
  for health (call ``wait_healthy``).
- ``restart(timeout)``: ``stop`` then ``start``.
- ``pause()`` / ``resume()``: freeze / thaw every process of the target
  (SIGSTOP/SIGCONT, ``docker pause``).
- ``partition()`` / ``heal()``: cut all its network traffic both ways / undo
  exactly that. ``heal`` is idempotent and safe to call when not partitioned.
- ``is_running()``, ``is_paused()``, ``is_partitioned()``: observed state, not
  remembered intent (``is_partitioned`` looks for the actual firewall rules or
  the actual network attachment).
- ``is_healthy()``: serving its role again (a broker answers metadata listing
  itself; a plain process is running and not paused).
- ``verify_restored()``: the list of problems left (empty = restored); faults
  call it after rollback and before results are judged.
- ``broker_identity()``: the cluster id and node id of a Kafka broker target,
  read from the broker's own storage (None: not a broker); chaos.binding
  compares it with the cluster under test before any fault.

Every method raises `chaos.errors.ChaosError` (a KafkavalError) with one line
when it cannot do what it says; none of them prints.
"""

from __future__ import annotations

import abc
import dataclasses
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.errors import ChaosError
from kafkaval.waiting import wait_until
from stack.probes import port_open
from stack.processes import ManagedProcess

if TYPE_CHECKING:
    from chaos.binding import BrokerIdentity


class Target(abc.ABC):
    """One thing a fault may act on. See the module docstring for the contract."""

    name: str
    kind: str

    @abc.abstractmethod
    def kill(self) -> None:
        """SIGKILL (or equivalent) now; leaves the target stopped."""

    @abc.abstractmethod
    def stop(self, timeout: float = 30.0) -> None:
        """Graceful stop, forced after ``timeout`` seconds."""

    @abc.abstractmethod
    def start(self) -> None:
        """Start the target again (no-op if running); does not wait for health."""

    def restart(self, timeout: float = 30.0) -> None:
        """Graceful stop, then start."""
        self.stop(timeout)
        self.start()

    @abc.abstractmethod
    def pause(self) -> None:
        """Freeze every process of the target."""

    @abc.abstractmethod
    def resume(self) -> None:
        """Thaw what ``pause`` froze; safe when not paused."""

    @abc.abstractmethod
    def partition(self) -> None:
        """Drop all the target's network traffic, both directions."""

    @abc.abstractmethod
    def heal(self) -> None:
        """Undo ``partition`` exactly; safe when not partitioned."""

    @abc.abstractmethod
    def is_running(self) -> bool: ...

    @abc.abstractmethod
    def is_paused(self) -> bool: ...

    @abc.abstractmethod
    def is_partitioned(self) -> bool: ...

    @abc.abstractmethod
    def is_healthy(self) -> bool:
        """Serving its role (see the module docstring)."""

    def wait_healthy(
        self,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
        stable: float = 3.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> bool:
        """Poll ``is_healthy`` until it holds for ``stable`` s in a row (True), or
        ``timeout`` s pass (False).

        One good probe is not enough: right after a partition heals, the other
        brokers' metadata may still list the cut broker until the controller
        fences it, and only then does it register again. Health that flaps
        like that is not yet restored.
        """
        healthy_since: float | None = None

        def held() -> bool:
            nonlocal healthy_since
            now = clock()
            if not self.is_healthy():
                healthy_since = None
                return False
            healthy_since = now if healthy_since is None else healthy_since
            return now - healthy_since >= stable

        return wait_until(held, timeout, 0.3, clock=clock, sleep=sleep)

    def broker_identity(self) -> BrokerIdentity | None:
        """The Kafka cluster and node this target is (None: not a broker).

        Raises:
            ChaosError: it is a broker but its identity cannot be read.
        """
        return None

    def verify_restored(self) -> list[str]:
        """Problems left after a rollback, each one line; empty when fully restored."""
        problems = []
        if not self.is_running():
            problems.append(f"{self.name} is not running")
        if self.is_paused():
            problems.append(f"{self.name} is still paused")
        if self.is_partitioned():
            problems.append(f"{self.name} still has partition rules")
        if not problems and not self.is_healthy():
            problems.append(f"{self.name} is running but not serving")
        return problems

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind}:{self.name}>"


def _proc_state(pid: int, proc: Path = Path("/proc")) -> str | None:
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


@dataclasses.dataclass
class ProcessTarget(Target):
    """A process the local stack started, found through its pid file.

    Args:
        process: the managed process (pid file, argv, log).
        ports: TCP ports it listens on (its partition drops traffic to them).
        health: extra "serving" check beyond running and not paused; for a
            broker, a metadata probe that lists its node id.
        partitioner: how its network is cut; the default is chaos.netpartition.
        identity: reads its broker identity (a broker's meta.properties); None
            for a process that is not a broker.
    """

    process: ManagedProcess
    ports: list[int] = dataclasses.field(default_factory=list)
    health: Callable[[], bool] | None = None
    partitioner: object | None = None
    identity: Callable[[], BrokerIdentity] | None = None
    kind: str = "process"

    def __post_init__(self) -> None:
        self.name = self.process.name
        if self.partitioner is None:
            from chaos.netpartition import ProcessPartitioner

            self.partitioner = ProcessPartitioner(self.name, self.ports)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process.is_running() else None

    def _require_pid(self, action: str) -> int:
        pid = self.pid
        if pid is None:
            raise ChaosError(f"cannot {action} {self.name}: it is not running")
        return pid

    def kill(self) -> None:
        pid = self._require_pid("kill")
        # SIGKILL the whole session group: a JVM launcher script must not survive.
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            self.process.signal(signal.SIGKILL)
        if not self.process.wait_exit(10.0):
            raise ChaosError(f"{self.name} (pid {pid}) survived SIGKILL for 10 s")

    def stop(self, timeout: float = 30.0) -> None:
        if not self.process.is_running():
            return
        pid = self._require_pid("stop")
        self.resume()  # a frozen process cannot handle SIGTERM
        self.process.signal(signal.SIGTERM)
        if not self.process.wait_exit(timeout):
            self.process.signal(signal.SIGKILL)
            if not self.process.wait_exit(10.0):
                raise ChaosError(f"{self.name} (pid {pid}) did not exit after SIGTERM and SIGKILL")

    def start(self) -> None:
        if self.process.is_running():
            return
        # A partition is tied to the old pid's cgroup; drop its rules first so
        # the new process does not start half-cut.
        self.heal()
        self.process.start()

    def pause(self) -> None:
        self._require_pid("pause")
        self.process.signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process.is_running():
            self.process.signal(signal.SIGCONT)

    def partition(self) -> None:
        pid = self._require_pid("partition")
        self.partitioner.partition(pid)  # type: ignore[attr-defined]

    def heal(self) -> None:
        self.partitioner.heal(self.pid)  # type: ignore[attr-defined]

    def is_running(self) -> bool:
        return self.process.is_running()

    def is_paused(self) -> bool:
        pid = self.pid
        return pid is not None and _proc_state(pid) in ("T", "t")

    def is_partitioned(self) -> bool:
        return bool(self.partitioner.active_rules())  # type: ignore[attr-defined]

    def broker_identity(self) -> BrokerIdentity | None:
        return self.identity() if self.identity is not None else None

    def is_healthy(self) -> bool:
        if not self.is_running() or self.is_paused():
            return False
        if self.ports and not all(port_open(p) for p in self.ports):
            return False
        return self.health() if self.health is not None else True
