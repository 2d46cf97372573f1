"""End-to-end benchmark: `optimizer solve` against raw HiGHS on the MPS of the same model.

For each size it generates an instance (`optimizer generate`), writes the model as MPS
through the library (the same build `solve` does), then times in fresh processes:

- the whole `optimizer -q solve` command: imports, reading, validation, build, transfer,
  HiGHS, writing every output and the independent check;
- raw HiGHS (highspy) reading the MPS and solving it with the same gap, threads, seed and
  time limit.

Peak memory is each child's maximum resident set (os.wait4). This is a script, not a
test: timings depend on the machine, and repeats on this 2-core machine varied by
about ±15%.

    python benchmarks/run_benchmark.py --sizes 1000 5000 20000 --gap 1e-4 --time-limit 120
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

RAW_HIGHS = r"""
import sys, time, json
import highspy
path, gap, limit, seed = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
h = highspy.Highs()
h.setOptionValue("output_flag", False)
t = time.perf_counter()
status = h.readModel(path)
if status != highspy.HighsStatus.kOk:
    raise SystemExit(f"readModel failed: {status}")
read = time.perf_counter() - t
for k, v in {"mip_rel_gap": gap, "time_limit": limit, "threads": 1, "random_seed": seed}.items():
    h.setOptionValue(k, v)
t = time.perf_counter()
h.run()
solve = time.perf_counter() - t
info = h.getInfo()
print(json.dumps({"read_s": read, "solve_s": solve, "status": h.modelStatusToString(h.getModelStatus()),
                  "objective": info.objective_function_value if info.primal_solution_status == 2 else None,
                  "bound": info.mip_dual_bound, "gap": info.mip_gap}))
"""


def run_with_rusage(cmd: list[str]) -> tuple[float, float, int, str]:
    start = time.perf_counter()
    r_fd, w_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: send stdout+stderr to the pipe, then exec
        os.close(r_fd)
        os.dup2(w_fd, 1)
        os.dup2(w_fd, 2)
        os.execvp(cmd[0], cmd)
    os.close(w_fd)
    chunks = []
    with os.fdopen(r_fd, "r", errors="replace") as reader:
        for line in reader:
            chunks.append(line)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    return wall, usage.ru_maxrss / 1024.0, os.waitstatus_to_exitcode(status), "".join(chunks)


def write_mps(instance: Path, mps: Path) -> dict[str, float]:
    """Build the model in-process exactly as `solve` does and write it as MPS."""
    from optimizer.model import build_model, prepare
    from optimizer.run import load_and_validate
    from optimizer.solve import write_model

    t = time.perf_counter()
    valid = load_and_validate(instance)
    m = build_model(prepare(valid))
    build = time.perf_counter() - t
    t = time.perf_counter()
    write_model(m, mps)
    return {"build_in_process_s": build, "write_mps_s": time.perf_counter() - t, "columns": len(m.industry_chosen)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    ap.add_argument("--gap", type=float, default=1e-4)
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    rows = []
    for n in args.sizes:
        inst_dir = args.out / f"n{n}_s{args.seed}"
        if not (inst_dir / "instance.yaml").exists():
            subprocess.run([py, "-m", "optimizer", "-q", "generate", str(inst_dir), "-n", str(n), "--seed", str(args.seed)], check=True)
        instance = inst_dir / "instance.yaml"
        mps = inst_dir / "model.mps"
        mps_info = write_mps(instance, mps)
        results = args.out / "runs"
        wall, rss, code, text = run_with_rusage(
            [py, "-m", "optimizer", "-q", "solve", str(instance), "--gap", str(args.gap), "--threads", "1",
             "--time-limit", str(args.time_limit), "--results", str(results)]
        )
        runs = sorted((results / f"synthetic_n{n}_s{args.seed}").iterdir(), key=lambda p: p.stat().st_mtime)
        summary = json.loads((runs[-1] / "summary.json").read_text()) if code in (0, 6) else {}
        raw_wall, raw_rss, raw_code, raw_text = run_with_rusage(
            [py, "-c", RAW_HIGHS, str(mps), str(args.gap), str(args.time_limit), "20260101"]
        )
        raw = json.loads(raw_text.strip().splitlines()[-1]) if raw_code == 0 else {}
        t = summary.get("timings_s", {})
        row = {
            "townships": n,
            "gap_option": args.gap,
            "time_limit_s": args.time_limit,
            "exit_code": code,
            "status": summary.get("status"),
            "objective": summary.get("objective_yuan"),
            "bound": summary.get("bound_yuan"),
            "gap": summary.get("gap"),
            "build_s": t.get("build"),
            "transfer_s": t.get("transfer"),
            "highs_in_optimizer_s": t.get("solve"),
            "write_and_check_s": (t.get("write") or 0) + (t.get("check") or 0),
            "optimizer_total_wall_s": wall,
            "optimizer_peak_rss_mb": rss,
            "raw_highs_status": raw.get("status"),
            "raw_highs_solve_s": raw.get("solve_s"),
            "raw_highs_wall_s": raw_wall,
            "raw_highs_gap": raw.get("gap"),
            "raw_highs_objective": raw.get("objective"),
            "raw_highs_peak_rss_mb": raw_rss,
            "ratio_total_to_raw_solve": wall / raw["solve_s"] if raw.get("solve_s") else None,
            **mps_info,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    (args.out / f"benchmark_gap{args.gap:g}.json").write_text(json.dumps(rows, indent=2))
    print("\n| townships | status | gap | build s | transfer s | HiGHS s | write+check s | total s | peak MB | raw HiGHS s | raw status | raw gap | total ÷ raw |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        def f(x: object, d: int = 2) -> str:
            return "—" if x is None else (f"{x:.{d}f}" if isinstance(x, float) else str(x))

        print(f"| {r['townships']:,} | {r['status']} | {f(r['gap'], 6)} | {f(r['build_s'])} | {f(r['transfer_s'])} | "
              f"{f(r['highs_in_optimizer_s'])} | {f(r['write_and_check_s'])} | {f(r['optimizer_total_wall_s'])} | "
              f"{f(r['optimizer_peak_rss_mb'], 0)} | {f(r['raw_highs_solve_s'])} | {r['raw_highs_status']} | "
              f"{f(r['raw_highs_gap'], 6)} | {f(r['ratio_total_to_raw_solve'])} |")


if __name__ == "__main__":
    main()
