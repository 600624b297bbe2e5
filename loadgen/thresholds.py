"""Threshold expressions over the recorded figures of a profile.

A threshold is one comparison, e.g. ``p99(e2e) < 50ms``,
``rate(achieved)/rate(target) >= 0.99`` or ``failed == 0``. The parser is a
small recursive descent over a fixed grammar (numbers with units, figures,
``+ - * /``, parentheses, one comparison); nothing is ever ``eval``-ed.

Figures name what the run record holds for a profile:
``p50|p95|p99|p999|max|mean|count(service|send_delay|response|e2e)`` for the
latency summaries, ``rate(achieved|target)``, and the plain figures of
``FIGURES`` (``failed``, ``startup_seconds``, ``drift.p99_last_quarter_seconds``,
...). A figure the run did not measure (None, or a division by zero) makes the
threshold fail as "not measured", never pass.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from kafkaval.errors import UsageError
from kafkaval.verdict import Check

LATENCIES = ("service", "send_delay", "response", "e2e")
LATENCY_STATS = ("p50", "p95", "p99", "p999", "max", "mean", "count")
RATES = ("achieved", "target")
# Plain figures of a profile's record entry, by the kind of profile that has them.
BOTH_FIGURES = ("sent", "acked", "failed", "consumed", "broker_memory")
LOAD_FIGURES = (
    "duplicates_consumed",
    "acked_not_consumed",
    "consumed_not_acked",
    "messages_planned",
    "produce_seconds",
    "drain_seconds",
    "recovery_seconds",
    "loadgen_max_rss_bytes",
    "broker_cpu_peak_cores",
    "broker_memory_peak_bytes",
    "drift.p99_first_quarter_seconds",
    "drift.p99_last_quarter_seconds",
    "drift.rss_growth_bytes",
)
STARTUP_FIGURES = ("startup_seconds", "metadata_seconds", "broker_rss_bytes")
FIGURES = BOTH_FIGURES + LOAD_FIGURES + STARTUP_FIGURES

UNITS: dict[str, float] = {
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "%": 0.01,
    "B": 1,
    "KB": 1e3,
    "MB": 1e6,
    "GB": 1e9,
    "KiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
}
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_ARITH: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}
_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)(?P<unit>[A-Za-z%]+)?"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_.]*)"
    r"|(?P<op><=|>=|==|!=|<|>|[-+*/()]))"
)


# Counts that only grow during a run: a threshold capping one is lost the
# moment the live count passes the limit (--abort-on-fail).
MONOTONE_FIGURES = ("failed", "duplicates_consumed")
# A latency name (``e2e``, ...) -> its values so far, in seconds.
Samples = Callable[[str], "np.ndarray | Sequence[float]"]
# Latency statistics a partial run can already decide, by their nearest rank q.
EARLY_QUANTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99, "p999": 0.999, "max": 1.0}


def known_figures() -> str:
    """The figure names for an error message."""
    funcs = f"{'|'.join(LATENCY_STATS)}({'|'.join(LATENCIES)}), rate({'|'.join(RATES)})"
    return f"{funcs}, {', '.join(FIGURES)}"


class NotMeasured(Exception):
    """A figure the threshold needs is missing from the result."""


# A compiled arithmetic expression: the figures it reads and how to compute it.
@dataclasses.dataclass(frozen=True)
class _Expr:
    figures: frozenset[str]
    compute: Callable[[Mapping[str, Any]], float]
    constant: bool
    figure: str | None = None  # the expression is this one figure


def figure_value(result: Mapping[str, Any], figure: str) -> float:
    """The value of ``figure`` (a canonical name) in a profile's result.

    Raises:
        NotMeasured: the result holds no number for it.
    """
    if figure == "broker_memory":
        # Load profiles: the brokers' peak from the exporter; startup: the started broker's RSS.
        value = result.get("broker_memory_peak_bytes")
        if value is None:
            value = result.get("broker_rss_bytes")
    else:
        value = result
        for part in figure.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NotMeasured(figure)
    return float(value)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, str | None]] = []
        pos = 0
        stripped = text.rstrip()
        while pos < len(stripped):
            m = _TOKEN.match(stripped, pos)
            if m is None or m.end() == pos:
                raise self.error(f"unexpected {stripped[pos:].strip()[:10]!r}")
            pos = m.end()
            if m.group("num") is not None:
                self.tokens.append(("num", m.group("num"), m.group("unit")))
            elif m.group("name") is not None:
                self.tokens.append(("name", m.group("name"), None))
            else:
                self.tokens.append(("op", m.group("op"), None))
        self.i = 0

    def error(self, what: str) -> UsageError:
        return UsageError(
            f"threshold {self.text!r}: {what}; write e.g. 'p99(e2e) < 50ms' or 'failed == 0'"
        )

    def peek(self) -> tuple[str, str, str | None] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str, str | None]:
        tok = self.peek()
        if tok is None:
            raise self.error("it ends too early")
        self.i += 1
        return tok

    def expect(self, op: str) -> None:
        tok = self.take()
        if tok[:2] != ("op", op):
            raise self.error(f"expected {op!r}, found {tok[1]!r}")

    def sum(self) -> _Expr:
        left = self.product()
        while (tok := self.peek()) is not None and tok[0] == "op" and tok[1] in "+-":
            self.i += 1
            left = _combine(_ARITH[tok[1]], left, self.product())
        return left

    def product(self) -> _Expr:
        left = self.atom()
        while (tok := self.peek()) is not None and tok[0] == "op" and tok[1] in "*/":
            self.i += 1
            left = _combine(_ARITH[tok[1]], left, self.atom())
        return left

    def atom(self) -> _Expr:
        kind, text, unit = self.take()
        if kind == "num":
            if unit is not None and unit not in UNITS:
                raise self.error(f"unknown unit {unit!r} (known: {', '.join(UNITS)})")
            value = float(text) * UNITS[unit or "s"] if unit else float(text)
            return _Expr(frozenset(), lambda _r: value, True)
        if kind == "op" and text == "(":
            inner = self.sum()
            self.expect(")")
            return inner
        if kind == "op" and text == "-":
            inner = self.atom()
            return _Expr(inner.figures, lambda r: -inner.compute(r), inner.constant)
        if kind != "name":
            raise self.error(f"unexpected {text!r}")
        nxt = self.peek()
        if nxt is not None and nxt[:2] == ("op", "("):
            self.i += 1
            arg = self.take()
            self.expect(")")
            figure = _function_figure(text, arg[1], self.error)
        elif text in FIGURES:
            figure = text
        else:
            raise self.error(f"unknown figure {text!r} (known: {known_figures()})")
        return _Expr(frozenset({figure}), lambda r: figure_value(r, figure), False, figure)


def _latency_of(figure: str | None) -> tuple[str, float] | None:
    """(latency name, nearest rank) of a percentile figure, None for anything else."""
    if figure is None or not figure.endswith(tuple(f".{s}" for s in EARLY_QUANTILES)):
        return None
    field, stat = figure.rsplit(".", 1)
    return field.removesuffix("_latency_seconds"), EARLY_QUANTILES[stat]


def _final_lower_bound(
    values: np.ndarray | Sequence[float], q: float, planned: int
) -> float | None:
    """The least the final nearest-rank ``q`` percentile can be, given ``values`` so far.

    The final set holds these values and at most ``planned`` in all. Its
    percentile is its (N - ceil(qN) + 1)-th largest value, a rank that grows
    with N, so it is at least the k-th largest value seen so far, k taken at
    N = planned. None while fewer than k values are in.
    """
    n = len(values)
    k = planned - max(1, math.ceil(q * planned)) + 1
    if planned < 1 or n < k or n > planned:
        return None
    return float(np.partition(np.asarray(values, dtype=float), n - k)[n - k])


def _function_figure(func: str, arg: str, error: Callable[[str], UsageError]) -> str:
    if func == "rate" and arg in RATES:
        return f"{arg}_rate"
    if func in LATENCY_STATS and arg in LATENCIES:
        return f"{arg}_latency_seconds.{func}"
    raise error(f"unknown figure {func}({arg}) (known: {known_figures()})")


def _combine(op: Callable[[float, float], float], a: _Expr, b: _Expr) -> _Expr:
    def compute(r: Mapping[str, Any]) -> float:
        try:
            return op(a.compute(r), b.compute(r))
        except ZeroDivisionError:
            raise NotMeasured("a division by zero") from None

    return _Expr(a.figures | b.figures, compute, a.constant and b.constant)


@dataclasses.dataclass(frozen=True)
class Threshold:
    """A parsed threshold: ``left OP right``; ``right`` usually a constant limit.

    ``skip_unmeasured``: when a figure is missing the check is left out (not
    judged, not passed) instead of failing; only where a workload file asks for it
    (the seed profiles' broker memory limit fails closed when not measured).
    """

    name: str
    expr: str
    op: str
    left: _Expr = dataclasses.field(compare=False, repr=False)
    right: _Expr = dataclasses.field(compare=False, repr=False)
    skip_unmeasured: bool = False

    @property
    def figures(self) -> frozenset[str]:
        return self.left.figures | self.right.figures

    def applies_to(self, kind: str) -> bool:
        """Whether a profile of ``kind`` ("load" or "startup") records every figure used."""
        own = set(BOTH_FIGURES) | set(STARTUP_FIGURES if kind == "startup" else LOAD_FIGURES)
        return all(f in own or (kind == "load" and f not in FIGURES) for f in self.figures)

    def with_limit(self, limit: float) -> Threshold:
        """The same check against another constant limit.

        Raises:
            UsageError: the right-hand side is not a constant.
        """
        if not self.right.constant:
            raise UsageError(f"threshold {self.name} compares two figures; it has no limit to set")
        text = self.expr.split(self.op, 1)[0].strip()
        return parse(f"{text} {self.op} {limit!r}", self.name, self.skip_unmeasured)

    @property
    def decidable_early(self) -> bool:
        """Whether a partial run can lose this threshold for good: a constant
        upper limit on a count that only grows, or on a latency percentile."""
        if not self.right.constant:
            return False
        if self.left.figure in MONOTONE_FIGURES:
            return self.op in ("<", "<=", "==")
        return _latency_of(self.left.figure) is not None and self.op in ("<", "<=")

    def lost_early(
        self,
        counts: Mapping[str, Any],
        samples: Samples | None = None,
        planned: int = 0,
    ) -> Check | None:
        """The failed check when the run so far already loses it, else None.

        Args:
            counts: the growing counts so far (``failed``, ``duplicates_consumed``).
            samples: a latency name (``e2e``, ...) -> its values so far, in seconds.
            planned: messages the run plans; no more latencies than that will come.
        """
        if not self.decidable_early:
            return None
        limit = self.right.compute(counts)
        latency = _latency_of(self.left.figure)
        if latency is None:
            try:
                value = self.left.compute(counts)
            except NotMeasured:
                return None
        else:
            if samples is None:
                return None
            name, q = latency
            found = _final_lower_bound(samples(name), q, planned)
            if found is None:
                return None
            value = found
        held = COMPARISONS[self.op](value, limit) if self.op != "==" else value <= limit
        if held:
            return None
        why = "lost before the end" + (
            f": the final value is at least {value:g} whatever comes" if latency else ""
        )
        return Check(self.name, limit, value, False, why, self.expr)

    def judge(self, result: Mapping[str, Any]) -> Check | None:
        """This threshold judged on ``result``; None when skipped as not measured."""
        limit = None
        try:
            limit = self.right.compute(result)
            value = self.left.compute(result)
        except NotMeasured as e:
            if self.skip_unmeasured:
                return None
            return Check(self.name, limit, None, False, f"not measured: {e}", self.expr)
        held = COMPARISONS[self.op](value, limit)
        return Check(self.name, limit, value, held, expr=self.expr)


def parse(text: str, name: str | None = None, skip_unmeasured: bool = False) -> Threshold:
    """Parse ``text`` into a Threshold named ``name`` (default: the text itself).

    Raises:
        UsageError: a syntax error, an unknown figure or unit, or not exactly
            one comparison; the message names the cause and the known figures.
    """
    p = _Parser(text)
    if not p.tokens:
        raise p.error("it is empty")
    left = p.sum()
    tok = p.peek()
    if tok is None or tok[0] != "op" or tok[1] not in COMPARISONS:
        found = "nothing" if tok is None else repr(tok[1])
        raise p.error(f"needs a comparison ({' '.join(COMPARISONS)}), found {found}")
    p.i += 1
    right = p.sum()
    if p.peek() is not None:
        raise p.error(f"unexpected {p.peek()[1]!r} after the comparison")  # type: ignore[index]
    if left.constant and right.constant:
        raise p.error("it compares two constants; name a figure")
    return Threshold(name or text.strip(), text.strip(), tok[1], left, right, skip_unmeasured)


_OVERRIDE = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*=\s*([^=].*)$")


def parse_cli(items: list[str]) -> tuple[dict[str, float], list[Threshold]]:
    """``--threshold`` values: ``NAME=VALUE`` limit overrides and expressions.

    Raises:
        UsageError: an override value that is not a number, or a bad expression.
    """
    overrides: dict[str, float] = {}
    exprs: list[Threshold] = []
    for item in items:
        m = _OVERRIDE.match(item)
        if m:
            try:
                overrides[m.group(1)] = float(m.group(2))
            except ValueError:
                raise UsageError(
                    f"threshold {m.group(1)} needs a number, not {m.group(2)!r}"
                ) from None
        else:
            exprs.append(parse(item))
    return overrides, exprs


class AbortWatch:
    """k6's abortOnFail: stop the run once a threshold is lost for good.

    ``check`` is called with the live figures (about once a second); the first
    threshold they already lose is kept in ``lost`` and ``stop`` is called
    (it clears the run's running flag, as Ctrl-C does).
    """

    def __init__(self, thresholds: Mapping[str, Threshold], stop: Callable[[], None]) -> None:
        self.watched = [t for t in thresholds.values() if t.decidable_early]
        self.stop = stop
        self.lost: Check | None = None

    @property
    def latencies(self) -> set[str]:
        """The latency names whose values ``check`` needs."""
        return {lat[0] for t in self.watched if (lat := _latency_of(t.left.figure))}

    def check(
        self,
        counts: Mapping[str, Any],
        samples: Samples | None = None,
        planned: int = 0,
    ) -> None:
        """Judge the run so far (see Threshold.lost_early for the arguments)."""
        if self.lost is not None:
            return
        for t in self.watched:
            out = t.lost_early(counts, samples, planned)
            if out is not None:
                self.lost = out
                self.stop()
                return
