"""Helpers for the confluent-kafka clients every part of the project makes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError
from kafkaval.redact import redact_text, secret_values

# Clients that expect "connection refused" (a broker starting, a fault under
# way) would print each one to stderr; a silent logger keeps the terminal readable.
_SILENT = logging.getLogger("kafkaval.probes")
_SILENT.addHandler(logging.NullHandler())
_SILENT.propagate = False


def quiet(client_config: Mapping[str, Any]) -> dict[str, Any]:
    """``client_config`` with librdkafka's log lines sent to a silent logger."""
    return {**client_config, "logger": _SILENT}


def close_producer(client: Any) -> None:
    """Destroy a producer now, without waiting for what it still holds.

    Its threads and broker connections go at once, not when the garbage
    collector gets to it (a client whose callbacks refer back to their owner
    sits in a reference cycle), and nothing left in its queue is retried into
    the topic later. What is still queued (only after a failed or timed-out
    flush; the caller has already counted those messages) is purged first:
    ``close()`` alone would flush again, for up to message.timeout.ms.
    """
    if len(client) > 0:
        client.purge()
    client.close()


def partition_count(client: Any, topic: str, timeout: float = 10.0) -> int:
    """How many partitions ``topic`` has, from the client's own metadata request.

    Raises:
        KafkavalError: the metadata could not be read, or the topic has no partitions.
    """
    try:
        meta = client.list_topics(topic, timeout=timeout).topics[topic]
    except KafkaException as e:
        raise KafkavalError(f"cannot read the partitions of {topic}: {e.args[0]}") from e
    if meta.error is not None or not meta.partitions:
        why = meta.error.str() if meta.error is not None else "no partitions"
        raise KafkavalError(f"cannot read the partitions of {topic}: {why}")
    return len(meta.partitions)


# How long a check waits for a cluster that does not answer at all.
CONNECT_TIMEOUT = 10.0


class _Captured(logging.Handler):
    """Keeps librdkafka's log lines instead of printing them (one line per failure, not a flood)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def check_clients(settings: Settings, timeout: float = CONNECT_TIMEOUT) -> int:
    """``check_connection`` with the settings of every client role that has its own
    properties (``[producer]``, ``[consumer]``); the number of brokers listed.

    Raises:
        KafkavalError: as ``check_connection``; a role's own settings are named.
    """
    brokers = check_connection(settings.client_config(), timeout)
    for role in ("producer", "consumer"):
        config = settings.client_config(role)
        if config != settings.client_config():
            try:
                check_connection(config, timeout)
            except KafkavalError as e:
                raise KafkavalError(f"with the [{role}] settings: {e}") from e
    return brokers


def check_connection(
    config: Mapping[str, Any],
    timeout: float = CONNECT_TIMEOUT,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Connect with ``config`` and read the cluster metadata; the number of brokers listed.

    Meant to run before any work starts: a wrong password, an untrusted
    certificate or a security.protocol that does not match the listener fail
    here, as one line naming the cause, instead of as a flood of client log
    lines and a run that measures nothing.

    Raises:
        KafkavalError: the cluster did not answer within ``timeout`` s; the
            message names what the client met (authentication, TLS, a listener
            speaking another protocol, nothing listening), never a secret value.
    """
    captured = _Captured()
    # A logger of its own, not registered globally: nothing else sees these lines.
    logger = logging.Logger("kafkaval.check_connection", logging.DEBUG)
    logger.addHandler(captured)
    errors: list[KafkaError] = []
    conf: dict[str, Any] = {**config, "logger": logger, "error_cb": errors.append}
    admin = AdminClient(conf)
    deadline = clock() + timeout
    try:
        while True:
            try:
                brokers = len(admin.list_topics(timeout=min(2.0, timeout)).brokers)
                if brokers:
                    return brokers
            except KafkaException as e:
                errors.append(e.args[0])
            admin.poll(0.1)  # serves error_cb and the log lines
            fatal = [e for e in errors if e.code() in (KafkaError._AUTHENTICATION, KafkaError._SSL)]
            # Three hang-ups or refusals in a row are an answer too: waiting
            # out the timeout would not change it.
            given_up = len(_closed(captured.lines)) >= 3 or len(_refused(captured.lines)) >= 3
            if fatal or given_up or clock() >= deadline:
                break
    finally:
        logger.removeHandler(captured)
    secrets = secret_values(config)
    raise KafkavalError(redact_text(_connection_failure(config, errors, captured.lines), secrets))


def _connection_failure(
    config: Mapping[str, Any], errors: list[KafkaError], logs: list[str]
) -> str:
    where = f"Kafka at {config.get('bootstrap.servers')}"
    protocol = str(config.get("security.protocol", "plaintext")).upper()
    for err in errors:
        if err.code() == KafkaError._AUTHENTICATION:
            return (
                f"{where} refused the client's SASL authentication ({_detail(err.str())}): "
                "check sasl.username, sasl.password and sasl.mechanism"
            )
        if err.code() == KafkaError._SSL:
            return (
                f"TLS handshake with {where} failed ({_detail(err.str())}): set ssl.ca.location "
                "to the CA that signed the broker's certificate"
            )
    closed = _closed(logs)
    if closed and protocol == "PLAINTEXT":
        return (
            f"{where} closed every plaintext connection at the first request: it is probably a "
            "TLS listener; set security.protocol (SSL or SASL_SSL) and the ssl.*/sasl.* settings"
        )
    if closed and protocol == "SSL":
        return (
            f"{where} closed every TLS connection after the handshake: it probably expects SASL; "
            "set security.protocol=SASL_SSL and sasl.mechanism, sasl.username, sasl.password"
        )
    last = _detail(logs[-1]) if logs else "no answer"
    return (
        f"{where} is not reachable with security.protocol={protocol} ({last}): start it "
        "(kafkaval stack up) or fix bootstrap_servers and the security settings"
    )


def _closed(logs: list[str]) -> list[str]:
    """Lines saying the broker hung up: what a listener of another protocol does."""
    return [line for line in logs if "connection closed by peer" in line.lower()]


def _refused(logs: list[str]) -> list[str]:
    return [line for line in logs if "connection refused" in line.lower()]


def _detail(message: str) -> str:
    """A librdkafka message without its ``[thrd:...]`` / ``host:port/id:`` prefixes."""
    text = message.split("]: ", 1)[-1]
    head, sep, rest = text.partition(": ")
    if sep and "/" in head and ":" in head:  # "sasl_ssl://127.0.0.1:9093/bootstrap"
        text = rest
    return text.strip()[:300]
