"""Run tags: ``--tag key=value`` pairs that label a run's record and metrics.

Tags let runs be filtered in Grafana and compared by tag (branch, build,
environment). They are constant for a run, so they add no series within it;
their count and size are bounded and their names are valid Prometheus label
names that do not clash with the labels kafkaval's metrics already carry.
Keep values low in cardinality across runs (a branch, not a commit per run):
every distinct value is a new series in Prometheus.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Iterator, Mapping

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from kafkaval.errors import UsageError

MAX_TAGS = 8
MAX_VALUE_LENGTH = 64
_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,31}$")
_VALUE = re.compile(r"^[A-Za-z0-9_.:/@+-]+$")
# Labels Prometheus or kafkaval's own metrics set; a tag must not replace them.
RESERVED = frozenset(
    {
        "job",
        "instance",
        "le",
        "quantile",
        "profile",
        "scenario",
        "topic",
        "role",
        "worker",
        "group",
        "cluster",
        "partition",
        "broker",
        "fault",
        "kind",
        "name",
        "status",
        "state",
        "container",
        "result",
        "run_id",
    }
)


def parse_tags(items: Iterable[str]) -> dict[str, str]:
    """``key=value`` strings into tags, in the order given.

    Raises:
        UsageError: no ``=``, a name that is not a label name or is reserved,
            an empty or too long value or one with other characters, a
            repeated name, or more than MAX_TAGS tags.
    """
    tags: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep:
            raise UsageError(f"bad tag {item!r}: write --tag key=value")
        if not _NAME.match(key) or key.startswith("__"):
            raise UsageError(
                f"bad tag name {key!r}: use a label name of up to 32 characters "
                "[a-zA-Z_][a-zA-Z0-9_]*, not starting with __"
            )
        if key in RESERVED:
            raise UsageError(
                f"tag name {key!r} is a label kafkaval's metrics already use; choose another "
                f"(reserved: {', '.join(sorted(RESERVED))})"
            )
        if not value or len(value) > MAX_VALUE_LENGTH or not _VALUE.match(value):
            raise UsageError(
                f"bad value for tag {key}: use 1-{MAX_VALUE_LENGTH} characters "
                "from [A-Za-z0-9_.:/@+-]"
            )
        if key in tags:
            raise UsageError(f"tag {key} given twice; give each tag once")
        tags[key] = value
    if len(tags) > MAX_TAGS:
        raise UsageError(f"{len(tags)} tags: at most {MAX_TAGS} per run")
    return tags


class Tagged(Collector):
    """``collector``'s metric families with the tags added to every sample's labels."""

    def __init__(self, collector: Collector, tags: Mapping[str, str]) -> None:
        self.collector = collector
        self.tags = dict(tags)

    def collect(self) -> Iterator[Metric]:
        for family in self.collector.collect():
            # Families are built fresh for each scrape, so they are ours to change.
            family.samples = [s._replace(labels={**self.tags, **s.labels}) for s in family.samples]
            yield family


def tagged(collector: Collector, tags: Mapping[str, str] | None) -> Collector:
    """``collector`` itself without tags, else wrapped in Tagged."""
    return Tagged(collector, tags) if tags else collector


def add_gating_arguments(parser: argparse.ArgumentParser, cases: str) -> None:
    """``--tag`` and ``--junit FILE`` of a suite verb; ``cases`` says what its testcases are."""
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="label the run: in its record, report and as a label on its metrics "
        f"(repeatable, at most {MAX_TAGS})",
    )
    parser.add_argument("--junit", metavar="FILE", help=f"also write JUnit XML: {cases}")


def describe(tags: Mapping[str, str] | None) -> str:
    """``a=b, c=d`` for console lines and reports."""
    return ", ".join(f"{k}={v}" for k, v in (tags or {}).items())
