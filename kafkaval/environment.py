"""What a run ran on, recorded in its run record (the reports' "Test environment").

Measured at run time, not guessed at report time: the number of brokers is
what the cluster's metadata lists, the machine is the one the suite ran on.
The Kafka version is known for the local stack (its jars); for any other
Kafka the client cannot ask for it, and the record says so.
"""

from __future__ import annotations

import os
from typing import Any

from confluent_kafka import KafkaException

from kafkaval.config import Settings
from kafkaval.kafka_admin import admin_client


def machine() -> dict[str, Any]:
    """Cores and memory of this machine."""
    mem = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem = int(line.split()[1]) * 1024
    except OSError:
        pass  # not Linux: memory stays unknown in the report
    return {"cores": os.cpu_count(), "memory_bytes": mem}


def client_security(settings: Settings) -> str:
    """How the clients reach Kafka, e.g. ``SASL_SSL SCRAM-SHA-512`` (no credentials)."""
    props = settings.client_config()
    protocol = props.get("security.protocol", "plaintext").upper()
    if protocol.startswith("SASL"):
        return f"{protocol} {props.get('sasl.mechanism', 'GSSAPI').upper()}"
    return protocol


def stack_kind(local_stack: bool) -> str:
    """The record's ``stack_kind``: the local stack's processes, or any other Kafka."""
    return "local (processes)" if local_stack else "external or compose"


def run_environment(settings: Settings) -> dict[str, Any]:
    """``{stack_kind, kafka_version, brokers, bootstrap_servers, client_security, cores,
    memory_bytes}``."""
    # stack builds on kafkaval: imported here, not at module level.
    from stack import local

    is_local = local.is_local_kafka(settings) and bool(local.running(settings))
    env: dict[str, Any] = {
        "stack_kind": stack_kind(is_local),
        "kafka_version": settings.kafka_version
        if is_local
        else "unknown (not the local stack; the client cannot ask)",
        "bootstrap_servers": settings.bootstrap_servers,
        "client_security": client_security(settings),
        **machine(),
    }
    try:
        admin = admin_client(settings.client_config())
        env["brokers"] = len(admin.list_topics(timeout=5).brokers)
    except KafkaException:
        env["brokers"] = None  # unreachable now; the suites' own checks say why
    return env
