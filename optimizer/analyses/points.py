"""Many solve points on Dask: each point a full run folder, failures recorded, resumable.

The machinery shared by `optimizer sweep` (a Cartesian product of varied values) and
`optimizer robust` (one point per sample of the uncertain figures), and open to any
analysis that needs "solve these variants of one instance". A point is a list of
`--set` changes; it is solved by `optimizer.run.solve_instance` into
`<root>/<folder>/<point id>/` (CSV, GeoPackage, summary, manifest, independent check),
so any point can be opened, compared or repeated on its own.

How the work is split: points with the same `chain` number are solved in order in one
worker; with `warm_start` each starts HiGHS from the previous point's plan (a repaired
MIP start, see model/start.py). Chains run in parallel on a `dask.distributed` cluster:
an embedded local one sized to the machine by default, or an existing one given by its
scheduler address. Chains do not depend on the number of workers, so the same points
give the same plans serially and in parallel.

A point that fails is recorded (`<folder>/<id>.failed.json`) and the batch goes on; a
point with no feasible plan is an answer (its run folder holds the diagnosis). Running
the same points again into the same root solves only those without a finished folder
(resume); `folder_lock` keeps two processes from resuming one batch at once.

An optional `after` step ("package.module:function") runs in the worker after each
point, finished or not, e.g. to score given plans in that point's instance. It gets
(job, root, point, row) and returns extra fields for the row; it must be cheap to call
again on a finished point (read what it wrote before), because a resume calls it for
every point.

With `reuse_instance`, each worker reads the instance once and makes every point from it
in memory (`optimizer.analyses.uncertainty.resolve_sample`, the same instance as reading
it again); `optimizer robust` does so, because reading a GeoPackage costs more than
solving a small sample.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.errors import InputError, Location, Problem
from optimizer.i18n import language
from optimizer.i18n import units as money_units
from optimizer.solve import SolveOptions

log = logging.getLogger(__name__)


@dataclass
class PointJob:
    """What every point of a batch shares: the instance, fixed changes and solver options."""

    instance: str
    folder: str = "points"  # point run folders go to <root>/<folder>/<id>/
    scenarios: list[str] = field(default_factory=list)
    sets: list[str] = field(default_factory=list)  # applied before each point's own
    options: dict[str, Any] = field(default_factory=dict)  # SolveOptions fields
    warm_start: bool = False
    after: str | None = None
    after_args: dict[str, Any] = field(default_factory=dict)
    #: Read the instance once per worker and make each point from it in memory
    #: (analyses/uncertainty.resolve_sample) instead of reading its files for every point.
    reuse_instance: bool = False
    #: Write each point's allocation.xlsx and report.html too (`sweep --point-reports`);
    #: by default a point holds the plan's files and its check, the batch its own report.
    deliverables: bool = False


_BASES: dict[tuple[Any, ...], Any] = {}


def base_instance(job: PointJob) -> Any:
    """The batch's instance with its own scenarios and changes, read once per process."""
    from optimizer.instance.load import load_instance

    path = Path(job.instance)
    key = (str(path), path.stat().st_mtime_ns, tuple(job.scenarios), tuple(job.sets))
    if key not in _BASES:
        _BASES.clear()
        _BASES[key] = load_instance(path, scenarios=job.scenarios, sets=job.sets)
    return _BASES[key]


def point_done(root: Path, folder: str, point_id: str) -> bool:
    """A finished run folder (a plan, or the answer "infeasible"), or an older run's infeasible marker."""
    points = Path(root) / folder
    return (points / point_id / "manifest.json").exists() or (points / f"{point_id}.infeasible.json").exists()


@contextmanager
def folder_lock(folder: Path, command: str) -> Iterator[None]:
    """An exclusive lock on `folder/<name>.lock` (released when the process ends, even if killed).

    A second `--resume` of the same batch is refused instead of deleting the first one's
    unfinished points.
    """
    import fcntl

    path = folder / ("sweep.lock" if command == "optimizer sweep" else "batch.lock")
    handle = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise InputError([Problem(
                Location(folder),
                f"another `{command}` is running on this folder ({holder})",
                "wait for it to finish (or stop it), then resume",
            )]) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, since {datetime.now().isoformat(timespec='seconds')}")
        handle.flush()
        yield
    finally:
        handle.close()


def run_chain(job_dict: dict[str, Any], root_dir: str, chain: list[dict[str, Any]],
              lang: str | None = None, units: str | None = None) -> list[dict[str, Any]]:
    """Solve a chain of points in order, each (with warm starts) from the previous plan.

    Runs inside a Dask worker (or in-process when serial); never raises: a failing point
    becomes a row with status 'failed' and the next point starts cold. `lang` and `units`
    are the caller's (--lang, --units), which a worker process does not inherit.
    """
    from optimizer.i18n import set_language, set_units
    from optimizer.outputs.export import OutputOptions
    from optimizer.run import solve_instance

    if lang is not None:
        set_language(lang)
    if units is not None:
        set_units(units)

    job = PointJob(**job_dict)
    options = SolveOptions(**job.options)
    root = Path(root_dir)
    after = _resolve(job.after) if job.after else None
    rows = []
    previous = None
    state = None  # what the previous decomposed point learnt (optimizer.solve.decompose.DecompositionState)
    for point in chain:
        pid = point["id"]
        if point_done(root, job.folder, pid):
            marker = root / job.folder / f"{pid}.infeasible.json"
            if marker.exists():
                row = json.loads(marker.read_text(encoding="utf-8"))["row"]
                previous = None
            else:
                row = row_from_folder(root / job.folder, point)
                previous = plan_from_folder(root / job.folder / pid) if row["status"] != "infeasible" else None
        else:
            try:
                loaded = None
                if job.reuse_instance:
                    from optimizer.analyses.uncertainty import resolve_sample

                    loaded = resolve_sample(base_instance(job), point["sets"])
                result = solve_instance(
                    Path(job.instance), options, results_root=root, folder=job.folder, run_id=pid,
                    scenarios=job.scenarios, sets=[*job.sets, *point["sets"]],
                    start_plan=previous if job.warm_start else None, loaded=loaded, warm=state,
                    output=OutputOptions(deliverables=job.deliverables),
                )  # fmt: skip
                state = result.state
                if result.infeasible:  # an answer, not a failure: its folder holds the diagnosis
                    previous = None
                elif result.run_dir is None:
                    raise RuntimeError(f"no plan: {result.summary['status']} ({result.summary.get('termination')})")
                else:
                    previous = result.plan
                (root / job.folder / f"{pid}.failed.json").unlink(missing_ok=True)
                row = row_from_folder(root / job.folder, point)
            except Exception as exc:  # recorded, and the batch goes on
                row = _failed(root, job, point, exc)
                previous = state = None
        if after is not None:
            try:
                row.update(after(job_dict, root, point, row))
            except Exception as exc:
                row = _failed(root, job, point, exc, step=job.after)
        rows.append(row)
    return rows


