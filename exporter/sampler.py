"""The background sampler: slow stats I/O off the scrape path.

A thread asks the source for a sample every ``interval`` seconds and swaps in
the new snapshot as one immutable object; a scrape only reads the latest
snapshot, so its cost does not depend on the engine's speed. When the source
fails (engine away, restarting), the snapshot says ``up=False`` with no
targets, and the next round tries again by itself.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from exporter.errors import SourceUnavailable

log = logging.getLogger("kafkaval.exporter")

T = TypeVar("T")


class Source(Protocol[T]):
    kind: str

    def sample(self) -> list[T]: ...

    def close(self) -> None: ...


@dataclasses.dataclass(frozen=True)
class Snapshot(Generic[T]):
    """The result of one sampling round."""

    up: bool
    targets: tuple[T, ...]
    duration_seconds: float  # how long the round took
    taken_at: float  # monotonic time the round ended
    error: str = ""


EMPTY: Snapshot[Any] = Snapshot(up=False, targets=(), duration_seconds=0.0, taken_at=float("-inf"))


class Sampler(Generic[T]):
    """Samples ``source`` in a daemon thread.

    Args:
        source: a DockerSource or ProcessSource (container stats), or a
            ConsumerLagSource (group offsets): anything with ``sample()``.
        interval: seconds between the starts of two rounds.
        clock: monotonic clock (injectable for tests).
    """

    def __init__(
        self,
        source: Source[T],
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.interval = interval
        self._clock = clock
        self._snapshot: Snapshot[T] = EMPTY
        self._stop = threading.Event()
        self._first = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def snapshot(self) -> Snapshot[T]:
        return self._snapshot  # one reference read: never a half-written sample

    def sample_once(self) -> Snapshot[T]:
        """Run one round now and publish its snapshot."""
        start = self._clock()
        try:
            targets = tuple(self.source.sample())
            snap: Snapshot[T] = Snapshot(True, targets, self._clock() - start, self._clock())
        except SourceUnavailable as e:
            if self._snapshot.up or self._snapshot is EMPTY:
                log.warning("%s; reporting kafkaval_exporter_up 0 until it is back", e)
            snap = Snapshot(False, (), self._clock() - start, self._clock(), str(e))
        else:
            if not self._snapshot.up and self._snapshot is not EMPTY:
                log.warning("%s source is back", self.source.kind)
        self._snapshot = snap
        self._first.set()
        return snap

    def _run(self) -> None:
        while not self._stop.is_set():
            started = self._clock()
            try:
                self.sample_once()
            except Exception:  # noqa: BLE001 - the sampler must outlive one bad round
                log.exception("sampling round failed; retrying next round")
            self._stop.wait(max(0.0, self.interval - (self._clock() - started)))

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="exporter-sampler", daemon=True)
            self._thread.start()

    def wait_first(self, timeout: float) -> bool:
        """Block until the first round finished (True) or ``timeout`` s passed."""
        return self._first.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.source.close()
