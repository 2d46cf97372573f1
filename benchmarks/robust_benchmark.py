"""Speed of `optimizer robust` on a generated instance: stability on 1 and 2 Dask workers,
and the robust plan (all samples in one HiGHS model) against one nominal solve.

A script, not a test: it prints and saves what it measured (wall and CPU seconds; CPU
counts this process and, once they have exited, its children, i.e. the Dask workers).

    python benchmarks/robust_benchmark.py --townships 1000 --stability-samples 100 --robust-samples 50 --gap 1e-2

The generated instance gets an uncertainty: section like karst3's: apple and navel-orange
prices (correlated 0.5), apple and orange yields (all townships together) and the PV price.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import time
from pathlib import Path

import yaml

from optimizer.analyses.robust import RobustSpec, run_robust, solve_robust_plan
from optimizer.analyses.uncertainty import draw_samples, sample_sets
from optimizer.generate import generate_instance
from optimizer.instance.load import load_instance
from optimizer.instance.validate import validate
from optimizer.model import build_model, prepare
from optimizer.solve import SolveOptions, solve

UNCERTAINTY = {
    "samples": 100,
    "seed": 20260101,
    "parameters": {
        "apple_price": {"path": "industries.apple.price_yuan_per_unit", "relative": True, "distribution": "discrete",
                        "values": [1.3, 1.0, 0.7, 0.15], "probabilities": [0.2, 0.55, 0.2, 0.05]},
        "citrus_price": {"path": "industries.citrus.price_yuan_per_unit", "relative": True,
                         "distribution": "triangular", "low": 0.5, "mode": 1.0, "high": 1.4},
        "apple_yield": {"path": "industries.apple.yield_per_ha", "relative": True, "distribution": "normal",
                        "mean": 1.0, "sd": 0.15, "low": 0.6, "high": 1.25},
        "citrus_yield": {"path": "industries.citrus.yield_per_ha", "relative": True, "distribution": "normal",
                         "mean": 1.0, "sd": 0.15, "low": 0.6, "high": 1.25},
        "pv_price": {"path": "industries.agro_pv.price_yuan_per_unit", "relative": True, "distribution": "uniform",
                     "low": 0.8, "high": 1.05},
    },
    "correlations": [{"parameters": ["apple_price", "citrus_price"], "coefficient": 0.5}],
}


def cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def instance(out: Path, n: int, seed: int) -> Path:
    folder = out / f"n{n}_s{seed}"
    path = folder / "instance.yaml"
    if not path.exists():
        generate_instance(folder, n, seed, table_format="csv")
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        doc["uncertainty"] = UNCERTAINTY
        path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--townships", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gap", type=float, default=1e-2)
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--stability-samples", type=int, default=100)
    ap.add_argument("--robust-samples", type=int, default=50)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--skip-stability", action="store_true")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/robust"))
    args = ap.parse_args()
    path = instance(args.out, args.townships, args.seed)
    options = {"gap": args.gap, "time_limit": args.time_limit, "threads": 1}
    report: dict = {"args": {k: str(v) for k, v in vars(args).items()}, "cpus": os.cpu_count()}

    # ---- the robust plan against one nominal solve (same gap, one HiGHS thread, this process)
    loaded = load_instance(path)
    valid = validate(loaded)
    t, c = time.perf_counter(), cpu()
    m = build_model(prepare(valid))
    nominal = solve(m, SolveOptions(**options))
    nominal_wall, nominal_cpu = time.perf_counter() - t, cpu() - c
    print(f"nominal: prepare+build+solve {nominal_wall:.1f} s wall, {nominal_cpu:.1f} s CPU "
          f"(HiGHS {nominal.solve_seconds:.1f} s, {nominal.status}, gap {nominal.gap:.2e})", flush=True)
    samples = draw_samples(loaded.spec.uncertainty, args.robust_samples)
    sets = sample_sets(loaded, samples)
    folder = args.out / "robust_plan"
    shutil.rmtree(folder, ignore_errors=True)
    t, c = time.perf_counter(), cpu()
    robust = solve_robust_plan(valid, loaded, samples, sets, ("expected",), 1.0, SolveOptions(**options), folder)
    robust_wall, robust_cpu = time.perf_counter() - t, cpu() - c
    model_wall = robust["prepare_samples_s"] + robust["build_and_solve_s"]
    print(f"robust plan over {samples.count} samples: {model_wall:.1f} s wall (prepare samples "
          f"{robust['prepare_samples_s']:.1f}, build {robust['build_s']:.1f}, HiGHS {robust['solve_s']:.1f}; "
          f"{robust['status']}, gap {robust.get('sample_gap') or 0:.2e}); with writing and checking the plan "
          f"{robust_wall:.1f} s wall, {robust_cpu:.1f} s CPU; ratio to one nominal solve {model_wall / nominal_wall:.1f}x",
          flush=True)
    report["nominal"] = {"wall_s": nominal_wall, "cpu_s": nominal_cpu, "highs_s": nominal.solve_seconds,
                         "status": nominal.status, "gap": nominal.gap}
    report["robust_plan"] = {"samples": samples.count, "model_wall_s": model_wall, "wall_s": robust_wall,
                             "cpu_s": robust_cpu, "ratio_to_nominal": model_wall / nominal_wall,
                             **{k: robust.get(k) for k in ("status", "sample_gap", "prepare_samples_s", "build_s",
                                                           "solve_s", "rows_by_family", "check_ok")},
                             "pairs_ruled_out": len(robust.get("pairs_ruled_out") or [])}

    # ---- stability (every sample solved and the nominal plan stress-tested) on 1 and 2 workers
    if not args.skip_stability:
        report["stability"] = {}
        for w in args.workers:
            target = args.out / f"stability_w{w}"
            shutil.rmtree(target, ignore_errors=True)
            spec = RobustSpec(instance=str(path.resolve()), options=options, samples=args.stability_samples, robust=False)
            t, c = time.perf_counter(), cpu()
            res = run_robust(spec, target, workers=w)
            wall, used = time.perf_counter() - t, cpu() - c
            solve_s = sum(json.loads((target / "samples" / s / "summary.json").read_text())["timings_s"]["solve"]
                          for s in res.sample_rows["sample"] if (target / "samples" / s / "summary.json").exists())
            status = res.sample_rows["status"].value_counts().to_dict()
            print(f"stability over {spec.samples} samples, {w} worker(s): {wall:.1f} s wall, {used:.1f} s CPU "
                  f"(HiGHS {solve_s:.1f} s summed over samples; samples {status}; "
                  f"the samples phase {res.summary['timings_s']['samples']:.1f} s)", flush=True)
            report["stability"][str(w)] = {"wall_s": wall, "cpu_s": used, "highs_s_sum": solve_s, "status": status,
                                           "samples_phase_s": res.summary["timings_s"]["samples"], "n": len(res.sample_rows)}
        if len(report["stability"]) >= 2:
            ws = sorted(report["stability"], key=int)
            a, b = report["stability"][ws[0]], report["stability"][ws[-1]]
            print(f"speed-up {ws[0]} → {ws[-1]} workers: {a['wall_s'] / b['wall_s']:.2f}x wall "
                  f"({a['samples_phase_s'] / b['samples_phase_s']:.2f}x in the samples phase)")
    (args.out / "robust_benchmark.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
