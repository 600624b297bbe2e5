"""Thresholds: a named comparison over a profile's recorded figures, judged into a Check.

The expression language is ``loadgen/threshold_expr.py``'s; deciding a
threshold before the run ends (``--abort-on-fail``) is ``loadgen/early_abort.py``'s.
A figure the run did not measure makes the threshold fail as "not
measured", never pass.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from kafkaval.errors import UsageError
from kafkaval.verdict import Check
from loadgen.threshold_expr import (
    BOTH_FIGURES,
    COMPARISONS,
    FIGURES,
    LOAD_FIGURES,
    STARTUP_FIGURES,
    Expr,
    NotMeasured,
    parse_comparison,
)


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
    left: Expr = dataclasses.field(compare=False, repr=False)
    right: Expr = dataclasses.field(compare=False, repr=False)
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
    left, op, right = parse_comparison(text)
    return Threshold(name or text.strip(), text.strip(), op, left, right, skip_unmeasured)


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
