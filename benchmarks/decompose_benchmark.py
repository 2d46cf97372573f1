"""The issue-11 targets, side by side in one run: the product (decomposition) against raw HiGHS.

For each size it generates `optimizer generate -n N --seed 1`, writes the model as MPS
through the library (the same build `solve` does), and then runs, each
in a fresh process timed from fork to exit (wall, CPU = user + system of the child and
its children, peak resident memory from os.wait4):

- `optimizer -q solve --method decompose --gap G --time-limit T` (the product);
- raw highspy reading that MPS and solving it with the same gap, time limit, seed, 1 thread;
- with `--limits`: `optimizer -q solve --time-limit L` for each method, to show how well
  the whole command keeps a time limit (wall from fork to exit against L).

    python benchmarks/decompose_benchmark.py --sizes 1000 5000 20000 50000

Targets (issue 11): 1,000 → proven gap 1e-4 within 60 s; 5,000 → 1e-3 within 60 s;
20,000 → 2e-3 within 120 s; 50,000 → a checked plan within 30 s and 5e-3 within 180 s;
50,000 under 4 GB. The machine is shared: compare CPU seconds as well as wall seconds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from benchmarks_common import latest_summary, timed  # same folder

TARGETS = {1000: (1e-4, 60.0), 5000: (1e-3, 60.0), 20000: (2e-3, 120.0), 50000: (5e-3, 180.0)}

RAW_HIGHS = r"""
import sys, time, json
import highspy
path, gap, limit, seed = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
h = highspy.Highs()
h.setOptionValue("output_flag", False)
if h.readModel(path) != highspy.HighsStatus.kOk:
    raise SystemExit(f"readModel failed: {path}")
for k, v in {"mip_rel_gap": gap, "time_limit": limit, "threads": 1, "random_seed": seed}.items():
    h.setOptionValue(k, v)
t = time.perf_counter()
h.run()
info = h.getInfo()
has = info.primal_solution_status == 2
print(json.dumps({"solve_s": time.perf_counter() - t, "status": h.modelStatusToString(h.getModelStatus()),
                  "objective": info.objective_function_value if has else None,
                  "bound": info.mip_dual_bound if abs(info.mip_dual_bound) < 1e300 else None,
                  "gap": info.mip_gap if has and info.mip_gap < 1e30 else None}))
