"""`optimizer sweep INSTANCE --vary PATH=…`: every combination a full run, on Dask."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from optimizer.cli.common import Exit, err, exit_codes, fail_input, fit, fmt, money, names, out, state
from optimizer.errors import InputError, Location, Problem
from optimizer.i18n import _


def register(app: typer.Typer) -> None:
    app.command(epilog=exit_codes(Exit.OK, Exit.INTERNAL, Exit.INVALID_INPUT, Exit.ABORTED))(sweep)


def sweep(
    instance: Annotated[Optional[Path], typer.Argument(help="Instance YAML file (not needed with --resume).")] = None,
    vary: Annotated[Optional[list[str]], typer.Option("--vary", help="PATH=v1,v2,... or PATH=start:stop:step (a trailing * makes factors: 0.6:1.0:0.1*). Repeat for a Cartesian product.")] = None,
    scenario: Annotated[Optional[str], typer.Option("--scenario", "-s", help="Scenarios applied to every point, comma-separated.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="A fixed change applied to every point (repeatable).")] = None,
    time_limit: Annotated[Optional[float], typer.Option("--time-limit", help="Time limit per point (s), from its start to its results written.", min=0.01)] = None,
    gap: Annotated[Optional[float], typer.Option("--gap", help="Relative MIP gap at which HiGHS stops (1e-4 = within 0.01%% of the best possible). Default: exact (0) up to 200 townships, 1e-4 above.", min=0.0)] = None,
    threads: Annotated[int, typer.Option("--threads", help="HiGHS threads per point.", min=1)] = 1,
    seed: Annotated[int, typer.Option("--seed", help="HiGHS random seed.")] = 20260101,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Address of an existing Dask scheduler (tcp://host:8786); default: a local cluster.")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", help="Workers of the local cluster (default: one per core, at most one per chain).", min=1)] = None,
    serial: Annotated[bool, typer.Option("--serial", help="Run in this process without Dask.")] = False,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="A sweep folder to finish: runs only the points without a finished run.")] = None,
    warm_start: Annotated[bool, typer.Option("--warm-start/--cold-start", help="Start each point from the previous point's plan (a repaired MIP start). Off by default: it did not pay on the benchmark (docs/performance.md).")] = False,
    results: Annotated[Path, typer.Option("--results", help="Folder for run outputs.")] = Path("results"),
    method: Annotated[str, typer.Option("--method", help="auto, direct or decompose, as for solve; decomposed points start from the previous point's multipliers, county plans and plan.")] = "auto",
    point_reports: Annotated[bool, typer.Option("--point-reports", help="Also write each point's allocation.xlsx and report.html (slower; `optimizer report POINT --xlsx` writes them later).")] = False,
) -> None:
    """Run a what-if sweep: every combination of --vary values is a full run, on Dask.

    Example: optimizer sweep instances/fuchuan/fuchuan.yaml
      --vary "constraints.water.county_max_m3.富川瑶族自治县=0.6:1.0:0.1*"
      --vary industries.agro_pv.price_yuan_per_unit=300,360
    Writes results/<instance>/sweep-<id>/ with one run folder per point, sweep_summary.csv and sweep.png.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from optimizer.analyses.sweep import SweepSpec, new_sweep_dir, parse_vary, run_sweep
    from optimizer.instance.load import load_instance

    from optimizer.solve.options import METHODS

    if method not in METHODS:
        err.print(f"[red]--method must be one of {', '.join(METHODS)}, not '{escape(method)}'[/]")
        raise typer.Exit(Exit.INVALID_INPUT)
    try:
        if resume is not None:
            if not (resume / "sweep.json").exists():
                raise InputError([Problem(Location(resume), _("not a sweep folder (no sweep.json)"),
                                          _("give the folder `optimizer sweep` printed, results/<instance>/sweep-<id>"))])
            saved = json.loads((resume / "sweep.json").read_text(encoding="utf-8"))["spec"]
            from optimizer.analyses.sweep import Vary

            spec = SweepSpec(**{**saved, "varies": [Vary(**v) for v in saved["varies"]]})
            sweep_dir = resume
            from optimizer.analyses.sweep import point_done

            finished = sum(point_done(sweep_dir, p["id"]) for p in spec.points())
            err.print(escape(_("Resuming {folder}: {n} of {total} points already finished.").format(
                folder=sweep_dir, n=finished, total=len(spec.points()))))
        else:
            if instance is None or not vary:
                err.print("[red]" + escape(_("give an INSTANCE and at least one --vary (or --resume SWEEP_DIR)")) + "[/]")
                raise typer.Exit(Exit.INVALID_INPUT)
            varies = [parse_vary(v) for v in vary]
            spec = SweepSpec(
                instance=str(instance.resolve()), varies=varies, scenarios=names(scenario), sets=set_ or [],
                options={"time_limit": time_limit, "gap": gap, "threads": threads, "seed": seed, "method": method},
                warm_start=warm_start, point_reports=point_reports,
            )
            # Check the instance and every value once, up front: a typo fails fast, not per point.
            loaded = load_instance(instance, scenarios=spec.scenarios, sets=spec.sets)
            for v in varies:
                for val in v.values:
                    load_instance(instance, scenarios=spec.scenarios, sets=[*spec.sets, f"{v.path}={val}"])
            sweep_dir = new_sweep_dir(results, loaded.spec.name)
    except InputError as exc:
        fail_input(exc)
        return
    with Progress(TextColumn("[bold]" + escape(_("sweep"))), BarColumn(), MofNCompleteColumn(),
                  TextColumn(escape(_("{n} failed")).replace("{n}", "{task.fields[failed]}")),
                  TimeElapsedColumn(), console=err, disable=state["quiet"]) as bar:
        task = bar.add_task("points", total=len(spec.points()), failed=0)

        def progress(done: int, failed: int, total: int) -> None:
            bar.update(task, completed=done, failed=failed)

        try:
            table = run_sweep(spec, sweep_dir, scheduler=scheduler, workers=workers, serial=serial, progress=progress)
        except KeyboardInterrupt:
            from optimizer.analyses.sweep import point_done

            finished = sum(point_done(sweep_dir, p["id"]) for p in spec.points())
            bar.stop()
            err.print("[yellow]" + escape(_("Interrupted: {n} of {total} points are finished and kept.").format(
                n=finished, total=len(spec.points()))) + "[/] " + escape(_(
                    "Finish the rest with: optimizer sweep --resume {folder}").format(folder=sweep_dir)))
            raise typer.Exit(Exit.ABORTED) from None
    # Short headers in words (sweep_summary.csv keeps the column names), so that a sweep
    # of the usual kind fits 80 columns; a longer point id folds, numbers never do.
    show = Table(title=_("sweep {name}").format(name=sweep_dir.name), header_style="bold", pad_edge=False)
    money_cols = {c: money(*[v for v in table[c] if isinstance(v, float)]) if c in table else money()
                  for c in ("objective_yuan", "gep_total_yuan", "farmer_income_yuan")}
    headers = {"point": _("point"), "status": _("status"),
               "objective_yuan": _("objective ({unit})").format(unit=money_cols["objective_yuan"].unit),
               "gep_total_yuan": _("GEP total ({unit})").format(unit=money_cols["gep_total_yuan"].unit),
               "farmer_income_yuan": _("income ({unit})").format(unit=money_cols["farmer_income_yuan"].unit),
               "townships_changed_from_first": _("changed")}
    cols = list(headers)
    for c in cols:
        show.add_column(headers[c], justify="left" if c in ("point", "status") else "right")
    for _i, r in table.iterrows():
        show.add_row(*[((money_cols[c] if c in money_cols else fmt)(r[c])
                        if isinstance(r.get(c), float) and not math.isnan(r[c]) else str(r.get(c, "")))
                       for c in cols])
    out.print(fit(show))
    out.print(_("Sweep folder: {folder} (sweep_summary.csv, sweep.png, points/)").format(
        folder=f"[bold]{escape(str(sweep_dir))}[/]"))
    for note in table.attrs.get("notes", []):
        err.print("[yellow]" + escape(_("Note:")) + f"[/] {escape(note)}", highlight=False)
    n_infeasible = int((table["status"] == "infeasible").sum())
    if n_infeasible:
        out.print(_("{n} point(s) have no feasible plan (status 'infeasible'; the limits in conflict are "
                    "in sweep_summary.csv). That is an answer, not an error.").format(n=n_infeasible),
                  highlight=False, markup=False)
    n_failed = int((table["status"] == "failed").sum())
    if n_failed:
        err.print("[yellow]" + escape(_("{n} point(s) failed; see points/*.failed.json, fix the cause, then "
                                        "optimizer sweep --resume {folder}").format(n=n_failed, folder=sweep_dir)) + "[/]")
        raise typer.Exit(Exit.INTERNAL)
