"""What each limit is worth: `optimizer value INSTANCE`.

Why: a county asks what one more 10,000 m³ of water, one more MW of grid quota, one more
kt of market or 100 million yuan of budget is worth, and to whom. In an LP the dual
answers; in a plan of whole townships it does not (docs/trade-offs.md), so every
coupling limit of the instance is moved by a step — relaxed and tightened — and the MILP
is solved again. The difference in the objective, in farmers' income and in GEP, per
unit of the limit, is the limit's value; the townships that switch industry say to whom.

Where the two solves' gaps are wider than the difference, the number would be noise, and
it is reported as "below the solver's resolution" instead. Beside it stand two LP
prices: the dual with every industry choice fixed at the plan (the local price, usually
0 for whole townships) and the dual of the LP relaxation (townships split).

The limits, each an instance value a planner can change (`--set` paths):
county and basin water (m³), county grid (MWp), market caps (the market's output unit),
the investment budget (yuan), the conservation shares (per ha of conservation the share
requires) and the income floors as one family (per yuan of the townships' summed floors).

Re-solves are ordinary runs (`optimizer.run.solve_instance`, with the independent
checker) on the Dask machinery of `sweep`, written under
`results/<instance>/value-<id>/resolves/`; the folder is renamed from `.partial` when
complete, like a run folder.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import secrets
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.errors import InfeasibleInstance, InputError, Location, Problem, did_you_mean
from optimizer.i18n import N_, _, language

log = logging.getLogger(__name__)

COMMAND_LINE = Location(Path("command line"))
DEFAULT_STEP = "5%"

#: Short names a planner may use in --limit and --step for a whole kind of limit.
GROUPS = {
    "water": ("water_use_per_county_max", "water_use_per_basin_max"),
    "grid": ("pv_capacity_per_county_max",),
    "market": ("market_output_max",),
    "budget": ("investment_budget_max",),
    "conservation": ("conservation_area_min", "conservation_area_per_county_min"),
    "income_floor": ("farmer_income_per_township_min",),
}


@dataclass
class Limit:
    """One coupling limit as the instance states it, and how a step moves it."""

    name: str  # as the model names its row: water_use_per_county_max[昭阳区], investment_budget_max …
    family: str
    group: str
    sense: str  # "<=" (a cap: relax = raise) or ">=" (a floor or share: relax = lower)
    value: float  # the instance's number (m³, MWp, output unit, yuan; a share; a floor factor 1.0)
    unit: str  # unit of `value`
    measure_unit: str  # unit values are reported per: m³, MWp, t, yuan, ha
    paths: list[str]  # instance paths the step changes
    measure_per_value: float = 1.0  # measure units per unit of `value` (ha per share point, yuan of floors)
    rows: list[tuple[str, Any]] = field(default_factory=list)  # (family, index) of its model rows
    row_weights: dict[Any, float] = field(default_factory=dict)  # index → Δrhs share per unit of the measure


def _cap(family: str, group: str, index: str | None, value: float, unit: str, path: str) -> Limit:
    name = f"{family}[{index}]" if index is not None else family
    return Limit(name, family, group, "<=", float(value), unit, unit, [path], rows=[(family, index)],
                 row_weights={index: 1.0})


def coupling_limits(valid: Any) -> list[Limit]:
    """Every coupling limit of the instance, in docs/model.md's order."""
    from optimizer.instance.validate import income_floor

    spec = valid.spec
    cons = spec.constraints
    t = valid.units  # the planning units: villages of a village instance, whose areas the rows sum
    out: list[Limit] = []
    for c, v in cons.water.county_max_m3.items():
        out.append(_cap("water_use_per_county_max", "water", c, v, "m³", f"constraints.water.county_max_m3.{c}"))
    for b, v in cons.water.basin_max_m3.items():
        out.append(_cap("water_use_per_basin_max", "water", b, v, "m³", f"constraints.water.basin_max_m3.{b}"))
    for c, v in cons.grid_county_max_mw.items():
        out.append(_cap("pv_capacity_per_county_max", "grid", c, v, "MWp", f"constraints.grid_county_max_mw.{c}"))
    for name, mk in cons.markets.items():
        if mk.max_output is not None:
            unit = spec.industries[mk.industries[0]].output_unit if mk.industries[0] in spec.industries else "unit"
            out.append(_cap("market_output_max", "market", name, mk.max_output, unit,
                            f"constraints.markets.{name}.max_output"))  # fmt: skip
    if cons.investment_budget_yuan is not None:
        out.append(_cap("investment_budget_max", "budget", None, cons.investment_budget_yuan, "yuan",
                        "constraints.investment_budget_yuan"))  # fmt: skip
    area = t["plannable_area_ha"]
    if cons.min_conservation_share is not None:
        total = float(area.sum())
        out.append(Limit("conservation_area_min", "conservation_area_min", "conservation", ">=",
                         cons.min_conservation_share, "share", "ha", ["constraints.min_conservation_share"],
                         measure_per_value=total, rows=[("conservation_area_min", None)],
                         row_weights={None: 1.0}))  # fmt: skip
    if cons.min_conservation_share_per_county is not None:
        by_county = area.groupby(t["county"]).sum()
        total = float(by_county.sum())
        rows = [("conservation_area_per_county_min", c) for c in sorted(by_county.index)]
        weights = {c: float(by_county[c]) / total for c in sorted(by_county.index)}
        out.append(Limit("conservation_area_per_county_min", "conservation_area_per_county_min", "conservation",
                         ">=", cons.min_conservation_share_per_county, "share", "ha",
                         ["constraints.min_conservation_share_per_county"], measure_per_value=total,
                         rows=rows, row_weights=weights))  # fmt: skip
    f = cons.income_floor
    if f.min_yuan_per_ha is not None or f.min_share_of_baseline is not None:
        # each planning unit's floor (the same rule on villages' areas and baselines)
        floor = income_floor(valid.loaded, t, valid.baseline)
        family = "farmer_income_per_township_min" if valid.villages is None else "farmer_income_per_village_min"
        finite = floor[np.isfinite(floor)]
        total = float(finite.sum())
        paths = [p for p, v in (("constraints.income_floor.min_yuan_per_ha", f.min_yuan_per_ha),
                                ("constraints.income_floor.min_share_of_baseline", f.min_share_of_baseline))
                 if v is not None]  # fmt: skip
        rows = [(family, tid) for tid in finite.index]
        weights = {tid: float(v) / total for tid, v in zip(finite.index, finite.to_numpy())} if total else {}
        out.append(Limit(family, family, "income_floor", ">=",
                         1.0, "× the floors", "yuan", paths, measure_per_value=total, rows=rows,
                         row_weights=weights))  # fmt: skip
    return out


