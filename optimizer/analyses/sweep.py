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
`--resume SWEEP_DIR` runs only the points without a finished run folder. The Dask
machinery (chains, local cluster or scheduler, failures, resume, the folder lock) is
`optimizer/analyses/points.py`, shared with `optimizer robust`.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.analyses import points
from optimizer.errors import InputError, Location, Problem
from optimizer.i18n import _

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
    point_reports: bool = False  # each point's allocation.xlsx and report.html too

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
        raise InputError([Problem(where, _("--vary '{expr}' needs the form PATH=v1,v2 or PATH=start:stop:step").format(expr=expr))])
    path, text = expr.split("=", 1)
    m = _RANGE.match(text)
    if m:
        start, stop, step, star = float(m[1]), float(m[2]), float(m[3]), m[4]
        if step <= 0 or stop < start:
            raise InputError([Problem(where, _("--vary '{expr}': a range needs start ≤ stop and a positive step").format(expr=expr))])
        n = int(math.floor((stop - start) / step + 1e-9)) + 1
        decimals = max(_decimals(m[1]), _decimals(m[3]))
        values = [f"{round(start + i * step, decimals):g}{star}" for i in range(n)]
    else:
        values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise InputError([Problem(where, _("--vary '{expr}' lists no values").format(expr=expr))])
    return Vary(path.strip(), values)


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def new_sweep_dir(results_root: Path, instance_name: str) -> Path:
    return results_root / instance_name / f"sweep-{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def point_done(sweep_dir: Path, point_id: str) -> bool:
    """A finished run folder (a plan, or the answer "infeasible"), or an older run's infeasible marker."""
    return points.point_done(sweep_dir, "points", point_id)


def job(spec: SweepSpec) -> points.PointJob:
    """The sweep as a batch of points for `optimizer.analyses.points`."""
    return points.PointJob(instance=spec.instance, folder="points", scenarios=list(spec.scenarios),
                           sets=list(spec.sets), options=dict(spec.options), warm_start=spec.warm_start,
                           deliverables=spec.point_reports)


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


def sweep_lock(sweep_dir: Path) -> Iterator[None]:
    """An exclusive lock on the sweep folder (see `points.folder_lock`)."""
    return points.folder_lock(sweep_dir, "optimizer sweep")


def _run_sweep(
    spec: SweepSpec,
    sweep_dir: Path,
    *,
    scheduler: str | None,
    workers: int | None,
    serial: bool,
    progress: Callable[[int, int, int], None] | None,
) -> pd.DataFrame:
    pts = spec.points()
    definition = {"spec": asdict(spec), "points": pts, "created": datetime.now().isoformat()}
    spec_file = sweep_dir / "sweep.json"
    if not spec_file.exists():
        spec_file.write_text(json.dumps(definition, ensure_ascii=False, indent=2), encoding="utf-8")
    batch = [{**p, "sets": [f"{path}={v}" for path, v in p["values"].items()]} for p in pts]
    rows = points.run_points(job(spec), sweep_dir, batch, scheduler=scheduler, workers=workers, serial=serial,
                             progress=progress)
    table = pd.DataFrame(rows).reset_index(drop=True)
    table = _changed_from_first(sweep_dir, table)
    table = _within_gaps(table)
    notes = gap_notes(table)
    (sweep_dir / "sweep_notes.txt").write_text("".join(f"{n}\n" for n in notes), encoding="utf-8")
    for n in notes:
        log.warning("%s", n)
    table.attrs["notes"] = notes
    table.to_csv(sweep_dir / "sweep_summary.csv", index=False, encoding="utf-8-sig", float_format="%.12g")
    _plot(table, spec, sweep_dir / "sweep.png")
    return table


def _changed_from_first(sweep_dir: Path, table: pd.DataFrame) -> pd.DataFrame:
    ok = table[~table["status"].isin(["failed", "infeasible"])]
    if ok.empty:
        return table
    first = points.plan_from_folder(sweep_dir / "points" / ok["point"].iloc[0])
    changed = []
    for pid, status in zip(table["point"], table["status"]):
        if status in ("failed", "infeasible"):
            changed.append(None)
            continue
        plan = points.plan_from_folder(sweep_dir / "points" / pid)
        changed.append(int((plan.reindex(first.index) != first).sum()))
    villages = "village_id" in pd.read_csv(sweep_dir / "points" / ok["point"].iloc[0] / "allocation.csv", nrows=0,
                                           encoding="utf-8-sig").columns  # fmt: skip
    table["villages_changed_from_first" if villages else "townships_changed_from_first"] = changed
    return table


def _within_gaps(table: pd.DataFrame) -> pd.DataFrame:
    """Per point: is its objective's difference from the previous point smaller than the two gaps?

    Each point's plan is only known to within its own gap of its optimum; when two
    neighbouring points differ by less than that, the difference may be the solver's
    stopping point, not the what-if.
    """
    if "objective_yuan" not in table.columns or "gap" not in table.columns:
        return table
    flags: list[bool | None] = [None]
    for k in range(1, len(table)):
        a, b = table.iloc[k - 1], table.iloc[k]
        ok = all(pd.notna(x) for x in (a.get("objective_yuan"), b.get("objective_yuan"), a.get("gap"), b.get("gap")))
        if not ok:
            flags.append(None)
            continue
        scale = max(abs(a["objective_yuan"]), abs(b["objective_yuan"]), 1.0)
        flags.append(bool(abs(b["objective_yuan"] - a["objective_yuan"]) <= (a["gap"] + b["gap"]) * scale))
    table["difference_within_gaps"] = flags
    return table


def gap_notes(table: pd.DataFrame) -> list[str]:
    """Warnings for a sweep whose points' gaps are as large as the differences between them."""
    if "difference_within_gaps" not in table.columns:
        return []
    flagged = [str(p) for p, f in zip(table["point"], table["difference_within_gaps"]) if f is True]
    if not flagged:
        return []
    return [f"{len(flagged)} of {len(table) - 1} steps between neighbouring points differ by less than the points' "
            f"gaps ({', '.join(flagged[:6])}{' …' if len(flagged) > 6 else ''}): those differences may be where the "
            "solver stopped, not the effect of the change; solve with a smaller --gap (or more time) to tell."]


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
