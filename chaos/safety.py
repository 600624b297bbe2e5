"""What chaos may touch: processes the stack started, and what configuration names.

Allowed targets are exactly:

- processes with a pid file of the local stack (``<state_dir>/pids``: the
  brokers, Prometheus) or of this runner (``<state_dir>/chaos-pids``: the
  verifiable consumers it started) — the pid file also proves the pid is
  still ours (start time check in stack.processes);
- containers named in ``settings.chaos_targets`` (by name, or by a
  ``key=value`` label the container carries), through the Docker backend.

Anything else is refused with one line before any fault is applied.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

from confluent_kafka import KafkaException

from chaos.binding import read_meta_properties
from chaos.errors import ChaosError, TargetNotAllowed
from chaos.targets import ProcessTarget, Target
from kafkaval.config import Settings
from kafkaval.kafka_admin import admin_client
from stack import kafka
from stack.processes import load_managed


def chaos_pid_dir(settings: Settings):  # noqa: ANN201 - a Path
    """Pid files of processes the chaos runner itself started (consumers)."""
    return settings.path("state_dir") / "chaos-pids"


def broker_listed(client_config: dict[str, str], node_id: int, timeout: float = 3.0) -> bool:
    """True if the cluster's metadata lists broker ``node_id`` (it is registered and serving)."""
    try:
        md = admin_client(client_config).list_topics(timeout=timeout)
    except KafkaException:
        return False
    return node_id in md.brokers


def local_targets(settings: Settings) -> dict[str, Target]:
    """Every process target of the local stack described by ``settings``, by name.

    A broker's health is asked of the cluster under test (the configured
    bootstrap servers), and its identity is its own meta.properties: a local
    broker of another cluster is found here but refused by chaos.binding.
    """
    found: dict[str, Target] = {}
    brokers = {b.name: b for b in kafka.brokers_of(settings)}
    client = settings.client_config()
    for proc in load_managed(settings.path("state_dir") / "pids"):
        broker = brokers.get(proc.name)
        if broker is not None:
            node = broker.node_id
            found[proc.name] = ProcessTarget(
                proc,
                ports=[broker.port, broker.controller_port],
                health=functools.partial(broker_listed, client, node),
                identity=functools.partial(read_meta_properties, broker.data_dir),
            )
        else:
            found[proc.name] = ProcessTarget(proc)
    for proc in load_managed(chaos_pid_dir(settings)):
        found[proc.name] = ProcessTarget(proc)
    return found


def allowed_by_config(settings: Settings, name: str, labels: Mapping[str, str] = {}) -> bool:  # noqa: B006
    """True if ``name`` (or one of its ``labels``) is listed in ``settings.chaos_targets``."""
    for entry in settings.chaos_targets:
        key, sep, value = entry.partition("=")
        if sep and labels.get(key) == value:
            return True
        if not sep and entry == name:
            return True
    return False


def resolve_target(
    settings: Settings,
    name: str,
    local: Mapping[str, Target],
    container: Callable[[str], Target] | None = None,
) -> Target:
    """The target called ``name``, if chaos may touch it.

    Args:
        local: process targets the stack started (see `local_targets`).
        container: builds a Docker target by name (None: no Docker backend).

    Raises:
        TargetNotAllowed: neither started by the stack nor listed in chaos_targets.
        ChaosError: allowed but not found.
    """
    if name in local:
        return local[name]
    if not allowed_by_config(settings, name):
        known = ", ".join(sorted(local)) or "none: is the stack up?"
        raise TargetNotAllowed(
            f"target {name!r} is not allowed: chaos touches only processes the stack started "
            f"({known}) and containers listed in chaos_targets"
        )
    if container is None:
        raise ChaosError(f"target {name!r} is in chaos_targets but no Docker backend is available")
    return container(name)


def require_running(target: Target) -> None:
    """Raises ChaosError if ``target`` is not running (a fault on it would prove nothing)."""
    if not target.is_running():
        raise ChaosError(f"target {target.name} is not running: start the stack first")