# --------------------------------------------------------------------------- --limit and --step


def limit_key(text: str) -> str:
    """A limit's name as typed: 'grid [关岭…]' (as the terminal table shows it, to fold) is 'grid[关岭…]'."""
    return re.sub(r"\s+\[", "[", text.strip())


def select_limits(limits: list[Limit], wanted: list[str]) -> list[Limit]:
    """Limits named by --limit (full names, family names or group names); all when none given."""
    if not wanted:
        return limits
    problems, chosen = [], []
    known = _known_names(limits)
    for w in map(limit_key, wanted):
        hit = [lim for lim in limits if w in (lim.name, lim.family, lim.group)]
        if not hit:
            problems.append(Problem(COMMAND_LINE, _("--limit: no limit '{name}' in this instance").format(name=w),
                                    did_you_mean(w, known) or _("limits: {names}").format(names=", ".join(known[:12])),
                                    path="--limit"))  # fmt: skip
        chosen += [lim for lim in hit if lim not in chosen]
    if problems:
        raise InputError(problems)
    return chosen


def _known_names(limits: list[Limit]) -> list[str]:
    names: list[str] = []
    for lim in limits:
        for n in (lim.name, lim.family, lim.group):
            if n not in names:
                names.append(n)
    return names


@dataclass
class Step:
    """A step: a share of the limit (`percent`) or an amount in its unit (`amount`)."""

    text: str
    percent: float | None = None
    amount: float | None = None


