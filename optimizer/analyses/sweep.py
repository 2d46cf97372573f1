"""Parameter sweeps: the Cartesian product of varied values, each point a full run, on Dask.

`optimizer sweep INSTANCE --vary constraints.water.county_max_m3.A=0.6:1.0:0.1* --vary
industries.pv.price_yuan_per_unit=250,300` runs every combination. Each point is an
ordinary run folder (CSV, GeoPackage, summary, manifest, independent check), so any two
can be compared with `optimizer compare`.

How the work is split: points that differ only in the *last* varied parameter form a
chain, solved in order in one worker; with `--warm-start` each point starts HiGHS from
the previous point's plan (a repaired MIP start, see model/start.py). Warm starts are
off by default: on generated instances HiGHS spends its time on the bound, not on
finding plans, and the measured 10-point sweep was slower with them
(docs/performance.md). Chains run in parallel on a
`dask.distributed` cluster: an embedded local one sized to the machine by default, or an
existing one with `--scheduler ADDRESS`. The chains do not depend on how many workers
there are, so a sweep gives the same plans serially and in parallel.

A point that fails is recorded (`points/<id>.failed.json`) and the batch goes on;
`--resume SWEEP_DIR` runs only the points without a finished run folder.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import re
import secrets
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.errors import InputError, Location, Problem
from optimizer.solve import SolveOptions

log = logging.getLogger(__name__)

_RANGE = re.compile(r"^\s*(-?[\d.]+(?:e-?\d+)?)\s*:\s*(-?[\d.]+(?:e-?\d+)?)\s*:\s*([\d.]+(?:e-?\d+)?)\s*(\*?)\s*$")


@dataclass
class Vary:
    path: str
    values: list[str]  # each as a --set value text ('0.7*', '350', 'true')


@dataclass
class SweepSpec:
    instance: str
    varies: list[Vary]
    scenarios: list[str] = field(default_factory=list)
    sets: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    warm_start: bool = False  # measured slower on generated instances (docs/performance.md)

    def points(self) -> list[dict[str, Any]]:
        """Every combination, in order, with a stable id and its chain number."""
        combos = list(itertools.product(*[v.values for v in self.varies]))
        width = len(str(len(combos)))
        pts = []
        tail = len(self.varies[-1].values)
        for k, combo in enumerate(combos):
            label = "_".join(_slug(v) for v in combo)
            pts.append(
                {
                    "id": f"p{k:0{width}d}-{label}"[:80],
                    "values": {v.path: val for v, val in zip(self.varies, combo)},
                    "chain": k // tail,
                }
            )
        return pts


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "", text.replace("*", "x")) or "v"


def parse_vary(expr: str) -> Vary:
    """`PATH=v1,v2,...` or `PATH=start:stop:step[*]` (inclusive range; * makes factors)."""
    where = Location(Path("command line"))
    if "=" not in expr:
        raise InputError([Problem(where, f"--vary '{expr}' needs the form PATH=v1,v2 or PATH=start:stop:step")])
    path, text = expr.split("=", 1)
    m = _RANGE.match(text)
    if m:
        start, stop, step, star = float(m[1]), float(m[2]), float(m[3]), m[4]
        if step <= 0 or stop < start:
            raise InputError([Problem(where, f"--vary '{expr}': a range needs start ≤ stop and a positive step")])
        n = int(math.floor((stop - start) / step + 1e-9)) + 1
        decimals = max(_decimals(m[1]), _decimals(m[3]))
        values = [f"{round(start + i * step, decimals):g}{star}" for i in range(n)]
    else:
        values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise InputError([Problem(where, f"--vary '{expr}' lists no values")])
    return Vary(path.strip(), values)


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def new_sweep_dir(results_root: Path, instance_name: str) -> Path:
    return results_root / instance_name / f"sweep-{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def point_done(sweep_dir: Path, point_id: str) -> bool:
    """A finished run folder, or a recorded proof that the point has no feasible plan."""
    points = sweep_dir / "points"
    return (points / point_id / "manifest.json").exists() or (points / f"{point_id}.infeasible.json").exists()


def run_chain(spec_dict: dict[str, Any], sweep_dir: str, chain: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Solve a chain of points in order, each starting from the previous plan.

    Runs inside a Dask worker (or in-process when serial); never raises: a failing point
    becomes a row with status 'failed' and the next point starts cold.
    """
    from optimizer.run import solve_instance

    spec = SweepSpec(**{**spec_dict, "varies": [Vary(**v) for v in spec_dict["varies"]]})
    options = SolveOptions(**spec.options)
    root = Path(sweep_dir)
    rows = []
    previous = None
    for point in chain:
        pid = point["id"]
        if point_done(root, pid):
            marker = root / "points" / f"{pid}.infeasible.json"
            if marker.exists():
                rows.append(json.loads(marker.read_text(encoding="utf-8"))["row"])
                previous = None
            else:
                row = _row_from_folder(root, point)
                rows.append(row)
                previous = _plan_from_folder(root / "points" / pid) if row["status"] != "infeasible" else None
            continue
        sets = [*spec.sets, *[f"{p}={v}" for p, v in point["values"].items()]]
        try:
            result = solve_instance(
                Path(spec.instance), options, results_root=root, folder="points", run_id=pid,
                scenarios=spec.scenarios, sets=sets, start_plan=previous if spec.warm_start else None,
            )  # fmt: skip
            if result.infeasible:  # an answer, not a failure: its folder holds the diagnosis
                (root / "points" / f"{pid}.failed.json").unlink(missing_ok=True)
                rows.append(_row_from_folder(root, point))
                previous = None
                continue
            if result.run_dir is None:
                raise RuntimeError(f"no plan: {result.summary['status']} ({result.summary.get('termination')})")
            previous = result.plan
            (root / "points" / f"{pid}.failed.json").unlink(missing_ok=True)
            rows.append(_row_from_folder(root, point))
        except Exception as exc:  # recorded, and the batch goes on
            message = "; ".join(str(p) for p in exc.problems) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
            (root / "points").mkdir(parents=True, exist_ok=True)
            (root / "points" / f"{pid}.failed.json").write_text(
                json.dumps({"id": pid, "values": point["values"], "error": message,
                            "traceback": traceback.format_exc()}, ensure_ascii=False, indent=2),
                encoding="utf-8",
            )  # fmt: skip
            rows.append({"point": pid, **point["values"], "status": "failed", "error": message})
            previous = None
    return rows


