"""Frontier speed: N points against one `solve` at the same gap, and what each reuse idea buys.

For a generated instance (`optimizer generate`, seed 1) this script times, each in a fresh
process (wall seconds, and CPU seconds of the process and every process it started —
Dask's workers included — from `os.wait4`):

- `optimizer -q solve INSTANCE --gap G` (the reference: one weighted MILP, end to end);
- the frontier, once per variant of how neighbouring points reuse work:
    cold        every point a fresh build, no MIP start (what a sweep of ε values would do)
    reuse       the model built once per worker and kept between points
    payoff      + the max-income plan of the payoff table as every ε-point's MIP start
    previous    + one chain of points solved downwards from the income end, each starting
                  from the previous point's plan (the default of `optimizer frontier`)
    previous-2chains  the same in two chains (more parallel, two weaker starts)
    bypass      a chain solved upwards from the GEP end with AUGMECON2's bypass (a plan
                  whose income already reaches the next ε is optimal there too)
    bypass-cut  + the previous point's bound as a cut (GEP ≤ bound)
    decomposed  every stage and point by the county decomposition in one process, each
                  starting from the previous point's plan (the default)
    decomposed-state  + the previous point's whole DecompositionState (multipliers, every
                  county plan seen so far)
    decomposed-cold  every point from scratch (a second stage still from its first's plan)
  The variants above `decomposed` run on HiGHS on the whole model (`method` direct), as
  `optimizer frontier` did before it decomposed; and the `optimizer frontier` command
  itself (its defaults: `auto`, which decomposes from 300 townships with county limits). With `--lp-share`, it also
  solves the LP relaxation of every ε-point of the `reuse` run (cold MIP starts) and
  compares its CPU with the MILP's: what warm-starting the root LP could save at most.

A script, not a test: timings depend on the machine (2 shared cores here), and every
figure it prints was measured by this run. The results go to benchmarks/out/frontier/.

    python benchmarks/frontier_benchmark.py --townships 1000 --gap 1e-2 --variants cold reuse payoff previous bypass
    python benchmarks/frontier_benchmark.py --townships 1000 --gap 1e-2 --time-limit 600 \
        --variants decomposed decomposed-cold previous
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

VARIANTS = {
    "cold": {"reuse_model": False, "start": "none", "chain_length": 1},
    "reuse": {"reuse_model": True, "start": "none", "chain_length": 1},
    "payoff": {"reuse_model": True, "start": "payoff", "chain_length": 1},
    "previous": {"reuse_model": True, "start": "previous", "chain_length": 12, "direction": "down"},
    "previous-2chains": {"reuse_model": True, "start": "previous", "chain_length": 5, "direction": "down"},
    "bypass": {"reuse_model": True, "start": "payoff", "chain_length": 12, "direction": "up"},
    "bypass-cut": {"reuse_model": True, "start": "payoff", "chain_length": 12, "direction": "up", "bound_cut": True},
    # The county decomposition (analyses/frontier_decomposed.py), every point in one process:
    "decomposed": {"method": "decompose", "warm_state": "plan"},
    "decomposed-state": {"method": "decompose", "warm_state": "state"},
    "decomposed-cold": {"method": "decompose", "warm_state": "none"},
}
#: Variants on HiGHS on the whole model (the Dask path) unless they name their method.
DEFAULT_METHOD = "direct"


def run(cmd: list[str], log: Path) -> dict[str, float]:
    """Wall and CPU seconds of a command and all its (reaped) descendants."""
    start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "exit": proc.returncode}


def child(args: argparse.Namespace) -> None:
    """Run one frontier variant in this process (called by the parent in a fresh process)."""
    from optimizer.analyses.frontier import FrontierSpec, run_frontier

    variant = json.loads(args.child)
    method = variant.pop("method", DEFAULT_METHOD)
    spec = FrontierSpec(instance=str(Path(args.instance).resolve()), points=args.points,
                        options={"gap": args.gap, "time_limit": args.time_limit, "threads": 1, "method": method},
                        **variant)  # fmt: skip
    folder = Path(args.folder)
    fr = run_frontier(spec, folder, workers=args.workers)
    rows = fr.table
    out = {
        "timings_s": fr.timings,
        "points": rows[[c for c in ("point", "status", "epsilon_yuan", "farmer_income_yuan", "gep_yuan", "gap",
                                    "solve_s", "cpu_s", "solve_cpu_s", "started_from", "solved_by", "worker_pid",
                                    "method", "decomposition_passes")
                        if c in rows.columns]
                       ].to_dict(orient="records"),
        "payoff": fr.payoff[[c for c in ("stage", "status", "gap", "solve_s", "cpu_s", "solve_cpu_s", "worker_pid",
                                         "method")
                             if c in fr.payoff.columns]].to_dict(orient="records"),
        "folder": str(fr.folder),
    }
    Path(args.report).write_text(json.dumps(out, indent=2, default=str))


def lp_share(instance: Path, folder: Path, gap: float) -> dict:
    """CPU of each ε-point's LP relaxation against its (cold-started) MILP's, in this process."""
    import pyomo.environ as pyo

    from optimizer.analyses import tradeoff_points as P
    from optimizer.analyses.frontier import gep_categories
    from optimizer.model.tradeoffs import set_epsilon, use_stage
    from optimizer.solve import SolveOptions, solve

    rows = [json.loads((d / "summary.json").read_text())["point"] for d in sorted((folder / "points").glob("p*"))
            if d.is_dir()]  # fmt: skip
    b = P.built_model(str(instance), [], [], gep_categories("objective", "exclude_material_gep"))
    m = b.model
    lp = milp = 0.0
    for r in rows:
        use_stage(m, "epsilon")
        set_epsilon(m, r["epsilon_yuan"], 0.0)
        for v in m.industry_chosen.values():
            v.domain = pyo.UnitInterval
        c = time.process_time()
        solve(m, SolveOptions(gap=gap))
        lp += time.process_time() - c
        for v in m.industry_chosen.values():
            v.domain = pyo.Binary
        milp += r.get("solve_cpu_s") or 0.0
    return {"points": len(rows), "lp_cpu_s": lp, "milp_cpu_s": milp, "share": lp / milp if milp else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--townships", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gap", type=float, default=1e-2)
    ap.add_argument("--points", type=int, default=11)
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS))
    ap.add_argument("--no-command", action="store_true", help="skip the `optimizer frontier` command run")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--lp-share", action="store_true", help="measure the LP relaxation's share of each ε-point")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/frontier"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--instance", help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    ap.add_argument("--report", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    from optimizer.generate import generate_instance

    args.out.mkdir(parents=True, exist_ok=True)
    inst_dir = args.out / f"n{args.townships}_s{args.seed}"
    if not (inst_dir / "instance.yaml").exists():
        generate_instance(inst_dir, args.townships, args.seed, table_format="gpkg")
    inst = (inst_dir / "instance.yaml").resolve()
    exe = [sys.executable, "-m", "optimizer"]
    results = args.out / "results"
    report: dict = {"args": {k: str(v) for k, v in vars(args).items()}, "load_average_start": os.getloadavg()}
    for rep in range(args.repeat):
        r = run([*exe, "-q", "solve", str(inst), "--gap", str(args.gap), "--time-limit", str(args.time_limit),
                 "--results", str(results)], args.out / "solve.log")
        report.setdefault("solve", []).append(r)
        print(f"solve (gap {args.gap:g}): wall {r['wall_s']:.1f} s, CPU {r['cpu_s']:.1f} s, exit {r['exit']}", flush=True)
        for name in args.variants:
            folder = args.out / "work" / name
            shutil.rmtree(folder, ignore_errors=True)
            folder.parent.mkdir(parents=True, exist_ok=True)
            rep_file = args.out / f"{name}.json"
            cmd = [sys.executable, __file__, "--child", json.dumps(VARIANTS[name]), "--instance", str(inst),
                   "--folder", str(folder) + ".partial", "--report", str(rep_file), "--gap", str(args.gap),
                   "--points", str(args.points), "--time-limit", str(args.time_limit)]
            if args.workers:
                cmd += ["--workers", str(args.workers)]
            r = run(cmd, args.out / f"{name}.log")
            detail = json.loads(rep_file.read_text()) if rep_file.exists() else {}
            r["detail"] = detail
            report.setdefault(name, []).append(r)
            pts = detail.get("points", [])
            gaps = [p["gap"] for p in pts if p.get("gap") is not None]
            bypassed = sum(1 for p in pts if p.get("started_from") == "bypass")
            print(f"{name}: wall {r['wall_s']:.1f} s ({r['wall_s'] / report['solve'][-1]['wall_s']:.2f}x solve), "
                  f"CPU {r['cpu_s']:.1f} s, exit {r['exit']}, largest point gap {max(gaps) if gaps else float('nan'):.2e}, "
                  f"bypassed {bypassed}, phases {json.dumps({k: round(v, 1) for k, v in detail.get('timings_s', {}).items()})}",
                  flush=True)  # fmt: skip
        if not args.no_command:
            r = run([*exe, "-q", "frontier", str(inst), "--gap", str(args.gap), "--points", str(args.points),
                     "--time-limit", str(args.time_limit), "--results", str(results)], args.out / "command.log")
            report.setdefault("command", []).append(r)
            print(f"optimizer frontier: wall {r['wall_s']:.1f} s ({r['wall_s'] / report['solve'][-1]['wall_s']:.2f}x solve), "
                  f"CPU {r['cpu_s']:.1f} s, exit {r['exit']}", flush=True)
    if args.lp_share and (args.out / "work" / "reuse").exists():
        report["lp_share"] = lp_share(inst, args.out / "work" / "reuse", args.gap)
        print(f"LP relaxation of the ε-points: {report['lp_share']['lp_cpu_s']:.1f} CPU-s against "
              f"{report['lp_share']['milp_cpu_s']:.1f} for their MILPs ({report['lp_share']['share']:.0%})")
    report["load_average_end"] = os.getloadavg()
    (args.out / "frontier_benchmark.json").write_text(json.dumps(report, indent=2, default=str))
    print(f"load average {report['load_average_start']} → {report['load_average_end']}")


if __name__ == "__main__":
    main()
