"""The expression language of thresholds: figures, units, arithmetic, one comparison.

A threshold is one comparison, e.g. ``p99(e2e) < 50ms``,
``rate(achieved)/rate(target) >= 0.99`` or ``failed == 0``. The parser is a
small recursive descent over a fixed grammar (numbers with units, figures,
``+ - * /``, parentheses, one comparison); nothing is ever ``eval``-ed.

Figures name what the run record holds for a profile:
``p50|p95|p99|p999|max|mean|count(service|send_delay|response|e2e)`` for the
latency summaries, ``rate(achieved|target)``, and the plain figures of
``FIGURES`` (``failed``, ``startup_seconds``, ``drift.p99_last_quarter_seconds``,
...). A figure the run did not measure (None, or a division by zero) raises
``NotMeasured`` when the expression is computed.
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from kafkaval.errors import UsageError

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


def known_figures() -> str:
    """The figure names for an error message."""
    funcs = f"{'|'.join(LATENCY_STATS)}({'|'.join(LATENCIES)}), rate({'|'.join(RATES)})"
    return f"{funcs}, {', '.join(FIGURES)}"


class NotMeasured(Exception):
    """A figure the threshold needs is missing from the result."""


@dataclasses.dataclass(frozen=True)
class Expr:
    """A compiled arithmetic expression: the figures it reads and how to compute it."""

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

    def sum(self) -> Expr:
        return self._left_assoc("+-", self.product)

    def product(self) -> Expr:
        return self._left_assoc("*/", self.atom)

    def _left_assoc(self, ops: str, operand: Callable[[], Expr]) -> Expr:
        """``operand (op operand)*`` for the operators in ``ops``, left to right."""
        left = operand()
        while (tok := self.peek()) is not None and tok[0] == "op" and tok[1] in ops:
            self.i += 1
            left = _combine(_ARITH[tok[1]], left, operand())
        return left

    def atom(self) -> Expr:
        kind, text, unit = self.take()
        if kind == "num":
            if unit is not None and unit not in UNITS:
                raise self.error(f"unknown unit {unit!r} (known: {', '.join(UNITS)})")
            value = float(text) * UNITS[unit or "s"] if unit else float(text)
            return Expr(frozenset(), lambda _r: value, True)
        if kind == "op" and text == "(":
            inner = self.sum()
            self.expect(")")
            return inner
        if kind == "op" and text == "-":
            inner = self.atom()
            return Expr(inner.figures, lambda r: -inner.compute(r), inner.constant)
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
        return Expr(frozenset({figure}), lambda r: figure_value(r, figure), False, figure)


def _function_figure(func: str, arg: str, error: Callable[[str], UsageError]) -> str:
    if func == "rate" and arg in RATES:
        return f"{arg}_rate"
    if func in LATENCY_STATS and arg in LATENCIES:
        return f"{arg}_latency_seconds.{func}"
    raise error(f"unknown figure {func}({arg}) (known: {known_figures()})")


def _combine(op: Callable[[float, float], float], a: Expr, b: Expr) -> Expr:
    def compute(r: Mapping[str, Any]) -> float:
        try:
            return op(a.compute(r), b.compute(r))
        except ZeroDivisionError:
            raise NotMeasured("a division by zero") from None

    return Expr(a.figures | b.figures, compute, a.constant and b.constant)


def parse_comparison(text: str) -> tuple[Expr, str, Expr]:
    """``text`` as (left, comparison operator, right).

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
    return left, tok[1], right