def _plan_from_folder(run_dir: Path) -> pd.Series:
    """Industry per planning unit (township, or village of a village run) of a run folder."""
    alloc = pd.read_csv(run_dir / "allocation.csv", dtype={"township_id": str, "village_id": str},
                        encoding="utf-8-sig")  # fmt: skip
    key = "village_id" if "village_id" in alloc.columns else "township_id"
    return pd.Series(alloc["industry"].to_numpy(), index=alloc[key].to_numpy())


def _row_from_folder(root: Path, point: dict[str, Any]) -> dict[str, Any]:
    run_dir = root / "points" / point["id"]
    s = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    if s["status"] == "infeasible":
        words = [c["text"] for c in s.get("conflicts", [])] + [r["text"] for r in s.get("least_relaxation", [])]
        return {"point": point["id"], **point["values"], "status": "infeasible",
                "error": "limits in conflict: " + ", ".join(s.get("infeasible_families") or [])
                         + (" — " + "; ".join(words[:5]) if words else "")}  # fmt: skip
    t = s["totals"]
    row: dict[str, Any] = {"point": point["id"], **point["values"], "status": s["status"],
                           "objective_yuan": s["objective_yuan"], "bound_yuan": s["bound_yuan"], "gap": s["gap"],
                           "gep_total_yuan": t["gep_total_yuan"],
                           "gep_regulating_cultural_yuan": t["gep_regulating_yuan"] + t["gep_cultural_yuan"],
                           "farmer_income_yuan": t["farmer_income_after_price_steps_yuan"],
                           "water_use_m3": t["water_use_m3"], "pv_capacity_mw": t["pv_capacity_mw"],
                           "investment_yuan": t["investment_yuan"],
                           "solve_s": s["timings_s"].get("solve"), "check_ok": s.get("check_ok")}  # fmt: skip
    for ind, n in sorted(t.get("townships_by_industry", {}).items()):
        row[f"townships_{ind}"] = n
    for ind, n in sorted(t.get("villages_by_industry", {}).items()):  # a village instance
        row[f"villages_{ind}"] = n
    for ind, n in sorted(t.get("townships_by_leading_industry", {}).items()):
        row[f"townships_leading_{ind}"] = n
    return row


