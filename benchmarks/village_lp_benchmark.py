"""The whole village model's LP relaxation, by each HiGHS LP method, side by side in one process.

The village decomposition (optimizer/solve/decompose/villages.py) starts from this LP: its
duals price the coupling rows and its column values share them among the counties. The
script reads, validates, prepares and builds an instance once, hands it to HiGHS through
Pyomo's interface as `optimizer solve` does, then solves the LP relaxation with each option
set in turn through the decomposition's own `lp_multipliers` (clearing HiGHS's solution
between them) and reports wall and CPU seconds, the LP value and how far the multipliers
of the coupling rows lie from the first method's.

    python benchmarks/village_lp_benchmark.py villages50k/instance.yaml

A script, not a test: on the shared 2-core machine wall seconds vary by up to 1.8x between
runs; run the methods in one process, as here, to compare them.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

METHODS: dict[str, dict[str, Any]] = {
    "simplex (choose, crossover on)": {"solver": "choose", "run_crossover": "on"},
    "ipm, crossover off": {"solver": "ipm", "run_crossover": "off"},
    "ipm, crossover on": {"solver": "ipm", "run_crossover": "on"},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("instance", type=Path)
    ap.add_argument("--methods", nargs="*", default=list(METHODS), choices=list(METHODS))
    args = ap.parse_args()

    from pyomo.contrib.solver.solvers.highs import Highs

    from optimizer.instance.load import load_instance
    from optimizer.instance.validate import validate
    from optimizer.model import build_model, prepare
    from optimizer.solve.decompose import villages

    t0 = time.perf_counter()
    data = prepare(validate(load_instance(args.instance)))
    m = build_model(data)
    opt = Highs()
    opt.set_instance(m)
    S = villages.split_villages(opt, m, data)
    cp = villages._coupling(S)
    print(f"read, build and transfer: {time.perf_counter() - t0:.1f} s; {S.n_cols} columns, {S.n_rows} rows, "
          f"{cp.n} coupling rows")
    h = opt._solver_model
    print("| LP method | wall s | CPU s | status | LP value | coupling multipliers, max rel. diff to first |")
    print("|---|---|---|---|---|---|")
    first = None
    for name in args.methods:
        villages.LP_OPTIONS = METHODS[name]
        h.clearSolver()
        w, c = time.perf_counter(), time.process_time()
        got = villages.lp_multipliers(opt, S, cp, threads=1)
        w, c = time.perf_counter() - w, time.process_time() - c
        status = h.modelStatusToString(h.getModelStatus())
        if got is None:
            print(f"| {name} | {w:.1f} | {c:.1f} | {status} | — | — |")
            continue
        lam, _, value = got
        first = lam if first is None else first
        diff = float(np.max(np.abs(lam - first) / np.maximum(1e-9, np.abs(first)))) if len(lam) else 0.0
        print(f"| {name} | {w:.1f} | {c:.1f} | {status} | {value:.10g} | {diff:.2e} |")


if __name__ == "__main__":
    main()
