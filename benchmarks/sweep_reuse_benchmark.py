"""Sweep points that reuse the decomposition's work, against the same points solved cold.

Ten points of one what-if on a generated instance, solved in order in one process with
`--method decompose`: once cold (every point from scratch) and once warm (each point
gets the previous point's `DecompositionState`: multipliers, county plans, plan, and the
county optima of counties whose data did not change). Both runs go through
`optimizer.run.solve_instance`, so every point writes and checks its run folder as a
sweep point does (plan files and check; no allocation.xlsx or report.html); the
table reports per point the solve time, the whole point's wall and CPU time, the gap,
and how many counties were not priced again.

Two what-ifs: one county's water budget (a county-local change) and the investment
budget (a global one, which moves the multipliers and touches every county).

    python benchmarks/sweep_reuse_benchmark.py --townships 5000 --gap 1e-4

A script, not a test: it prints what it measured.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import yaml

from optimizer.generate import generate_instance
from optimizer.run import solve_instance
from optimizer.outputs.export import OutputOptions
from optimizer.solve import SolveOptions


def _points(instance: Path, what: str) -> list[str]:
    doc = yaml.safe_load(instance.read_text(encoding="utf-8"))
    if what == "county_water":
        county = sorted(doc["constraints"]["water"]["county_max_m3"])[0]
        return [f"constraints.water.county_max_m3.{county}={f:.2f}*" for f in (0.80 + 0.02 * k for k in range(10))]
    return [f"constraints.investment_budget_yuan={f:.2f}*" for f in (0.90 + 0.01 * k for k in range(10))]


_SOLVE_CPU: list[float] = []


def _timed_solve_decomposed():
    """Wrap the pipeline's decomposition call to record its CPU seconds (the machine is shared:
    wall seconds of a 0.1 s solve say more about the other jobs than about the solve)."""
    import optimizer.solve.decomposed as mod

    inner = mod.solve_decomposed

    def timed(*args, **kwargs):
        c0 = time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            _SOLVE_CPU.append(time.process_time() - c0)

    mod.solve_decomposed = timed


def run(instance: Path, sets: list[str], gap: float, warm: bool, out: Path) -> list[dict]:
    rows, state = [], None
    for k, change in enumerate(sets):
        c0, t0 = time.process_time(), time.perf_counter()
        res = solve_instance(instance, SolveOptions(method="decompose", gap=gap), results_root=out,
                             folder=f"{'warm' if warm else 'cold'}", run_id=f"p{k:02d}", sets=[change],
                             warm=state if warm else None, output=OutputOptions(deliverables=False))  # fmt: skip
        s = res.summary
        rows.append({"point": k, "change": change, "status": s["status"], "objective_yuan": s["objective_yuan"],
                     "gap": s["gap"], "solve_s": s["timings_s"]["solve"], "solve_cpu_s": _SOLVE_CPU[-1], "wall_s": time.perf_counter() - t0,
                     "cpu_s": time.process_time() - c0, "check_ok": s.get("check_ok"),
                     "counties_reused": s.get("decomposition", {}).get("counties_reused"),
                     "passes": s.get("decomposition", {}).get("passes"), "phases": s["timings_s"]})  # fmt: skip
        state = res.state
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--townships", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gap", type=float, default=1e-4)
    ap.add_argument("--what", choices=["county_water", "budget"], nargs="+", default=["county_water", "budget"])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/sweep_reuse"))
    args = ap.parse_args()
    _timed_solve_decomposed()
    inst_dir = args.out / f"n{args.townships}_s{args.seed}"
    if not (inst_dir / "instance.yaml").exists():
        generate_instance(inst_dir, args.townships, args.seed, table_format="csv")
    instance = inst_dir / "instance.yaml"
    report = {}
    for what in args.what:
        sets = _points(instance, what)
        cold = run(instance, sets, args.gap, False, args.out / what)
        warm = run(instance, sets, args.gap, True, args.out / what)
        report[what] = {"cold": cold, "warm": warm}
        print(f"\n{what}: {sets[0]} … {sets[-1]}")
        print("| point | cold solve s | cold solve CPU s | cold point CPU s | cold gap | warm solve s | "
              "warm solve CPU s | warm point CPU s | warm gap | counties reused |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for c, w in zip(cold, warm):
            print(f"| {c['point']} | {c['solve_s']:.2f} | {c['solve_cpu_s']:.2f} | {c['cpu_s']:.2f} | {c['gap']:.1e} | "
                  f"{w['solve_s']:.2f} | {w['solve_cpu_s']:.2f} | {w['cpu_s']:.2f} | {w['gap']:.1e} | "
                  f"{w['counties_reused']} |")
        extra_cold = sum(r["solve_s"] for r in cold[1:]) / max(1, len(cold) - 1)
        extra_warm = sum(r["solve_s"] for r in warm[1:]) / max(1, len(warm) - 1)
        print(f"mean solve of points 2–10: cold {extra_cold:.2f} s, warm {extra_warm:.2f} s "
              f"({extra_warm / extra_cold:.0%} of cold)")
        sc_cold = sum(r["solve_cpu_s"] for r in cold[1:]) / max(1, len(cold) - 1)
        sc_warm = sum(r["solve_cpu_s"] for r in warm[1:]) / max(1, len(warm) - 1)
        print(f"mean solve CPU of points 2–10: cold {sc_cold:.3f} s, warm {sc_warm:.3f} s "
              f"({sc_warm / sc_cold:.0%} of cold)")
        cpu_cold = sum(r["cpu_s"] for r in cold[1:]) / max(1, len(cold) - 1)
        cpu_warm = sum(r["cpu_s"] for r in warm[1:]) / max(1, len(warm) - 1)
        print(f"mean CPU of whole points 2–10 (read, validate, build, solve, write, check): cold {cpu_cold:.2f} s, "
              f"warm {cpu_warm:.2f} s ({cpu_warm / cpu_cold:.0%} of cold)")
    (args.out / "sweep_reuse.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
