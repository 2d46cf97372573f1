"""What a solve is asked to do and what came back, in the planner's terms (no solver imports)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_GAP = 1e-4
DEFAULT_SEED = 20260101


@dataclass
class SolveOptions:
    time_limit: float | None = None  # seconds of HiGHS time
    gap: float = DEFAULT_GAP
    threads: int = 1
    seed: int = DEFAULT_SEED
    extra: dict[str, Any] = field(default_factory=dict)  # raw HiGHS options, for experts


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