def _failed(root: Path, job: PointJob, point: dict[str, Any], exc: Exception, step: str | None = None) -> dict[str, Any]:
    message = "; ".join(str(p) for p in exc.problems) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
    if step:
        message = f"{step}: {message}"
    (root / job.folder).mkdir(parents=True, exist_ok=True)
    (root / job.folder / f"{point['id']}.failed.json").write_text(
        json.dumps({"id": point["id"], "values": point.get("values", {}), "sets": point["sets"], "error": message,
                    "traceback": traceback.format_exc()}, ensure_ascii=False, indent=2),
        encoding="utf-8",
    )  # fmt: skip
    return {"point": point["id"], **point.get("values", {}), "status": "failed", "error": message}


def _resolve(dotted: str) -> Callable[..., dict[str, Any]]:
    module, _, name = dotted.partition(":")
    return getattr(importlib.import_module(module), name)


def plan_from_folder(run_dir: Path) -> pd.Series:
    """The plan of a run folder: industry per planning unit (township, or village of a village run)."""
    alloc = pd.read_csv(run_dir / "allocation.csv", dtype={"township_id": str, "village_id": str},
                        encoding="utf-8-sig")  # fmt: skip
    key = "village_id" if "village_id" in alloc.columns else "township_id"
    return pd.Series(alloc["industry"].to_numpy(), index=alloc[key].to_numpy())


def row_from_folder(points_dir: Path, point: dict[str, Any]) -> dict[str, Any]:
    """A point's headline figures, read from its summary.json."""
    s = json.loads((points_dir / point["id"] / "summary.json").read_text(encoding="utf-8"))
    if s["status"] == "infeasible":
        words = [c["text"] for c in s.get("conflicts", [])] + [r["text"] for r in s.get("least_relaxation", [])]
        return {"point": point["id"], **point.get("values", {}), "status": "infeasible",
                "error": "limits in conflict: " + ", ".join(s.get("infeasible_families") or [])
                         + (" — " + "; ".join(words[:5]) if words else "")}  # fmt: skip
    t = s["totals"]
    row: dict[str, Any] = {"point": point["id"], **point.get("values", {}), "status": s["status"],
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


def run_points(
    job: PointJob,
    root: Path,
    points: list[dict[str, Any]],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    serial: bool = False,
    progress: Callable[[int, int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Run (or resume) every point; rows in the order of `points`.

    Each point is {"id", "sets": [--set changes], "values": {shown in its row}, "chain": n}.
    `progress(done, failed, total)` is called as chains finish.
    """
    root.mkdir(parents=True, exist_ok=True)
    chains: dict[int, list[dict[str, Any]]] = {}
    for p in points:
        chains.setdefault(p["chain"], []).append(p)
    job_dict = asdict(job)
    todo = sum(1 for p in points if not point_done(root, job.folder, p["id"]))
    log.info("%s: %d points in %d chains, %d to run", root.name, len(points), len(chains), todo)
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
            account(run_chain(job_dict, str(root), chain))
    else:
        from dask.distributed import Client, LocalCluster, as_completed

        if not log.isEnabledFor(logging.DEBUG):
            # The scheduler and nannies log every connection at INFO, and tracebacks when
            # a batch is interrupted; a planner needs none of it (-vv shows it again).
            logging.getLogger("distributed").setLevel(logging.CRITICAL)
        cluster = None
        if scheduler:
            client = Client(scheduler)
        else:
            n = workers or max(1, min(os.cpu_count() or 1, len(chains)))
            quiet = logging.DEBUG if log.isEnabledFor(logging.DEBUG) else logging.ERROR
            # dashboard on any free port: with 8787 taken, distributed warns the planner about it
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                                   silence_logs=quiet)
            client = Client(cluster)
        try:
            futures = {client.submit(run_chain, job_dict, str(root), chain, language(), money_units(), pure=False): chain
                       for chain in chains.values()}  # fmt: skip
            for fut in as_completed(futures):
                try:
                    account(fut.result())
                except Exception as exc:  # a worker died: every point of its chain failed
                    account([{"point": p["id"], **p.get("values", {}), "status": "failed",
                              "error": f"worker lost: {exc}"} for p in futures[fut]])  # fmt: skip
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    order = {p["id"]: k for k, p in enumerate(points)}
    return sorted(rows, key=lambda r: order[r["point"]])
