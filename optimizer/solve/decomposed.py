"""`--method decompose` as the pipeline sees it: a `SolveOutcome`, and what the reports need.

The decomposition itself lives in `optimizer/solve/decompose/`; this module turns its
answer into the same outcome the HiGHS path returns (objective, bound and gap in yuan,
status names shared with HiGHS), so run folders, summaries and exit codes do not depend
on the method.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optimizer.solve.options import DEFAULT_GAP, SolveOptions, SolveOutcome, relative_gap


@dataclass
class Decomposed:
    matrix: Any  # optimizer.model.matrix.ModelMatrix
    z: np.ndarray | None  # column values of the plan
    plan: pd.Series | None
    state: Any  # DecompositionState
    stats: dict[str, Any] = field(default_factory=dict)


def solve_decomposed(
    data: Any,
    matrix: Any,
    options: SolveOptions,
    deadline: float | None,
    warm: Any = None,
    progress: Any = None,
) -> tuple[SolveOutcome, Decomposed]:
    """Decompose; raises decompose.Unsplittable / CountyInfeasible for the caller to fall back."""
    from optimizer.solve.decompose import decompose
    from optimizer.solve.decompose.highs_models import new_highs

    gap = DEFAULT_GAP if options.gap is None else options.gap
    unit = matrix.objective_unit_yuan
    t0 = time.perf_counter()
    res = decompose(
        matrix, data.townships, gap=gap, deadline=deadline, warm=warm, workers=options.workers,
        scheduler=options.scheduler, seed=options.seed, progress=progress, unit=unit,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    objective = None if res.objective is None else res.objective * unit
    bound = None if res.bound is None else res.bound * unit
    version = new_highs().version()
    outcome = SolveOutcome(
        status=res.status,
        termination=res.termination,
        has_solution=res.plan is not None,
        objective=objective,
        bound=bound,
        gap=relative_gap(objective, bound),
        solve_seconds=seconds,
        transfer_seconds=0.0,
        mip_nodes=None,
        log_text="\n".join(res.log_lines) + "\n",
        options={
            "solver": "county decomposition (Lagrangian dual, compiled county search, HiGHS for the masters)",
            "highs_version": version,
            "method": "decompose",
            "time_limit_s": options.time_limit,
            "mip_rel_gap": gap,
            "gap_rule": options.gap_rule,
            "workers": res.stats.get("workers"),
            "scheduler": options.scheduler,
            "random_seed": options.seed,
        },
    )
    return outcome, Decomposed(matrix, res.z, res.plan, res.state, res.stats)
