"""Solving the model: HiGHS through Pyomo (`highs.py`), with its time guard and diagnosis.

Owns every conversation with the solver; the pipeline (`optimizer/run.py`) and the
analyses call `solve(model, SolveOptions(...))` and get a `SolveOutcome` back.
"""

from optimizer.solve.highs import solve, write_model
from optimizer.solve.options import DEFAULT_GAP, DEFAULT_SEED, SolveOptions, SolveOutcome, relative_gap

__all__ = ["DEFAULT_GAP", "DEFAULT_SEED", "SolveOptions", "SolveOutcome", "relative_gap", "solve", "write_model"]
