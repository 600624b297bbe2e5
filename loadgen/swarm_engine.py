"""Docker Swarm as the engine of a distributed run: one replicated service, N tasks.

The driver (loadgen.distributed) asks this module four things: is the
engine usable (reachable, a swarm manager, the image present), start N
workers, which workers failed, and remove them all. A worker is a task of
the service ``<prefix>-<run id>``; its slot (``{{.Task.Slot}}``, 1..N) is
its index. Tasks never restart (a restarted worker would send its share
twice); the service is removed at the end of the run whatever happened, and
the removal is checked: no container of the run may be left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import docker

from kafkaval.docker_engine import ENGINE_ERRORS, docker_client, error_line
from kafkaval.errors import KafkavalError

RUN_LABEL = "org.kafkaval.run_id"
REMOVE_TIMEOUT = 60.0
# Task states that end a task without its result: its last log line says why.
_BROKEN = {"failed", "rejected", "shutdown", "orphaned"}


def listed_containers(client: Any, label: str, all_states: bool = True) -> list[dict[str, Any]]:
    """The engine's list entries of the containers with ``label`` (``key`` or ``key=value``).

    The list alone: the SDK's full list inspects each container, and swarm
    removes a dead task's container at any moment, so that inspect raises
    NotFound.
    """
    return list(client.api.containers(all=all_states, filters={"label": label}))


class SwarmEngine:
    """One run's workers as a Swarm service.

    Args:
        image: the kafkaval image (it must be on every node that may run a task).
        network: network of the tasks; "host" lets them reach a broker on the
            node's loopback and serve /metrics on the node's ports.
        name_prefix: the service is named ``<name_prefix>-<run id>``.
        client_factory: the Docker client (tests inject a fake).
    """

    name = "swarm"

    def __init__(
        self,
        image: str,
        network: str | None = "host",
        name_prefix: str = "kafkaval-worker",
        metrics_port: int = 19400,
        client_factory: Callable[[], Any] = docker_client,
    ) -> None:
        self.image = image
        self.network = network
        self.name_prefix = name_prefix
        self.metrics_port = metrics_port
        self._factory = client_factory
        self._client: Any = None
        self._service: Any = None
        self._node_addr: dict[str, str] = {}
        self._last_lines: dict[str, str] = {}  # task id -> last log line, read once
        self.run_id = ""

    def preflight(self) -> None:
        """Raises KafkavalError: engine unreachable, no swarm, not a manager, image missing."""
        self._client = self._factory()
        try:
            swarm = self._client.info().get("Swarm") or {}
            state = swarm.get("LocalNodeState", "unknown")
            if state != "active":
                raise KafkavalError(
                    f"the Docker engine is not in a swarm (state {state!r}); run "
                    "'docker swarm init --advertise-addr <address>' or use --engine local"
                )
            if not swarm.get("ControlAvailable"):
                raise KafkavalError(
                    "this Docker engine is a swarm worker, not a manager; point DOCKER_HOST "
                    "at a manager node"
                )
            try:
                self._client.images.get(self.image)
            except docker.errors.ImageNotFound:
                raise KafkavalError(
                    f"image {self.image} is not on the engine; build it "
                    "(docker/build-images.sh kafkaval) or set worker_image"
                ) from None
        except ENGINE_ERRORS as e:
            raise KafkavalError(f"the Docker engine failed: {error_line(e)}") from e

    @property
    def service_name(self) -> str:
        return f"{self.name_prefix}-{self.run_id.lower()}"

    def submit(self, run_id: str, workers: int, args: list[str], env: dict[str, str]) -> None:
        """Create the service: ``workers`` tasks of ``kafkaval <args>``, never restarted.

        Raises:
            KafkavalError: the engine refused the service.
        """
        self.run_id = run_id
        environment = [f"{k}={v}" for k, v in env.items()]
        environment.append("KAFKAVAL_WORKER_INDEX={{.Task.Slot}}")
        try:
            self._service = self._client.services.create(
                self.image,
                args=args,
                env=environment,
                name=self.service_name,
                mode=docker.types.ServiceMode("replicated", replicas=workers),
                restart_policy=docker.types.RestartPolicy(condition="none"),
                networks=[self.network] if self.network else None,
                labels={RUN_LABEL: run_id},
                container_labels={RUN_LABEL: run_id},
            )
        except ENGINE_ERRORS as e:
            raise KafkavalError(f"the swarm refused the worker service: {error_line(e)}") from e

    def tasks(self) -> dict[int, dict[str, Any]]:
        """The latest task of each slot: ``{slot: {state, error, exit_code, node, metrics}}``.

        ``metrics`` is the worker's /metrics address (host:port) once its node
        is known, on the host network (worker i serves metrics_port + i on its
        node's address); None otherwise (an overlay network: the engine's
        service discovery finds the tasks, see prometheus/swarm-workers.yml).

        Raises:
            KafkavalError: the engine stopped answering.
        """
        if self._service is None:
            return {}
        try:
            raw = self._service.tasks()
        except ENGINE_ERRORS as e:
            raise KafkavalError(f"cannot list the worker tasks: {error_line(e)}") from e
        out: dict[int, dict[str, Any]] = {}
        for t in sorted(raw, key=lambda t: t.get("CreatedAt", "")):
            status = t.get("Status") or {}
            slot, node = int(t.get("Slot") or 0), t.get("NodeID", "")
            addr = self._node_address(node) if node and self.network == "host" else None
            out[slot] = {
                "state": status.get("State", "unknown"),
                "error": status.get("Err") or status.get("Message") or "",
                "exit_code": (status.get("ContainerStatus") or {}).get("ExitCode"),
                "node": node[:12],
                "metrics": f"{addr}:{self.metrics_port + slot}" if addr else None,
                "log": self._last_log_line(t) if status.get("State") in _BROKEN else "",
            }
        return out

    def _last_log_line(self, task: dict[str, Any]) -> str:
        """The failed task's last stderr/stdout line: the worker's own one-line error."""
        task_id = task.get("ID", "")
        if task_id not in self._last_lines:
            cid = ((task.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID")
            line = ""
            if cid:
                try:
                    raw = self._client.containers.get(cid).logs(tail=3)
                    lines = raw.decode("utf-8", "replace").strip().splitlines()
                    line = lines[-1].strip() if lines else ""
                except ENGINE_ERRORS:
                    pass  # the container is on another node or gone: the exit code stays
            self._last_lines[task_id] = line
        return self._last_lines[task_id]

    def _node_address(self, node_id: str) -> str | None:
        if node_id not in self._node_addr:
            try:
                node = self._client.nodes.get(node_id)
            except ENGINE_ERRORS:
                return None  # asked again at the next poll
            self._node_addr[node_id] = (node.attrs.get("Status") or {}).get("Addr", "")
        return self._node_addr[node_id] or None

    def remove(self) -> None:
        """Remove the service and wait until none of its containers is left.

        Raises:
            KafkavalError: containers of the run still exist after REMOVE_TIMEOUT.
        """
        if self._service is None:
            return
        try:
            self._service.remove()
        except docker.errors.NotFound:
            pass  # already gone
        except ENGINE_ERRORS as e:
            raise KafkavalError(
                f"cannot remove the service {self.service_name}: {error_line(e)}; "
                f"remove it with 'docker service rm {self.service_name}'"
            ) from e
        self._service = None
        deadline = time.monotonic() + REMOVE_TIMEOUT
        left: list[Any] = []
        while time.monotonic() < deadline:
            try:
                left = listed_containers(self._client, f"{RUN_LABEL}={self.run_id}")
            except ENGINE_ERRORS as e:
                raise KafkavalError(f"cannot check the worker containers: {error_line(e)}") from e
            if not left:
                return
            time.sleep(0.5)
        raise KafkavalError(
            f"{len(left)} worker container(s) of {self.service_name} still exist after "
            f"{REMOVE_TIMEOUT:.0f} s: remove them with 'docker rm -f'"
        )
