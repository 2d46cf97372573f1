"""`industry_locked_in[t]`: planners' must-locks. Forbid-locks remove pairs in prepare()."""

from __future__ import annotations

import pyomo.environ as pyo

from optimizer.model.data import ModelData


def add_locks(m: pyo.ConcreteModel, data: ModelData) -> None:
    if not data.must_locks:
        return
    locks = data.must_locks

    def rule(m: pyo.ConcreteModel, t: str) -> object:
        return m.industry_chosen[t, locks[t]] == 1

    m.industry_locked_in = pyo.Constraint(sorted(locks), rule=rule)
