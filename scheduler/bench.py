"""``make bench-regression``: how good is the verdict on this machine's real noise?

From the repeated performance runs in the results folder, each compared
metric's recorded noise is the set of its samples divided by their median
(relative deviations; every repetition of every run, so run-to-run drift is
in it as well as repetition-to-repetition noise). Each trial draws a baseline
and a candidate from those deviations (with replacement), once unchanged and
once with a known slowdown injected (throughput x (1 - effect), latency x
(1 + effect)), and asks the verdict. Power = share of slowed trials flagged;
false-alarm rate = share of unchanged trials flagged (per metric), and the
run-level false-alarm rate = share of unchanged runs with any metric flagged
(the metrics of a run are judged together, Holm-adjusted, as the scheduler
does).

Writes ``results/bench-regression.json``::

    {"effect": 0.10, "power": ..., "false_alarm_rate": ..., "trials": ...,
     "run_false_alarm_rate": ..., "baseline_samples": 6, "candidate_samples": 3,
     "metrics": {...per metric, with "repetitions_needed"...},
     "by_samples": [...other sample sizes...], "repetitions_needed": N or null,
     "source_runs": [...], "policy": {...}}
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kafkaval.config import load_settings
from kafkaval.errors import KafkavalError, UsageError
from kafkaval.files import write_atomic
from kafkaval.records import list_run_records, load_run_record
from scheduler.jobs import load_schedule
from scheduler.metrics_extract import extract, same_kind_as_newest
from scheduler.verdict import HIGHER_IS_BETTER, LOWER_IS_BETTER, VerdictPolicy, judge, judge_all

# The metrics the benchmark injects slowdowns into: throughput, medians and p99s.
BENCH_SUFFIXES = ("achieved_rate", "_p50_seconds", "_p99_seconds")
SAMPLE_GRID = ((3, 3), (6, 3), (5, 5), (10, 5), (10, 10))
# Candidate repetitions tried by repetitions_needed (the baseline has twice as many).
REPETITION_LADDER = (3, 5, 8, 12, 16, 24, 32)


@dataclasses.dataclass(frozen=True)
class Noise:
    """One metric's recorded relative deviations from its median."""

    metric: str
    direction: str
    deviations: tuple[float, ...]


def recorded_noise(records: Sequence[dict[str, Any]], min_samples: int = 3) -> list[Noise]:
    """Relative deviations of every throughput/p99 metric with at least ``min_samples``."""
    out = []
    for name, samples in sorted(extract(records).items()):
        if not name.endswith(BENCH_SUFFIXES) or samples.direction not in (
            LOWER_IS_BETTER,
            HIGHER_IS_BETTER,
        ):
            continue
        values = [v for v in samples.values if v > 0]
        if len(values) < min_samples:
            continue
        med = statistics.median(values)
        out.append(Noise(name, samples.direction, tuple(v / med for v in values)))
    return out


def _draw(rng: random.Random, noise: Noise, n: int) -> list[float]:
    return rng.choices(noise.deviations, k=n)


def _slowed(values: list[float], direction: str, effect: float) -> list[float]:
    factor = (1 + effect) if direction == LOWER_IS_BETTER else (1 - effect)
    return [v * factor for v in values]


