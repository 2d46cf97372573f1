"""Village instances against brute force, and the reduction to the township model.

Two properties on tiny random village instances (2–4 townships, 1–2 villages each, at
most 7 villages), each written as YAML + CSV and solved by `solve_instance` at gap 0:

  (a) brute force: every assignment of products to villages is enumerated, and judged
      straight from docs/model.md ("Village instances") by code written here and in
      tests/test_properties.py, which imports nothing from the optimiser: the per-village
      limits and the township-instance limits summed over villages (BruteForce, with the
      villages as its units), the township water over a township's villages, and the
      leading-industry rule (some counted industry covers at least s of the township's
      counted area). The tool's optimum, its plan's feasibility and score, and the checker
      must agree with it;
  (b) reduction: with `min_leading_share: 1` and every industry counted, the village model
      is today's township model. The township instance built by aggregating the villages
      (areas summed, per-hectare figures area-weighted, gates on the worst village, limits
      that hold per village — village water, village income floors, village locks —
      turned into the township locks they imply) has the same optimum, and the same plan
      wherever its optimum is unique (the runner-up of the exact solve is strictly worse).

Aggregation is exact only where the per-hectare figures are linear in what varies between
villages, so the generated villages vary in area, soil, slope, grade, irradiance (PV
output), water, baseline, yields, water needs, investment and GEP quantities, not in
prices or farmers' shares (a township's site row still sets those for all its villages).
"""

from __future__ import annotations

import copy
import csv
import math
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.errors import InputError
from optimizer.run import solve_instance
from optimizer.solve import SolveOptions
from tests.test_properties import (
    EPS_ABS,
    event,
    EPS_REL,
    PROFILE,
    SITE_COLUMNS,
    TOWNSHIP_HEADER,
    BruteForce,
    _fmt,
    close,
    exact,
    instances,
    note,
    pair_coefficients,
    passes_gates,
    site_dict,
)
from tests.test_properties import write_instance as write_township_instance

pytestmark = pytest.mark.property

VILLAGE_HEADER = ("village_id", "name", "township_id", "plannable_area_ha", "soil_depth_cm", "slope_deg",
                  "rocky_desertification_grade", "water_available_m3", "irradiance_kwh_per_m2",
                  "baseline_land_use")  # fmt: skip
#: Village site fields that aggregate exactly (see the module docstring).
VILLAGE_SITE_FIELDS = ("yield_per_ha", "water_m3_per_ha", "investment_yuan_per_ha", "operating_cost_yuan_per_ha",
                       "farmer_payments_yuan_per_ha")  # fmt: skip


# ---------------------------------------------------------------------------------------
# Drawing a village instance
# ---------------------------------------------------------------------------------------


