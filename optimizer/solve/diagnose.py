"""Naming what makes an instance infeasible: HiGHS's IIS, else probing one family at a time.

Why a module of its own: a planner told only "infeasible" cannot act. These probes name
the constraint families (water, markets, income floors, …) whose limits conflict, so the
message can say which limit to relax.
"""

from __future__ import annotations

import logging

import highspy
import pyomo.environ as pyo
from pyomo.contrib.solver.solvers.highs import Highs

from optimizer.solve.options import SolveOptions

log = logging.getLogger(__name__)


def iis_rows(opt: Highs, h: highspy.Highs) -> list[str]:
    """Rows of HiGHS's irreducible infeasible subset (`water_use_per_county_max[X]`), if any.

    HiGHS computes an IIS for LPs and for MIPs whose LP relaxation is already
    infeasible; otherwise the model is infeasible only through integrality and the
    elastic relaxation below names the limits instead.
    """
    con_map = getattr(opt, "_solver_con_to_pyomo_con_map", {})
    h.setOptionValue("output_flag", False)
    # HiGHS's default strategy returns an empty set when presolve alone proved the
    # infeasibility; the strategy that works from the LP then still finds the rows.
    for strategy in (None, 2):
        try:
            if strategy is not None:
                h.setOptionValue("iis_strategy", strategy)
            status, iis = h.getIis()
        except Exception as exc:  # an older highspy without this binding or option
            log.debug("IIS unavailable: %s", exc)
            return []
        if status == highspy.HighsStatus.kError:
            continue
        names = set()
        for row in iis.row_index_:
            con = con_map.get(row)
            if con is not None and con.parent_component().name not in STRUCTURAL:
                names.add(con.name)
        if names:
            return sorted(names)
    return []


#: Families that state the decision itself; never relaxed when diagnosing.
STRUCTURAL = frozenset({"one_industry_per_township", "market_output_beyond_step_def", "one_product_per_village",
                        "leading_industry_per_township"})


def elastic_relaxation(
    m: pyo.ConcreteModel, options: SolveOptions, budget_s: float, only: set[str] | None = None
) -> list[dict] | None:
    """The least relaxation of the limits under which a plan exists, row by row.

    Why: "infeasible" alone gives a planner nothing to act on, and an IIS exists only
    when the LP relaxation is infeasible. Here every limit row gets a non-negative slack
    (a `≤` limit may be exceeded by it, a `≥` limit undershot, a lock released) and
    HiGHS minimises the total *relative* slack, Σ s_r / max(1, |rhs_r|), keeping every
    township's one-industry choice. The rows with slack are the limits in conflict, and
    the slack is how far each must move — in the model's units (the caller converts).
    With `only`, just those families may move (one way out among several). Runs on a
    copy; the solver's own model is left as it was. Returns None when no relaxation was
    found within `budget_s` seconds (or none exists with `only`).
    """
    elastic = m.clone()
    rows = []
    for comp in elastic.component_objects(pyo.Constraint, active=True, descend_into=False):
        if comp.name in STRUCTURAL or (only is not None and comp.name not in only):
            continue
        for index, con in comp.items():
            if not con.active:
                continue
            lo = None if con.lower is None else pyo.value(con.lower)
            up = None if con.upper is None else pyo.value(con.upper)
            rows.append((comp.name, index, con, lo, up))
    if not rows:
        return None
    elastic.limit_relaxation = pyo.Var(range(len(rows)), within=pyo.NonNegativeReals)
    elastic.relaxed_limits = pyo.ConstraintList()
    weights = []
    for k, (_name, _index, con, lo, up) in enumerate(rows):
        s = elastic.limit_relaxation[k]
        body = con.body
        con.deactivate()
        if lo is not None and up is not None and lo == up:  # a lock x = 1: may be released
            elastic.relaxed_limits.add(body + s >= lo)
            elastic.relaxed_limits.add(body <= up)
            weights.append(1.0 / max(1.0, abs(lo)))
        elif up is not None:
            elastic.relaxed_limits.add(body - s <= up)
            weights.append(1.0 / max(1.0, abs(up)))
        else:
            elastic.relaxed_limits.add(body + s >= lo)
            weights.append(1.0 / max(1.0, abs(lo)))
    for obj in elastic.component_objects(pyo.Objective, active=True):
        obj.deactivate()
    elastic.least_relative_relaxation = pyo.Objective(
        expr=sum(w * elastic.limit_relaxation[k] for k, w in enumerate(weights)), sense=pyo.minimize
    )
    probe = Highs()
    res = probe.solve(
        elastic,
        load_solutions=False,
        raise_exception_on_nonoptimal_result=False,
        time_limit=max(budget_s, 0.1),
        threads=options.threads,
        solver_options={"random_seed": options.seed, "mip_rel_gap": 1e-6, "output_flag": False},
    )
    if probe._solver_model.getInfo().primal_solution_status != 2:
        log.info("no relaxation of %s found within %.0f s", ", ".join(sorted(only)) if only else "the limits", budget_s)
        return None
    res.solution_loader.load_vars()
    out = []
    for k, (name, index, _con, lo, up) in enumerate(rows):
        amount = elastic.limit_relaxation[k].value or 0.0
        rhs = lo if up is None else up
        if amount > 1e-6 * max(1.0, abs(rhs)):
            sense = "==" if (lo is not None and up is not None and lo == up) else ("<=" if up is not None else ">=")
            out.append({"name": f"{name}[{index}]" if index is not None else name, "family": name,
                        "index": index if not isinstance(index, tuple) else list(index),
                        "sense": sense, "rhs": rhs, "relax_by": amount})  # fmt: skip
    log.info("least relaxation: %d limits must move", len(out))
    return out


def conflict_holds(m: pyo.ConcreteModel, rows: list[str], options: SolveOptions, budget_s: float) -> bool:
    """True when the limit rows `rows` alone (with the one-industry choice) admit no plan.

    HiGHS's IIS routine may return a candidate set without proving it irreducible (and,
    for a MIP, works on the relaxation); a planner is told "these limits cannot hold
    together" only after this check has confirmed it on the integer model.
    """
    keep = set(rows)
    probe_model = m.clone()
    for comp in probe_model.component_objects(pyo.Constraint, active=True, descend_into=False):
        if comp.name in STRUCTURAL:
            continue
        for con in comp.values():
            if con.name not in keep:
                con.deactivate()
    probe = Highs()
    probe.solve(
        probe_model,
        load_solutions=False,
        raise_exception_on_nonoptimal_result=False,
        time_limit=max(budget_s, 0.1),
        threads=options.threads,
        solver_options={"random_seed": options.seed, "mip_rel_gap": 1.0, "output_flag": False},
    )
    h = probe._solver_model
    return h.getModelStatus() == highspy.HighsModelStatus.kInfeasible