_NUMBER = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(%?)\s*$")


def parse_steps(texts: list[str], limits: list[Limit]) -> dict[str, Step]:
    """`--step 5%` (every limit), `--step water=10%`, `--step budget=1e8` → the step of each limit.

    A key is a limit, a family or a group name; the most specific key wins. The income
    floors move as a family by a percentage only (they are many numbers).
    """
    problems: list[Problem] = []
    default = Step(DEFAULT_STEP, percent=5.0)
    by_key: dict[str, Step] = {}
    known = _known_names(limits)
    for text in texts:
        key, _eq, val = text.rpartition("=") if "=" in text else ("", "", text)
        key = limit_key(key)
        m = _NUMBER.match(val)
        if m is None or float(m[1]) <= 0:
            problems.append(Problem(COMMAND_LINE, _("--step '{text}': give a positive number, as a percentage (5%) or "
                                                    "an amount in the limit's unit").format(text=text), path="--step"))
            continue
        step = Step(text, percent=float(m[1])) if m[2] else Step(text, amount=float(m[1]))
        if not key:
            default = step
            continue
        if key not in known:
            problems.append(Problem(COMMAND_LINE, _("--step '{text}': no limit '{name}' in this instance").format(
                text=text, name=key), did_you_mean(key, known), path="--step"))
            continue
        by_key[key] = step
    out = {}
    for lim in limits:
        step = by_key.get(lim.name) or by_key.get(lim.family) or by_key.get(lim.group) or default
        if lim.group == "income_floor" and step.amount is not None:
            problems.append(Problem(COMMAND_LINE, _("--step '{text}': the income floors move together by a "
                                                    "percentage").format(text=step.text),
                                    _("e.g. --step income_floor=5%"), path="--step"))  # fmt: skip
        out[lim.name] = step
    if problems:
        raise InputError(problems)
    return out


@dataclass
class Move:
    """One re-solve: a limit relaxed or tightened to a new value."""

    limit: str
    direction: str  # relax | tighten
    new_value: float
    delta_value: float  # new − old, in the limit's unit (signed)
    delta_measure: float  # |change| in the measure unit (m³, ha, yuan of floors …)
    sets: list[str]
    note: str = ""


def moves(limits: list[Limit], steps: dict[str, Step], valid: Any) -> list[Move]:
    """The relaxed and tightened value of every limit; InputError for a step that breaks a limit's range."""
    problems: list[Problem] = []
    out: list[Move] = []
    f = valid.spec.constraints.income_floor
    for lim in limits:
        step = steps[lim.name]
        size = (step.percent / 100.0 * abs(lim.value)) if step.percent is not None else float(step.amount)
        for direction in ("relax", "tighten"):
            up = (direction == "relax") == (lim.sense == "<=")
            new = lim.value + size if up else lim.value - size
            if lim.group == "income_floor":
                factor = new  # value is the factor 1.0 applied to every floor parameter
                sets = []
                for path, v in (("constraints.income_floor.min_yuan_per_ha", f.min_yuan_per_ha),
                                ("constraints.income_floor.min_share_of_baseline", f.min_share_of_baseline)):
                    if v is None:
                        continue
                    # A negative per-ha floor moves the same way as a positive one: lower is looser.
                    new_v = v + (factor - 1.0) * abs(v)
                    if path.endswith("min_share_of_baseline") and new_v < 0:
                        new_v = 0.0
                    sets.append(f"{path}={new_v!r}")
                out.append(Move(lim.name, direction, new, new - lim.value, abs(new - lim.value) * lim.measure_per_value,
                                sets))  # fmt: skip
                continue
            if new < 0 or (lim.unit == "share" and new > 1):
                words = (_("makes the limit negative ({old} − {step} = {new} {unit})") if new < 0
                         else _("makes the share above 1 ({old} + {step} = {new})"))  # fmt: skip
                problems.append(Problem(
                    COMMAND_LINE,
                    _("--step {text}: {direction} {name} {what}").format(
                        text=step.text, direction=_(direction), name=lim.name,
                        what=words.format(old=_fmt(lim.value), step=_fmt(size), new=_fmt(new), unit=lim.unit)),
                    _("use a smaller step for it, e.g. --step {name}=5%").format(name=lim.name), path="--step"))
                continue
            note = ""
            if size == 0:
                note = _("a step of {pct}% of a zero limit is zero: give an amount, e.g. --step {name}=1000").format(
                    pct=_fmt(step.percent or 0), name=lim.name)
            sets = [f"{lim.paths[0]}={new!r}"]
            out.append(Move(lim.name, direction, new, new - lim.value, abs(new - lim.value) * lim.measure_per_value,
                            sets, note))  # fmt: skip
    if problems:
        raise InputError(problems)
    return out


