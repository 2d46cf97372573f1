"""What a solve is asked to do and what came back, in the planner's terms (no solver imports)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

DEFAULT_GAP = 1e-4
DEFAULT_SEED = 20260101
#: Up to this many townships an instance is solved exactly (relative gap 0) by default:
#: such models solve in milliseconds, and at a gap of 1e-4 HiGHS may stop at a plan that
#: is not the best (in a water sweep, more water then seemed to lower the optimum).
EXACT_UP_TO_TOWNSHIPS = 200


METHODS = ("auto", "direct", "decompose")


@dataclass
class SolveOptions:
    time_limit: float | None = None  # seconds for the whole solve, from `started_at` to results written
    gap: float | None = None  # relative MIP gap; None: exact up to EXACT_UP_TO_TOWNSHIPS, else DEFAULT_GAP
    threads: int = 1
    seed: int = DEFAULT_SEED
    extra: dict[str, Any] = field(default_factory=dict)  # raw HiGHS options, for experts
    gap_rule: str = ""  # how the gap was chosen, for the summary
    method: str = "auto"  # auto | direct (HiGHS on the whole model) | decompose (optimizer/solve/decompose/)
    workers: int | None = None  # processes for county subproblems (None: chosen by size)
    scheduler: str | None = None  # Dask scheduler address: county subproblems on that cluster
    started_at: float | None = None  # time.time() when the command started (None: when solving starts)

    def for_size(self, townships: int, unit: str = "townships") -> SolveOptions:
        """These options with the automatic gap resolved for an instance of this size.

        `townships` counts the planning units (`unit`: "townships", or "villages" in a
        village instance, where the village is the unit of decision).
        """
        if self.gap is not None:
            return replace(self, gap_rule=self.gap_rule or "given")
        if townships <= EXACT_UP_TO_TOWNSHIPS:
            return replace(self, gap=0.0, gap_rule=f"exact: {townships} ≤ {EXACT_UP_TO_TOWNSHIPS} {unit}")
        return replace(self, gap=DEFAULT_GAP, gap_rule=f"default {DEFAULT_GAP:g}: {townships} > {EXACT_UP_TO_TOWNSHIPS} {unit}")


@dataclass
class SolveOutcome:
    """What came back from HiGHS, in the planner's terms."""

    status: str  # optimal | time_limit_feasible | time_limit_no_solution | interrupted_* | infeasible | error
    termination: str  # HiGHS model status, verbatim
    has_solution: bool
    objective: float | None
    bound: float | None
    gap: float | None
    solve_seconds: float
    transfer_seconds: float
    mip_nodes: int | None
    log_text: str
    infeasible_families: list[str] = field(default_factory=list)
    infeasible_rows: list[str] = field(default_factory=list)  # rows of HiGHS's IIS
    relaxation: list[dict[str, Any]] = field(default_factory=list)  # least relaxation, model units
    ways_out: list[dict[str, Any]] = field(default_factory=list)  # one family moving alone, model units
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("log_text")
        return d


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None:
        return None
    return abs(bound - objective) / max(abs(objective), 1.0)


def gap_proved(objective: float, bound: float, gap: float, tol: float) -> Callable[[float | None, float | None], bool]:
    """A test for HiGHS's `enough` callback when it polishes a plan already in hand: whether its
    plan (`best`, or ours if None) and bound (`dual`, or ours if None), each combined with what
    we already hold, prove `gap` (to within `tol`)."""

    def enough(best: float | None, dual: float | None) -> bool:
        g = relative_gap(objective if best is None else max(objective, best), bound if dual is None else min(bound, dual))
        return g is not None and g <= gap + tol

    return enough


@dataclass
class Clock:
    """The user's time limit as one deadline for the whole command (time.monotonic() seconds).

    `--time-limit` bounds the command from its start to its results written, not only
    HiGHS: reading, building, solving, writing and checking all come out of it.
    """

    end: float | None

    @classmethod
    def of(cls, options: SolveOptions) -> Clock:
        if options.time_limit is None:
            return cls(None)
        import time

        started = time.monotonic()
        if options.started_at is not None:  # the command started earlier (imports, argument parsing)
            started -= max(0.0, time.time() - options.started_at)
        return cls(started + options.time_limit)

    def left(self, reserve: float = 0.0) -> float | None:
        """Seconds until the deadline less `reserve` (None without a limit; may be negative)."""
        if self.end is None:
            return None
        import time

        return self.end - reserve - time.monotonic()
