"""Naming what makes an instance infeasible: HiGHS's IIS, else probing one family at a time.

Why a module of its own: a planner told only "infeasible" cannot act. These probes name
the constraint families (water, markets, income floors, …) whose limits conflict, so the
message can say which limit to relax.
"""

from __future__ import annotations

import logging
import time

import highspy
import pyomo.environ as pyo
from pyomo.contrib.solver.solvers.highs import Highs

from optimizer.solve.options import SolveOptions

log = logging.getLogger(__name__)


def iis_families(opt: Highs, h: highspy.Highs) -> list[str]:
    """Constraint families in HiGHS's irreducible infeasible subset, when it can find one.

    HiGHS computes an IIS for LPs and for MIPs whose LP relaxation is already
    infeasible; otherwise the model is infeasible only through integrality and we say
    so rather than guess.
    """
    try:
        h.setOptionValue("output_flag", False)
        status, iis = h.getIis()
    except Exception as exc:  # older highspy: the binding took an argument
        log.debug("IIS unavailable: %s", exc)
        return []
    if status == highspy.HighsStatus.kError or not getattr(iis, "valid_", False):
        return []
    names = set()
    con_map = getattr(opt, "_solver_con_to_pyomo_con_map", {})
    for row in iis.row_index_:
        con = con_map.get(row)
        if con is not None:
            names.add(con.parent_component().name)
    return sorted(names)


#: Families that state the decision itself; never dropped when diagnosing.
_STRUCTURAL = {"one_industry_per_township", "market_output_beyond_step_def"}


def families_by_removal(m: pyo.ConcreteModel, options: SolveOptions) -> list[str]:
    """Families whose removal alone makes the model feasible (when HiGHS has no IIS).

    A MIP can be infeasible only through integrality, where HiGHS's IIS does not apply.
    Dropping one limit family at a time and asking HiGHS for any feasible plan names
    the limits a planner must relax. Each probe is capped in time; if no single family
    is to blame, every family that helps is still unknown and we return the candidates.
    """
    names = [
        c.name for c in m.component_objects(pyo.Constraint, active=True, descend_into=False)
        if c.name not in _STRUCTURAL
    ]
    # All probes together get the time limit (60 s without one), so diagnosing never
    # breaks the promise of --time-limit by more than the probe in progress.
    budget = 60.0 if options.time_limit is None else options.time_limit
    deadline = time.monotonic() + budget
    culprits = []
    for name in names:
        probe_limit = deadline - time.monotonic()
        if probe_limit <= 0.05:
            log.warning("diagnosis stopped at its time budget; families not probed: %s",
                        ", ".join(names[names.index(name):]))
            break
        comp = m.component(name)
        comp.deactivate()
        try:
            probe = Highs()
            res = probe.solve(
                m,
                load_solutions=False,
                raise_exception_on_nonoptimal_result=False,
                time_limit=probe_limit,
                threads=options.threads,
                solver_options={"random_seed": options.seed, "mip_rel_gap": 1.0, "output_flag": False},
            )
            if probe._solver_model.getInfo().primal_solution_status == 2:
                culprits.append(name)
            del res
        finally:
            comp.activate()
    log.info("families whose removal restores feasibility: %s", culprits)
    return culprits
