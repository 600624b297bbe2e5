"""Evidence that a fault happened to the cluster under test, while traffic flowed.

A fault counts only when (DESIGN, "A fault counts only when the cluster under
test showed its effect"):

1. the cluster under test showed its effect, seen through the cluster's own
   answers, not through our bookkeeping of what we did: a killed, restarted or
   cut broker leaves the cluster's metadata, loses the leadership of a
   partition it led, or drops out of a partition's ISR (the partition is
   under-replicated); a killed or restarted consumer makes its group
   rebalance (a member leaves, a new member id joins, or the group leaves
   Stable); a killed Connect worker stops answering its REST API or its
   connector's task leaves RUNNING. An effect probe watches from just before the fault until the
   effect or a bound after the undo (`chaos.faults.FaultRunner`);
2. traffic flowed around it: every group consumed between the previous
   fault's undo (or its start) and this fault's start, so each was live when
   the fault hit (the runner waits, bounded, for that before each fault),
   and the producer sent while the fault was on. A fault that fell into a
   quiet gap proves nothing. What was acked and consumed from the fault's
   start to the end of the gap after it is recorded too. The counts are
   ``chaos/traffic.py``'s ``TrafficMeter``.

A fault without either fails its scenario (``fault_failures``); nothing here
ever passes a fault by default.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from confluent_kafka import ConsumerGroupState, KafkaException

from chaos.errors import ChaosError
from kafkaval.errors import KafkavalError
from kafkaval.kafka_admin import admin_client
from kafkaval.records import iso, utc_now
from kafkaval.waiting import wait_until

NO_EFFECT = "fault had no effect on the cluster under test"
POLL_SECONDS = 0.5
# How long a consumer fault waits for its group to be Stable first: a fault on
# a member that has not joined yet (or whose group still settles an earlier
# fault) would show a rebalance that is not its own.
GROUP_SETTLE_SECONDS = 30.0


class EffectWatch:
    """Polls ``observe`` in a thread from `start` until it names an effect or `finish`.

    Subclasses take their baseline in ``baseline`` and say in ``observe`` what
    differs from it (None: nothing yet); ``how`` says how it is measured.
    """

    how = ""

    def __init__(
        self,
        interval: float = POLL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.interval = interval
        self.clock = clock
        self.now = now
        self._seen = threading.Event()
        self._stop = threading.Event()
        self._effect: dict[str, Any] | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._began = 0.0

    def baseline(self) -> None:
        """Remember the state before the fault. Raises ChaosError when it cannot."""

    def observe(self) -> str | None:
        """The effect seen now, one line, or None."""
        raise NotImplementedError

    def start(self) -> None:
        """Take the baseline, then watch in the background.

        Raises:
            ChaosError: the baseline could not be taken (nothing is watched).
        """
        self.baseline()
        self._began = self.clock()
        self._thread = threading.Thread(target=self._loop, name="effect-watch", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                what = self.observe()
            except Exception as e:  # reported by finish(): the fault then has no effect
                self._error = e
                return
            if what:
                self._effect = {
                    "what": what,
                    "when": iso(self.now()),
                    "seconds_after_fault_start": round(self.clock() - self._began, 3),
                    "how": self.how,
                }
                self._seen.set()
                return
            self._stop.wait(self.interval)

    def finish(self, timeout: float) -> dict[str, Any] | None:
        """Wait up to ``timeout`` s more for an effect, stop watching; the effect or None.

        Raises:
            ChaosError: the watch itself failed (its error named).
        """
        if self._thread is None:
            return None
        self._seen.wait(timeout)
        self._stop.set()
        self._thread.join(timeout=30)
        if self._effect is None and self._error is not None:
            raise ChaosError(f"watching for the fault's effect failed: {self._error}")
        return self._effect


class BrokerEffect(EffectWatch):
    """A broker fault's effect in the cluster's metadata of the scenario's topic.

    The metadata is asked of the *other* brokers, each poll with a fresh
    client bootstrapped from them only: a client that knows the target may
    keep sending its requests to a broker that is cut off (its connection
    looks up until the request times out) and never hear what the rest of
    the cluster says about it.

    Args:
        client_config: client settings of the cluster under test.
        topic: the scenario's topic (its leaders and ISRs are compared).
        node_id: the broker the fault acts on.
        connect: makes an admin client for a client config (default: admin_client).
    """

    def __init__(
        self,
        client_config: dict[str, str],
        topic: str,
        node_id: int,
        connect: Callable[[dict[str, Any]], Any] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.connect = connect or admin_client
        self.client_config = client_config
        self.others = client_config  # bootstrap from the other brokers, once known
        self.topic = topic
        self.node_id = node_id
        self.brokers: set[int] = set()
        self.leaders: dict[int, int] = {}
        self.isrs: dict[int, set[int]] = {}
        self.how = (
            f"metadata of the cluster under test ({client_config.get('bootstrap.servers')}) "
            f"from its other brokers, polled every {self.interval:g} s: its brokers, and the "
            f"leader and ISR of each partition of {topic}"
        )

    def baseline(self) -> None:
        try:
            md = self.connect(self.client_config).list_topics(self.topic, timeout=10)
        except KafkaException as e:
            raise ChaosError(f"cannot read the cluster's metadata before the fault: {e}") from e
        self.brokers = set(md.brokers)
        t = md.topics.get(self.topic)
        parts = t.partitions if t is not None else {}
        self.leaders = {p: pm.leader for p, pm in parts.items()}
        self.isrs = {p: set(pm.isrs) for p, pm in parts.items()}
        if self.node_id not in self.brokers:
            raise ChaosError(
                f"broker {self.node_id} is not in the cluster's metadata before the fault "
                f"(brokers {sorted(self.brokers)})"
            )
        others = [f"{b.host}:{b.port}" for n, b in sorted(md.brokers.items()) if n != self.node_id]
        if others:
            self.others = {**self.client_config, "bootstrap.servers": ",".join(others)}

    def observe(self) -> str | None:
        node = self.node_id
        try:
            md = self.connect(self.others).list_topics(self.topic, timeout=2)
        except KafkaException:
            # Only when the target is the whole cluster does silence mean it is gone;
            # on a bigger cluster another broker answers.
            if self.brokers <= {node}:
                return f"the cluster's only broker {node} stopped answering metadata requests"
            return None
        if node not in md.brokers:
            return f"broker {node} left the cluster's metadata (brokers {sorted(md.brokers)})"
        t = md.topics.get(self.topic)
        for p, pm in sorted((t.partitions if t is not None else {}).items()):
            if self.leaders.get(p) == node and pm.leader != node:
                to = f"broker {pm.leader}" if pm.leader >= 0 else "no leader (offline)"
                return f"leadership of partition {p} moved from broker {node} to {to}"
            if node in self.isrs.get(p, ()) and node not in pm.isrs:
                return (
                    f"broker {node} left the ISR of partition {p} (under-replicated, "
                    f"ISR {sorted(pm.isrs)})"
                )
        return None


class GroupRebalance(EffectWatch):
    """A consumer fault's effect: its group rebalances (membership or state changes).

    Args:
        client_config: client settings of the cluster under test.
        group: the consumer group id.
        settle: seconds the baseline waits for the group to be Stable with a member.
        admin: an AdminClient (default: one for ``client_config``).
    """

    def __init__(
        self,
        client_config: dict[str, str],
        group: str,
        settle: float = GROUP_SETTLE_SECONDS,
        admin: Any = None,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.admin = admin if admin is not None else admin_client(client_config)
        self.group = group
        self.settle = settle
        self.members: frozenset[str] = frozenset()
        self.how = (
            f"the group coordinator's description of group {group} (DescribeGroups), polled "
            f"every {self.interval:g} s: its member ids and state"
        )

    def _describe(self, timeout: float) -> tuple[Any, frozenset[str]]:
        future = self.admin.describe_consumer_groups([self.group], request_timeout=timeout)
        desc = future[self.group].result(timeout=timeout + 5)
        return desc.state, frozenset(m.member_id for m in desc.members)

    def baseline(self) -> None:
        seen: list[tuple[Any, frozenset[str]]] = []

        def stable() -> bool:
            try:
                seen.append(self._describe(5))
            except KafkaException:
                return False
            state, members = seen[-1]
            return state == ConsumerGroupState.STABLE and bool(members)

        if not wait_until(stable, self.settle, POLL_SECONDS):
            last = f"state {seen[-1][0]}, {len(seen[-1][1])} member(s)" if seen else "no answer"
            raise ChaosError(
                f"group {self.group} was not Stable with a member within {self.settle:g} s "
                f"before the fault ({last}): a rebalance then would not be this fault's"
            )
        self.members = seen[-1][1]

    def observe(self) -> str | None:
        try:
            state, members = self._describe(2)
        except KafkaException:
            return None
        left, joined = self.members - members, members - self.members
        if left or joined:
            return (
                f"group {self.group} rebalanced: {len(left)} member(s) left, {len(joined)} "
                f"joined (state {state.name if hasattr(state, 'name') else state})"
            )
        if state != ConsumerGroupState.STABLE:
            return f"group {self.group} left Stable for {getattr(state, 'name', state)}"
        return None


class ConnectEffect(EffectWatch):
    """A Connect worker fault's effect: the worker stops answering, or a task leaves RUNNING.

    Args:
        worker: the worker's name (for the message).
        reachable: True while the worker answers its REST API.
        task_states: the states of the connector's tasks (may raise KafkavalError).
    """

    def __init__(
        self,
        worker: str,
        reachable: Callable[[], bool],
        task_states: Callable[[], list[str]],
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.worker, self.reachable, self.task_states = worker, reachable, task_states
        self.how = (
            f"the Connect REST API of {worker} (GET / and the connector's status), polled "
            f"every {self.interval:g} s"
        )

    def baseline(self) -> None:
        try:
            states = self.task_states() if self.reachable() else []
        except KafkavalError as e:
            raise ChaosError(f"cannot read the connector's status before the fault: {e}") from e
        if not states or any(s != "RUNNING" for s in states):
            raise ChaosError(
                f"the connector on {self.worker} was not RUNNING before the fault "
                f"(tasks {states or 'none'}): its effect could not be told apart"
            )

    def observe(self) -> str | None:
        if not self.reachable():
            return f"Connect worker {self.worker} stopped answering its REST API"
        try:
            states = self.task_states()
        except KafkavalError:
            return None  # answered / then not: the next poll says which
        left = [f"task {i} {s}" for i, s in enumerate(states) if s != "RUNNING"]
        if left or not states:
            return f"the connector's tasks left RUNNING ({', '.join(left) or 'no task'})"
        return None


def fault_failures(faults: list[dict[str, Any]]) -> list[str]:
    """One failure line per fault without an observed effect or without traffic."""
    out = []
    for f in faults:
        name = f"fault {f['kind']} on {f['target']}"
        if not f.get("observed_effect"):
            out.append(f"{name}: {NO_EFFECT}")
        traffic = f.get("traffic")
        if traffic is None:
            out.append(f"{name}: its traffic was not measured")
            continue
        if traffic["sent_during_fault"] <= 0:
            out.append(f"{name}: the producer sent nothing while it was on")
        for group, n in sorted(traffic["consumed_before_fault"].items()):
            if n <= 0:
                out.append(f"{name}: group {group} consumed nothing before it (not live)")
    return out
