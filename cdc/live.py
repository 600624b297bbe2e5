"""What the CDC runs share around the table topics: creating them, reading them live."""

from __future__ import annotations

import threading
from typing import Any

from cdc.config import CdcConfig
from cdc.errors import CdcError
from cdc.events import read_events
from cdc.metrics import CdcMetrics
from kafkaval.config import Settings
from kafkaval.kafka_admin import admin_client
from kafkaval.record_types import E2eLatency
from loadgen.recorder import summarize_us


def ensure_topics(settings: Settings, cfg: CdcConfig) -> None:
    # The reader waits for all three topics; an empty table has none yet.
    from confluent_kafka.admin import NewTopic

    admin = admin_client(settings.client_config())
    existing = set(admin.list_topics(timeout=10).topics)
    new = [NewTopic(t) for t in cfg.topics if t not in existing]
    if new:
        for fut in admin.create_topics(new, operation_timeout=10).values():
            try:
                fut.result(timeout=15)
            except Exception as e:  # noqa: BLE001 - already exists is fine
                if "already exists" not in str(e).lower():
                    raise CdcError(f"cannot create topic: {e}") from e


class LiveReader:
    """Reads the table topics in a thread while the run goes on; keeps e2e latencies."""

    def __init__(
        self,
        settings: Settings,
        topics: list[str],
        start: Any,
        max_seconds: float,
        metrics: CdcMetrics | None = None,
        scenario: str = "",
    ) -> None:
        self._args = (settings, topics, max_seconds, start)
        self._metrics = metrics
        self._scenario = scenario
        self._stop = threading.Event()
        self._latencies_us: list[int] = []
        self._thread = threading.Thread(target=self._run, name="cdc-live-reader", daemon=True)
        self.error: BaseException | None = None

    def _on_event(self, ev: Any) -> None:
        if self._metrics is not None:
            self._metrics.inc(self._scenario, "events_consumed")
        if ev.op != "r":  # snapshot reads carry the snapshot's time, not a commit's
            latency_ms = max(0, ev.consumed_at_ms - ev.source_ts_ms)
            self._latencies_us.append(latency_ms * 1000)
            if self._metrics is not None:
                self._metrics.e2e(self._scenario, latency_ms / 1000)

    def _run(self) -> None:
        settings, topics, max_seconds, start = self._args
        try:
            read_events(
                settings, topics, max_seconds, start=start,
                done=lambda _events: self._stop.is_set(), on_event=self._on_event, keep=False,
            )  # fmt: skip
        except CdcError as e:  # the latency figure is lost, the exact check still runs
            self.error = e

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def latency(self) -> E2eLatency:
        out: E2eLatency = {**summarize_us(self._latencies_us)}
        if self.error is not None:
            out["note"] = f"live reader failed: {self.error}"
        return out
