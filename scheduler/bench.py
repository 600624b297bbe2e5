"""``make bench-regression``: how good is each verdict method on this machine's real noise?

The noise is recorded, not modelled: every performance run record in the
results folder (``performance-*.json`` and the side runs of the A vs A
``perf ab`` records in ``ab-*/``), of the newest run's kind (QUICK or full),
and every A vs A ``perf ab`` record (both sides the same configuration). Per
metric:

* ``repeated`` (repeated runs vs a pinned baseline): the samples divided by
  their median; each trial draws a baseline of ``2 x repeat`` and a
  candidate of ``repeat`` samples from them (with replacement);
* ``ab`` (interleaved A/B): the per-round relative differences B vs A of the
  A/A records; each trial draws ``rounds`` of them;
* ``changepoint`` (history): a history of ``history`` runs drawn from the
  same samples as ``repeated``, with the step (if any) half-way.

A known effect is injected (latency and cost x (1 + effect), throughput x
(1 - effect)) to measure power; unchanged trials give the false-alarm rate
*per run*: the share of trials in which any metric was flagged, all metrics
judged together as the scheduler judges them. Power per metric is counted at
the Bonferroni level alpha / metrics (what Holm grants at least), so it is
a lower bound. ``mde``: the smallest effect of MDE_LADDER with power >= 0.95.

Limits (stated in the output's ``notes``): draws are independent, so drift
between runs is only in the recorded spread, not in its order; the change
point method on a drifting history will do worse than here.

Writes ``results/bench-regression.json``::

    {"methods": {"repeated": [...], "ab": [...], "changepoint": [...]},
     "real_ab": [...recorded A/B runs with a real difference and their verdicts...],
     "sources": {...provenance...}, "settings": {...}, "notes": [...]}

each entry ``{"metric", "effect", "repetitions", "power", "false_alarm_rate",
"mde", "noise_cv"}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from kafkaval.config import load_settings
from kafkaval.errors import KafkavalError, UsageError
from kafkaval.files import write_atomic
from kafkaval.record_types import SuiteRecord
from kafkaval.records import list_run_records, load_run_record
from scheduler.changepoints import judge_history
from scheduler.jobs import load_schedule
from scheduler.metrics_extract import extract, same_kind_as_newest
from scheduler.verdict import judge_all, judge_paired_all
from scheduler.verdict_terms import HIGHER_IS_BETTER, LOWER_IS_BETTER, VerdictPolicy

EFFECTS = (0.10, 0.20)
MDE_LADDER = (0.05, 0.10, 0.15, 0.20, 0.30, 0.50, 1.00)
POWER_GOAL = 0.95


@dataclasses.dataclass(frozen=True)
class Noise:
    """One metric's recorded noise: relative deviations (or paired differences)."""

    metric: str
    direction: str
    values: tuple[float, ...]

    @property
    def cv(self) -> float:
        return round(statistics.pstdev(self.values), 4)


# (noises, effect or 0, rng) -> was each metric flagged
Method = Callable[[Sequence[Noise], float, random.Random, VerdictPolicy], list[bool]]


def _worse(value: float, direction: str, effect: float) -> float:
    return value * ((1 + effect) if direction == LOWER_IS_BETTER else (1 - effect))


def repeated_noise(records: Sequence[SuiteRecord], min_samples: int = 3) -> list[Noise]:
    """Relative deviations from the median of every compared metric with enough samples."""
    out = []
    for name, samples in sorted(extract(records).items()):
        values = [v for v in samples.values if v > 0]
        if samples.direction not in (LOWER_IS_BETTER, HIGHER_IS_BETTER):
            continue
        if len(values) < min_samples:
            continue
        med = statistics.median(values)
        out.append(Noise(name, samples.direction, tuple(v / med for v in values)))
    return out


def ab_noise(ab_records: Sequence[Mapping[str, Any]], min_rounds: int = 3) -> list[Noise]:
    """Per-round relative differences B vs A of the A vs A records, per metric."""
    diffs: dict[str, list[float]] = {}
    directions: dict[str, str] = {}
    for rec in ab_records:
        for verdict in rec.get("verdicts") or []:
            directions[verdict["metric"]] = verdict["direction"]
        for r in rec.get("rounds") or []:
            if not r.get("complete", True):
                continue
            for name, a in (r.get("a") or {}).items():
                b = (r.get("b") or {}).get(name)
                if isinstance(a, int | float) and isinstance(b, int | float) and a > 0:
                    diffs.setdefault(name, []).append(b / a - 1)
    return [
        Noise(name, directions[name], tuple(values))
        for name, values in sorted(diffs.items())
        if name in directions
        and directions[name] in (LOWER_IS_BETTER, HIGHER_IS_BETTER)
        and len(values) >= min_rounds
    ]


