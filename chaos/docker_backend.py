"""Docker containers as chaos targets: the `chaos.targets.Target` contract for containers.

Faults map to engine calls: kill (SIGKILL), stop/start (graceful, then forced),
pause/unpause (cgroup freezer), and a network partition that disconnects the
container from every network it is attached to (the compose network) and
reconnects it with the same aliases, so service names resolve again after
``heal``. The networks cut are written to a state file before the cut, so a
runner that crashed mid-partition heals them on its next start
(`heal_leftover_partitions`, called by the delivery suite before any fault).

Safety: `docker_target` refuses any container that is not named, or labelled
``key=value``, in ``settings.chaos_targets``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import docker

from chaos.binding import BrokerIdentity, parse_meta_properties
from chaos.errors import ChaosError, TargetNotAllowed
from chaos.safety import allowed_by_config
from chaos.targets import Target
from kafkaval.config import Settings
from kafkaval.docker_engine import ENGINE_ERRORS, engine_client
from kafkaval.files import write_atomic
from kafkaval.waiting import wait_until

# Network modes without a user-defined network to cut (nothing to disconnect).
_UNPARTITIONABLE = ("host", "none")
# Where broker images keep their data when KAFKA_LOG_DIRS is not set: this
# project's image (docker/kafka), then the apache/kafka image.
_KAFKA_LOG_DIRS = ["/var/lib/kafka/data", "/tmp/kraft-combined-logs"]


class DockerTarget(Target):
    """One container, addressed by name.

    Args:
        name: container name (as in ``docker ps``).
        client: a docker-py ``DockerClient``.
        state_dir: where partition records are kept (``<state_dir>/chaos-docker``).
        health: extra "serving" check (e.g. a broker listed in metadata);
            default: the container's own healthcheck if it has one.
    """

    kind = "container"

    def __init__(
        self,
        name: str,
        client: Any,
        state_dir: Path,
        health: Callable[[], bool] | None = None,
    ) -> None:
        self.name = name
        self._client = client
        self._record = state_dir / "chaos-docker" / f"{name}.json"
        self._health = health

    # -- engine access ------------------------------------------------------
    def _inspect(self) -> dict[str, Any]:
        try:
            return self._client.api.inspect_container(self.name)
        except docker.errors.NotFound as e:
            raise ChaosError(f"container {self.name} does not exist (removed?)") from e
        except ENGINE_ERRORS as e:
            raise ChaosError(f"Docker engine error on {self.name}: {e}") from e

    def _call(self, action: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except ENGINE_ERRORS as e:
            raise ChaosError(f"cannot {action} container {self.name}: {e}") from e

    def _wait(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        if not wait_until(condition, timeout, 0.1):
            raise ChaosError(f"container {self.name} did not {what} within {timeout:.0f} s")

    # -- faults -------------------------------------------------------------
    def kill(self) -> None:
        if not self.is_running():
            raise ChaosError(f"cannot kill {self.name}: it is not running")
        self._call("kill", lambda: self._client.api.kill(self.name, signal="SIGKILL"))
        self._wait(lambda: not self.is_running(), 10.0, "exit after SIGKILL")

    def stop(self, timeout: float = 30.0) -> None:
        if not self.is_running():
            return
        self.resume()  # a frozen container cannot handle SIGTERM
        self._call("stop", lambda: self._client.api.stop(self.name, timeout=int(timeout)))
        self._wait(lambda: not self.is_running(), 15.0, "exit after stop")

    def start(self) -> None:
        if self.is_running():
            return
        # Reconnect first: a container started while cut would come up half-isolated.
        self.heal()
        self._call("start", lambda: self._client.api.start(self.name))

    def pause(self) -> None:
        if not self.is_running():
            raise ChaosError(f"cannot pause {self.name}: it is not running")
        self._call("pause", lambda: self._client.api.pause(self.name))

    def resume(self) -> None:
        if self.is_paused():
            self._call("unpause", lambda: self._client.api.unpause(self.name))

    def partition(self) -> None:
        info = self._inspect()
        mode = (info.get("HostConfig") or {}).get("NetworkMode", "")
        networks = (info.get("NetworkSettings") or {}).get("Networks") or {}
        if mode in _UNPARTITIONABLE or not networks:
            raise ChaosError(f"cannot partition {self.name}: network mode {mode!r} has no network")
        short_id = info["Id"][:12]
        record = {
            net: {
                # The engine adds the short id alias itself on connect.
                "aliases": [a for a in (cfg.get("Aliases") or []) if a != short_id],
            }
            for net, cfg in networks.items()
        }
        # Write the record before cutting: a crash in between still leaves a way back.
        write_atomic(self._record, json.dumps(record, indent=1))
        for net in record:
            self._call(
                f"disconnect from {net}",
                functools.partial(
                    self._client.api.disconnect_container_from_network, self.name, net, force=True
                ),
            )

    def heal(self) -> None:
        record = self._load_record()
        if not record:
            return
        attached = self._attached()
        for net, cfg in record.items():
            if net in attached:
                continue
            self._call(
                f"reconnect to {net}",
                functools.partial(
                    self._client.api.connect_container_to_network,
                    self.name,
                    net,
                    aliases=cfg["aliases"] or None,
                ),
            )
        self._record.unlink(missing_ok=True)

    # -- identity -----------------------------------------------------------
    def broker_identity(self) -> BrokerIdentity:
        """The cluster and node of the Kafka broker in this container, from its meta.properties.

        Read inside the container (``docker exec cat``) from the first of its
        log dirs (``KAFKA_LOG_DIRS``; the images' defaults otherwise), so it is
        what the broker itself was formatted with.

        Raises:
            ChaosError: no readable meta.properties (not a KRaft broker, or not running).
        """
        config = self._inspect().get("Config") or {}
        env = dict(e.split("=", 1) for e in config.get("Env") or [] if "=" in e)
        dirs = [d for d in env.get("KAFKA_LOG_DIRS", "").split(",") if d][:1] or _KAFKA_LOG_DIRS
        for path in (f"{d.rstrip('/')}/meta.properties" for d in dirs):
            try:
                exec_id = self._client.api.exec_create(self.name, ["cat", path])["Id"]
                out = self._client.api.exec_start(exec_id)
                code = self._client.api.exec_inspect(exec_id).get("ExitCode")
            except ENGINE_ERRORS as e:
                raise ChaosError(f"cannot read {path} in container {self.name}: {e}") from e
            if code == 0:
                return parse_meta_properties(out.decode(errors="replace"), f"{self.name}:{path}")
        raise ChaosError(
            f"container {self.name} has no readable meta.properties in {', '.join(dirs)} "
            "(set KAFKA_LOG_DIRS on it if its data is elsewhere)"
        )

    # -- observed state ----------------------------------------------------
    def _load_record(self) -> dict[str, Any]:
        try:
            return json.loads(self._record.read_text())
        except FileNotFoundError:
            return {}
        except json.JSONDecodeError as e:
            raise ChaosError(f"partition record {self._record} is corrupt: {e}") from e

    def _attached(self) -> set[str]:
        return set((self._inspect().get("NetworkSettings") or {}).get("Networks") or {})

    def _state(self) -> Mapping[str, Any]:
        return self._inspect().get("State") or {}

    def is_running(self) -> bool:
        return bool(self._state().get("Running"))

    def is_paused(self) -> bool:
        return bool(self._state().get("Paused"))

    def is_partitioned(self) -> bool:
        """True if a network cut by `partition` is still not attached."""
        record = self._load_record()
        return bool(record) and not set(record) <= self._attached()

    def is_healthy(self) -> bool:
        state = self._state()
        if not state.get("Running") or state.get("Paused"):
            return False
        if self._health is not None:
            return self._health()
        health = state.get("Health")
        return health is None or health.get("Status") == "healthy"


def _engine_client() -> Any:
    """A client of the local Docker engine (DOCKER_HOST honoured)."""
    try:
        return engine_client(timeout=30)
    except ENGINE_ERRORS as e:
        raise ChaosError(f"Docker engine unreachable ({e}): is dockerd running?") from e


def container_labels(client: Any, name: str) -> dict[str, str]:
    """The labels of container ``name``.

    Raises:
        ChaosError: no such container or the engine is unreachable.
    """
    try:
        info = client.api.inspect_container(name)
    except docker.errors.NotFound as e:
        raise ChaosError(f"container {name} does not exist: check the name (docker ps)") from e
    except ENGINE_ERRORS as e:
        raise ChaosError(f"Docker engine unreachable ({e}): is dockerd running?") from e
    return (info.get("Config") or {}).get("Labels") or {}


def docker_target(
    settings: Settings,
    name: str,
    client: Any = None,
    health: Callable[[], bool] | None = None,
) -> DockerTarget:
    """A `DockerTarget` for ``name`` if configuration allows chaos on it.

    Allowed means ``name`` itself, or one of its ``key=value`` labels, is listed in
    ``settings.chaos_targets``; anything else is refused before any call changes it.

    Args:
        client: docker-py client (default: from the environment, API version negotiated).
        health: extra "serving" check passed to the target.

    Raises:
        TargetNotAllowed: not listed by name or label.
        ChaosError: the engine is unreachable or the container does not exist.
    """
    client = _engine_client() if client is None else client
    labels = container_labels(client, name)
    if not allowed_by_config(settings, name, labels):
        raise TargetNotAllowed(
            f"container {name!r} is not allowed: list its name or a key=value label of it "
            "in chaos_targets"
        )
    return DockerTarget(name, client, settings.path("state_dir"), health)


def heal_leftover_partitions(settings: Settings, client: Any = None) -> list[str]:
    """Reconnect every container a crashed run left cut off; the names healed.

    The partition records under ``<state_dir>/chaos-docker`` exist only while a
    partition is on (``heal`` removes them), so any found before a run starts
    was left by a runner that died mid-partition. No engine is contacted when
    there is none.

    Raises:
        ChaosError: a record is corrupt or the engine cannot reconnect a network.
    """
    records = sorted((settings.path("state_dir") / "chaos-docker").glob("*.json"))
    if not records:
        return []
    client = _engine_client() if client is None else client
    healed = []
    for path in records:
        target = DockerTarget(path.stem, client, settings.path("state_dir"))
        target.heal()
        if target.is_partitioned():
            raise ChaosError(f"container {target.name} is still cut off after healing it")
        healed.append(target.name)
    return healed


def broker_container(settings: Settings, node_id: int, client: Any = None) -> DockerTarget:
    """The allowed container running Kafka broker ``node_id`` (its ``KAFKA_NODE_ID``).

    This is how scenarios find "the leader of partition 0" when Kafka runs in
    containers (docker-compose): among the containers that ``chaos_targets``
    allows, the one whose environment says ``KAFKA_NODE_ID=<node_id>``. Its
    health check is the broker being listed in the cluster's metadata.

    Raises:
        ChaosError: the engine is unreachable, or no allowed container runs that broker.
    """
    from chaos.safety import broker_listed  # safety imports this module's peers

    client = _engine_client() if client is None else client
    try:
        containers = client.api.containers(all=True)
    except ENGINE_ERRORS as e:
        raise ChaosError(f"Docker engine unreachable ({e}): is dockerd running?") from e
    wanted = f"KAFKA_NODE_ID={node_id}"
    client_config = settings.client_config()
    for summary in containers:
        name = (summary.get("Names") or ["/?"])[0].lstrip("/")
        if not allowed_by_config(settings, name, summary.get("Labels") or {}):
            continue
        env = (client.api.inspect_container(summary["Id"]).get("Config") or {}).get("Env") or []
        if wanted in env:
            return DockerTarget(
                name,
                client,
                settings.path("state_dir"),
                health=lambda: broker_listed(client_config, node_id),
            )
    raise ChaosError(
        f"no container allowed by chaos_targets runs Kafka broker {node_id} "
        f"(KAFKA_NODE_ID={node_id}): label it or list it in chaos_targets"
    )