def run_sweep(
    spec: SweepSpec,
    sweep_dir: Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    serial: bool = False,
    progress: Callable[[int, int, int], None] | None = None,
) -> pd.DataFrame:
    """Run (or resume) every point; write sweep.json, sweep_summary.csv and sweep.png.

    Holds a lock on the folder for the whole run: a second `--resume` of the same sweep
    is refused instead of deleting the first one's unfinished points.
    """
    sweep_dir.mkdir(parents=True, exist_ok=True)
    with sweep_lock(sweep_dir):
        return _run_sweep(spec, sweep_dir, scheduler=scheduler, workers=workers, serial=serial, progress=progress)


@contextmanager
def sweep_lock(sweep_dir: Path) -> Iterator[None]:
    """An exclusive lock on `sweep_dir/sweep.lock` (released when the process ends, even if killed)."""
    import fcntl

    path = sweep_dir / "sweep.lock"
    handle = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise InputError([Problem(
                Location(sweep_dir),
                f"another `optimizer sweep` is running on this folder ({holder})",
                "wait for it to finish (or stop it), then resume",
            )]) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, since {datetime.now().isoformat(timespec='seconds')}")
        handle.flush()
        yield
    finally:
        handle.close()


def _run_sweep(
    spec: SweepSpec,
    sweep_dir: Path,
    *,
    scheduler: str | None,
    workers: int | None,
    serial: bool,
    progress: Callable[[int, int, int], None] | None,
) -> pd.DataFrame:
    points = spec.points()
    definition = {"spec": asdict(spec), "points": points, "created": datetime.now().isoformat()}
    spec_file = sweep_dir / "sweep.json"
    if not spec_file.exists():
        spec_file.write_text(json.dumps(definition, ensure_ascii=False, indent=2), encoding="utf-8")
    chains: dict[int, list[dict[str, Any]]] = {}
    for p in points:
        chains.setdefault(p["chain"], []).append(p)
    spec_dict = asdict(spec)
    todo = sum(1 for p in points if not point_done(sweep_dir, p["id"]))
    log.info("sweep %s: %d points in %d chains, %d to run", sweep_dir.name, len(points), len(chains), todo)
    rows: list[dict[str, Any]] = []
    done = failed = 0
    total = len(points)

    def account(chain_rows: list[dict[str, Any]]) -> None:
        nonlocal done, failed
        rows.extend(chain_rows)
        done += len(chain_rows)
        failed += sum(1 for r in chain_rows if r["status"] == "failed")
        if progress:
            progress(done, failed, total)

    if serial:
        for chain in chains.values():
            account(run_chain(spec_dict, str(sweep_dir), chain))
    else:
        from dask.distributed import Client, LocalCluster, as_completed

        if not log.isEnabledFor(logging.DEBUG):
            # The scheduler and nannies log every connection at INFO, and tracebacks when
            # a sweep is interrupted; a planner needs none of it (-vv shows it again).
            logging.getLogger("distributed").setLevel(logging.CRITICAL)
        cluster = None
        if scheduler:
            client = Client(scheduler)
        else:
            n = workers or max(1, min(os.cpu_count() or 1, len(chains)))
            quiet = logging.DEBUG if log.isEnabledFor(logging.DEBUG) else logging.ERROR
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=quiet)
            client = Client(cluster)
        try:
            futures = {client.submit(run_chain, spec_dict, str(sweep_dir), chain, pure=False): chain
                       for chain in chains.values()}  # fmt: skip
            for fut in as_completed(futures):
                try:
                    account(fut.result())
                except Exception as exc:  # a worker died: every point of its chain failed
                    account([{"point": p["id"], **p["values"], "status": "failed",
                              "error": f"worker lost: {exc}"} for p in futures[fut]])  # fmt: skip
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    order = {p["id"]: k for k, p in enumerate(points)}
    table = pd.DataFrame(rows).sort_values("point", key=lambda s: s.map(order)).reset_index(drop=True)
    table = _changed_from_first(sweep_dir, table)
    table.to_csv(sweep_dir / "sweep_summary.csv", index=False, encoding="utf-8-sig", float_format="%.12g")
    _plot(table, spec, sweep_dir / "sweep.png")
    return table