@st.composite
def village_instances(draw: st.DrawFn, *, share: float | None = None, all_counted: bool = False) -> dict:
    """A township instance of tests/test_properties, its townships split into villages."""
    base = draw(instances())
    towns = base["townships"][: draw(st.integers(2, 4))]
    kept = {t["township_id"] for t in towns}
    villages: list[dict] = []
    budget = 7
    for j, t in enumerate(towns):
        left = len(towns) - j - 1
        k = draw(st.integers(min(2, max(1, budget - left)), max(1, min(3, budget - left))))
        budget -= k
        weights = [draw(st.integers(1, 4)) for _ in range(k)]
        area = t["plannable_area_ha"]
        for n, w in enumerate(weights):
            a = area * w // sum(weights) if n < k - 1 else area - sum(v["plannable_area_ha"] for v in villages
                                                                       if v["township_id"] == t["township_id"])
            a = max(int(a), 1)
            per_ha = draw(st.sampled_from([60, 500, 1500, 4000, 4000, 4000, 4000]))
            # thin, steep, degraded: fewer industries fit (often the last village of a township)
            upland = draw(st.integers(0, 2)) > 0 if n == k - 1 and k > 1 else draw(st.integers(0, 4)) == 0
            villages.append({
                "village_id": f"{t['township_id']}V{n + 1}",
                "name": f"Village {n + 1} of {t['township_id']}",
                "township_id": t["township_id"],
                "plannable_area_ha": a,
                "soil_depth_cm": max(5, t["soil_depth_cm"] + (-25 if upland else draw(st.sampled_from([-5, 0, 5, 15])))),
                "slope_deg": min(45, max(0, t["slope_deg"] + (12 if upland else draw(st.sampled_from([-8, 0, 0, 4]))))),
                "rocky_desertification_grade": min(4, max(0, t["rocky_desertification_grade"]
                                                          + (1 if upland else draw(st.sampled_from([-1, 0, 0]))))),
                "water_available_m3": a * per_ha,
                "irradiance_kwh_per_m2": t["irradiance_kwh_per_m2"] + draw(st.sampled_from([-60, 0, 0, 40])),
                "baseline_land_use": t["baseline_land_use"],
            })  # fmt: skip
    spec: dict[str, Any] = copy.deepcopy(base)
    spec["name"] = "vprop"
    spec["townships"] = towns
    spec["villages"] = villages
    spec["site_rows"] = [r for r in base.get("site_rows", []) if r["township_id"] in kept]
    cons = spec.get("constraints", {})
    cons["locks"] = [lk for lk in cons.get("locks", []) if lk["township"] in kept]
    if not cons["locks"]:
        cons.pop("locks")
    # County and basin budgets of counties or basins left without townships are dropped.
    counties = {t["county"] for t in towns}
    basins = {t["basin"] for t in towns}
    water = cons.get("water", {})
    for key, known in (("county_max_m3", counties), ("basin_max_m3", basins)):
        if key in water:
            water[key] = {k: v for k, v in water[key].items() if k in known}
            if not water[key]:
                water.pop(key)
    if "grid_county_max_mw" in cons:
        cons["grid_county_max_mw"] = {k: v for k, v in cons["grid_county_max_mw"].items() if k in counties}
        if not cons["grid_county_max_mw"]:
            cons.pop("grid_county_max_mw")
    if draw(st.booleans()):
        water["per_village"] = draw(st.booleans())
    if water:
        cons["water"] = water
    if "income_floor" not in cons and draw(st.booleans()):  # floors hold per village: draw them often
        cons["income_floor"] = {"min_share_of_baseline": draw(st.sampled_from([0.5, 0.8, 1.0]))}
    if draw(st.integers(0, 7)) > 0:  # restoration open to every village, mostly
        spec["industries"]["cons"].pop("suitability", None)
    candidates = [i for i, ind in spec["industries"].items() if ind.get("candidate", True)]
    rule: dict[str, Any] = {"min_leading_share": share if share is not None
                            else draw(st.sampled_from([0.5, 0.6, 0.6, 0.75, 0.9, 1.0]))}  # fmt: skip
    if not all_counted and draw(st.integers(0, 2)) == 0:
        rule["leading_share_counts"] = [i for i in candidates if i != "cons"] or candidates
    cons["leading_industry"] = rule
    spec["constraints"] = cons
    # A few village site rows and at most one village lock.
    rows = []
    for v in villages:
        if draw(st.integers(0, 3)) == 0:
            iid = draw(st.sampled_from(candidates))
            key = draw(st.sampled_from([f for f in VILLAGE_SITE_FIELDS
                                        if f != "yield_per_ha" or "yield_per_ha" in spec["industries"][iid]]))
            base_value = float(spec["industries"][iid].get(key, 1000) or 1000)
            rows.append({"village_id": v["village_id"], "industry": iid,
                         key: round(base_value * draw(st.sampled_from([0.5, 0.8, 1.25, 2.0])), 2)})  # fmt: skip
    spec["village_site_rows"] = rows
    if draw(st.integers(0, 3)) == 0:
        v = draw(st.sampled_from(villages))
        lock = {"township": v["township_id"], "village": v["village_id"], "industry": draw(st.sampled_from(candidates)),
                "forbid": True}  # fmt: skip
        cons.setdefault("locks", []).append(lock)
    if draw(st.integers(0, 4)) > 0:  # mostly feasible instances: drop limits until a plan exists
        for family in RELAX_ORDER:
            if VillageBrute(spec).solve()[0] is not None:
                break
            _relax(spec, family)
    return spec


#: The order in which limits are dropped to make a drawn instance feasible (the rule last).
RELAX_ORDER = ("locks", "markets", "county_max_m3", "basin_max_m3", "grid_county_max_mw", "investment_budget_yuan",
               "min_conservation_share", "min_conservation_share_per_county", "per_township", "per_village",
               "income_floor", "leading_industry")  # fmt: skip


def _relax(spec: dict, family: str) -> None:
    cons = spec["constraints"]
    water = cons.get("water", {})
    if family in ("county_max_m3", "basin_max_m3"):
        water.pop(family, None)
    elif family in ("per_village", "per_township"):
        water[family] = False
        cons["water"] = water
    elif family == "markets":
        for mk in cons.get("markets", {}).values():
            mk.pop("max_output", None)
    elif family == "leading_industry":
        cons["leading_industry"]["min_leading_share"] = 0.34
    else:
        cons.pop(family, None)


