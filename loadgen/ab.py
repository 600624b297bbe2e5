"""``kafkaval perf ab``: interleaved A/B runs judged on paired per-round differences.

"Did this change make it worse?" is answered best by running both sides on
the same machine close together: A and B alternate in randomised ABBA blocks
(each block of two rounds is AB,BA or BA,AB, drawn with a seeded RNG), so a
slow drift or a busy neighbour hits both sides of a round alike and cancels
in the round's difference. Each metric is judged on the per-round relative
differences B vs A (Wilcoxon signed-rank, ``scheduler/verdict.py``), all
metrics together under the family-wise ``alpha``.

A side is a TOML file::

    name = "lz4"                        # label (default: the file name)
    bootstrap_servers = "127.0.0.1:19092"  # the cluster of this side (default: settings')
    prometheus_url = "http://127.0.0.1:19090"  # the Prometheus watching it (default: settings')
    [producer]                          # librdkafka properties of this side
    "compression.type" = "lz4"

Every run is a normal ``perf run`` (repeat 1) whose record goes to
``<results>/ab-<run_id>/``, outside the history the trend and the baseline
read; the A/B record ``ab-<run_id>.json`` lists every round with both
sides' run ids and figures, and the verdicts.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from kafkaval.config import Settings
from kafkaval.errors import UsageError
from kafkaval.record_types import PerformanceRecord
from kafkaval.records import iso, new_run_id, record_header, save_run_record, utc_now

KIND = "ab"
MIN_ROUNDS = 3
_SIDE_KEYS = {"name", "bootstrap_servers", "prometheus_url", "producer"}


@dataclasses.dataclass(frozen=True)
class Side:
    """One side of the comparison: a label, a cluster, client properties.

    ``prometheus_url``: the Prometheus whose exporters watch this side's
    brokers. The broker figures of a run (CPU, memory, disk, GC and their
    costs) come from it: a side on another cluster needs its own, or its
    broker figures would be those of the configured cluster's brokers.
    """

    name: str
    bootstrap_servers: str | None = None
    producer: Mapping[str, str] = dataclasses.field(default_factory=dict)
    prometheus_url: str | None = None

    def settings(self, settings: Settings, results_dir: Path) -> Settings:
        """``settings`` for this side's runs, their records under ``results_dir``."""
        return dataclasses.replace(
            settings,
            bootstrap_servers=self.bootstrap_servers or settings.bootstrap_servers,
            prometheus_url=self.prometheus_url or settings.prometheus_url,
            results_dir=str(results_dir),
        )

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "bootstrap_servers": self.bootstrap_servers,
            "prometheus_url": self.prometheus_url,
            "producer": dict(self.producer),
        }