def _fmt(x: float) -> str:
    return f"{x:,.6g}" if abs(x) < 1e6 else f"{x:,.0f}"


# --------------------------------------------------------------------------- spec and re-solves


@dataclass
class ValueSpec:
    """What `optimizer value` computes; saved as value.json."""

    instance: str
    scenarios: list[str] = field(default_factory=list)
    sets: list[str] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)  # --limit names; empty: every coupling limit
    steps: list[str] = field(default_factory=list)  # --step texts
    options: dict[str, Any] = field(default_factory=dict)
    warm_start: bool = False  # start re-solves from the base plan (repaired); measured, docs/performance.md

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ValueSpec:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


#: The run id of the base solve among the re-solves.
BASE_ID = "base"


class NoBasePlan(Exception):
    """The base solve stopped without a plan (time limit): nothing to value against."""

    def __init__(self, status: str, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


def resolve_task(spec_dict: dict[str, Any], folder: str, run_id: str, sets: list[str],
                 start_from: dict[str, Any] | None, lang: str) -> dict[str, Any]:
    """One re-solve as an ordinary run (checked independently); never raises.

    Runs on a Dask worker (or in this process). `start_from` is the base row when the
    re-solve starts from the base plan: HiGHS gets the plan as a MIP start, the county
    decomposition the base solve's whole state (multipliers, county plans, the county
    optima of counties the move leaves unchanged), which the base row carries as
    "warm_state" when the spec asks for warm starts. Infeasible is an answer, recorded as such.
    """
    from optimizer.i18n import set_language
    from optimizer.outputs.export import OutputOptions
    from optimizer.run import solve_instance
    from optimizer.solve import SolveOptions

    set_language(lang)
    spec = ValueSpec.from_dict(spec_dict)
    row: dict[str, Any] = {"run_id": run_id}
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        plan = (start_from or {}).get("plan")
        start = pd.Series(plan) if plan else None
        result = solve_instance(Path(spec.instance), SolveOptions(**spec.options), results_root=Path(folder),
                                folder="resolves", run_id=run_id, scenarios=spec.scenarios,
                                sets=[*spec.sets, *sets], start_plan=start,
                                warm=(start_from or {}).get("warm_state"),
                                output=OutputOptions(deliverables=False))  # a batch point: its plan and check  # fmt: skip
        s = result.summary
        row.update(status=s["status"], termination=s.get("termination"), objective_yuan=s.get("objective_yuan"),
                   bound_yuan=s.get("bound_yuan"), gap=s.get("gap"), check_ok=result.check_ok,
                   run_dir=str(result.run_dir) if result.run_dir else None,
                   infeasible_families=s.get("infeasible_families") or [])  # fmt: skip
        if result.has_plan:
            tot = s["totals"]
            row.update(_figures(s, tot))
            row["plan"] = dict(zip(result.plan.index, result.plan.to_numpy()))
        if spec.warm_start and run_id == BASE_ID and result.state is not None:
            row["warm_state"] = result.state
    except InfeasibleInstance as exc:
        row.update(status="infeasible", error="; ".join(p.message for p in exc.conflicts))
    except InputError as exc:
        row.update(status="failed", error="; ".join(str(p) for p in exc.problems))
    except Exception as exc:  # recorded, and the analysis goes on
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
    row["wall_s"], row["cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
    return row


def _figures(summary: dict[str, Any], tot: dict[str, Any]) -> dict[str, float]:
    """The objective recomputed from the plan's totals and its parts (yuan/yr)."""
    delta = 1.0 if summary.get("double_count") == "count_both" else 0.0
    gep = tot["gep_regulating_yuan"] + tot["gep_cultural_yuan"] + delta * tot["gep_material_yuan"]
    w = summary.get("weights") or {"gep": 1.0, "income": 1.0}
    income = tot["farmer_income_after_price_steps_yuan"]
    return {"plan_objective_yuan": w["gep"] * gep + w["income"] * income, "farmer_income_yuan": income,
            "gep_objective_yuan": gep, "gep_total_yuan": tot["gep_total_yuan"]}  # fmt: skip


@dataclass
class ValueResult:
    folder: Path
    spec: ValueSpec
    base: dict[str, Any]
    table: pd.DataFrame  # one row per limit, ranked
    switches: pd.DataFrame  # one row per (limit, direction, township that switches)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def new_value_dir(results_root: Path, instance_name: str) -> Path:
    return results_root / instance_name / f"value-{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}.partial"


#: Progress: (done, failed, total)
Progress = Callable[[int, int, int], None]


def prepare_value(spec: ValueSpec) -> tuple[Any, list[Limit], list[Move]]:
    """Validate the instance and the options; the limits and the re-solves, before anything is solved."""
    from optimizer.instance.load import load_instance
    from optimizer.instance.validate import validate

    loaded = load_instance(Path(spec.instance), scenarios=spec.scenarios, sets=spec.sets)
    valid = validate(loaded)
    if valid.conflicts:
        raise InfeasibleInstance(list(valid.conflicts))
    limits = select_limits(coupling_limits(valid), spec.limits)
    steps = parse_steps(spec.steps, limits)
    return valid, limits, moves(limits, steps, valid)


def run_value(spec: ValueSpec, folder: Path, *, scheduler: str | None = None, workers: int | None = None,
              serial: bool = False, progress: Progress | None = None) -> ValueResult:
    """Base solve, then every limit relaxed and tightened, re-solved in parallel; written and renamed."""
    from optimizer.analyses.parallel import pool

    t0 = time.perf_counter()
    valid, limits, todo = prepare_value(spec)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "value.json").write_text(json.dumps({"spec": asdict(spec), "created": datetime.now().isoformat()},
                                                  ensure_ascii=False, indent=2), encoding="utf-8")  # fmt: skip
    spec_dict = asdict(spec)
    lang = language()
    ids = {(mv.limit, mv.direction): f"L{k // 2 + 1:02d}-{mv.direction}" for k, mv in enumerate(todo)}
    total = len(todo) + 1
    done = failed = 0
    note = progress or (lambda d, f, t: None)
    timings: dict[str, float] = {}
    with pool(scheduler, workers, serial, tasks=max(1, len(todo) + 1)) as ex:
        # The base and the re-solves in one graph: cold re-solves need nothing from the base;
        # warm ones wait for its plan (Dask passes the base row to them).
        base_future = ex.submit(resolve_task, spec_dict, str(folder), BASE_ID, [], None, lang)
        futures = {}
        for mv in todo:
            start = base_future if spec.warm_start else None
            futures[ex.submit(resolve_task, spec_dict, str(folder), ids[mv.limit, mv.direction], mv.sets, start,
                              lang)] = mv  # fmt: skip
        # The base row without the decomposition state (only the warm re-solves need it; the
        # tables and summary.json take the rest). A copy: serial re-solves read the same row.
        base = {k: v for k, v in base_future.result().items() if k != "warm_state"}
        done += 1
        note(done, failed, total)
        timings["base"] = time.perf_counter() - t0
        if base["status"] == "infeasible" or "plan" not in base:
            ex.cancel(list(futures))  # cold re-solves already queued: nothing to compare them with
        if base["status"] == "infeasible":
            raise InfeasibleInstance([Problem(Location(Path(spec.instance)), base.get("error") or _(
                "no plan meets every limit (in conflict: {f})").format(f=", ".join(base.get("infeasible_families", []))))])
        if "plan" not in base:
            raise NoBasePlan(str(base["status"]), str(base.get("error") or base.get("termination") or ""))
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for fut in ex.as_completed(list(futures)):
            mv = futures[fut]
            try:
                r = fut.result()
            except Exception as exc:  # the worker died
                r = {"status": "failed", "error": f"worker lost: {exc}"}
            rows[mv.limit, mv.direction] = r
            done += 1
            failed += r["status"] == "failed"
            note(done, failed, total)
        timings["resolves"] = time.perf_counter() - t0 - timings["base"]
    t2 = time.perf_counter()
    prices = local_prices(valid, limits, base)
    result = _assemble(folder, spec, valid, limits, todo, ids, base, rows, prices)
    timings["lp_prices_and_tables"] = time.perf_counter() - t2
    result.timings = timings
    write_value(result, valid)
    timings["total"] = time.perf_counter() - t0
    _finish(result, valid)
    return result


# --------------------------------------------------------------------------- LP prices


def local_prices(valid: Any, limits: list[Limit], base: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """Per limit: the LP dual with choices fixed at the base plan, and the LP relaxation's dual.

    Both as the value of relaxing by one unit of the limit's measure (yuan/yr per m³, …).
    """
    from optimizer.model import build_model, prepare
    from optimizer.model.build import FAMILIES
    from optimizer.model.scaling import report_families
    from optimizer.solve.duals import lp_duals

    data = prepare(valid)
    m = build_model(data)
    # Rows and objective are scaled (model/scaling.py): a dual is d(objective, in
    # objective_unit_yuan) / d(row, in its scaled unit); report_families gives that unit.
    unit_yuan = float(m.objective_unit_yuan)
    factors = report_families(FAMILIES, data.scaling)
    families = tuple(sorted({lim.family for lim in limits}))
    present = {(fam, index) for fam in families if m.component(fam) is not None for index in m.component(fam)}
    out: dict[str, dict[str, float | None]] = {lim.name: {} for lim in limits}
    for how in ("plan_fixed", "relaxation"):
        termination, duals = lp_duals(m, how, plan=base.get("plan"), families=families)
        for lim in limits:
            scale = factors[lim.family][1]
            rows = [r for r in lim.rows if r in present]
            if not rows:
                out[lim.name][how] = None  # no row: nothing in the plan can use this limit
                continue
            sign = 1.0 if lim.sense == "<=" else -1.0
            # d objective / d rhs in model units → yuan/yr per report unit of the row; then per
            # unit of the measure, the rows moving together by their weights.
            value = sum(lim.row_weights.get(r[1], 0.0) * duals.get(r, 0.0) * unit_yuan / scale for r in rows)
            out[lim.name][how] = sign * value + 0.0 if termination == "convergenceCriteriaSatisfied" else None
    return out


# --------------------------------------------------------------------------- assembling


def resolution(z0: float, b0: float | None, z1: float, b1: float | None) -> float | None:
    """How far the two solves' gaps leave the true difference uncertain (yuan/yr)."""
    if b0 is None or b1 is None:
        return None
    return max(0.0, b0 - z0) + max(0.0, b1 - z1)


def _resolved(delta: float, width: float | None, scale: float) -> bool:
    tol = 1e-9 * max(1.0, abs(scale))
    if width is None:
        return False
    if width <= tol:
        return True  # both solves proven to the last yuan: the difference is exact, even when it is 0
    return abs(delta) > width + tol


def _switches(base_plan: dict[str, str], plan: dict[str, str] | None) -> list[tuple[str, str, str]]:
    if not plan:
        return []
    return [(t, base_plan.get(t, ""), i) for t, i in plan.items() if base_plan.get(t) != i]


def _assemble(folder: Path, spec: ValueSpec, valid: Any, limits: list[Limit], todo: list[Move],
              ids: dict[tuple[str, str], str], base: dict[str, Any], rows: dict[tuple[str, str], dict[str, Any]],
              prices: dict[str, dict[str, float | None]]) -> ValueResult:
    t = valid.units  # townships, or the villages of a village instance (plans are by village)
    z0, b0 = base["plan_objective_yuan"], base.get("bound_yuan")
    base_constraints = _base_constraints(base)
    out, sw = [], []
    notes: list[str] = []
    for lim in limits:
        rec: dict[str, Any] = {"limit": lim.name, "family": lim.family, "group": lim.group, "unit": lim.unit,
                               "per": lim.measure_unit, "value": lim.value, "sense": lim.sense}  # fmt: skip
        used = base_constraints.get(lim.name)
        if used is not None:
            rec.update(used=used["lhs"], slack=used["slack"], binding=used["binding"], used_share=used["used_share"])
        for direction in ("relax", "tighten"):
            mv = next((x for x in todo if x.limit == lim.name and x.direction == direction), None)
            if mv is None:
                continue
            r = rows.get((lim.name, direction), {"status": "failed", "error": "not solved"})
            d = direction
            rec[f"{d}_new_value"] = mv.new_value
            rec[f"{d}_step"] = mv.delta_value
            rec[f"{d}_step_measure"] = mv.delta_measure
            rec[f"{d}_run"] = ids[lim.name, direction]
            rec[f"{d}_status"] = r["status"]
            rec[f"{d}_gap"] = r.get("gap")
            rec[f"{d}_check_ok"] = r.get("check_ok")
            rec[f"{d}_note"] = mv.note or r.get("error", "")
            if "plan" in r:
                sign = 1.0 if direction == "relax" else -1.0  # tightening: the cost, Z_base − Z_tight
                dz = sign * (r["plan_objective_yuan"] - z0) + 0.0
                width = resolution(z0, b0, r["plan_objective_yuan"], r.get("bound_yuan"))
                ok = _resolved(dz, width, z0)
                rec[f"{d}_objective_yuan"] = r["plan_objective_yuan"]
                rec[f"{d}_bound_yuan"] = r.get("bound_yuan")
                rec[f"{d}_delta_objective_yuan"] = dz
                rec[f"{d}_delta_income_yuan"] = sign * (r["farmer_income_yuan"] - base["farmer_income_yuan"]) + 0.0
                rec[f"{d}_delta_gep_yuan"] = sign * (r["gep_objective_yuan"] - base["gep_objective_yuan"]) + 0.0
                rec[f"{d}_delta_gep_total_yuan"] = sign * (r["gep_total_yuan"] - base["gep_total_yuan"]) + 0.0
                rec[f"{d}_resolution_yuan"] = width
                rec[f"{d}_resolved"] = ok
                per = mv.delta_measure if mv.delta_measure > 0 else math.nan
                rec[f"{d}_value_per_unit"] = dz / per if ok else math.nan
                rec[f"{d}_income_per_unit"] = rec[f"{d}_delta_income_yuan"] / per if ok else math.nan
                rec[f"{d}_gep_per_unit"] = rec[f"{d}_delta_gep_yuan"] / per if ok else math.nan
                changes = _switches(base["plan"], r["plan"])
                rec[f"{d}_townships_switching"] = len(changes)
                rec[f"{d}_switches"] = "; ".join(f"{tid} {t.at[tid, 'name']}: {a} → {b}" for tid, a, b in changes[:30])
                for tid, a, b in changes:
                    sw.append({"limit": lim.name, "direction": direction, valid.unit_key: tid,
                               "name": t.at[tid, "name"], "county": t.at[tid, "county"], "from": a, "to": b})
        rec["lp_price_plan_fixed"] = prices.get(lim.name, {}).get("plan_fixed")
        rec["lp_price_relaxation"] = prices.get(lim.name, {}).get("relaxation")
        out.append(rec)
    df = _rank(pd.DataFrame(out))
    for d in ("relax", "tighten"):
        if f"{d}_status" in df:
            for lim_name in df.loc[df[f"{d}_status"] == "failed", "limit"]:
                notes.append(_("the {direction} re-solve of {limit} failed").format(direction=_(d), limit=lim_name))
    switches = pd.DataFrame(sw, columns=["limit", "direction", valid.unit_key, "name", "county", "from", "to"])
    return ValueResult(folder, spec, {k: v for k, v in base.items() if k != "plan"} | {"plan": base["plan"]},
                       df, switches, notes)


def _base_constraints(base: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The base run's limit rows (summary.json), by name; family limits summed over their rows."""
    run = base.get("run_dir")
    if not run:
        return {}
    s = json.loads((Path(run) / "summary.json").read_text(encoding="utf-8"))
    return {r["name"]: r for r in s.get("constraints", [])}


def _rank(df: pd.DataFrame) -> pd.DataFrame:
    """Most valuable to relax first: resolved differences by size, then unresolved, then the rest."""
    if df.empty:
        return df
    key = df.get("relax_delta_objective_yuan", pd.Series(np.nan, index=df.index)).where(
        df.get("relax_resolved", pd.Series(False, index=df.index)).fillna(False).astype(bool))
    df = df.assign(_k=key.fillna(-np.inf)).sort_values("_k", ascending=False, kind="stable").drop(columns="_k")
    df.insert(0, "rank", range(1, len(df) + 1))
    return df.reset_index(drop=True)


# --------------------------------------------------------------------------- writing


def write_value(res: ValueResult, valid: Any) -> None:
    """values.csv, value_switches.csv, summary.json (manifest.json last, in _finish)."""
    from optimizer.outputs.write import write_csv, write_json

    write_csv(res.folder / "values.csv", res.table)
    write_csv(res.folder / "value_switches.csv", res.switches)
    base = {k: v for k, v in res.base.items() if k != "plan"}
    write_json(res.folder / "summary.json", {
        "kind": "value", "instance": valid.spec.name, "value_id": final_dir(res.folder).name, "base": base,
        "limits": len(res.table), "notes": res.notes, "spec": asdict(res.spec), "timings_s": res.timings,
        "units": "values are yuan/yr per unit of the limit ('per' column); tightening rows give the cost",
    })  # fmt: skip


def final_dir(folder: Path) -> Path:
    return folder.with_name(folder.name.removesuffix(".partial"))


def _finish(res: ValueResult, valid: Any) -> None:
    from optimizer.outputs.write import sha256, versions, write_json

    folder = res.folder
    loaded = valid.loaded
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    write_json(folder / "manifest.json", {
        "tool": "karst-layout-optimizer", "command": "value", "versions": versions(),
        "instance_file": str(Path(res.spec.instance).resolve()),
        "inputs": {str(p): sha256(p) for p in loaded.input_files}, "scenarios": list(res.spec.scenarios),
        "set": list(res.spec.sets), "overrides_applied": [a.to_dict() for a in loaded.applied_overrides],
        "spec": asdict(res.spec), "solver_options": res.spec.options, "timings_s": res.timings,
        "outputs": {str(p.relative_to(folder)): sha256(p) for p in files},
    })  # fmt: skip
    target = final_dir(folder)
    if target != folder:
        os.replace(folder, target)
        res.folder = target
    log.info("wrote %s", res.folder)


#: Directions, for extraction.
DIRECTIONS = (N_("relax"), N_("tighten"))
