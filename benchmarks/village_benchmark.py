"""Village-instance benchmark: a checked plan in 60 s, gap 5e-3 within 180 s, peak memory < 4 GB.

Generates `optimizer generate --townships N --villages-per-township K` (default 3,000
townships, 16.6667 villages each: 50,000 villages) and times, in fresh processes, the
whole `optimizer -q solve` command (imports, reading, validation, build, HiGHS, writing,
the independent check) at each time limit, at the gap asked for. Reported per run: exit
code, status, gap, whether a checked plan was written, the phase timings of its
summary.json, wall seconds, CPU seconds of the child (user + system, `os.wait4`) and
its peak resident memory. `--method` is passed to `optimizer solve` when given (the
decomposition solver of issue 11, once `solve` has the option); `--without-rule` adds a
run of the same instance with the leading-industry rule removed, to show what the rule
costs.

This is a script, not a test: on this project's 2-core machine, shared with other work,
wall times vary widely; CPU seconds vary less.

    python benchmarks/village_benchmark.py --townships 3000 --villages-per-township 16.6667 \\
        --limits 60 180 --gap 5e-3
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from benchmarks_common import timed  # same folder


def run(cmd: list[str]) -> dict[str, Any]:
    """Run a command: wall and CPU seconds, peak memory (MB), exit code and output (benchmarks_common.timed)."""
    res = timed(cmd)
    res["exit_code"] = res.pop("exit")
    return res


def newest_run(folder: Path, before: set[Path]) -> Path | None:
    runs = [p for p in folder.glob("*/*") if p.is_dir() and p not in before and (p / "summary.json").exists()]
    return max(runs, key=lambda p: p.stat().st_mtime) if runs else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--townships", type=int, default=3000)
    ap.add_argument("--villages-per-township", type=float, default=50000 / 3000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--limits", type=float, nargs="+", default=[60.0, 180.0])
    ap.add_argument("--gap", type=float, default=5e-3)
    ap.add_argument("--method", default=None, help="passed to `optimizer solve --method` when given")
    ap.add_argument("--without-rule", action="store_true", help="also solve without the leading-industry rule")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/villages"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    inst_dir = args.out / f"n{args.townships}_k{args.villages_per_township:g}_s{args.seed}"
    instance = inst_dir / "instance.yaml"
    rows: list[dict[str, Any]] = []
    if not instance.exists():
        gen = run([py, "-m", "optimizer", "-q", "generate", str(inst_dir), "-n", str(args.townships),
                   "--villages-per-township", str(args.villages_per_township), "--seed", str(args.seed)])
        if gen["exit_code"] != 0:
            raise SystemExit(gen["output"])
        rows.append({"run": "generate", **{k: gen[k] for k in ("wall_s", "cpu_s", "peak_mb", "exit_code")}})
        print(json.dumps(rows[-1]), flush=True)
    results = args.out / "runs"
    cases = [(limit, []) for limit in args.limits]
    if args.without_rule:
        cases += [(limit, ["--set", "constraints.leading_industry=null"]) for limit in args.limits]
    for limit, extra in cases:
        before = set(results.glob("*/*")) if results.exists() else set()
        cmd = [py, "-m", "optimizer", "-q", "solve", str(instance), "--gap", str(args.gap), "--threads", "1",
               "--time-limit", str(limit), "--results", str(results), *extra]
        if args.method:
            cmd += ["--method", args.method]
        res = run(cmd)
        folder = newest_run(results, before)
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8")) if folder else {}
        t = summary.get("timings_s", {})
        row = {
            "run": f"solve, limit {limit:g} s" + (" (no leading rule)" if extra else ""),
            "exit_code": res["exit_code"],
            "status": summary.get("status"),
            "gap": summary.get("gap"),
            "checked_plan": bool(summary.get("check_ok")),
            "read_validate_s": (t.get("read") or 0) + (t.get("validate") or 0) if t else None,
            "build_s": t.get("build"),
            "highs_s": t.get("solve"),
            "write_check_s": (t.get("write") or 0) + (t.get("check") or 0) if t else None,
            "wall_s": res["wall_s"],
            "cpu_s": res["cpu_s"],
            "peak_mb": res["peak_mb"],
            "last_output": res["output"].strip().splitlines()[-1][:200] if res["output"].strip() else "",
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    (args.out / "village_benchmark.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")

    def f(x: Any, d: int = 1) -> str:
        if x is None:
            return "—"
        return f"{x:.{d}f}" if isinstance(x, float) else str(x)

    print("\n| run | exit | status | gap | checked plan | read+validate s | build s | HiGHS s | write+check s "
          "| wall s | CPU s | peak MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['run']} | {r['exit_code']} | {f(r.get('status'))} | {f(r.get('gap'), 4)} | "
              f"{'yes' if r.get('checked_plan') else 'no'} | {f(r.get('read_validate_s'))} | {f(r.get('build_s'))} | "
              f"{f(r.get('highs_s'))} | {f(r.get('write_check_s'))} | {f(r['wall_s'])} | {f(r['cpu_s'])} | "
              f"{f(r['peak_mb'], 0)} |")


if __name__ == "__main__":
    main()