def simulate(
    noises: Sequence[Noise],
    effect: float,
    trials: int,
    n_base: int,
    n_cand: int,
    policy: VerdictPolicy,
    seed: int = 8,
) -> dict[str, Any]:
    """Power and false alarms over ``trials`` resampled runs (every metric in each run)."""
    rng = random.Random(seed)
    per_metric = {n.metric: {"detected": 0, "false_alarms": 0} for n in noises}
    # Power is counted on a run where only the judged metric moved, at the
    # Bonferroni level alpha/m: Holm rejects everything Bonferroni rejects,
    # so this is a lower bound of the power in a run judged as a family.
    bonferroni = dataclasses.replace(policy, alpha=policy.alpha / max(1, len(noises)))
    runs_with_alarm = 0
    for _ in range(trials):
        same_run = [
            (n.metric, n.direction, _draw(rng, n, n_base), _draw(rng, n, n_cand)) for n in noises
        ]
        alarms = [v.is_regression for v in judge_all(same_run, policy, with_interval=False)]
        for noise, alarm in zip(noises, alarms, strict=True):
            per_metric[noise.metric]["false_alarms"] += alarm
            base = _draw(rng, noise, n_base)
            slow = _slowed(_draw(rng, noise, n_cand), noise.direction, effect)
            per_metric[noise.metric]["detected"] += judge(
                noise.metric, noise.direction, base, slow, bonferroni, with_interval=False
            ).is_regression
        runs_with_alarm += any(alarms)
    total = trials * len(noises)
    detected = sum(m["detected"] for m in per_metric.values())
    false_alarms = sum(m["false_alarms"] for m in per_metric.values())
    return {
        "baseline_samples": n_base,
        "candidate_samples": n_cand,
        "power": round(detected / total, 4),
        "false_alarm_rate": round(false_alarms / total, 4),
        "run_false_alarm_rate": round(runs_with_alarm / trials, 4),
        "metrics": {
            name: {
                "power": round(m["detected"] / trials, 4),
                "false_alarm_rate": round(m["false_alarms"] / trials, 4),
            }
            for name, m in per_metric.items()
        },
    }


def repetitions_needed(
    noise: Noise,
    effect: float,
    policy: VerdictPolicy,
    trials: int = 200,
    power_goal: float = 0.95,
    false_alarm_goal: float = 0.05,
    seed: int = 8,
) -> int | None:
    """Fewest candidate repetitions (baseline: twice as many) that meet both goals.

    Walks REPETITION_LADDER with the same resampling as ``simulate``; None when
    even the largest step misses a goal (the metric is too noisy here to
    catch ``effect`` reliably: widen the effect or cut the noise).
    """
    for n in REPETITION_LADDER:
        row = simulate([noise], effect, trials, 2 * n, n, policy, seed)
        if row["power"] >= power_goal and row["false_alarm_rate"] <= false_alarm_goal:
            return n
    return None


