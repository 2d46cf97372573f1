"""`optimizer solve INSTANCE`: validate, build, solve with HiGHS, write and check a run folder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from optimizer.cli.common import (
    EXPORT_HELP,
    Exit,
    LiveStatus,
    check_export,
    err,
    exit_codes,
    fail_input,
    fit,
    fmt,
    money,
    names,
    out,
    output_options,
    print_infeasible,
    process_started,
    state,
)
from optimizer.errors import InputError
from optimizer.i18n import N_, _


def register(app: typer.Typer) -> None:
    app.command(epilog=exit_codes(Exit.OK, Exit.INTERNAL, Exit.INVALID_INPUT, Exit.INFEASIBLE, Exit.NO_SOLUTION, Exit.CHECK_FAILED, Exit.STOPPED_WITH_PLAN, Exit.ABORTED))(solve)


def solve(
    instance: Annotated[Path, typer.Argument(help="Instance YAML file, e.g. instances/fuchuan/fuchuan.yaml.")],
    time_limit: Annotated[Optional[float], typer.Option("--time-limit", help="Seconds for the whole command, from start to results written; the best plan found by then is kept.", min=0.01)] = None,
    gap: Annotated[Optional[float], typer.Option("--gap", help="Relative MIP gap at which HiGHS stops (1e-4 = within 0.01%% of the best possible). Default: exact (0) up to 200 townships, 1e-4 above.", min=0.0)] = None,
    threads: Annotated[int, typer.Option("--threads", help="HiGHS threads (1 is reproducible and usually as fast).", min=1)] = 1,
    seed: Annotated[int, typer.Option("--seed", help="HiGHS random seed, fixed so reruns give the same plan.")] = 20260101,
    write_model_to: Annotated[Optional[Path], typer.Option("--write-model", help="Also write the model as .lp or .mps (by extension) with readable names.")] = None,
    results: Annotated[Path, typer.Option("--results", help="Folder for run outputs.")] = Path("results"),
    scenario: Annotated[Optional[str], typer.Option("--scenario", "-s", help="Scenarios or named overrides of the instance to apply, comma-separated, in order: --scenario dry_year,pv_price_cut.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Change one value by its path (repeatable; applied after scenarios): --set constraints.water.county_max_m3.富川瑶族自治县=0.7*  (a trailing * multiplies).")] = None,
    export: Annotated[Optional[str], typer.Option("--export", metavar="FORMATS", help=EXPORT_HELP, callback=check_export)] = None,
    method: Annotated[str, typer.Option("--method", help="auto (default: chosen by size and structure, and said why), direct (HiGHS on the whole model) or decompose (by county: prices the limits that span counties, solves each county exactly).")] = "auto",
    workers: Annotated[Optional[int], typer.Option("--workers", help="Processes for the county subproblems of --method decompose (default: chosen by size).", min=1)] = None,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Dask scheduler (tcp://host:8786): county subproblems of --method decompose run on that cluster.")] = None,
) -> None:
    """Solve an instance and write results/<instance>/<run id>/ (CSV, Excel, GeoPackage, summary, manifest).

    Example: optimizer solve instances/fuchuan/fuchuan.yaml --time-limit 60
    """
    from optimizer.run import solve_instance
    from optimizer.solve import SolveOptions

    if write_model_to is not None and write_model_to.suffix.lower() not in (".lp", ".mps"):
        err.print("[red]" + escape(_("--write-model needs a file ending in .lp or .mps, not '{name}'").format(
            name=write_model_to.name)) + "[/]")
        raise typer.Exit(Exit.INVALID_INPUT)
    from optimizer.solve.options import METHODS

    if method not in METHODS:
        err.print(f"[red]--method must be one of {', '.join(METHODS)}, not '{escape(method)}'[/]")
        raise typer.Exit(Exit.INVALID_INPUT)
    options = SolveOptions(time_limit=time_limit, gap=gap, threads=threads, seed=seed, method=method,
                           workers=workers, scheduler=scheduler, started_at=process_started())
    try:
        with LiveStatus(state["quiet"]) as live:
            def phase(name: str) -> None:
                live.phase(name)
                logging.getLogger("optimizer").info("%s …", name)

            result = solve_instance(
                instance, options, results_root=results, model_file=write_model_to, phase=phase,
                scenarios=names(scenario), sets=set_ or [], progress=live.solving, output=output_options(export),
            )
    except InputError as exc:
        fail_input(exc)
        return
    s = result.summary
    status_text = s["status"]
    if status_text == "infeasible":
        print_infeasible(s, result.run_dir)
        raise typer.Exit(Exit.INFEASIBLE)
    if s["status"] == "error":
        err.print("[bold red]" + escape(_("HiGHS failed ({why}).").format(why=s["termination"])) + "[/] "
                  + escape(_("Nothing was written. Rerun with -v to see the HiGHS log, and report it with the instance.")))
        raise typer.Exit(Exit.INTERNAL)
    if s["status"] == "interrupted_no_solution":
        err.print("[bold yellow]" + escape(_("Interrupted before {solver} found any plan.").format(solver=_solver_name(s)))
                  + "[/] " + escape(_("Nothing was written.")))
        raise typer.Exit(Exit.NO_SOLUTION)
    if result.run_dir is None:
        err.print("[bold red]" + escape(_("Stopped ({why}) before {solver} found any plan.").format(
            why=s["termination"], solver=_solver_name(s)))
                  + "[/] " + escape(_("Nothing was written. Give it more time (--time-limit) or a looser --gap.")))
        raise typer.Exit(Exit.NO_SOLUTION)
    if state["quiet"]:
        out.print(str(result.run_dir), highlight=False, markup=False, soft_wrap=True)
    else:
        _print_summary(s, result.run_dir, result.timings)
    if result.check_ok is False:
        err.print("[bold red]" + escape(_("The independent checker disagrees with the solver's plan:")) + "[/]")
        for msg in result.check_messages[:20]:
            err.print(f"  {msg}", highlight=False, markup=False)
        raise typer.Exit(Exit.CHECK_FAILED)
    if status_text != "optimal":
        err.print(
            "[bold yellow]" + escape(_("Stopped early ({status}):").format(status=status_text)) + "[/] "
            + escape(_("the plan is feasible but not proven best;") + " "
                     + (_("gap {gap:.2%} to the bound.").format(gap=s["gap"]) if s["gap"] is not None
                        else _("HiGHS had no bound yet.")))
        )
        raise typer.Exit(Exit.STOPPED_WITH_PLAN)


def _solver_name(s: dict) -> str:
    return _("the decomposition") if (s.get("method") or {}).get("used") == "decompose" else "HiGHS"


def _print_summary(s: dict, run_dir: Path, timings: dict[str, float]) -> None:
    tot = s["totals"]
    table = Table(title=f"{s['instance']} — {s['status']}", show_header=True, header_style="bold")
    table.add_column(_("figure"))
    table.add_column(_("plan"), justify="right")
    table.add_column(_("baseline"), justify="right")
    def money_row(label: str, plan: float | None, baseline: float | None = None, per_year: bool = True) -> None:
        m = money(plan, baseline, per_year=per_year)
        table.add_row(_(label).format(unit=m.unit), m(plan), m(baseline) if baseline is not None else "")

    money_row(N_("objective ({unit})"), s["objective_yuan"])
    money_row(N_("best bound ({unit})"), s["bound_yuan"])
    table.add_row(_("gap"), (f"{s['gap']:.4%}" if s["gap"] is not None else "—")
                  + (f" ({s['gap_rule']})" if s.get("gap_rule") else ""), "")
    money_row(N_("farmers' income ({unit})"), tot["farmer_income_after_price_steps_yuan"], tot["baseline_farmer_income_yuan"])
    money_row(N_("GEP total ({unit})"), tot["gep_total_yuan"], tot["baseline_gep_total_yuan"])
    for cat, label in (("material", N_("GEP material ({unit})")), ("regulating", N_("GEP regulating ({unit})")),
                       ("cultural", N_("GEP cultural ({unit})"))):
        m = money(tot[f"gep_{cat}_yuan"])
        table.add_row("  " + _(label).format(unit=m.unit), m(tot[f"gep_{cat}_yuan"]), "")
    table.add_row(_("water use (m³/yr)"), fmt(tot["water_use_m3"]), "")
    table.add_row(_("PV capacity (MWp)"), fmt(tot["pv_capacity_mw"], 1), "")
    money_row(N_("investment ({unit})"), tot["investment_yuan"], per_year=False)
    for ind, n in sorted(tot.get("townships_by_industry", {}).items()):
        table.add_row(_("townships: {industry}").format(industry=ind), str(n), "")
    for ind, n in sorted(tot.get("villages_by_industry", {}).items()):
        table.add_row(_("villages: {industry}").format(industry=ind), str(n), "")
    for ind, n in sorted(tot.get("townships_by_leading_industry", {}).items()):
        table.add_row(_("townships led by: {industry}").format(industry=ind), str(n), "")
    out.print(fit(table))
    for w in s.get("warnings") or []:
        err.print(f"[yellow]{escape(_('warning'))}:[/] {escape(w['where'])}: {escape(w['text'])}", highlight=False)
    if s.get("overrides_applied"):
        out.print(_("What-if changes applied:"), highlight=False)
        for a in s["overrides_applied"]:
            out.print(f"  {a['path']}: {a['old']!r} → {a['new']!r}  ({a['source']})", highlight=False, markup=False)
    binding = s.get("binding_constraints", [])
    if binding:
        out.print(_("Binding limits ({n}): ").format(n=len(binding)) + ", ".join(binding[:12])
                  + (" …" if len(binding) > 12 else ""), highlight=False, markup=False)
    used = s.get("method") or {}
    if used:
        out.print(_("Method: {used} ({why})").format(used=used.get("used"), why=used.get("why")), highlight=False,
                  markup=False)
    ru = s.get("runner_up")
    if ru and ru.get("exists"):
        kind = "villages" if "villages" in ru else "townships"
        key = "village_id" if kind == "villages" else "township_id"
        towns = ", ".join(f"{t[key]} {t['name']} ({t['optimum']}→{t['runner_up']})" for t in ru[kind][:6])
        m, d = money(ru["objective_yuan"]), money(ru["difference_yuan"])
        difference = d(ru["difference_yuan"]) + ("" if d.factor == m.factor else " " + d.unit)  # 亿元 hides a small gap
        text = (_("Runner-up plan: {objective} {unit}, {difference} below ({share:.3%}); differs in {n} village(s): {towns}")
                if kind == "villages" else
                _("Runner-up plan: {objective} {unit}, {difference} below ({share:.3%}); differs in {n} township(s): {towns}"))
        line = text.format(objective=m(ru["objective_yuan"]), unit=m.unit, difference=difference,
                           share=ru["difference_share"], n=len(ru[kind]), towns=towns)
        if ru["near_tie"]:
            out.print("[yellow]" + escape(_("Near tie:")) + f"[/] {escape(line)}", highlight=False)
        else:
            out.print(line, highlight=False, markup=False)
    elif ru is not None and not ru.get("exists", True):
        out.print(_("No other plan meets every limit."), highlight=False)
    near = s.get("nearly_binding_constraints", [])
    if near:
        out.print(_("Limits ≥ 95% used ({n}): ").format(n=len(near)) + ", ".join(near[:12])
                  + (" …" if len(near) > 12 else ""), highlight=False, markup=False)
    steps = s.get("price_steps_reached", [])
    if steps:
        out.print(_("Falling-price steps reached: {steps}").format(steps=", ".join(steps)), highlight=False, markup=False)
    from optimizer.i18n import language
    from optimizer.outputs.report.run import PHASE_WORDS

    words = {k: _(v) for k, v in PHASE_WORDS.items()} if language() != "en" else {}  # English keeps the keys
    phases = ", ".join(f"{words.get(k, k)} {v:.2f}s" for k, v in timings.items())
    out.print(_("Timings: {phases}").format(phases=phases), highlight=False, markup=False)
    out.print(_("Results: {folder} (allocation.gpkg opens in QGIS)").format(folder=f"[bold]{escape(str(run_dir))}[/]"))
