"""`optimizer alternatives INSTANCE`: near-optimal plans that differ as much as possible, and the flexibility map."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from optimizer.cli.common import (
    Exit,
    NullStatus,
    err,
    exit_codes,
    fail_input,
    fit,
    fmt,
    names,
    out,
    state,
)
from optimizer.errors import InputError
from optimizer.i18n import _


def register(app: typer.Typer) -> None:
    app.command(epilog=exit_codes(Exit.OK, Exit.INTERNAL, Exit.INVALID_INPUT, Exit.INFEASIBLE, Exit.NO_SOLUTION,
                                 Exit.CHECK_FAILED, Exit.ABORTED))(alternatives)


def alternatives(
    instance: Annotated[Path, typer.Argument(help="Instance YAML file.")],
    within: Annotated[str, typer.Option("--within", help="Slack: every alternative's objective is within this share of the optimum (2% or 0.02).")] = "2%",
    n: Annotated[int, typer.Option("-n", "--count", help="Number of alternatives wanted.")] = 5,
    by: Annotated[str, typer.Option("--by", help="Measure of difference: townships (number changed) or area (hectares changed).")] = "townships",
    keep: Annotated[Optional[str], typer.Option("--keep", help="Township ids kept as in the optimum in every alternative, comma-separated.")] = None,
    max_changes: Annotated[Optional[int], typer.Option("--max-changes", help="At most this many townships differ from the optimum in each alternative.")] = None,
    prove_forced: Annotated[bool, typer.Option("--prove-forced", help="For each township the alternatives never change, solve once more to prove that no plan within the slack can (one solve per such township).")] = False,
    scenario: Annotated[Optional[str], typer.Option("--scenario", "-s", help="Scenarios applied first, comma-separated, as for solve.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Change one value by its path (repeatable), as for solve.")] = None,
    time_limit: Annotated[Optional[float], typer.Option("--time-limit", help="HiGHS time limit of each solve (s).", min=0.01)] = None,
    gap: Annotated[Optional[float], typer.Option("--gap", help="Relative MIP gap of each solve. Default: exact (0) up to 200 townships, 1e-4 above.", min=0.0)] = None,
    threads: Annotated[int, typer.Option("--threads", help="HiGHS threads.", min=1)] = 1,
    seed: Annotated[int, typer.Option("--seed", help="HiGHS random seed.")] = 20260101,
    results: Annotated[Path, typer.Option("--results", help="Folder for outputs.")] = Path("results"),
) -> None:
    """Plans within a slack of the optimum that differ from it and from each other as much as possible.

    Example: optimizer alternatives instances/karst3/karst3.yaml --within 2% -n 5

    Writes results/<instance>/alternatives-<id>/: alternatives.csv (objective, loss, GEP, income of each plan), flexibility.csv and alternatives.gpkg (per township: forced or open, and the industries it takes), optimum/ and alt1/ … (run folders, each checked by the independent checker).
    """
    from optimizer.analyses.alternatives import (
        NoOptimum,
        check_count,
        find_alternatives,
        parse_within,
    )
    from optimizer.solve import SolveOptions

    try:
        problems = []
        for check in (lambda: parse_within(within), lambda: check_count(n)):
            try:
                check()
            except InputError as exc:
                problems.extend(exc.problems)
        if problems:  # every bad option at once
            raise InputError(problems)
        slack = parse_within(within)
        with err.status(_("starting"), spinner="dots") if not state["quiet"] else NullStatus() as status:
            result = find_alternatives(
                instance, within=slack, n=n, by=by, keep=keep, max_changes=max_changes,
                options=SolveOptions(time_limit=time_limit, gap=gap, threads=threads, seed=seed),
                results_root=results, scenarios=names(scenario), sets=set_ or [], prove_forced=prove_forced,
                phase=(lambda name: status.update(name)) if status is not None else None,
            )
    except InputError as exc:
        fail_input(exc)
        return
    except NoOptimum as exc:
        err.print(_("[bold red]No optimum to be near ({status}).[/] Limits in conflict: {conflict}").format(
            status=exc.status, conflict=escape(exc.conflict or "?")))
        raise typer.Exit(Exit.INFEASIBLE if exc.status == "infeasible" else Exit.NO_SOLUTION) from None
    print_result(result)
    if not result.table["within_slack"].all() or result.table["check_ok"].eq(False).any():
        raise typer.Exit(Exit.CHECK_FAILED)


def _m(x: Any) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else fmt(float(x))


def print_result(result: Any) -> None:
    t = result.table
    villages = "village_id" in result.flexibility.columns  # a village instance: one product per village
    unit = (_("villages") if villages else _("townships")) if result.by == "townships" else _("ha")
    changed_col = "villages_changed_from_optimum" if villages else "townships_changed_from_optimum"
    out.print(_("Optimum {z} yuan/yr (bound {b}); every alternative is proven within {s:.2%}: objective ≥ {f} yuan/yr.").format(
        z=_m(result.optimum_objective_yuan), b=_m(result.optimum_bound_yuan), s=result.within, f=_m(result.floor_yuan)),
        highlight=False)
    table = Table(title=_("near-optimal plans"), header_style="bold")
    for col in (_("plan"), _("objective"), _("loss"), _("loss %"), _("GEP total"), _("income"), _("changed"),
                _("ha changed"), _("nearest"), _("ok")):
        table.add_column(col, justify="left" if col in (_("plan"), _("ok")) else "right",
                         no_wrap=col in (_("plan"), _("ok")))
    for r in t.itertuples(index=False):
        table.add_row(r.plan, _m(r.objective_yuan), _m(r.loss_yuan), f"{r.loss_share:.2%}", _m(r.gep_total_yuan),
                      _m(r.farmer_income_yuan), str(getattr(r, changed_col)),
                      f"{r.hectares_changed_from_optimum:,.0f}",
                      "—" if r.plan == "optimum" else f"{r.min_distance_to_earlier:,.0f}",
                      "✓" if r.check_ok and r.within_slack else "✗")
    out.print(fit(table))
    if villages:
        legend = _("changed: villages whose product differs from the optimum's; nearest: {unit} changed from the "
                   "nearest earlier plan (the optimum or an alternative before); ok: within the slack and passed the "
                   "independent check.")
    else:
        legend = _("changed: townships whose industry differs from the optimum's; nearest: {unit} changed from the "
                   "nearest earlier plan (the optimum or an alternative before); ok: within the slack and passed the "
                   "independent check.")
    out.print(legend.format(unit=unit), highlight=False)
    f = result.flexibility
    forced = int(f["forced"].sum())
    flex_text = (_("Flexibility: {forced} of {n} villages take the same product in all {p} plans found; "
                   "{open} are open to choice:") if villages else
                 _("Flexibility: {forced} of {n} townships take the same industry in all {p} plans found; "
                   "{open} are open to choice:"))
    out.print(flex_text.format(forced=forced, n=len(f), p=len(result.plans), open=len(f) - forced), highlight=False)
    key = "village_id" if villages else "township_id"
    for r in f[~f["forced"]].head(25).itertuples(index=False):
        out.print(f"  {getattr(r, key)} {r.name} ({r.county}): {r.industries}", highlight=False, markup=False)
    if "forced_proven" in f:
        proven = int((f["forced_proven"] == True).sum())  # noqa: E712
        reopened = f[f["forced"] & (f["forced_proven"] == False)]  # noqa: E712
        text = _("Proof: {p} of the {forced} are forced by the numbers (no plan within the slack changes them)").format(
            p=proven, forced=forced)
        if len(reopened):
            text += _("; {o} could change after all:").format(o=len(reopened))
        out.print(text + ("" if len(reopened) else "."), highlight=False)
        for r in reopened.head(25).itertuples(index=False):
            out.print(_("  {id} {name} ({county}): {a}, or {b} within the slack").format(
                id=getattr(r, key), name=r.name, county=r.county, a=r.optimum_industry, b=r.could_also_take),
                highlight=False, markup=False)
    if (~f["forced"]).sum() > 25:
        out.print(_("  … and {k} more (flexibility.csv)").format(k=int((~f["forced"]).sum()) - 25), highlight=False)
    for note in result.notes:
        out.print(_("Note: {note}").format(note=note), highlight=False, markup=False)
    out.print(_("Folder: [bold]{folder}[/] (alternatives.gpkg layer flexibility, alternatives.csv, flexibility.csv, optimum/, alt1/ …)").format(
        folder=escape(str(result.folder))))
    out.print(escape(_("For the meeting: optimizer report {folder} writes its report.html.").format(folder=result.folder)),
              highlight=False)
