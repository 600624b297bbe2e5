"""The custom collector: fresh metric families from the latest snapshot each scrape.

Names and labels follow cAdvisor: ``name``, ``id`` (the container's cgroup),
``image``, ``container_label_com_docker_compose_service`` (cAdvisor's name
for the Docker label ``com.docker.compose.service``), and per-interface /
per-device series (``interface``, ``device``) for network and block I/O, so
cAdvisor-based dashboards and ours read each other's series. Differences from
cAdvisor: processes have no ``id``, ``interface`` or ``device`` (one series
of totals), and an unlimited memory limit is 0. docs/metrics.md ("exporter")
lists every metric.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter.sample import TargetSample, Usage
from exporter.sampler import Sampler

LABELS = ["name", "id", "image", "container_label_com_docker_compose_service"]

# One metric's values: (extra label values, value) pairs.
Values = Callable[[Usage], Iterable[tuple[tuple[str, ...], float]]]


def _single(get: Callable[[Usage], float | None]) -> Values:
    return lambda u: [] if (v := get(u)) is None else [((), float(v))]


def _split(
    per: Callable[[Usage], Mapping[str, tuple[int, int]] | None],
    total: Callable[[Usage], int | None],
    index: int,
) -> Values:
    """Per interface/device where the source tells them apart, else one total ("" label)."""

    def values(u: Usage) -> Iterable[tuple[tuple[str, ...], float]]:
        by = per(u)
        if by is not None:
            return [((key,), float(pair[index])) for key, pair in sorted(by.items())]
        return [(("",), value) for _, value in _single(total)(u)]  # "": no such label

    return values


def _network(index: int, total: Callable[[Usage], int | None]) -> Values:
    return _split(lambda u: u.network_by_interface, total, index)


def _fs(index: int, total: Callable[[Usage], int | None]) -> Values:
    return _split(lambda u: u.fs_by_device, total, index)


# (metric name, type, help, extra labels, values); counters are named without
# "_total", which prometheus_client appends on exposition.
USAGE_METRICS: list[tuple[str, str, str, list[str], Values]] = [
    (
        "container_cpu_usage_seconds",
        "counter",
        "Cumulative CPU time consumed (user + system, all CPUs), seconds.",
        [],
        _single(lambda u: u.cpu_seconds),
    ),
    (
        "container_memory_usage_bytes",
        "gauge",
        "Current memory usage including page cache, bytes.",
        [],
        _single(lambda u: u.memory_usage_bytes),
    ),
    (
        "container_memory_working_set_bytes",
        "gauge",
        "Memory usage minus inactive file cache (what cannot be reclaimed cheaply), bytes.",
        [],
        _single(lambda u: u.memory_working_set_bytes),
    ),
    (
        "container_spec_memory_limit_bytes",
        "gauge",
        "Configured memory limit, bytes; 0 when unlimited.",
        [],
        _single(lambda u: u.memory_limit_bytes),
    ),
    (
        "container_network_receive_bytes",
        "counter",
        "Bytes received per interface of the container's network namespace.",
        ["interface"],
        _network(0, lambda u: u.network_receive_bytes),
    ),
    (
        "container_network_transmit_bytes",
        "counter",
        "Bytes transmitted per interface of the container's network namespace.",
        ["interface"],
        _network(1, lambda u: u.network_transmit_bytes),
    ),
    (
        "container_fs_reads_bytes",
        "counter",
        "Bytes read per block device.",
        ["device"],
        _fs(0, lambda u: u.fs_read_bytes),
    ),
    (
        "container_fs_writes_bytes",
        "counter",
        "Bytes written per block device.",
        ["device"],
        _fs(1, lambda u: u.fs_write_bytes),
    ),
]


def _family(
    name: str, kind: str, doc: str, labels: list[str]
) -> CounterMetricFamily | GaugeMetricFamily:
    if kind == "counter":
        return CounterMetricFamily(name, doc, labels=labels)
    return GaugeMetricFamily(name, doc, labels=labels)


class ContainerCollector(Collector):
    """Serves the sampler's latest snapshot; never touches the engine itself.

    Args:
        sampler: the background sampler whose snapshot is served.
        clock: monotonic clock, for the age of the snapshot.
    """

    def __init__(
        self, sampler: Sampler[TargetSample], clock: Callable[[], float] | None = None
    ) -> None:
        self._sampler = sampler
        self._clock = clock or sampler._clock  # same clock as the snapshot's taken_at

    def collect(self) -> Iterator[Metric]:
        snap = self._sampler.snapshot
        kind = self._sampler.source.kind
        up = GaugeMetricFamily(
            "kafkaval_exporter_up",
            "1 if the last sampling round reached the stats source (Docker engine or /proc).",
            labels=["source"],
        )
        up.add_metric([kind], 1.0 if snap.up else 0.0)
        yield up
        duration = GaugeMetricFamily(
            "kafkaval_exporter_sample_duration_seconds",
            "Wall time of the last sampling round, seconds.",
        )
        duration.add_metric([], snap.duration_seconds)
        yield duration
        age = self._clock() - snap.taken_at
        if age != float("inf"):
            family = GaugeMetricFamily(
                "kafkaval_exporter_sample_age_seconds",
                "Seconds since the served sample was taken.",
            )
            family.add_metric([], age)
            yield family
        count = GaugeMetricFamily(
            "kafkaval_exporter_targets", "Containers (or processes) in the last sample."
        )
        count.add_metric([], len(snap.targets))
        yield count
        yield from self._per_target(snap.targets)

    def _per_target(self, targets: tuple[TargetSample, ...]) -> Iterator[Metric]:
        running = GaugeMetricFamily(
            "kafkaval_container_running",
            "1 if the container (process) is running, 0 if stopped, paused or exited.",
            labels=LABELS,
        )
        restarts = CounterMetricFamily(
            "kafkaval_container_restarts",
            "Restarts seen: the engine's restart count at first sight plus later restarts.",
            labels=LABELS,
        )
        start = GaugeMetricFamily(
            "container_start_time_seconds",
            "Unix time the container's current run started.",
            labels=LABELS,
        )
        usage = [
            _family(name, kind, doc, LABELS + extra) for name, kind, doc, extra, _ in USAGE_METRICS
        ]
        for t in targets:
            labels = [t.name, t.id, t.image, t.compose_service]
            running.add_metric(labels, 1.0 if t.running else 0.0)
            restarts.add_metric(labels, float(t.restarts))
            if t.start_time_seconds is not None:
                start.add_metric(labels, t.start_time_seconds)
            if t.usage is None:
                continue
            for family, (_, _, _, _, values) in zip(usage, USAGE_METRICS, strict=True):
                for extra, value in values(t.usage):
                    family.add_metric(labels + list(extra), value)
        yield running
        yield restarts
        yield start
        yield from usage
