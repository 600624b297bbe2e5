"""A scenario's verifiable consumers as processes: started, and waited for until done.

Each group is one ``chaos.verifiable_consumer`` process (so a fault can kill -9
it), managed by a pid file under ``chaos_pid_dir`` (which makes it a target
chaos may touch); its secret client properties go by environment, never argv.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

from confluent_kafka import KafkaException

from chaos.catalog import PARTITIONS
from chaos.safety import chaos_pid_dir
from chaos.verifiable_consumer import SECRET_PROPS_ENV
from kafkaval import kafka_admin
from kafkaval.config import Settings
from kafkaval.redact import is_secret
from kafkaval.waiting import wait_until
from stack.processes import ManagedProcess


def consumer_process(
    settings: Settings,
    name: str,
    group_id: str,
    topic: str,
    out: Path,
    max_seconds: float,
    skip_every: int = 0,
    seek_past: int = 0,
) -> ManagedProcess:
    """The (not yet started) consumer process ``name`` of group ``group_id``.

    It records each delivery of ``topic`` to ``out`` and its client warnings
    to ``warnings_file(out)``, and exits after ``max_seconds``; ``skip_every``
    and ``seek_past`` are the unsafe modes of the checker's self-test.
    """
    argv = [
        sys.executable, "-m", "chaos.verifiable_consumer",
        "--bootstrap", settings.bootstrap_servers,
        "--group", group_id,
        "--topic", topic, "--out", str(out),
        "--client-warnings", str(warnings_file(out)),
        "--max-seconds", str(max_seconds),
    ]  # fmt: skip
    if skip_every:
        argv += ["--skip-every", str(skip_every)]
    if seek_past:
        argv += ["--seek-past", str(seek_past)]
    props = {**settings.kafka, **settings.consumer}
    for key, value in props.items():
        if not is_secret(key):
            argv += ["--prop", f"{key}={value}"]
    secrets = {k: v for k, v in props.items() if is_secret(k)}
    logs = settings.path("state_dir") / "logs"
    return ManagedProcess(
        name=name,
        argv=argv,
        log=logs / f"{name}.log",
        pid_dir=chaos_pid_dir(settings),
        cwd=str(Path(__file__).resolve().parents[1]),
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        secret_env={SECRET_PROPS_ENV: json.dumps(secrets)} if secrets else {},
        die_with_parent=True,  # a killed runner leaves no consumer behind
    )


def warnings_file(deliveries: Path) -> Path:
    """Where the consumer recording to ``deliveries`` keeps its client warnings."""
    return deliveries.with_suffix(".client-warnings")


def wait_committed(
    settings: Settings,
    topic: str,
    group_ids: Iterable[str],
    timeout: float,
    stop: threading.Event,
) -> bool:
    """Wait (bounded by ``timeout`` s, and by ``stop``) until every group committed
    the end of every partition of ``topic``; True if all did."""
    ends = kafka_admin.end_offsets(settings, topic, PARTITIONS)
    pending = set(group_ids)

    def settled() -> bool:
        if stop.is_set():
            return True  # interrupted: stop waiting, the pending groups stay pending
        for group_id in list(pending):
            try:
                done = kafka_admin.committed(settings, group_id, topic, PARTITIONS)
            except KafkaException:
                continue  # coordinator moving after a fault: ask again
            if all(done.get(p, -1) >= end for p, end in ends.items() if end > 0):
                pending.discard(group_id)
        return not pending

    wait_until(settled, timeout, 0.5, sleep=stop.wait)
    return not pending