def _changed_from_first(sweep_dir: Path, table: pd.DataFrame) -> pd.DataFrame:
    ok = table[~table["status"].isin(["failed", "infeasible"])]
    if ok.empty:
        return table
    first = _plan_from_folder(sweep_dir / "points" / ok["point"].iloc[0])
    changed = []
    for pid, status in zip(table["point"], table["status"]):
        if status in ("failed", "infeasible"):
            changed.append(None)
            continue
        plan = _plan_from_folder(sweep_dir / "points" / pid)
        changed.append(int((plan.reindex(first.index) != first).sum()))
    villages = "village_id" in pd.read_csv(sweep_dir / "points" / ok["point"].iloc[0] / "allocation.csv", nrows=0,
                                           encoding="utf-8-sig").columns  # fmt: skip
    table["villages_changed_from_first" if villages else "townships_changed_from_first"] = changed
    return table


def _plot(table: pd.DataFrame, spec: SweepSpec, target: Path) -> None:
    """Headline figures against the first varied parameter, one line per other combination."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = table[~table["status"].isin(["failed", "infeasible"])].copy()
    if ok.empty:
        return
    x_path = spec.varies[0].path
    from optimizer.outputs.figures import cjk_font

    font = cjk_font()  # Chinese names in the legend only where a font can draw them
    if font:
        matplotlib.rcParams["font.sans-serif"] = [font, *matplotlib.rcParams["font.sans-serif"]]
    cjk = font is not None
    x = ok[x_path].astype(str).str.rstrip("*")
    try:
        ok["_x"] = x.astype(float)
    except ValueError:
        ok["_x"] = range(len(ok))
    others = [v.path for v in spec.varies[1:]]
    figures = [("objective_yuan", "objective"), ("gep_total_yuan", "GEP total"), ("farmer_income_yuan", "farmers' income")]
    fig, axes = plt.subplots(1, len(figures), figsize=(5 * len(figures), 4), constrained_layout=True)
    groups = ok.groupby(others) if others else [((), ok)]
    for ax, (col, title) in zip(axes, figures):
        for key, g in groups:
            label = ", ".join(f"{_label(p, cjk)}={v}" for p, v in zip(others, key if isinstance(key, tuple) else (key,)))
            ax.plot(g["_x"], g[col] / 1e6, marker="o", label=label or None)
        ax.set_title(title)
        ax.set_xlabel(_label(x_path, cjk) + (" (factor)" if spec.varies[0].values[0].endswith("*") else ""))
        ax.set_ylabel("million yuan / yr")
        ax.grid(True, alpha=0.3)
        if others:
            ax.legend(fontsize=7)
    fig.suptitle(f"Sweep of {Path(spec.instance).name}")
    fig.savefig(target, dpi=110)
    plt.close(fig)



def _label(path: str, cjk: bool) -> str:
    """The last meaningful part of a path; Chinese names only where a font can draw them."""
    parts = path.split(".")
    if cjk or parts[-1].isascii():
        return ".".join(parts[-2:]) if len(parts) > 1 else parts[-1]
    return parts[-2] if len(parts) > 1 else "value"
