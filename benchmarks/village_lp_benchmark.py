"""The whole village model's LP relaxation, by each HiGHS LP method, side by side in one process.

The village decomposition (optimizer/solve/decompose/villages.py) starts from this LP: its
duals price the coupling rows and its column values share them among the counties. The
script reads, validates and prepares an instance once and builds its array model
(model/matrix.py) as `optimizer solve` does, then solves the LP relaxation with each option
set in turn through the decomposition's own `whole_lp` and `lp_multipliers` (a fresh HiGHS
model each time) and reports wall and CPU seconds, the LP value and how far the
multipliers of the coupling rows lie from the first method's.

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
    "ipm, crossover off, tolerances 1e-6": {"solver": "ipm", "run_crossover": "off",
                                            "ipm_optimality_tolerance": 1e-6},
    "hipo, crossover off": {"solver": "hipo", "run_crossover": "off"},
    "hipo, crossover on": {"solver": "hipo", "run_crossover": "on"},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("instance", type=Path)
    ap.add_argument("--methods", nargs="*", default=list(METHODS), choices=list(METHODS))
    args = ap.parse_args()

    from optimizer.instance.load import load_instance
    from optimizer.instance.validate import validate
    from optimizer.model import prepare
    from optimizer.model.matrix import build_matrix
    from optimizer.solve.decompose import villages

    t0 = time.perf_counter()
    data = prepare(validate(load_instance(args.instance)))
    t1 = time.perf_counter()
    S = villages.split_villages(build_matrix(data), data)
    cp = villages._coupling(S)
    print(f"read and validate {t1 - t0:.1f} s; array model and split {time.perf_counter() - t1:.1f} s; "
          f"{S.n_cols} columns, {S.n_rows} rows, {cp.n} coupling rows")
    print("| LP method | wall s | CPU s | status | LP bound (dual objective) | coupling multipliers, max rel. diff to first |")
    print("|---|---|---|---|---|---|")
    first = None
    for name in args.methods:
        villages.LP_OPTIONS = METHODS[name]
        w, c = time.perf_counter(), time.process_time()
        h = villages.whole_lp(S, threads=1)
        got = villages.lp_multipliers(h, S, cp)
        w, c = time.perf_counter() - w, time.process_time() - c
        status = h.modelStatusToString(h.getModelStatus())
        if got is None:
            print(f"| {name} | {w:.1f} | {c:.1f} | {status} | — | — |")
            continue
        lam, value = got.lam, got.bound
        first = lam if first is None else first
        diff = float(np.max(np.abs(lam - first) / np.maximum(1e-9, np.abs(first)))) if len(lam) else 0.0
        print(f"| {name} | {w:.1f} | {c:.1f} | {status} | {value:.10g} | {diff:.2e} |")


if __name__ == "__main__":
    main()