def is_a_vs_a(record: Mapping[str, Any]) -> bool:
    """Both sides of an A/B record are the same configuration."""
    a, b = record.get("a") or {}, record.get("b") or {}
    return bool(a) and all(a.get(k) == b.get(k) for k in ("bootstrap_servers", "producer"))


def repeated_method(repeat: int) -> Method:
    def run(
        noises: Sequence[Noise], effect: float, rng: random.Random, policy: VerdictPolicy
    ) -> list[bool]:
        items = [
            (
                n.metric,
                n.direction,
                rng.choices(n.values, k=2 * repeat),
                [_worse(v, n.direction, effect) for v in rng.choices(n.values, k=repeat)],
            )
            for n in noises
        ]
        return [v.is_regression for v in judge_all(items, policy, with_interval=False)]

    return run


def ab_method(rounds: int) -> Method:
    def run(
        noises: Sequence[Noise], effect: float, rng: random.Random, policy: VerdictPolicy
    ) -> list[bool]:
        items = []
        for n in noises:
            diffs = rng.choices(n.values, k=rounds)
            b = [_worse(1 + d, n.direction, effect) for d in diffs]
            items.append((n.metric, n.direction, [1.0] * rounds, b))
        return [v.is_regression for v in judge_paired_all(items, policy, with_interval=False)]

    return run


def changepoint_method(history: int) -> Method:
    def run(
        noises: Sequence[Noise], effect: float, rng: random.Random, policy: VerdictPolicy
    ) -> list[bool]:
        step = history // 2
        series = []
        for n in noises:
            values = rng.choices(n.values, k=history)
            values = values[:step] + [_worse(v, n.direction, effect) for v in values[step:]]
            series.append((n.metric, n.direction, values, [str(i) for i in range(history)]))
        return [v.is_regression for v in judge_history(series, policy)]

    return run


def evaluate(
    method: Method,
    noises: Sequence[Noise],
    repetitions: int,
    policy: VerdictPolicy,
    trials: int,
    seed: int,
) -> list[dict[str, Any]]:
    """Entries of one method: per metric and effect (see the module doc)."""
    rng = random.Random(seed)
    alarms = sum(any(method(noises, 0.0, rng, policy)) for _ in range(trials))
    false_alarm = round(alarms / trials, 4)
    bonferroni = dataclasses.replace(policy, alpha=policy.alpha / max(1, len(noises)))
    out = []
    for noise in noises:
        power: dict[float, float] = {}
        # the ladder first (stopping at the first effect that reaches the
        # goal), then the reported effects, each measured once
        for effect in (*MDE_LADDER, *EFFECTS):
            if effect in power:
                continue
            reached = any(p >= POWER_GOAL for p in power.values())
            if reached and effect not in EFFECTS:
                continue
            hits = sum(method([noise], effect, rng, bonferroni)[0] for _ in range(trials))
            power[effect] = round(hits / trials, 4)
        mde = next((e for e in MDE_LADDER if power.get(e, 0.0) >= POWER_GOAL), None)
        for effect in EFFECTS:
            out.append(
                {
                    "metric": noise.metric,
                    "effect": effect,
                    "repetitions": repetitions,
                    "power": power[effect],
                    "false_alarm_rate": false_alarm,
                    "mde": mde,
                    "noise_cv": noise.cv,
                }
            )
    return out


_R = TypeVar("_R")


def _load(paths: Sequence[Path], read: Callable[[Path], _R]) -> list[_R]:
    records = []
    for p in paths:
        try:
            records.append(read(p))
        except KafkavalError:
            continue  # a torn record is left out of the noise, and out of the sources
    return records


