"""Re-solves of `optimizer value`: cold against warm-started from the base plan.

Both runs go through `optimizer.analyses.value.run_value` serially (one process, one HiGHS
thread), on the same limits of a generated instance, so the only difference is the MIP
start (the base plan, repaired where the moved limit breaks it). CPU seconds are the
process's own (HiGHS runs in it); wall seconds depend on what else the machine runs.
A script, not a test: it prints what it measured.

    python benchmarks/value_benchmark.py --townships 1000 --gap 1e-2 --limit market --limit budget
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--townships", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gap", type=float, default=1e-2)
    ap.add_argument("--time-limit", type=float, default=600.0)
    ap.add_argument("--limit", action="append", default=None)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/value"))
    args = ap.parse_args()
    from optimizer.analyses.value import ValueSpec, run_value
    from optimizer.generate import generate_instance

    inst_dir = args.out / f"n{args.townships}_s{args.seed}"
    if not (inst_dir / "instance.yaml").exists():
        generate_instance(inst_dir, args.townships, args.seed, table_format="gpkg")
    limits = args.limit or ["market", "budget", "conservation"]
    report: dict = {"args": {k: str(v) for k, v in vars(args).items()}, "load_average_start": os.getloadavg()}
    for mode, warm in (("cold", False), ("warm", True)):
        target = args.out / mode
        shutil.rmtree(target, ignore_errors=True)
        spec = ValueSpec(instance=str((inst_dir / "instance.yaml").resolve()), limits=limits, warm_start=warm,
                         options={"gap": args.gap, "time_limit": args.time_limit, "threads": 1})  # fmt: skip
        t, c = time.perf_counter(), time.process_time()
        res = run_value(spec, target / "value.partial", serial=True)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        cols = [f"{d}_{k}" for d in ("relax", "tighten") for k in ("status", "gap", "delta_objective_yuan", "resolved")]
        report[mode] = {"wall_s": wall, "cpu_s": cpu, "rows": res.table[["limit", *cols]].to_dict(orient="records"),
                        "base_gap": res.base.get("gap")}  # fmt: skip
        print(f"{mode}: {2 * len(res.table)} re-solves + base, wall {wall:.1f} s, CPU {cpu:.1f} s", flush=True)
        for r in report[mode]["rows"]:
            print("   ", r["limit"], {k: (round(v, 5) if isinstance(v, float) else v) for k, v in r.items() if k != "limit"})
    print(f"CPU warm/cold {report['warm']['cpu_s'] / report['cold']['cpu_s']:.2f}x; load average "
          f"{report['load_average_start']} → {os.getloadavg()}")
    (args.out / "value_benchmark.json").write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