def load_side(path: str | Path) -> Side:
    """Read a side file (see the module doc).

    Raises:
        UsageError: unreadable, not TOML, unknown keys or bad values.
    """
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text())
    except OSError as e:
        raise UsageError(f"cannot read A/B side file {p}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"A/B side file {p} is not valid TOML: {e}") from None
    unknown = sorted(set(raw) - _SIDE_KEYS)
    if unknown:
        raise UsageError(
            f"{p}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_SIDE_KEYS))}"
        )
    name, servers, prometheus, producer = (
        raw.get("name", p.stem),
        raw.get("bootstrap_servers"),
        raw.get("prometheus_url"),
        raw.get("producer", {}),
    )
    if not isinstance(name, str) or not name.strip():
        raise UsageError(f"{p}: name must be a non-empty string")
    if servers is not None and (not isinstance(servers, str) or not servers.strip()):
        raise UsageError(f"{p}: bootstrap_servers must be host:port[,host:port]")
    if prometheus is not None and (
        not isinstance(prometheus, str) or not prometheus.startswith(("http://", "https://"))
    ):
        raise UsageError(f"{p}: prometheus_url must be an http(s):// URL")
    if not isinstance(producer, Mapping):
        raise UsageError(f'{p}: [producer] must be a table of properties, e.g. "linger.ms" = "5"')
    return Side(name, servers, {str(k): _prop(v) for k, v in producer.items()}, prometheus)


def _prop(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def round_orders(rounds: int, rng: random.Random) -> list[str]:
    """The order of each round, "AB" or "BA": randomised ABBA blocks of two rounds."""
    orders: list[str] = []
    while len(orders) < rounds:
        orders += ["AB", "BA"] if rng.random() < 0.5 else ["BA", "AB"]
    return orders[:rounds]


# (settings of the side, producer properties of the side) -> the run record
RunSide = Callable[[Settings, Mapping[str, str]], PerformanceRecord]


def run_ab(
    settings: Settings,
    a: Side,
    b: Side,
    rounds: int,
    run_side: RunSide,
    policy: Any,
    seed: int | None = None,
    out: TextIO = sys.stdout,
) -> dict[str, Any]:
    """Run ``rounds`` interleaved rounds, judge B vs A, save and return the A/B record.

    ``passed`` is False on a regression, and also when a run broke or was
    interrupted (the verdicts then cover the complete rounds only).

    Raises:
        UsageError: fewer than MIN_ROUNDS rounds.
        KafkavalError: a run could not start (from ``run_side``) or the record
            cannot be written.
    """
    from scheduler.metrics_extract import extract, run_medians
    from scheduler.verdict import judge_paired_all

    if rounds < MIN_ROUNDS:
        raise UsageError(f"--rounds must be >= {MIN_ROUNDS}: the paired test needs rounds")
    seed = random.SystemRandom().randrange(2**31) if seed is None else seed
    run_id = new_run_id()
    results = settings.path("results_dir")
    runs_dir = results / f"{KIND}-{run_id}"
    sides = {"A": a, "B": b}
    record: dict[str, Any] = {
        **record_header(KIND, run_id, utc_now()),  # ended_at is set when the rounds are done
        "seed": seed,
        "a": a.describe(),
        "b": b.describe(),
        "rounds_planned": rounds,
        "rounds": [],
        "runs_dir": str(runs_dir),
    }
    complete = True
    directions: dict[str, str] = {}
    for i, order in enumerate(round_orders(rounds, random.Random(seed))):
        entry: dict[str, Any] = {"round": i + 1, "order": order, "complete": True}
        for label in order:
            side = sides[label]
            print(f"== round {i + 1}/{rounds} {label} ({side.name})", file=out)
            rec = run_side(side.settings(settings, runs_dir), side.producer)
            entry[f"{label.lower()}_run_id"] = rec.get("run_id")
            entry[label.lower()] = run_medians(rec)
            directions.update({n: s.direction for n, s in extract([rec]).items()})
            if rec.get("interrupted") or not rec.get("profiles"):
                entry["complete"] = complete = False
                break
        record["rounds"].append(entry)
        if not complete:
            break
    full = [r for r in record["rounds"] if r["complete"]]
    names = sorted(n for n in directions if full and all(n in r["a"] and n in r["b"] for r in full))
    items = [
        (n, directions[n], [r["a"][n] for r in full], [r["b"][n] for r in full])
        for n in names
        if policy.judges(n, directions[n])
    ]
    verdicts = judge_paired_all(items, policy)
    record["verdicts"] = [v.to_dict() for v in verdicts]
    record["regressions"] = [v.metric for v in verdicts if v.is_regression]
    record["complete"] = complete and len(full) == rounds
    record["passed"] = record["complete"] and not record["regressions"]
    record["ended_at"] = iso(utc_now())
    save_run_record(results, record)
    return record


def run_side_with_suite(opts_template: Any, out: TextIO) -> RunSide:
    """A ``RunSide`` running one ``perf run`` (repeat 1) with ``opts_template``'s workload."""
    from loadgen.suite import run_suite

    def run(settings: Settings, producer: Mapping[str, str]) -> PerformanceRecord:
        opts = dataclasses.replace(
            opts_template,
            repeat=1,
            producer_props={**opts_template.producer_props, **producer},
        )
        return run_suite(settings, opts, out)

    return run


def format_record(record: Mapping[str, Any]) -> str:
    """Every round (order, both run ids) then the verdict table."""
    from scheduler.comparison import format_table
    from scheduler.verdict_terms import MetricVerdict

    lines = [f"A = {record['a']['name']}, B = {record['b']['name']}, seed {record['seed']}"]
    for r in record["rounds"]:
        lines.append(
            f"  round {r['round']:>2} {r['order']}: A {r.get('a_run_id') or '-'}  "
            f"B {r.get('b_run_id') or '-'}"
        )
    lines.append(format_table([MetricVerdict(**v) for v in record["verdicts"]]))
    if not record["complete"]:
        lines.append(
            f"incomplete: {len(record['rounds'])} of {record['rounds_planned']} rounds ran "
            "(a run broke or was interrupted): not a pass"
        )
    return "\n".join(lines)


def register(verbs: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    """Add ``perf ab`` to the ``perf`` verbs."""
    ab = verbs.add_parser(
        "ab",
        parents=[parent],
        help="interleaved A/B runs, judged per metric on the paired rounds (exit 1: B worse)",
    )
    ab.add_argument("--a", required=True, metavar="A.toml", help="side A (the reference)")
    ab.add_argument(
        "--b", metavar="B.toml", help="side B (the change; default: the settings as they are)"
    )
    ab.add_argument("--rounds", type=int, default=10, help="rounds, each one A and one B run")
    ab.add_argument("--quick", action="store_true", help="QUICK-length runs")
    ab.add_argument(
        "--profile",
        action="append",
        dest="profiles",
        metavar="NAME",
        help="profiles of each run (repeatable; default: throughput)",
    )
    ab.add_argument("--messages", type=int, help="message count of the measured phase")
    ab.add_argument("--duration", type=float, help="seconds of the measured phase")
    ab.add_argument(
        "--metric",
        action="append",
        default=[],
        metavar="PATTERN",
        help="judge only metrics matching these shell patterns (default: the schedule's)",
    )
    ab.add_argument("--seed", type=int, help="seed of the round orders (default: random)")
    ab.add_argument("--json", action="store_true", help="print the A/B record as JSON")
    ab.set_defaults(func=cmd_ab)


def cmd_ab(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from loadgen.options import SuiteOptions
    from scheduler.jobs import load_schedule

    policy = load_schedule(settings).policy
    if args.metric:
        policy = dataclasses.replace(policy, metrics=tuple(args.metric))
    for name, value in (("--messages", args.messages), ("--duration", args.duration)):
        if value is not None and value <= 0:
            raise UsageError(f"{name} must be > 0, not {value}")
    opts = SuiteOptions(
        quick=args.quick,
        profiles=args.profiles or ["throughput"],
        messages=args.messages,
        duration=args.duration,
        progress=False,
    )
    opts.validate()
    a = load_side(args.a)
    b = load_side(args.b) if args.b else Side("current settings")
    log = sys.stderr if args.json else sys.stdout
    record = run_ab(
        settings, a, b, args.rounds, run_side_with_suite(opts, log), policy, args.seed, log
    )
    print(json.dumps(record, indent=2) if args.json else format_record(record))
    return 0 if record["passed"] else 1
