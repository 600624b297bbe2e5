"""Baselines: the chosen run records a new run is compared with.

``results/baselines.json`` holds the current baseline and every earlier one::

    {"current": {"run_ids": [...], "accepted_at": "...Z"},
     "history": [{"run_ids": [...], "accepted_at": "...Z"}, ...]}

A baseline names one or more runs; their samples are pooled (more baseline
repetitions make the verdict more sensitive). A run id may name a suite run
(``performance-<id>.json``, ``delivery-<id>.json``) or a scheduled run
(``scheduled-<id>.json``), which stands for the suite runs it made.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from kafkaval.errors import KafkavalError, UsageError
from kafkaval.files import write_atomic
from kafkaval.record_types import SuiteRecord, is_delivery, is_performance
from kafkaval.records import iso, list_run_records, load_run_record, utc_now

BASELINES_FILE = "baselines.json"
SUITE_KINDS = ("performance", "delivery")


def baselines_path(results_dir: str | Path) -> Path:
    return Path(results_dir) / BASELINES_FILE


def load_baselines(results_dir: str | Path) -> dict[str, Any]:
    """The baselines document; an empty one when none was accepted yet.

    Raises:
        KafkavalError: the file exists but is not valid JSON.
    """
    path = baselines_path(results_dir)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return {"current": None, "history": []}
    except (OSError, json.JSONDecodeError) as e:
        raise KafkavalError(f"cannot read {path} ({e}); fix or delete it") from None
    if not isinstance(doc, dict) or "history" not in doc:
        raise KafkavalError(f"{path} is not a baselines file; fix or delete it")
    return doc


def current_baseline(results_dir: str | Path) -> list[str] | None:
    """Run ids of the current baseline, or None."""
    current = load_baselines(results_dir).get("current")
    return list(current["run_ids"]) if current else None


def suite_record_paths(results_dir: str | Path, run_id: str) -> list[Path]:
    """The suite run records a run id stands for.

    Raises:
        UsageError: no record with that id.
    """
    results = Path(results_dir)
    if not results.is_dir():
        raise UsageError(f"results folder {results} does not exist: run a suite first")
    if not run_id or "/" in run_id or "*" in run_id:
        raise UsageError(f"bad run id {run_id!r}")
    direct = [results / f"{kind}-{run_id}.json" for kind in SUITE_KINDS]
    found = [p for p in direct if p.is_file()]
    scheduled = results / f"scheduled-{run_id}.json"
    if not found and scheduled.is_file():
        record = load_run_record(scheduled)  # a scheduled-run record: untyped
        for sub_id in record.get("suite_run_ids", []):
            found += [
                p for p in (results / f"{k}-{sub_id}.json" for k in SUITE_KINDS) if p.is_file()
            ]
        if not found:
            raise UsageError(f"scheduled run {run_id} has no suite run records (it failed?)")
    if not found:
        raise UsageError(
            f"no run {run_id!r} in {results}: see the run ids with 'kafkaval baseline show'"
        )
    return found


def load_records(results_dir: str | Path, run_ids: Sequence[str]) -> list[SuiteRecord]:
    """Every suite run record the ``run_ids`` stand for.

    Raises:
        UsageError: an id does not exist.
        KafkavalError: a record cannot be read (``load_run_record``).
    """
    paths = [p for rid in run_ids for p in suite_record_paths(results_dir, rid)]
    return suite_records(paths)


def suite_records(paths: Sequence[Path]) -> list[SuiteRecord]:
    """The performance and delivery records among the records at ``paths``, in order.

    A record of another kind is left out: the comparison has no metric of it.

    Raises:
        KafkavalError: a record cannot be read (``load_run_record``).
    """
    out: list[SuiteRecord] = []
    for path in paths:
        record = load_run_record(path)
        if is_performance(record) or is_delivery(record):
            out.append(record)
    return out


def accept(
    results_dir: str | Path,
    run_ids: Sequence[str],
    now: Callable[[], datetime] = utc_now,
) -> dict[str, Any]:
    """Make ``run_ids`` the current baseline; the previous one stays in the history.

    Raises:
        UsageError: an id does not exist.
        KafkavalError: baselines.json cannot be written.
    """
    if not run_ids:
        raise UsageError("give at least one run id to accept as the baseline")
    for rid in run_ids:
        suite_record_paths(results_dir, rid)  # raises for an unknown id
    doc = load_baselines(results_dir)
    entry = {"run_ids": list(run_ids), "accepted_at": iso(now())}
    doc["current"] = entry
    doc["history"] = [*doc.get("history", []), entry]
    path = baselines_path(results_dir)
    try:
        write_atomic(path, json.dumps(doc, indent=2) + "\n")
    except OSError as e:
        raise KafkavalError(f"cannot write {path}: {e.strerror}; fix permissions") from e
    return entry


def propose(results_dir: str | Path, kind: str = "performance") -> str | None:
    """The first good run (oldest passed record of ``kind``) as a baseline proposal.

    Reads only the header and ``passed``, which records of any kind have: untyped.
    """
    results = Path(results_dir)
    if not results.is_dir():
        return None
    good = []
    for path in list_run_records(results, kind):
        try:
            record = load_run_record(path)
        except KafkavalError:
            continue  # a damaged record is no candidate; it is reported elsewhere
        if record.get("passed") and record.get("run_id"):
            # run ids sort by second only; the start time orders runs within one
            good.append((str(record.get("started_at") or ""), str(record["run_id"])))
    return min(good)[1] if good else None