def run_bench(
    results_dir: Path,
    policy: VerdictPolicy,
    trials: int = 200,
    repeat: int = 5,
    rounds: int = 10,
    history: int = 20,
    seed: int = 8,
) -> dict[str, Any]:
    """Measure the three methods on the recorded noise and write the JSON.

    Raises:
        UsageError: no recorded noise at all.
        KafkavalError: the result cannot be written.
    """
    results = Path(results_dir)
    # An A/B record has no record type (loadgen/ab.py writes it): plain dicts.
    ab_records = _load(list_run_records(results, "ab"), lambda p: load_run_record(p))
    aa = [r for r in ab_records if is_a_vs_a(r)]
    perf_paths = list_run_records(results, "performance")
    # the side runs of A vs A only: a real A/B's B runs carry its difference
    for rec in aa:
        sub = results / f"ab-{rec.get('run_id')}"
        if sub.is_dir():
            perf_paths += list_run_records(sub, "performance")
    perf = same_kind_as_newest(
        sorted(
            _load(perf_paths, lambda p: load_run_record(p, "performance")),
            key=lambda r: str(r.get("run_id")),
        )
    )
    rep_noise, pair_noise = repeated_noise(perf), ab_noise(aa)
    if not rep_noise and not pair_noise:
        raise UsageError(
            f"no recorded noise in {results}: run 'kafkaval perf ab --a A.toml --b A.toml "
            "--rounds 10 --quick' (A vs A) or 'make test-kafka-performance QUICK=1 REPEAT=10' first"
        )
    cp_trials = max(10, trials // 10)  # each trial is a permutation test per metric
    out = {
        "methods": {
            "repeated": evaluate(repeated_method(repeat), rep_noise, repeat, policy, trials, seed),
            "ab": evaluate(ab_method(rounds), pair_noise, rounds, policy, trials, seed),
            "changepoint": evaluate(
                changepoint_method(history), rep_noise, history, policy, cp_trials, seed
            ),
        },
        # Real regressions, not injected ones: every recorded A/B with two
        # different sides, and what its own verdict said.
        "real_ab": [
            {
                "run_id": r.get("run_id"),
                "a": r.get("a"),
                "b": r.get("b"),
                "rounds": len(r.get("rounds") or []),
                "complete": r.get("complete"),
                "regressions": r.get("regressions"),
            }
            for r in ab_records
            if not is_a_vs_a(r)
        ],
        "sources": {
            "performance_runs": [r.get("run_id") for r in perf],
            "quick": bool(perf[-1].get("quick")) if perf else None,
            "a_vs_a_records": [r.get("run_id") for r in aa],
            "a_vs_a_rounds": sum(len(r.get("rounds") or []) for r in aa),
            "environment": (perf[-1].get("environment") if perf else None),
        },
        "settings": {
            "trials": trials,
            "changepoint_trials": cp_trials,
            "repeat": repeat,
            "baseline_samples": 2 * repeat,
            "rounds": rounds,
            "history_runs": history,
            "effects": list(EFFECTS),
            "mde_ladder": list(MDE_LADDER),
            "power_goal": POWER_GOAL,
            "policy": dataclasses.asdict(policy),
            "seed": seed,
        },
        "notes": [
            "false_alarm_rate is per run: the share of unchanged trials with any metric "
            "flagged, all metrics judged together (Holm; Bonferroni for change points)",
            "power per metric at alpha/metrics (Bonferroni): a lower bound of the family's",
            "draws are independent: drift between runs is in the spread, not in its order",
        ],
    }
    path = results / "bench-regression.json"
    try:
        write_atomic(path, json.dumps(out, indent=2) + "\n")
    except OSError as e:
        raise KafkavalError(f"cannot write {path}: {e.strerror}") from e
    return out


def summary(out: Mapping[str, Any]) -> str:
    """One line per method and metric: noise, power at each effect, mde, and the goals."""
    lines = []
    for method, entries in out["methods"].items():
        if not entries:
            lines.append(f"{method}: no recorded noise")
            continue
        first = entries[0]
        lines.append(
            f"{method} ({first['repetitions']} runs/rounds per side): "
            f"false alarms per run {first['false_alarm_rate']:.3f}"
        )
        by_metric: dict[str, list[Mapping[str, Any]]] = {}
        for e in entries:
            by_metric.setdefault(e["metric"], []).append(e)
        for metric, rows in by_metric.items():
            powers = "  ".join(f"power@{r['effect']:.0%} {r['power']:.2f}" for r in rows)
            mde = rows[0]["mde"]
            lines.append(
                f"  {metric:<58} cv {rows[0]['noise_cv']:.3f}  {powers}  "
                f"mde {'> 100%' if mde is None else f'{mde:.0%}'}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-regression", description=__doc__.split("\n")[0])
    parser.add_argument("--results-dir", help="where the recorded runs are")
    parser.add_argument("--trials", type=int, default=200, help="resampled runs (200)")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of a judged run (5)")
    parser.add_argument("--rounds", type=int, default=10, help="A/B rounds (10)")
    parser.add_argument("--history", type=int, default=20, help="runs in a history (20)")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)
    try:
        if args.trials < 10 or args.repeat < 3 or args.rounds < 3 or args.history < 6:
            raise UsageError("--trials >= 10, --repeat >= 3, --rounds >= 3, --history >= 6")
        settings = load_settings(overrides={"results_dir": args.results_dir})
        policy = load_schedule(settings).policy
        out = run_bench(
            settings.path("results_dir"),
            policy,
            args.trials,
            args.repeat,
            args.rounds,
            args.history,
            args.seed,
        )
    except KafkavalError as e:
        print(f"bench-regression: error: {e}", file=sys.stderr)
        return e.exit_code
    print(summary(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