def run_bench(
    results_dir: Path,
    policy: VerdictPolicy,
    effect: float = 0.10,
    trials: int = 1000,
    n_base: int = 6,
    n_cand: int = 3,
    seed: int = 8,
) -> dict[str, Any]:
    """Run the benchmark on the performance records in ``results_dir`` and write its JSON.

    Raises:
        UsageError: no repeated performance runs to take the noise from.
        KafkavalError: the result cannot be written.
    """
    paths = list_run_records(results_dir, "performance")
    records = [load_run_record(p) for p in paths]
    records = same_kind_as_newest(records)
    noises = recorded_noise(records)
    if not noises:
        raise UsageError(
            f"no repeated performance runs in {results_dir}: run "
            "'make test-kafka-performance QUICK=1 REPEAT=10' first"
        )
    head = simulate(noises, effect, trials, n_base, n_cand, policy, seed)
    grid_trials = min(trials, max(200, trials // 4))
    grid = []
    for b, c in SAMPLE_GRID:
        if (b, c) != (n_base, n_cand):
            row = simulate(noises, effect, grid_trials, b, c, policy, seed)
            grid.append({k: v for k, v in row.items() if k != "metrics"})
    # Per metric: how many repetitions the goals (power >= 0.95 at this
    # effect, false alarms <= 0.05) would take on this noise.
    needed = {
        n.metric: repetitions_needed(n, effect, policy, min(trials, 200), seed=seed) for n in noises
    }
    counts = [v for v in needed.values() if v is not None]
    needed_overall = max(counts) if counts and len(counts) == len(needed) else None
    out = {
        "effect": effect,
        "power": head["power"],
        "false_alarm_rate": head["false_alarm_rate"],
        "trials": trials,
        "run_false_alarm_rate": head["run_false_alarm_rate"],
        "baseline_samples": n_base,
        "candidate_samples": n_cand,
        "metrics": {
            n.metric: {
                **head["metrics"][n.metric],
                "samples": len(n.deviations),
                "noise_cv": round(statistics.pstdev(n.deviations), 4),
                "repetitions_needed": needed[n.metric],
            }
            for n in noises
        },
        "by_samples": grid,
        "repetitions_needed": needed_overall,
        "source_runs": [r.get("run_id") for r in records],
        "policy": dataclasses.asdict(policy),
        "seed": seed,
    }
    path = Path(results_dir) / "bench-regression.json"
    try:
        write_atomic(path, json.dumps(out, indent=2) + "\n")
    except OSError as e:
        raise KafkavalError(f"cannot write {path}: {e.strerror}") from e
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-regression", description=__doc__.split("\n")[0])
    parser.add_argument("--results-dir", help="where the performance run records are")
    parser.add_argument("--effect", type=float, default=0.10, help="injected slowdown (0.10)")
    parser.add_argument("--trials", type=int, default=1000, help="resampled runs (1000)")
    parser.add_argument(
        "--baseline-samples",
        type=int,
        default=6,
        help="baseline repetitions per metric (6: two accepted runs x REPEAT 3)",
    )
    parser.add_argument(
        "--candidate-samples",
        type=int,
        default=3,
        help="repetitions of the judged run (3: REPEAT 3)",
    )
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)
    try:
        if not 0 < args.effect < 1 or args.trials < 1:
            raise UsageError("--effect must be in (0, 1) and --trials >= 1")
        settings = load_settings(overrides={"results_dir": args.results_dir})
        policy = load_schedule(settings).policy
        out = run_bench(
            settings.path("results_dir"),
            policy,
            args.effect,
            args.trials,
            args.baseline_samples,
            args.candidate_samples,
            args.seed,
        )
    except KafkavalError as e:
        print(f"bench-regression: error: {e}", file=sys.stderr)
        return e.exit_code
    print(
        f"effect {out['effect']:.0%}, {out['trials']} trials, "
        f"{out['baseline_samples']} baseline vs {out['candidate_samples']} candidate samples: "
        f"power {out['power']:.3f}, false alarms {out['false_alarm_rate']:.3f} per metric, "
        f"{out['run_false_alarm_rate']:.3f} per run ({len(out['metrics'])} metrics)"
    )
    for row in out["by_samples"]:
        print(
            f"  {row['baseline_samples']:>2} vs {row['candidate_samples']:>2}: "
            f"power {row['power']:.3f}, false alarms {row['false_alarm_rate']:.3f} "
            f"(per run {row['run_false_alarm_rate']:.3f})"
        )
    for name, m in out["metrics"].items():
        need = m["repetitions_needed"]
        print(
            f"  {name:<48} noise cv {m['noise_cv']:.3f}  power {m['power']:.3f}  "
            f"false alarms {m['false_alarm_rate']:.3f}  goals need "
            + (f"REPEAT={need} (baseline {2 * need})" if need else f"> {REPETITION_LADDER[-1]}")
        )
    goal_met = out["power"] >= 0.95 and out["false_alarm_rate"] <= 0.05
    need = out["repetitions_needed"]
    reachable = [n for m in out["metrics"].values() if (n := m["repetitions_needed"])]
    print(
        f"goal (power >= 0.95, false alarms <= 0.05) at {out['candidate_samples']} repetitions: "
        + ("met" if goal_met else "NOT met")
        + "; "
        + (
            f"every metric meets it with REPEAT={need} and a baseline of {2 * need} samples"
            if need
            else f"{len(reachable)} of {len(out['metrics'])} metrics meet it within "
            f"REPEAT={REPETITION_LADDER[-1]}"
            + (f" (the slowest of them at REPEAT={max(reachable)})" if reachable else "")
            + ", the others with no repetition count tried"
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