"""


def write_mps(instance: Path, mps: Path) -> None:
    """The model `solve` builds, written as MPS through the library (not timed).

    Not through `solve --write-model`: under a short --time-limit the command now stops
    before it builds the model, and a long one would solve it first."""
    from optimizer.model import build_model, prepare
    from optimizer.run import load_and_validate
    from optimizer.solve import write_model

    write_model(build_model(prepare(load_and_validate(instance))), mps)


def objective_unit(instance: Path) -> float:
    """Yuan per unit of the written model's objective (万元 / the objective's scale factor)."""
    from optimizer.model import prepare
    from optimizer.model.data import MONEY_UNIT_YUAN
    from optimizer.run import load_and_validate

    return MONEY_UNIT_YUAN / prepare(load_and_validate(instance)).scaling.objective


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000, 50000])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/decompose"))
    ap.add_argument("--limits", type=float, nargs="*", default=[], help="also run both methods with these --time-limit values")
    ap.add_argument("--no-raw", action="store_true", help="skip raw HiGHS")
    ap.add_argument("--no-product", action="store_true", help="skip the product's run at the size's own limit")
    ap.add_argument("--limit-methods", nargs="+", default=["decompose", "direct"], choices=["decompose", "direct"],
                    help="methods run under each --limits value (at the size's target gap)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    rows = []
    for n in args.sizes:
        gap, limit = TARGETS.get(n, (1e-3, 120.0))
        inst = args.out / f"n{n}_s{args.seed}"
        if not (inst / "instance.yaml").exists():
            subprocess.run([py, "-m", "optimizer", "-q", "generate", str(inst), "-n", str(n), "--seed", str(args.seed)],
                           check=True)
        instance = inst / "instance.yaml"
        results = args.out / "runs" / f"n{n}"
        row = {"townships": n, "gap_target": gap, "time_limit_s": limit}
        s: dict = {}
        if not args.no_product:
            product = timed([py, "-m", "optimizer", "-q", "solve", str(instance), "--method", "decompose", "--gap",
                             str(gap), "--time-limit", str(limit), "--results", str(results)])
            s = latest_summary(results)
            row["product"] = {k: product[k] for k in ("wall_s", "cpu_s", "peak_mb", "exit")} | {
                "status": s.get("status"), "gap": s.get("gap"), "objective_yuan": s.get("objective_yuan"),
                "bound_yuan": s.get("bound_yuan"), "check_ok": s.get("check_ok"), "timings_s": s.get("timings_s"),
                "decomposition": s.get("decomposition")}  # fmt: skip
        if not args.no_raw:
            mps = inst / "model.mps"
            if not mps.exists():
                write_mps(instance, mps)
            raw = timed([py, "-c", RAW_HIGHS, str(mps), str(gap), str(limit), "20260101"])
            try:
                info = json.loads(raw["output"].strip().splitlines()[-1])
            except (ValueError, IndexError):
                info = {"error": raw["output"][-500:]}
            unit = objective_unit(instance)  # the MPS objective is in 万元 times the objective's scale
            row["raw_highs"] = {k: raw[k] for k in ("wall_s", "cpu_s", "peak_mb", "exit")} | info | {
                "objective_yuan": None if info.get("objective") is None else info["objective"] * unit,
                "bound_yuan": None if info.get("bound") is None else info["bound"] * unit}
            if info.get("objective") is not None and s.get("bound_yuan"):
                row["raw_plan_vs_product_bound"] = (s["bound_yuan"] - info["objective"] * unit) / (info["objective"] * unit)
        for lim in args.limits:
            for method in args.limit_methods:
                t = timed([py, "-m", "optimizer", "-q", "solve", str(instance), "--method", method, "--gap", str(gap),
                           "--time-limit", str(lim), "--results", str(args.out / "runs" / f"limit_{method}")])
                ls = latest_summary(args.out / "runs" / f"limit_{method}") if t["exit"] in (0, 6) else {}
                row.setdefault("limits", []).append({"method": method, "time_limit_s": lim, "wall_s": t["wall_s"],
                                                     "cpu_s": t["cpu_s"], "peak_mb": t["peak_mb"], "exit": t["exit"],
                                                     "status": ls.get("status"), "gap": ls.get("gap"),
                                                     "check_ok": ls.get("check_ok"), "timings_s": ls.get("timings_s"),
                                                     "allocation_xlsx": ls.get("allocation_xlsx", "written"),
                                                     "report_html": ls.get("report_html", "written")})  # fmt: skip
        rows.append(row)
        print(json.dumps(row), flush=True)
        (args.out / "decompose_benchmark.json").write_text(json.dumps(rows, indent=2))
    print("\n| townships | target | product: status, gap | wall s | CPU s | peak MB | check | raw HiGHS: status, gap | wall s | CPU s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "product" not in r:
            continue
        p, h = r["product"], r.get("raw_highs", {})
        g = "—" if p["gap"] is None else f"{p['gap']:.1e}"
        hg = "—" if h.get("gap") is None else f"{h['gap']:.1e}"
        print(f"| {r['townships']:,} | {r['gap_target']:g} in {r['time_limit_s']:.0f} s | {p['status']}, {g} | "
              f"{p['wall_s']:.1f} | {p['cpu_s']:.1f} | {p['peak_mb']:.0f} | {p['check_ok']} | "
              f"{h.get('status', '—')}, {hg} | {h.get('wall_s', 0):.1f} | {h.get('cpu_s', 0):.1f} |")

    limited = [(r["townships"], x) for r in rows for x in r.get("limits", [])]
    if limited:
        print("\n| townships | method | --time-limit | exit | status, gap | checked | wall s | CPU s | peak MB | "
              "allocation.xlsx | report.html |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for n, x in limited:
            g = "—" if x["gap"] is None else f"{x['gap']:.1e}"
            print(f"| {n:,} | {x['method']} | {x['time_limit_s']:g} | {x['exit']} | {x['status']}, {g} | "
                  f"{x['check_ok']} | {x['wall_s']:.1f} | {x['cpu_s']:.1f} | {x['peak_mb']:.0f} | "
                  f"{'written' if x['allocation_xlsx'] == 'written' else 'left out'} | "
                  f"{'written' if x['report_html'] == 'written' else 'left out'} |")


if __name__ == "__main__":
    main()
