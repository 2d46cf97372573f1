"""The findings collector: every family check writes into one CheckReport through it.

A family records its rows as a block (`constraint_rows`), so that every row is kept as a
ConstraintValue and only the failing ones are worded as violations. Notes that belong to
an allocation row (`note_at`) are held back and sorted, so that they come out in the
order a row-by-row pass over the allocation would list them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from optimizer.check.report import CheckReport, ConstraintValue, Mismatch, Violation, format_amount
from optimizer.check.values import floats, holds_within, limit_tolerance

log = logging.getLogger(__name__)


class Findings:
    """Violations, mismatches, constraint rows and notes of one plan, in report order."""

    def __init__(self, tol: float) -> None:
        self.tol = tol
        self.report = CheckReport()
        self._row_notes: list[tuple[int, int, int, str]] = []

    def add(self, v: Violation) -> None:
        """Record a violation built by the caller."""
        log.info("violation %s[%s]: %s", v.name, v.index, v.message)
        self.report.violations.append(v)

    def violate(
        self,
        name: str,
        index: str | None,
        amount: float | None,
        limit: float | None,
        unit: str,
        sense: str,
        message: str,
    ) -> None:
        self.add(Violation(name, index, amount, limit, unit, sense, message))

    def mismatch(
        self, source: str, key: str, index: str | None, written: Any, recomputed: Any, message: str
    ) -> None:
        log.info("mismatch %s.%s[%s]: %s", source, key, index, message)
        self.report.mismatches.append(Mismatch(source, key, index, written, recomputed, message))

    def note(self, text: str) -> None:
        self.report.notes.append(text)

    def note_at(self, row: int, rank: int, sub: int, text: str) -> None:
        """A note about allocation row `row`, listed by (row, rank, sub) at the next flush."""
        self._row_notes.append((row, rank, sub, text))

    def flush_row_notes(self) -> None:
        """Append the held-back row notes to the report, in allocation-row order."""
        self._row_notes.sort(key=lambda e: e[:3])
        self.report.notes.extend(text for *_key, text in self._row_notes)
        self._row_notes = []

    def constraint_rows(
        self,
        name: str,
        index: Iterable[str | None],
        lhs: Any,
        sense: str,
        rhs: Any,
        unit: str,
        describe: Callable[[int, float, float], str],
    ) -> None:
        """Record a block of rows of one family; word each failing row by describe(k, lhs, rhs)."""
        index = list(index)
        n = len(index)
        if not n:
            return
        lhs_a, rhs_a = floats(lhs, n), floats(rhs, n)
        with np.errstate(invalid="ignore", over="ignore"):
            if sense == "<=":
                slack = rhs_a - lhs_a
            elif sense == ">=":
                slack = lhs_a - rhs_a
            else:
                slack = -np.abs(lhs_a - rhs_a)
        tol = limit_tolerance(unit, rhs_a)
        ok = holds_within(lhs_a, sense, rhs_a, tol)
        with np.errstate(invalid="ignore"):
            within = ok & (slack < 0)  # exceeded, but by less than the stated tolerance
        lhs_l, rhs_l = lhs_a.tolist(), rhs_a.tolist()
        self.report.constraints.extend(
            [
                ConstraintValue(name, i, lo, hi, sense, unit, s, good, w)
                for i, lo, hi, s, good, w in zip(index, lhs_l, rhs_l, slack.tolist(), ok.tolist(), within.tolist())
            ]
        )
        for k in np.flatnonzero(within).tolist():
            where = f"[{index[k]}]" if index[k] is not None else ""
            self.report.notes.append(
                f"{name}{where} holds within tolerance: off by {format_amount(-float(slack[k]), unit)} "
                f"(tolerance {format_amount(float(tol[k]), unit)})"
            )
        for k in np.flatnonzero(~ok).tolist():
            lo, hi = lhs_l[k], rhs_l[k]
            self.violate(name, index[k], lo, hi, unit, sense, describe(k, lo, hi))

    def constraint(
        self,
        name: str,
        index: str | None,
        lhs: float,
        sense: str,
        rhs: float,
        unit: str,
        describe: Callable[[float, float], str],
    ) -> None:
        """Record one constraint row; if it fails, add a violation worded by `describe`."""
        self.constraint_rows(
            name, [index], lhs, sense, rhs, unit, lambda _k, lo, hi: describe(lo, hi)
        )
