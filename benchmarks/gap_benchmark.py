"""Generalized-assignment instances: the product against raw HiGHS on the textbook model.

For each GAP instance (`optimizer generate --kind gap`) and each HiGHS seed, in fresh
processes, side by side:

- raw: highspy on the textbook model (`optimizer.generate.gap.natural_model`: profits and
  weights as drawn, integers);
- product: the whole `optimizer -q solve --method auto` command (auto chooses HiGHS on
  the whole model here: no county-level limits), with its row scaling;
- fixed units: the product's model without row scaling (the fixed 万元 / thousand-unit
  rows of data.py), solved by highspy — the configuration the scaling replaced.

Reported: CPU seconds (user + system) and wall seconds to the gap, status, nodes.

    python benchmarks/gap_benchmark.py --instances c:400:20 d:100:5 d:200:10 --seeds 1 2 3 --gap 2e-3

A script, not a test; HiGHS's run time varies a lot with the seed (a MIP search takes
other paths), so compare over seeds.
"""

from __future__ import annotations

import argparse
import json

import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks_common import latest_summary, timed  # noqa: E402  (same folder)

SOLVE_FROM_MODEL = r"""
import sys, time, json
import numpy as np
from pathlib import Path
kind, path, gap, limit, seed = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
if kind == "raw":
    from optimizer.generate.gap import natural_model
    h = natural_model(Path(path).parent)
else:
    from optimizer.run import load_and_validate
    from optimizer.model import prepare
    from optimizer.model.matrix import build_matrix
    from optimizer.solve.decompose.highs_models import highs_from_triplets
    M = build_matrix(prepare(load_and_validate(path), scaled=False))
    R, C, V, L, U, off = [], [], [], [], [], 0
    for b in M.blocks.values():
        R.append(b.rows + off); C.append(b.cols); V.append(b.vals); L.append(b.lower); U.append(b.upper); off += b.n
    n = M.n_cols
    h = highs_from_triplets(M.cost, np.zeros(n), np.r_[np.ones(M.n_x), np.full(n - M.n_x, np.inf)],
                            np.r_[np.ones(M.n_x, bool), np.zeros(n - M.n_x, bool)], np.concatenate(R),
                            np.concatenate(C), np.concatenate(V), np.concatenate(L), np.concatenate(U))
for k, v in {"mip_rel_gap": gap, "time_limit": limit, "threads": 1, "random_seed": seed}.items():
    h.setOptionValue(k, v)
t = time.perf_counter(); h.run(); i = h.getInfo()
print(json.dumps({"solve_s": time.perf_counter() - t, "status": h.modelStatusToString(h.getModelStatus()),
                  "gap": i.mip_gap if i.mip_gap < 1e30 else None, "nodes": i.mip_node_count}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", nargs="+", default=["c:400:20", "d:100:5", "d:200:10"],
                    help="kind:townships:industries")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--gap", type=float, default=2e-3)
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/gap"))
    args = ap.parse_args()
    py = sys.executable
    rows = []
    for spec in args.instances:
        kind, n, m = spec.split(":")
        inst = args.out / f"{kind}_{n}_{m}"
        if not (inst / "instance.yaml").exists():
            subprocess.run([py, "-m", "optimizer", "-q", "generate", str(inst), "--kind", "gap", "-n", n,
                            "--industries", m, "--gap-type", kind, "--seed", "1"], check=True)
        instance = inst / "instance.yaml"
        for seed in args.seeds:
            row = {"instance": spec, "seed": seed}
            for variant in ("raw", "fixed_units"):
                t = timed([py, "-c", SOLVE_FROM_MODEL, variant, str(instance), str(args.gap), str(args.time_limit),
                           str(seed)])
                info = json.loads(t["output"].strip().splitlines()[-1]) if t["exit"] == 0 else {"status": "error"}
                row[variant] = {"cpu_s": t["cpu_s"], "wall_s": t["wall_s"], **info}
            results = args.out / "runs"
            t = timed([py, "-m", "optimizer", "-q", "solve", str(instance), "--gap", str(args.gap), "--seed", str(seed),
                       "--time-limit", str(args.time_limit), "--results", str(results)])
            s = latest_summary(results) if t["exit"] in (0, 6) else {}
            row["product"] = {"cpu_s": t["cpu_s"], "wall_s": t["wall_s"], "status": s.get("status"),
                              "gap": s.get("gap"), "highs_s": (s.get("timings_s") or {}).get("solve"),
                              "method": (s.get("method") or {}).get("used")}  # fmt: skip
            rows.append(row)
            print(json.dumps(row), flush=True)
    (args.out / "gap_benchmark.json").write_text(json.dumps(rows, indent=2))
    print("\n| instance | seed | raw CPU s | product CPU s (whole command) | product HiGHS s | fixed units CPU s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['instance']} | {r['seed']} | {r['raw']['cpu_s']:.1f} ({r['raw'].get('status')}) | "
              f"{r['product']['cpu_s']:.1f} ({r['product']['status']}) | {r['product']['highs_s'] or 0:.1f} | "
              f"{r['fixed_units']['cpu_s']:.1f} ({r['fixed_units'].get('status')}) |")
    for spec in args.instances:
        sel = [r for r in rows if r["instance"] == spec]
        med = {v: statistics.median(r[v]["cpu_s"] for r in sel) for v in ("raw", "product", "fixed_units")}
        print(f"{spec}: median CPU s raw {med['raw']:.1f}, product {med['product']:.1f}, fixed units {med['fixed_units']:.1f}")


if __name__ == "__main__":
    main()
