"""Re-solve speed-up: a 10-point sweep warm-started point to point vs ten cold solves.

Both runs go through `optimizer.analyses.sweep.run_sweep` serially (one process, one HiGHS
thread), so the only difference is the MIP start from the neighbouring point's plan.
A script, not a test: it prints the timings it measured.

    python benchmarks/sweep_benchmark.py --townships 1000 --gap 1e-3
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from optimizer.generate import generate_instance
from optimizer.analyses.sweep import SweepSpec, parse_vary, run_sweep


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--townships", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gap", type=float, default=1e-3)
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--vary", default="constraints.investment_budget_yuan=0.90:0.99:0.01*")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/sweep"))
    args = ap.parse_args()
    inst_dir = args.out / f"n{args.townships}_s{args.seed}"
    if not (inst_dir / "instance.yaml").exists():
        generate_instance(inst_dir, args.townships, args.seed, table_format="csv")
    report = {}
    for mode, warm in (("cold", False), ("warm", True)):
        target = args.out / f"{mode}"
        shutil.rmtree(target, ignore_errors=True)
        spec = SweepSpec(instance=str((inst_dir / "instance.yaml").resolve()), varies=[parse_vary(args.vary)],
                         options={"gap": args.gap, "time_limit": args.time_limit, "threads": 1}, warm_start=warm)
        t = time.perf_counter()
        table = run_sweep(spec, target, serial=True)
        wall = time.perf_counter() - t
        report[mode] = {"wall_s": wall, "highs_s": float(table["solve_s"].sum()),
                        "objectives": table["objective_yuan"].tolist(), "gaps": table["gap"].tolist(),
                        "statuses": table["status"].tolist()}
        print(f"{mode}: {len(table)} points, wall {wall:.1f} s, HiGHS {report[mode]['highs_s']:.1f} s", flush=True)
    speedup = report["cold"]["wall_s"] / report["warm"]["wall_s"]
    highs_speedup = report["cold"]["highs_s"] / report["warm"]["highs_s"]
    worst = max(abs(a - b) / max(abs(a), 1) for a, b in zip(report["cold"]["objectives"], report["warm"]["objectives"]))
    print(f"speed-up (wall) {speedup:.2f}x, (HiGHS time) {highs_speedup:.2f}x; "
          f"largest relative objective difference {worst:.2e} (gap option {args.gap:g})")
    (args.out / "sweep_benchmark.json").write_text(json.dumps({**report, "args": {k: str(v) for k, v in vars(args).items()},
                                                               "speedup_wall": speedup, "speedup_highs": highs_speedup}, indent=2))


if __name__ == "__main__":
    main()
