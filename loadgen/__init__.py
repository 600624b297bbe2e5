"""The load generator and the performance suite (``kafkaval perf``).

One obvious file per concern: ``workload`` (what to run), ``payloads``
(CDC-shaped values), ``recorder`` (per-message latencies and exact
percentiles), ``metrics`` (the Prometheus collector), ``producer`` /
``consumer`` (the Kafka clients), ``profiles`` (the five benchmarks and their
thresholds), ``suite`` (runs them, writes the run record), ``startup`` (cold
broker start), ``compare`` and ``overhead`` (benchmarks, not tests),
``workers`` (several producer processes). The intended-time schedule the
producers follow is the shared ``kafkaval.pacing``.
"""