def write_village_instance(spec: dict, folder: Path) -> Path:
    """YAML + townships.csv + villages.csv (+ site tables) in `folder`; returns the YAML path."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "townships.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(TOWNSHIP_HEADER)
        for t in spec["townships"]:
            w.writerow([_fmt(t[c]) for c in TOWNSHIP_HEADER])
    with open(folder / "villages.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(VILLAGE_HEADER)
        for v in spec["villages"]:
            w.writerow([_fmt(v[c]) for c in VILLAGE_HEADER])
    doc: dict[str, Any] = {"name": spec["name"], "townships": "townships.csv", "villages": "villages.csv"}
    for key, file, id_col in (("site_rows", "site.csv", "township_id"), ("village_site_rows", "village_site.csv", "village_id")):
        rows = spec.get(key, [])
        if not rows:
            continue
        cols = [c for c in SITE_COLUMNS if any(c in r for r in rows)]
        cols += sorted({k for r in rows for k in r if k.startswith("gep.")})
        with open(folder / file, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow([id_col, "industry", *cols])
            for r in rows:
                w.writerow([r[id_col], r["industry"], *[_fmt(r.get(c)) for c in cols]])
        doc["site_coefficients" if key == "site_rows" else "village_site_coefficients"] = file
    doc["industries"] = spec["industries"]
    if spec.get("constraints"):
        doc["constraints"] = spec["constraints"]
    if spec.get("objective"):
        doc["objective"] = spec["objective"]
    path = folder / f"{spec['name']}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------
# Brute force over villages
# ---------------------------------------------------------------------------------------


def unit_spec(spec: dict) -> dict:
    """The village instance as tests/test_properties' BruteForce reads an instance: the
    villages are its units (with their township's county and basin), site rows merged
    (the village's cell wins over its township's), locks restated per village, and the
    per-unit water switch is `per_village`."""
    town_of = {t["township_id"]: t for t in spec["townships"]}
    units = []
    for v in spec["villages"]:
        t = town_of[v["township_id"]]
        units.append({**v, "township_id": v["village_id"], "county": t["county"], "city": t["city"],
                      "basin": t["basin"], "parent": v["township_id"]})  # fmt: skip
    merged: dict[tuple[str, str], dict] = {}
    for r in spec.get("site_rows", []):
        for v in spec["villages"]:
            if v["township_id"] == r["township_id"]:
                merged.setdefault((v["village_id"], r["industry"]), {}).update(
                    {k: x for k, x in r.items() if k not in ("township_id", "industry")})
    for r in spec.get("village_site_rows", []):
        merged.setdefault((r["village_id"], r["industry"]), {}).update(
            {k: x for k, x in r.items() if k not in ("village_id", "industry")})
    cons = copy.deepcopy(spec.get("constraints", {}))
    must: dict[str, str] = {}
    forbid: set[tuple[str, str]] = set()
    locks = sorted(cons.pop("locks", []), key=lambda lk: "village" in lk)
    for lk in locks:
        targets = [lk["village"]] if "village" in lk else [v["village_id"] for v in spec["villages"]
                                                           if v["township_id"] == lk["township"]]
        for vid in targets:
            if lk.get("forbid"):
                forbid.add((vid, lk["industry"]))
            else:
                must[vid] = lk["industry"]
    cons["locks"] = [{"township": v, "industry": i, "forbid": True} for v, i in sorted(forbid)]
    cons["locks"] += [{"township": v, "industry": i} for v, i in must.items()]
    water = cons.get("water", {})
    water["per_township"] = water.pop("per_village", True)
    cons["water"] = water
    cons.pop("leading_industry", None)
    rows = [{"township_id": v, "industry": i, **f} for (v, i), f in merged.items()]
    return {"name": spec["name"], "townships": units, "industries": spec["industries"], "constraints": cons,
            "objective": spec.get("objective", {}), "site_rows": rows}  # fmt: skip


class VillageBrute:
    """Every assignment of products to villages, judged from docs/model.md."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.units = unit_spec(spec)
        self.bf = BruteForce(self.units)
        self.parents = [u["parent"] for u in self.units["townships"]]

    def extra(self, idx: np.ndarray, num: Any) -> tuple[np.ndarray, np.ndarray]:
        """(strict, loose) of the rows only a village instance has: township water, leading rule."""
        spec, bf = self.spec, self.bf if num is float else BruteForce(self.units, num=exact)
        N = idx.shape[0]
        strict = np.ones(N, dtype=bool)
        loose = np.ones(N, dtype=bool)

        def le(lhs: np.ndarray, rhs: Any) -> None:
            if num is not float:
                ok = np.array([bool(x <= rhs) for x in np.asarray(lhs).ravel()])
                strict[:] &= ok
                loose[:] &= ok
                return
            margin = EPS_REL * np.maximum(np.abs(lhs), abs(rhs)) + EPS_ABS
            strict[:] &= lhs <= rhs - margin
            loose[:] &= lhs <= rhs + margin

        rows = np.arange(bf.n)[None, :]
        water = bf.table["water"][rows, idx]
        parents = np.array(self.parents)
        cons = spec.get("constraints", {})
        if cons.get("water", {}).get("per_township", True):
            for t in spec["townships"]:
                sel = parents == t["township_id"]
                if sel.any():
                    le(water[:, sel].sum(axis=1), num(t["water_available_m3"]))
        rule = cons.get("leading_industry")
        if rule is not None:
            s = num(rule["min_leading_share"])
            cands = [i for i, ind in spec["industries"].items() if ind.get("candidate", True)]
            counted = [i for i in cands if rule.get("leading_share_counts") is None or i in rule["leading_share_counts"]]
            area = bf.area
            for t in spec["townships"]:
                sel = np.flatnonzero(parents == t["township_id"])
                if not len(sel):
                    continue
                # the rule holds when some counted industry covers ≥ s of the counted area:
                # for each plan, the most room any industry leaves: max_i (area_i − s·counted) ≥ 0
                counted_area = sum(np.where(np.isin(idx[:, j], [bf.pos[i] for i in counted]), area[j], num(0))
                                   for j in sel)  # fmt: skip
                best = None
                for i in counted:
                    a_i = sum(np.where(idx[:, j] == bf.pos[i], area[j], num(0)) for j in sel)
                    room = a_i - s * counted_area
                    best = room if best is None else np.maximum(best, room)
                if best is None:
                    continue
                # a township without counted area meets the rule with any leading industry (0 ≥ 0)
                zero = np.array([x == 0 for x in np.asarray(counted_area).ravel()])
                if num is float:
                    margin = EPS_REL * np.abs(s * counted_area) + EPS_ABS
                    strict[:] &= zero | (best >= margin)
                    loose[:] &= zero | (best >= -margin)
                else:
                    ok = zero | np.array([bool(x >= 0) for x in np.asarray(best).ravel()])
                    strict[:] &= ok
                    loose[:] &= ok
        return strict, loose

    def judge(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        ev = self.bf.evaluate(idx)
        s2, l2 = self.extra(idx, float)
        strict, loose = ev.strict & s2, ev.loose & l2
        feasible = strict.copy()
        tie = np.flatnonzero(loose & ~strict)
        if len(tie):
            exact_ev = BruteForce(self.units, num=exact).evaluate(idx[tie])
            s3, _ = self.extra(idx[tie], exact)
            feasible[tie] = exact_ev.strict & s3
        return feasible, ev.objective, len(tie)

    def solve(self) -> tuple[float | None, tuple[str, ...] | None, int]:
        plans = self.bf.all_plans()
        if not len(plans):
            return None, None, 0
        feasible, objective, _ = self.judge(plans)
        if not feasible.any():
            return None, None, len(plans)
        k = np.flatnonzero(feasible)[np.argmax(objective[feasible])]
        return float(objective[k]), self.bf.names(plans[k]), len(plans)


def run_village_tool(path: Path, folder: Path) -> dict[str, Any]:
    """Solve at gap 0; the answer, the plan per village and the checker's verdict."""
    try:
        res = solve_instance(path, SolveOptions(gap=0.0, threads=1), results_root=folder / "results")
    except InputError as exc:
        note(f"tool: InputError\n{exc}")
        return {"infeasible": True, "how": "input_error"}
    s = res.summary
    note(f"tool: status={s['status']} objective={s['objective_yuan']!r}")
    if s["status"] == "infeasible":
        return {"infeasible": True, "how": "infeasible"}
    with open(res.run_dir / "allocation.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    key = "village_id" if rows and "village_id" in rows[0] else "township_id"
    return {"infeasible": False, "how": s["status"], "objective": s["objective_yuan"], "bound": s["bound_yuan"],
            "plan": {r[key]: r["industry"] for r in rows}, "check_ok": res.check_ok,
            "check_messages": res.check_messages, "runner_up": s.get("runner_up")}  # fmt: skip


#: Villages: more examples than the township properties, each solve is small.
VILLAGE_PROFILE = settings(PROFILE, max_examples=max(40, PROFILE.max_examples))


@VILLAGE_PROFILE
@given(spec=village_instances())
def test_village_optimum_matches_brute_force(spec: dict) -> None:
    """(a) infeasible exactly when brute force finds nothing; else the same optimum, a
    feasible plan scoring it, the bound above it, and the checker's agreement."""
    with tempfile.TemporaryDirectory() as d:
        path = write_village_instance(spec, Path(d) / "instance")
        note("\n".join(f"--- {p.name}\n{p.read_text(encoding='utf-8')}" for p in sorted(path.parent.iterdir())))
        brute = VillageBrute(spec)
        best, plan, n = brute.solve()
        note(f"brute force: {n} plans, optimum {best!r}, plan {plan}")
        free = copy.deepcopy(spec)
        free["constraints"].pop("leading_industry")
        free_best, _, _ = VillageBrute(free).solve()
        event("infeasible" if best is None else "feasible")
        if free_best is not None and (best is None or free_best > best + 1e-6 * max(1.0, abs(best))):
            event("the leading-industry rule changes the optimum")
        if "income_floor" in spec["constraints"]:
            nofloor = copy.deepcopy(spec)
            nofloor["constraints"].pop("income_floor")
            nf_best, _, _ = VillageBrute(nofloor).solve()
            if nf_best is not None and (best is None or nf_best > best + 1e-6 * max(1.0, abs(best))):
                event("the village income floors change the optimum")
        tool = run_village_tool(path, Path(d))
    if best is None:
        assert tool["infeasible"], f"brute force finds no feasible plan, the tool says {tool['how']}"
        return
    assert not tool["infeasible"], f"the tool says {tool['how']}, brute force finds {plan} ({best!r})"
    assert tool["how"] == "optimal"
    assert close(tool["objective"], best), (tool["objective"], best, plan, tool["plan"])
    vids = [v["village_id"] for v in spec["villages"]]
    got = tuple(tool["plan"][v] for v in vids)
    feasible, objective, _ = brute.judge(brute.bf.to_index([got]))
    assert feasible[0], f"the tool's plan {got} breaks a limit by the brute-force rules"
    assert close(float(objective[0]), tool["objective"])
    assert tool["objective"] <= tool["bound"] + 1e-6 * max(1.0, abs(tool["bound"]))
    assert tool["check_ok"] is True, tool["check_messages"]


# ---------------------------------------------------------------------------------------
# The reduction: share 1, everything counted ⇒ the township model
# ---------------------------------------------------------------------------------------


def aggregate(spec: dict) -> dict:
    """The township instance of a village instance with min_leading_share 1, every industry counted.

    With share 1 every village of a township takes the township's industry, so the township
    takes one industry over the sum of its villages' areas, and per hectare its figures are
    the area-weighted mean of its villages'. Rules that hold per village become the township
    locks they imply: a village's gate, water or income floor that fails forbids the
    industry for its whole township; a village's lock locks its township.
    """
    units = unit_spec(spec)
    site = site_dict(units)
    inds = spec["industries"]
    cons = copy.deepcopy(spec.get("constraints", {}))
    floor = cons.pop("income_floor", {})
    cons.pop("leading_industry")
    water = cons.setdefault("water", {})
    per_village = water.pop("per_village", True)
    by_town: dict[str, list[dict]] = {}
    for u in units["townships"]:
        by_town.setdefault(u["parent"], []).append(u)
    towns, rows, locks = [], [], []
    for t in spec["townships"]:
        vs = by_town.get(t["township_id"], [])
        area = sum(v["plannable_area_ha"] for v in vs)
        towns.append({**t, "plannable_area_ha": area,
                      "soil_depth_cm": min(v["soil_depth_cm"] for v in vs),
                      "slope_deg": max(v["slope_deg"] for v in vs),
                      "rocky_desertification_grade": max(v["rocky_desertification_grade"] for v in vs),
                      "irradiance_kwh_per_m2": min(v["irradiance_kwh_per_m2"] for v in vs)})  # fmt: skip
        for iid, ind in inds.items():
            per = [(v, pair_coefficients(ind, v, site, iid)) for v in vs]
            a = {v["township_id"]: v["plannable_area_ha"] for v in vs}

            def mean(get: Any) -> float:
                return sum(a[v["township_id"]] * get(v, c) for v, c in per) / area

            def field(v: dict, key: str) -> float:
                x = site.get((v["township_id"], iid), {}).get(key)
                return float(ind.get(key, 0.0) or 0.0) if x is None else float(x)

            y = mean(lambda v, c: c["output"])
            row = {"township_id": t["township_id"], "industry": iid, "yield_per_ha": y,
                   "other_revenue_yuan_per_ha": mean(lambda v, c: field(v, "other_revenue_yuan_per_ha")),
                   "operating_cost_yuan_per_ha": mean(lambda v, c: field(v, "operating_cost_yuan_per_ha")),
                   "farmer_payments_yuan_per_ha": mean(lambda v, c: field(v, "farmer_payments_yuan_per_ha")),
                   "water_m3_per_ha": mean(lambda v, c: c["water"]),
                   "investment_yuan_per_ha": mean(lambda v, c: c["investment"])}  # fmt: skip
            for key in ("price_yuan_per_unit", "farmer_share_of_value_added"):  # one value per township
                if (t["township_id"], iid) in site_dict(spec) and key in site_dict(spec)[(t["township_id"], iid)]:
                    row[key] = site_dict(spec)[(t["township_id"], iid)][key]
            for sname, svc in ind.get("gep", {}).items():
                def q(v: dict, _c: Any, sname: str = sname, svc: dict = svc) -> float:
                    x = site.get((v["township_id"], iid), {}).get(f"gep.{sname}")
                    base = svc.get("quantity_per_ha", svc.get("quantity_per_output_unit"))
                    return float(base if x is None else x)

                if "quantity_per_ha" in svc:
                    row[f"gep.{sname}"] = mean(q)
                elif y > 0:
                    row[f"gep.{sname}"] = mean(lambda v, c, q=q: q(v, c) * c["output"]) / y
            rows.append(row)
            if not ind.get("candidate", True):
                continue
            if any(not passes_gates(ind, v) for v in vs):
                continue  # the worst village's attributes gate it out already
            why = []
            if per_village and any(c["water"] * v["plannable_area_ha"] > v["water_available_m3"] for v, c in per):
                why.append("a village's water")
            if floor:
                for v, c in per:
                    base_c = pair_coefficients(inds[v["baseline_land_use"]], v, site, v["baseline_land_use"])
                    need = -math.inf
                    if floor.get("min_yuan_per_ha") is not None:
                        need = max(need, floor["min_yuan_per_ha"] * v["plannable_area_ha"])
                    if floor.get("min_share_of_baseline") is not None:
                        need = max(need, floor["min_share_of_baseline"] * base_c["income"] * v["plannable_area_ha"])
                    if c["income"] * v["plannable_area_ha"] < need:
                        why.append("a village's income floor")
                        break
            if why:
                locks.append({"township": t["township_id"], "industry": iid, "forbid": True, "reason": ", ".join(why)})
    vlocks = [lk for lk in cons.pop("locks", [])]
    for lk in vlocks:
        locks.append({"township": lk["township"], "industry": lk["industry"], **({"forbid": True} if lk.get("forbid") else {})})
    seen, unique = set(), []
    for lk in locks:
        key = (lk["township"], lk["industry"], bool(lk.get("forbid")))
        if key not in seen:
            seen.add(key)
            unique.append(lk)
    if unique:
        cons["locks"] = unique
    return {"name": "aggregate", "townships": towns, "industries": inds, "constraints": cons,
            "objective": spec.get("objective", {}), "site_rows": rows}  # fmt: skip


@VILLAGE_PROFILE
@given(spec=village_instances(share=1.0, all_counted=True))
def test_share_one_is_the_township_model(spec: dict) -> None:
    """(b) share 1, everything counted: the optimum and the plan of the aggregated township instance."""
    spec["constraints"]["leading_industry"].pop("leading_share_counts", None)
    agg = aggregate(spec)
    with tempfile.TemporaryDirectory() as d:
        vpath = write_village_instance(spec, Path(d) / "villages")
        tpath = write_township_instance(agg, Path(d) / "townships")
        note("\n".join(f"--- {p.name}\n{p.read_text(encoding='utf-8')}" for p in sorted(tpath.parent.iterdir())))
        village = run_village_tool(vpath, Path(d) / "v")
        township = run_village_tool(tpath, Path(d) / "t")
    assert village["infeasible"] == township["infeasible"], (village["how"], township["how"])
    if village["infeasible"]:
        return
    assert close(village["objective"], township["objective"]), (village["objective"], township["objective"])
    ru = township["runner_up"] or {}
    unique = not ru.get("exists", False) or ru["difference_yuan"] > 1e-6 * max(1.0, abs(township["objective"]))
    if unique:
        for v in spec["villages"]:
            assert village["plan"][v["village_id"]] == township["plan"][v["township_id"]], (village["plan"],
                                                                                            township["plan"])


def test_share_one_reduction_on_tiny_villages(tmp_path: Path) -> None:
    """The shipped tiny village instance at share 1, everything counted, against its aggregate."""
    from tests.test_properties import read_spec

    folder = Path(__file__).parent / "data" / "tiny_villages"
    spec = read_spec_villages(folder / "tiny_villages.yaml", read_spec)
    spec["constraints"]["leading_industry"] = {"min_leading_share": 1.0}
    vpath = write_village_instance(spec, tmp_path / "v")
    tpath = write_township_instance(aggregate(spec), tmp_path / "t")
    village = run_village_tool(vpath, tmp_path / "vr")
    township = run_village_tool(tpath, tmp_path / "tr")
    assert not village["infeasible"] and village["check_ok"]
    assert close(village["objective"], township["objective"])
    for v in spec["villages"]:
        assert village["plan"][v["village_id"]] == township["plan"][v["township_id"]]
    # and the rule matters: at 0.6 with conservation exempt the village plan is better
    free = run_village_tool(folder / "tiny_villages.yaml", tmp_path / "free")
    assert free["objective"] > village["objective"] * (1 + 1e-6)


def read_spec_villages(path: Path, read_spec: Any) -> dict:
    """A village instance read back from its files (csv module only), as the brute force sees it."""
    spec = read_spec(path)
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    with open(path.parent / doc["villages"], encoding="utf-8-sig", newline="") as fh:
        raw = list(csv.DictReader(fh))
    text = {"village_id", "name", "township_id", "baseline_land_use"}
    spec["villages"] = [{k: (v.strip() if k in text else (int(v) if v.strip().lstrip("-").isdigit() else float(v)))
                         for k, v in r.items()} for r in raw]  # fmt: skip
    spec["village_site_rows"] = []
    return spec


def test_brute_force_on_tiny_villages(tmp_path: Path) -> None:
    """The shipped tiny village instance: the tool, the checker and the brute force agree."""
    from tests.test_properties import read_spec

    path = Path(__file__).parent / "data" / "tiny_villages" / "tiny_villages.yaml"
    spec = read_spec_villages(path, read_spec)
    best, plan, n = VillageBrute(spec).solve()
    tool = run_village_tool(path, tmp_path)
    assert n == 2 * 1 * 3 * 2 * 2 * 3 * 2  # options per village: V11 fruit/cons, V12 cons, V21 all three, …
    assert close(tool["objective"], best) and tool["check_ok"]
    assert tuple(tool["plan"][v["village_id"]] for v in spec["villages"]) == plan


#: Variants of the tiny village instance where each rule decides something (brute force
#: below says so: the optimum moves when the rule is halved or dropped).
TINY_VARIANTS: dict[str, dict[str, Any]] = {
    "share_0.4_all_counted": {"leading_industry": {"min_leading_share": 0.4}},
    "share_0.6_all_counted": {"leading_industry": {"min_leading_share": 0.6}},
    "share_0.6_conservation_exempt": {"leading_industry": {"min_leading_share": 0.6,
                                                           "leading_share_counts": ["fruit", "pv"]}},
    "share_1_all_counted": {"leading_industry": {"min_leading_share": 1.0}},
    "village_water": {"leading_industry": {"min_leading_share": 0.4}, "water_available_m3.V22": 1000},
    "village_water_off": {"leading_industry": {"min_leading_share": 0.4}, "water_available_m3.V22": 1000,
                          "water": {"per_village": False}},
    "township_water": {"leading_industry": {"min_leading_share": 0.4}, "water_available_m3.T2": 3000},
    "village_floor": {"income_floor": {"min_yuan_per_ha": 600}, "irradiance_kwh_per_m2.V12": 1150,
                      "grid_county_max_mw": {"B": 100}, "water": {"county_max_m3": {"A": 30000}},
                      "min_conservation_share": 0.0},
    "village_lock": {"locks": [{"township": "T4", "village": "V42", "industry": "conservation"}]},
    "township_lock": {"locks": [{"township": "T2", "industry": "pv", "forbid": True}]},
}


@pytest.mark.parametrize("name", sorted(TINY_VARIANTS))
def test_tiny_village_variants_match_brute_force(name: str, tmp_path: Path) -> None:
    from tests.test_properties import read_spec

    path = Path(__file__).parent / "data" / "tiny_villages" / "tiny_villages.yaml"
    spec = read_spec_villages(path, read_spec)
    for key, value in TINY_VARIANTS[name].items():
        if "." in key:  # a table cell: column.id
            col, rid = key.split(".")
            for row in (*spec["villages"], *spec["townships"]):
                if row.get("village_id", row["township_id"]) == rid:
                    row[col] = value
        elif key == "water":
            spec["constraints"].setdefault("water", {}).update(value)
        else:
            spec["constraints"][key] = value
    best, plan, _ = VillageBrute(spec).solve()
    tool = run_village_tool(write_village_instance(spec, tmp_path / "instance"), tmp_path)
    if best is None:
        assert tool["infeasible"], tool["how"]
        return
    assert close(tool["objective"], best), (tool["objective"], best, plan, tool["plan"])
    assert tuple(tool["plan"][v["village_id"]] for v in spec["villages"]) == plan
    assert tool["check_ok"], tool["check_messages"]


_ = Fraction  # exact arithmetic comes in through tests.test_properties.exact


def read_spec_tables(path: Path) -> dict:
    """A village instance with GeoPackage tables read back as the brute force sees it (pyogrio, no geometry)."""
    import pyogrio

    doc = yaml.safe_load(path.read_text(encoding="utf-8"))

    def rows(ref: Any) -> list[dict]:
        rel = ref if isinstance(ref, str) else ref["path"]
        file = path.parent / rel
        if file.suffix == ".csv":
            with open(file, encoding="utf-8-sig", newline="") as fh:
                return list(csv.DictReader(fh))
        df = pyogrio.read_dataframe(file, layer=None if isinstance(ref, str) else ref.get("layer"), read_geometry=False)
        return df.astype(str).to_dict(orient="records")

    text = {"township_id", "village_id", "name", "county", "city", "basin", "baseline_land_use", "industry"}
    numeric = {"plannable_area_ha", "soil_depth_cm", "slope_deg", "rocky_desertification_grade",
               "water_available_m3", "irradiance_kwh_per_m2"}  # fmt: skip

    def typed(r: dict, keep: set[str]) -> dict:
        out: dict[str, Any] = {}
        for k, v in r.items():
            if k in text:
                out[k] = str(v).strip()
            elif k in keep and str(v).strip() not in ("", "nan", "None"):
                x = float(v)
                out[k] = int(x) if x.is_integer() else x
        return out

    towns = [typed(r, numeric) for r in rows(doc["townships"])]
    for t in towns:
        t.setdefault("basin", "")
        t.setdefault("city", "")
    site_keep = set(SITE_COLUMNS) | {k for r in rows(doc["site_coefficients"]) for k in r if k.startswith("gep.")} \
        if doc.get("site_coefficients") else set()
    vsite_keep = set(SITE_COLUMNS) | {k for r in rows(doc["village_site_coefficients"]) for k in r
                                      if k.startswith("gep.")} if doc.get("village_site_coefficients") else set()
    return {
        "name": doc["name"],
        "townships": towns,
        "villages": [typed(r, numeric) for r in rows(doc["villages"])],
        "industries": doc["industries"],
        "constraints": doc.get("constraints") or {},
        "objective": doc.get("objective") or {},
        "site_rows": [typed(r, site_keep) for r in rows(doc["site_coefficients"])] if site_keep else [],
        "village_site_rows": [typed(r, vsite_keep) for r in rows(doc["village_site_coefficients"])]
        if vsite_keep else [],
    }


def test_share_one_reduction_on_fuchuan_villages(tmp_path: Path) -> None:
    """The shipped Fuchuan village instance at share 1, everything counted, without the income floor
    (which the villages' differences make infeasible at share 1), against its aggregate township instance."""
    spec = read_spec_tables(Path(__file__).resolve().parents[1] / "instances" / "fuchuan_villages" / "fuchuan_villages.yaml")
    spec["constraints"]["leading_industry"] = {"min_leading_share": 1.0}
    spec["constraints"].pop("income_floor")
    vpath = write_village_instance(spec, tmp_path / "v")
    tpath = write_township_instance(aggregate(spec), tmp_path / "t")
    village = run_village_tool(vpath, tmp_path / "vr")
    township = run_village_tool(tpath, tmp_path / "tr")
    assert not village["infeasible"] and village["check_ok"] and township["check_ok"]
    assert close(village["objective"], township["objective"]), (village["objective"], township["objective"])
    for v in spec["villages"]:
        assert village["plan"][v["village_id"]] == township["plan"][v["township_id"]]
