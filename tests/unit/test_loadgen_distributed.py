"""The distributed run's pieces without an engine or a broker: fakes at the boundary."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError, UsageError
from kafkaval.pacing import Phase
from loadgen import distributed, worker_merge
from loadgen.control import PART_BYTES, ControlChannel
from loadgen.engine_worker import contract_from
from loadgen.mergeable_hist import ERROR_BOUND, MergeableHistogram, bucket_floor
from loadgen.profiles import PROFILES
from loadgen.recorder import PERCENTILES, percentile_nearest_rank
from loadgen.swarm_engine import SwarmEngine
from loadgen.workers import split_keys, worker_share
from loadgen.workload import Workload


def test_buckets_are_exact_below_2048_us_and_within_the_bound_above() -> None:
    v = np.array([0, 1, 2047, 2048, 2049, 4097, 10**6 + 12345, 3 * 10**9], dtype=np.int64)
    f = bucket_floor(v)
    assert f[:4].tolist() == [0, 1, 2047, 2048]
    assert (f <= v).all() and ((v - f) <= v * ERROR_BOUND).all()
    assert f[4] == 2048 and f[5] == 4096  # width 2 above 2**11, 4 above 2**12


def test_merged_percentiles_are_those_of_the_union_within_the_bound() -> None:
    rng = np.random.default_rng(7)
    parts = [
        (rng.lognormal(8 + w, 1.2, 5000 + 777 * w)).astype(np.int64) for w in range(3)
    ]  # one slow worker: its tail must dominate the merged p99
    merged = MergeableHistogram()
    for p in parts:
        merged.merge(MergeableHistogram.from_json(MergeableHistogram.of(p).to_json()))
    union = np.sort(np.concatenate(parts))
    assert merged.count == union.size and merged.sum_us == int(union.sum())
    assert merged.max_us == int(union[-1])
    for q in PERCENTILES.values():
        exact = percentile_nearest_rank(union, q)
        got = merged.percentile_us(q)
        assert exact * (1 - ERROR_BOUND) <= got <= exact, (q, got, exact)
    # A wrong merge (averaging the workers' p99s) would be far off: the check can fail.
    mean_p99 = np.mean([percentile_nearest_rank(np.sort(p), 0.99) for p in parts])
    assert abs(mean_p99 - percentile_nearest_rank(union, 0.99)) > union[-1] * ERROR_BOUND


def test_histogram_json_refuses_another_layout_and_bad_counts() -> None:
    doc = MergeableHistogram.of(np.arange(100)).to_json()
    with pytest.raises(ValueError, match="layout"):
        MergeableHistogram.from_json({**doc, "layout": "other"})
    with pytest.raises(ValueError, match="add up"):
        MergeableHistogram.from_json({**doc, "count": 99})
    assert MergeableHistogram().summary()["p99"] is None


def test_key_slices_are_disjoint_and_cover_the_key_space() -> None:
    for space, n in ((100_000, 3), (10, 4), (7, 7)):
        keys = [k for first, size in split_keys(space, n) for k in range(first, first + size)]
        assert sorted(keys) == list(range(1, space + 1))
    wl = Workload("t", ("a",), (Phase(10, 5.0), Phase(5, None)), key_space=10)
    mine, phases = worker_share(wl, 2, 3)
    assert (mine.key_first, mine.key_space) == (5, 3)
    assert phases == (Phase(3, 5.0 / 3), Phase(2, None))


def test_contract_from_swarm_kubernetes_and_flags() -> None:
    env = {"KAFKAVAL_RUN_ID": "r1", "KAFKAVAL_WORKER_INDEX": "2", "KAFKAVAL_WORKERS": "3"}
    assert contract_from(env).index == 2
    k8s = {"KAFKAVAL_RUN_ID": "r1", "JOB_COMPLETION_INDEX": "0", "KAFKAVAL_WORKERS": "3",
           "KAFKAVAL_WORKER_METRICS_PORT": "9400"}  # fmt: skip
    c = contract_from(k8s)
    assert (c.index, c.workers, c.metrics_port) == (1, 3, 9400)
    assert contract_from(env, run_id="r2", index=3, workers=4).index == 3
    for bad, message in (
        ({}, "no run id"),
        ({"KAFKAVAL_RUN_ID": "r"}, "no worker index"),
        ({"KAFKAVAL_RUN_ID": "r", "KAFKAVAL_WORKER_INDEX": "1"}, "no worker count"),
        ({**env, "KAFKAVAL_WORKER_INDEX": "4"}, "not in 1..3"),
        ({**env, "KAFKAVAL_WORKERS": "x"}, "whole number"),
    ):
        with pytest.raises(UsageError, match=message):
            contract_from(bad)


def test_worker_cli_without_a_contract_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from kafkaval.cli import main

    monkeypatch.delenv("KAFKAVAL_RUN_ID", raising=False)
    assert main(["perf", "worker", "--profile", "throughput", "--quick"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no run id" in err[0], err
    assert main(["perf", "worker", "--profile", "startup"]) == 2
    assert "exactly one load profile" in capsys.readouterr().err


def test_too_many_workers_for_a_phase_is_a_usage_error() -> None:
    wl = Workload("t", ("a",), (Phase(2, 1.0),))
    with pytest.raises(UsageError, match="more than the 2 messages"):
        distributed.check_workers(wl, 3)


@pytest.mark.parametrize(
    "opts",
    [
        {},  # every option left to the profile: nothing "None" may reach the worker
        {"key_space": 7, "payload": "raw", "partitions": 2, "messages": 300, "record_size": 256},
    ],
)
def test_worker_args_parse_and_carry_the_drivers_choices(opts: dict[str, Any]) -> None:
    from kafkaval.cli import build_parser
    from loadgen.options import SuiteOptions

    spec = PROFILES["throughput"]
    args = distributed.worker_args(spec, SuiteOptions(workers=2, **opts), Settings())
    assert "None" not in args, args
    ns = build_parser().parse_args(args)
    assert ns.perf_verb == "worker" and ns.profiles == ["throughput"] and ns.workers == 2
    for name, value in opts.items():
        assert getattr(ns, name) == value, name


# -- the control topic, over an in-memory "partition" --------------------------------


class _Log:
    def __init__(self) -> None:
        self.msgs: list[tuple[bytes, bytes]] = []


class _Msg:
    def __init__(self, key: bytes, value: bytes) -> None:
        self._k, self._v = key, value

    def key(self) -> bytes:
        return self._k

    def value(self) -> bytes:
        return self._v

    def error(self) -> None:
        return None


class _Producer:
    def __init__(self, log: _Log) -> None:
        self.log = log

    def produce(self, _topic: str, value: bytes, key: bytes, on_delivery: Any) -> None:
        self.log.msgs.append((key, value))
        on_delivery(None, None)

    def flush(self, _timeout: float) -> int:
        return 0

    def purge(self) -> None: ...

    def close(self) -> None: ...

    def __len__(self) -> int:
        return 0


class _Consumer:
    def __init__(self, log: _Log) -> None:
        self.log, self.pos = log, 0

    def assign(self, _parts: Any) -> None: ...

    def consume(self, n: int, _timeout: float) -> list[_Msg]:
        out = [_Msg(k, v) for k, v in self.log.msgs[self.pos : self.pos + n]]
        self.pos += len(out)
        return out

    def close(self) -> None: ...


def _channel(log: _Log, sender: str) -> ControlChannel:
    return ControlChannel(
        Settings(),
        "kafkaval.control.r",
        sender,
        lambda _c: _Producer(log),
        lambda _c: _Consumer(log),
    )


def test_control_messages_are_split_and_joined() -> None:
    log = _Log()
    worker, driver = _channel(log, "2"), _channel(log, "driver")
    big = {"samples": np.random.default_rng(1).bytes(PART_BYTES * 2).hex()}
    worker.send("result", big)
    log.msgs.insert(1, (b"not ours", b"x"))  # a foreign message is skipped
    assert len(log.msgs) > 3
    got = driver.poll(0)
    assert got == [("result", "2", big)]


# -- the driver over a fake engine -----------------------------------------------------


class _Engine:
    name = "fake"

    def __init__(self, states: dict[int, str] | None = None) -> None:
        self.states = states or {}
        self.removed = False

    def preflight(self) -> None: ...

    def submit(self, *_a: Any) -> None: ...

    def tasks(self) -> dict[int, dict[str, Any]]:
        return {
            s: {
                "state": st,
                "error": "task: non-zero exit (1)",
                "exit_code": 1,
                "node": "n1",
                "metrics": None,
            }  # fmt: skip
            for s, st in self.states.items()
        }

    def remove(self) -> None:
        self.removed = True


class _Progress:
    def line(self, _t: str) -> None: ...

    def done(self) -> None: ...


def _summary(i: int, n: int, phases: tuple[Phase, ...]) -> dict[str, Any]:
    lat = np.arange(1000 * i, 1000 * i + 100, dtype=np.int64)
    h = MergeableHistogram.of(lat).to_json()
    t0 = 1_000_000_000_000
    return {
        "worker": i, "host": f"h{i}", "sent": 100, "acked": 99, "failed": 1,
        "errors": {"_MSG_TIMED_OUT": 1},
        "phases": [{"count": 100, "sent": 100, "acked": 99, "first_intended_us": t0 + i,
                    "first_sent_us": t0 + i, "last_sent_us": t0 + 1_000_000,
                    "last_acked_us": t0 + 1_000_000 + 10 * i}],
        "histograms": {f: h for f in worker_merge.HIST_FIELDS},
        "cpu_seconds": 1.0, "max_rss_bytes": 100 * i, "own": {"achieved_rate": 100.0},
    }  # fmt: skip


def _feed(log: _Log, n: int, phases: tuple[Phase, ...], fail: int | None = None) -> None:
    for i in range(1, n + 1):
        ch = _channel(log, str(i))
        share = distributed.split_phases(phases, n)[i - 1]
        ch.send("ready", {"host": f"h{i}", "phases": [[p.count, p.rate] for p in share]})
        if i == fail:
            ch.send("error", {"host": f"h{i}", "error": "KafkaException: broker down"})
        else:
            ch.send("result", _summary(i, n, share))


def _drive(log: _Log, engine: _Engine, phases: tuple[Phase, ...], n: int) -> list[dict]:
    wl = Workload("throughput", ("a",), phases)
    running = threading.Event()
    running.set()
    shares = distributed.split_phases(phases, n)
    return distributed._drive(
        Settings(scrape_interval=0.1), {}, engine, _channel(log, "driver"), shares, wl, running,
        _Progress(), "t", None, n,
    )  # fmt: skip


def test_driver_merges_exact_sums_and_names_a_failed_worker() -> None:
    phases = (Phase(300, 100.0),)
    log = _Log()
    _feed(log, 3, phases)
    out = _drive(log, _Engine(), phases, 3)
    assert [s["worker"] for s in out] == [1, 2, 3]
    assert any(k.startswith(b"go:driver") for k, _v in log.msgs)
    res = worker_merge.merge_summaries(PROFILES["throughput"], phases, out, None)
    assert (res["sent"], res["acked"], res["failed"]) == (300, 297, 3)
    assert res["client_errors"] == {"_MSG_TIMED_OUT": 3}
    assert res["service_latency_seconds"]["count"] == 300
    assert res["service_latency_seconds"]["max"] == 3099 / 1e6
    assert 290 < res["achieved_rate"] < 300  # 300 sent over 1 s + one interval
    assert [r["worker"] for r in res["worker_results"]] == [1, 2, 3]

    log = _Log()
    _feed(log, 3, phases, fail=2)
    with pytest.raises(KafkavalError, match=r"worker 2 \(h2\) failed: KafkaException"):
        _drive(log, _Engine(), phases, 3)


def test_driver_fails_on_a_task_that_died_and_on_a_foreign_workload() -> None:
    phases = (Phase(300, 100.0),)
    log = _Log()
    with pytest.raises(KafkavalError, match=r"worker 3 .* without a result: task: non-zero exit"):
        _drive(log, _Engine({1: "running", 3: "failed"}), phases, 3)
    log = _Log()
    _channel(log, "1").send("ready", {"host": "h1", "phases": [[1, 1.0]]})
    with pytest.raises(KafkavalError, match="built another workload"):
        _drive(log, _Engine(), phases, 3)


def test_run_removes_the_service_when_a_worker_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    phases = (Phase(300, 100.0),)
    log = _Log()
    _feed(log, 3, phases, fail=1)
    calls: list[str] = []
    monkeypatch.setattr(distributed.kafka_admin, "create_topics", lambda *a: calls.append("create"))
    monkeypatch.setattr(distributed.kafka_admin, "delete_topics", lambda *a: calls.append("delete"))
    monkeypatch.setattr(distributed, "ControlChannel", lambda *_a: _channel(log, "driver"))
    engine = _Engine()

    class Opts:
        workers, keep_topics, engine_prefix = 3, False, "x"
        key_space, payload, partitions, topic_prefix, quick = 10, "raw", 3, None, True
        rate = messages = duration = record_size = replication_factor = None
        producer_props: dict[str, str] = {}

    running = threading.Event()
    running.set()
    wl = Workload("throughput", ("a",), phases)
    with pytest.raises(KafkavalError, match="worker 1"):
        distributed.run_engine_workers(
            Settings(), PROFILES["throughput"], wl, Opts(), running, _Progress(), "t",
            None, engine,
        )  # fmt: skip
    assert engine.removed and calls == ["create", "delete"]


# -- the Swarm engine's preflight over a fake Docker client ------------------------------


class _Images:
    def __init__(self, present: bool) -> None:
        self.present = present

    def get(self, name: str) -> object:
        import docker

        if not self.present:
            raise docker.errors.ImageNotFound(f"no such image: {name}")
        return object()


class _Client:
    def __init__(self, state: str, manager: bool = True, image: bool = True) -> None:
        self._info = {"Swarm": {"LocalNodeState": state, "ControlAvailable": manager}}
        self.images = _Images(image)

    def info(self) -> dict:
        return self._info


@pytest.mark.parametrize(
    ("client", "message"),
    [
        (_Client("inactive"), "not in a swarm .*docker swarm init"),
        (_Client("active", manager=False), "swarm worker, not a manager"),
        (_Client("active", image=False), "image img:1 is not on the engine"),
    ],
)
def test_swarm_preflight_says_what_is_missing(client: _Client, message: str) -> None:
    with pytest.raises(KafkavalError, match=message):
        SwarmEngine("img:1", client_factory=lambda: client).preflight()
    SwarmEngine("img:1", client_factory=lambda: _Client("active")).preflight()


def test_unreachable_engine_is_one_line() -> None:
    from kafkaval.docker_engine import docker_client

    with pytest.raises(KafkavalError, match="cannot reach the Docker engine") as e:
        docker_client(timeout=2, environment={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert "\n" not in str(e.value)


def test_a_stop_before_the_start_tells_the_workers_and_fails_the_run() -> None:
    phases = (Phase(300, 100.0),)
    log = _Log()
    _channel(log, "1").send("ready", {"host": "h1", "phases": [[100, 100.0 / 3]]})
    wl = Workload("throughput", ("a",), phases)
    running = threading.Event()  # cleared: Ctrl-C before all workers were ready
    with pytest.raises(KafkavalError, match="stopped before the workers started"):
        distributed._drive(
            Settings(), {}, _Engine(), _channel(log, "driver"), distributed.split_phases(phases, 3),
            wl, running, _Progress(), "t", None, 3,
        )  # fmt: skip
    assert any(k.startswith(b"stop:driver") for k, _v in log.msgs)
    assert not any(k.startswith(b"go:") for k, _v in log.msgs)


def test_a_stop_after_the_start_collects_the_partial_results() -> None:
    phases = (Phase(300, 100.0),)
    shares = distributed.split_phases(phases, 3)
    log = _Log()
    for i in range(1, 4):
        _channel(log, str(i)).send("ready", {"host": f"h{i}", "phases": [[100, 100.0 / 3]]})
    running = threading.Event()
    running.set()

    class Workers(_Engine):
        # The signal arrives once the run has started; the workers answer the
        # driver's stop with what they sent.
        def tasks(self) -> dict[int, dict[str, Any]]:
            kinds = [k.split(b":")[0] for k, _v in log.msgs]
            if b"go" in kinds:
                running.clear()
            if b"stop" in kinds and b"result" not in kinds:
                for i in range(1, 4):
                    _channel(log, str(i)).send("result", _summary(i, 3, shares[i - 1]))
            return {}

    out = distributed._drive(
        Settings(), {}, Workers(), _channel(log, "driver"), shares,
        Workload("throughput", ("a",), phases), running, _Progress(), "t", None, 3,
    )  # fmt: skip
    assert [s["worker"] for s in out] == [1, 2, 3]
    kinds = [k.split(b":")[0] for k, _v in log.msgs]
    assert kinds.index(b"go") < kinds.index(b"stop") < kinds.index(b"result")
