"""`optimizer frontier INSTANCE`: the exact GEP–income frontier, its knee and the weighted optimum on it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape

from optimizer.cli.common import Exit, err, exit_codes, fail_input, fit, names, out, print_infeasible, state
from optimizer.errors import InfeasibleInstance, InputError
from optimizer.i18n import _

YI = 1e8  # 亿元


def register(app: typer.Typer) -> None:
    app.command(epilog=exit_codes(Exit.OK, Exit.INTERNAL, Exit.INVALID_INPUT, Exit.INFEASIBLE, Exit.NO_SOLUTION,
                                  Exit.CHECK_FAILED, Exit.STOPPED_WITH_PLAN, Exit.ABORTED))(frontier)


def frontier(
    instance: Annotated[Optional[Path], typer.Argument(help="Instance YAML file (not needed with --resume).")] = None,
    points: Annotated[int, typer.Option("--points", "-n", help="Points on the frontier, its two ends included.")] = 11,
    gep: Annotated[str, typer.Option("--gep", help="Which GEP: 'objective' (what the weighted objective counts under the instance's double_count), 'total', or categories: regulating,cultural.")] = "objective",
    scenario: Annotated[Optional[str], typer.Option("--scenario", "-s", help="Scenarios or named overrides to apply first, comma-separated, as for solve.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Change one value by its path (repeatable), as for solve.")] = None,
    time_limit: Annotated[Optional[float], typer.Option("--time-limit", help="HiGHS time limit per point (s); a point that reaches it is kept and flagged.", min=0.01)] = None,
    gap: Annotated[float, typer.Option("--gap", help="Relative MIP gap of every point.", min=0.0)] = 1e-4,
    threads: Annotated[int, typer.Option("--threads", help="HiGHS threads per point.", min=1)] = 1,
    seed: Annotated[int, typer.Option("--seed", help="HiGHS random seed.")] = 20260101,
    weighted: Annotated[bool, typer.Option("--weighted/--no-weighted", help="Also solve the instance's weighted optimum and place it on the curve.")] = True,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Address of an existing Dask scheduler (tcp://host:8786); default: a local cluster.")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", help="Workers of the local cluster (default: one per core).", min=1)] = None,
    serial: Annotated[bool, typer.Option("--serial", help="Run in this process without Dask.")] = False,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="An unfinished frontier folder (frontier-<id>.partial) to finish.")] = None,
    results: Annotated[Path, typer.Option("--results", help="Folder for outputs: <results>/<instance>/frontier-<id>/.")] = Path("results"),
    method: Annotated[str, typer.Option("--method", help="auto (as solve chooses), direct (HiGHS on the whole model, points on Dask) or decompose (by county, every point in one process, each from the previous point's plan).")] = "auto",
) -> None:
    """The exact frontier between farmers' income and GEP: payoff table, ε-constraint points, knee.

    Every point is a full MILP (status, plan, bound, gap) whose plan is checked
    independently; the frontier is drawn as a band where gaps are non-zero.

    Example: optimizer frontier instances/fuchuan/fuchuan.yaml --points 11
    Writes results/<instance>/frontier-<id>/: frontier.csv, payoff.csv, frontier.png,
    frontier.gpkg (industry at every point), points/<id>/allocation.csv, manifest.json.
    """
    from optimizer.analyses.frontier import (
        FrontierInfeasible,
        FrontierSpec,
        check_spec,
        gep_categories,
        new_frontier_dir,
        point_ids,
        resume_folder,
        resume_spec,
        run_frontier,
    )
    from optimizer.instance.load import load_instance
    from optimizer.solve.options import METHODS

    if method not in METHODS:
        err.print(f"[red]--method must be one of {', '.join(METHODS)}, not '{escape(method)}'[/]")
        raise typer.Exit(Exit.INVALID_INPUT)
    try:
        if resume is not None:
            folder = resume_folder(resume)
            spec = resume_spec(folder)
            done = sum(1 for p in (folder / "points").glob("*/summary.json")) if (folder / "points").exists() else 0
            err.print(escape(_("Resuming {folder}: {n} ε-points already finished.").format(folder=folder, n=done)))
        else:
            if instance is None:
                err.print("[red]" + escape(_("give an INSTANCE (or --resume FOLDER)")) + "[/]")
                raise typer.Exit(Exit.INVALID_INPUT)
            spec = FrontierSpec(
                instance=str(instance.resolve()), scenarios=names(scenario), sets=set_ or [], gep=gep, points=points,
                options={"time_limit": time_limit, "gap": gap, "threads": threads, "seed": seed, "method": method},
                weighted=weighted,
            )  # fmt: skip
            check_spec(spec)
            loaded = load_instance(instance, scenarios=spec.scenarios, sets=spec.sets)
            gep_categories(spec.gep, loaded.spec.objective.double_count)
            folder = new_frontier_dir(results, loaded.spec.name)
    except InputError as exc:
        fail_input(exc)
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    ids = point_ids(spec.points)
    labels = {ids[0]: _("GEP end"), ids[-1]: _("income end"), "weighted": _("weighted optimum")}
    with Progress(TextColumn("{task.description}"), BarColumn(bar_width=20), TextColumn("{task.fields[state]}"),
                  TimeElapsedColumn(), console=err, disable=state["quiet"]) as bar:  # fmt: skip
        tasks: dict[str, Any] = {}
        for pid in [*ids, *(["weighted"] if spec.weighted else [])]:
            desc = f"{pid:>8} " + labels.get(pid, _("ε-point"))
            tasks[pid] = bar.add_task(desc, total=1, start=False, state=_("waiting"))

        def progress(pid: str, what: str, row: dict[str, Any] | None) -> None:
            task = tasks.get(pid)
            if task is None:
                return
            if what == "solving":
                bar.start_task(task)
                bar.update(task, state=_("solving"))
            elif what == "done":
                bar.start_task(task)
                bar.update(task, completed=1, state=_row_state(row))
                bar.stop_task(task)

        try:
            fr = run_frontier(spec, folder, scheduler=scheduler, workers=workers, serial=serial, progress=progress)
        except InputError as exc:
            bar.stop()
            fail_input(exc)
            return
        except InfeasibleInstance as exc:
            bar.stop()
            print_infeasible({"conflicts": [{"where": str(p.location), "text": p.message} for p in exc.conflicts]})
            raise typer.Exit(Exit.INFEASIBLE) from None
        except FrontierInfeasible as exc:
            bar.stop()
            print_infeasible({"infeasible_families": exc.families})
            err.print(escape(_("Run `optimizer solve` on the instance for the full diagnosis.")))
            raise typer.Exit(Exit.INFEASIBLE) from None
        except KeyboardInterrupt:
            bar.stop()
            done = sum(1 for _p in (folder / "points").glob("*/summary.json")) if (folder / "points").exists() else 0
            err.print("[yellow]" + escape(_("Interrupted: {n} finished points are kept.").format(n=done)) + "[/] "
                      + escape(_("Finish the rest with: optimizer frontier --resume {folder}").format(folder=folder)))
            raise typer.Exit(Exit.ABORTED) from None
    print_frontier(fr)
    failed = fr.table[fr.table["status"] == "failed"]
    if len(failed):
        err.print("[yellow]" + escape(_("{n} point(s) failed; see points/*.json in the folder, fix the cause, and run "
                                        "the frontier again.").format(n=len(failed))) + "[/]")
        raise typer.Exit(Exit.INTERNAL)
    if (fr.table["check_ok"] == False).any():  # noqa: E712 (NaN for points without a plan)
        err.print("[bold red]" + escape(_("The independent checker disagrees with at least one point's plan "
                                          "(check_ok false in frontier.csv).")) + "[/]")
        raise typer.Exit(Exit.CHECK_FAILED)
    no_plan = fr.table[fr.table["status"].isin(["time_limit_no_solution", "interrupted_no_solution"])]
    if len(no_plan):
        err.print("[yellow]" + escape(_("{n} point(s) stopped at the time limit before HiGHS found any plan: they are in "
                                        "frontier.csv without a plan; run the frontier again with a longer "
                                        "--time-limit.").format(n=len(no_plan))) + "[/]")
        raise typer.Exit(Exit.NO_SOLUTION)
    stopped = fr.table[fr.table["status"].isin(["time_limit_feasible", "interrupted_feasible", "stopped_feasible"])]
    if len(stopped):
        err.print("[yellow]" + escape(_("{n} point(s) stopped at the time limit with a plan that is not proven within "
                                        "the gap; their band shows how far the bound is.").format(n=len(stopped))) + "[/]")
        raise typer.Exit(Exit.STOPPED_WITH_PLAN)


def _row_state(row: dict[str, Any] | None) -> str:
    if row is None:
        return ""
    status = str(row.get("status"))
    if row.get("started_from") == "bypass":
        return _("{status} (same plan as {point})").format(status=status, point=row.get("solved_by"))
    g = row.get("gap")
    if g is None or (isinstance(g, float) and math.isnan(g)):
        return status
    return _("{status}, gap {gap}").format(status=status, gap=f"{g:.2%}")


def _ok_rows(df: Any) -> Any:
    return df["status"].isin(["optimal", "time_limit_feasible", "interrupted_feasible", "stopped_feasible"])


def _yi(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x / YI:,.{digits}f}"


def print_frontier(fr: Any) -> None:
    """The frontier table in 亿元, the knee, the weighted optimum, the trade-off rates, the folder."""
    from rich.table import Table

    df = fr.table
    cats = "+".join(fr.categories)
    title = _("{instance}: frontier of farmers' income and GEP ({cats}), 亿元/yr").format(
        instance=fr.spec.instance and Path(fr.spec.instance).stem, cats=cats)
    table = Table(title=title, header_style="bold")
    for col, just in ((_("point"), "left"), (_("income ≥ ε"), "right"), (_("income"), "right"),
                      (_("GEP"), "right"), (_("GEP bound"), "right"), (_("gap"), "right"), (_("status"), "left"),
                      (_("notes"), "left")):  # fmt: skip
        table.add_column(col, justify=just)
    for r in df.to_dict(orient="records"):
        marks = [] if r.get("stage") == "epsilon" else [_(str(r.get("kind", "")))]
        if r.get("knee"):
            marks.append(_("knee"))
        if r.get("duplicate_of"):
            marks.append(_("same plan as {p}").format(p=r["duplicate_of"]))
        if r.get("dominated_by"):
            marks.append(_("dominated by {p}").format(p=r["dominated_by"]))
        if r.get("status") == "failed":
            marks.append(str(r.get("error", ""))[:60])
        g = r.get("gap")
        table.add_row(str(r["point"]), _yi(r.get("epsilon_yuan")),
                      _yi(r.get("farmer_income_yuan")), _yi(r.get("gep_yuan")), _yi(r.get("gep_bound_yuan")),
                      "—" if g is None or (isinstance(g, float) and math.isnan(g)) else f"{g:.3%}",
                      str(r.get("status")), ", ".join(marks))  # fmt: skip
    out.print(fit(table))
    for note in fr.notes:
        out.print(escape(note), highlight=False)
    if fr.conflict and fr.knee:
        k = df[df["point"] == fr.knee].iloc[0]
        out.print(escape(_("Knee: {p} — income {inc} 亿元, GEP {gep} 亿元 (the point farthest above the line joining "
                           "the two ends, both scaled to their ranges).").format(
            p=fr.knee, inc=_yi(k["farmer_income_yuan"]), gep=_yi(k["gep_yuan"]))), highlight=False)
    elif fr.conflict:
        distinct = int((_ok_rows(df) & (df["duplicate_of"] == "") & (df["dominated_by"] == "")).sum())
        why = (_("the frontier has only {n} distinct plans").format(n=distinct) if distinct < 3
               else _("no point lies above the line joining the two ends"))  # fmt: skip
        out.print(escape(_("No knee: {why}.").format(why=why)), highlight=False)
    rates = df[df["income_cost_per_gep_yuan"].notna()] if "income_cost_per_gep_yuan" in df else df.iloc[0:0]
    if len(rates):
        lo, hi = rates["income_cost_per_gep_yuan"].min(), rates["income_cost_per_gep_yuan"].max()
        if math.isclose(lo, hi, rel_tol=5e-3):
            text = _("Each extra yuan of GEP costs farmers {v:.2f} yuan of income along the frontier "
                     "(column income_cost_per_gep_yuan).").format(v=lo)
        else:
            text = _("Each extra yuan of GEP costs farmers between {lo:.2f} and {hi:.2f} yuan of income, depending on "
                     "where on the frontier (column income_cost_per_gep_yuan).").format(lo=lo, hi=hi)
        out.print(escape(text), highlight=False)
    w = fr.weighted
    if w:
        inc, g = w.get("farmer_income_yuan"), w.get("gep_yuan")
        out.print(escape(_("Weighted optimum of the instance: income {inc} 亿元, GEP {gep} 亿元 — {where}.").format(
            inc=_yi(inc), gep=_yi(g), where=w.get("where", ""))), highlight=False)
    out.print(_("Frontier: [bold]{folder}[/] (frontier.csv, frontier.png, frontier.gpkg, points/)").format(
        folder=escape(str(fr.folder))))
    out.print(escape(_("For the meeting: optimizer report {folder} writes its report.html.").format(folder=fr.folder)),
              highlight=False)
