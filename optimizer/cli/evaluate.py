"""`optimizer evaluate INSTANCE PLAN`: score a planner's own plan against every limit and the optimum."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from optimizer.cli.common import (
    EXPORT_HELP,
    Exit,
    check_export,
    exit_codes,
    fit,
    money,
    output_options,
    print_problems,
)
from optimizer.errors import InputError
from optimizer.i18n import N_, _, ngettext

EPILOG = exit_codes(Exit.OK, Exit.INTERNAL, Exit.INVALID_INPUT, Exit.PLAN_VIOLATES)


def register(app: typer.Typer) -> None:
    """Add the `evaluate` command to a Typer app (the lead wires it into optimizer.cli)."""
    @app.command(name="evaluate", epilog=EPILOG)
    def evaluate_command(
        instance: Annotated[Path, typer.Argument(help="Instance YAML file.")],
        plan: Annotated[Path, typer.Argument(help="The plan: a CSV with township_id,industry (other columns ignored), or a run folder.")],
        results: Annotated[Path, typer.Option("--results", help="Folder for outputs: <results>/<instance>/<run id>-evaluate/ and the optimum's run.")] = Path("results"),
        optimum: Annotated[Optional[Path], typer.Option("--optimum", help="Compare with this existing run folder instead of solving again.")] = None,
        time_limit: Annotated[Optional[float], typer.Option("--time-limit", help="Time limit of the optimum solve (seconds).", min=0.01)] = None,
        gap: Annotated[Optional[float], typer.Option("--gap", help="Relative MIP gap at which HiGHS stops (1e-4 = within 0.01%% of the best possible). Default: exact (0) up to 200 townships, 1e-4 above.", min=0.0)] = None,
        threads: Annotated[int, typer.Option("--threads", help="HiGHS threads for the optimum solve.", min=1)] = 1,
        seed: Annotated[int, typer.Option("--seed", help="HiGHS random seed for the optimum solve.")] = 20260101,
        scenario: Annotated[Optional[str], typer.Option("--scenario", "-s", help="Scenarios or named overrides to apply first, comma-separated, as for solve.")] = None,
        set_: Annotated[Optional[list[str]], typer.Option("--set", help="Change one value by its path (repeatable), as for solve.")] = None,
        export: Annotated[Optional[str], typer.Option("--export", metavar="FORMATS", help=EXPORT_HELP, callback=check_export)] = None,
    ) -> None:
        """Score your own plan: every limit checked in plain words, GEP and income, and the optimum's lead.

        Example: optimizer evaluate instances/fuchuan/fuchuan.yaml my_plan.csv
        """
        from rich.console import Console

        from optimizer.analyses.evaluate import evaluate_plan
        from optimizer.solve.options import SolveOptions

        out = Console(soft_wrap=True)
        err = Console(stderr=True, soft_wrap=True)
        options = SolveOptions(time_limit=time_limit, gap=gap, threads=threads, seed=seed)
        try:
            with err.status(_("starting"), spinner="dots") as status:
                ev = evaluate_plan(
                    instance, plan, options=options, results_root=results, optimum_run=optimum,
                    scenarios=[n.strip() for n in (scenario or "").split(",") if n.strip()], sets=set_ or [],
                    phase=lambda name: status.update(name), output=output_options(export),
                )  # fmt: skip
        except InputError as exc:
            files = {p.location.file for p in exc.problems}
            in_plan = files <= {plan, plan / "allocation.csv"}
            print_problems(err, exc, _("The plan file has") if in_plan else _("The input has"))
            raise typer.Exit(Exit.INVALID_INPUT) from None
        print_evaluation(out, ev)
        if ev.violations:
            raise typer.Exit(Exit.PLAN_VIOLATES)


def _show(x: float, unit: str, m: Any = None) -> str:
    """Money in whole yuan (or in the unit of `m`, see `money`); other figures as the checker formats them."""
    from optimizer.check import format_amount

    if unit.startswith("yuan"):
        return m(x) if m is not None else f"{x:,.0f}"
    return format_amount(x)


def print_evaluation(console: Any, ev: Any) -> None:
    """Verdict and violations one per line, the comparison table, differing townships, folders."""
    from rich.markup import escape
    from rich.table import Table

    n = len(ev.violations)
    if n:
        console.print("[bold red]" + escape(ngettext("Plan {file} breaks {n} limit:", "Plan {file} breaks {n} limits:", n).format(
            file=ev.plan_file, n=n)) + "[/]")
        for v in ev.violations:
            console.print(f"  ✗ {v.message}", highlight=False, markup=False)
    else:
        console.print("[bold green]" + escape(_("Plan {file} meets every limit.").format(file=ev.plan_file)) + "[/]")
    t = ev.totals
    m = money(t["gep_total_yuan"], t["farmer_income_after_price_steps_yuan"], ev.objective_yuan)
    console.print(
        _("Plan: GEP {gep} {unit} (material {material}, regulating {regulating}, cultural {cultural}); farmers' income "
          "{income} {unit} after price steps; objective {objective}.").format(
            gep=m(t["gep_total_yuan"]), unit=m.unit, material=m(t["gep_material_yuan"]),
            regulating=m(t["gep_regulating_yuan"]), cultural=m(t["gep_cultural_yuan"]),
            income=m(t["farmer_income_after_price_steps_yuan"]), objective=m(ev.objective_yuan)),
        highlight=False, markup=False,
    )  # fmt: skip
    if ev.comparison.empty:
        for note in ev.notes:
            console.print(_("Note: {note}").format(note=note), highlight=False, markup=False)
        if ev.out_dir:
            console.print(_("Evaluation: {folder}").format(folder=f"[bold]{escape(str(ev.out_dir))}[/]"))
        return
    table = Table(title=_("plan against the optimum ({status}, run {run})").format(
        status=ev.optimum_status, run=ev.optimum_run_id), header_style="bold")
    for col in (N_("part"), N_("unit"), N_("weight"), N_("plan"), N_("optimum"), N_("left on the table")):
        table.add_column(_(col), justify="left" if col in ("part", "unit") else "right")
    comp = ev.comparison
    from optimizer.i18n import language
    from optimizer.outputs.labels import unit_text

    for r in comp.itertuples(index=False):
        weight = "" if not r.in_objective else ("Z" if r.part == "objective_yuan" else f"{r.objective_weight:g}")
        # each row in its own money unit (with --units cn, 亿元 would hide a small row's figures)
        m = money(r.plan, r.optimum, per_year=r.unit == "yuan/yr")
        unit = m.unit if str(r.unit).startswith("yuan") else unit_text(str(r.unit), language())
        table.add_row(
            _(r.description), unit, weight, _show(r.plan, r.unit, m), _show(r.optimum, r.unit, m),
            _show(r.left_on_the_table, r.unit, m),
        )  # fmt: skip
    console.print(fit(table))
    d = ev.differing
    villages = "village_id" in d.columns
    if d.empty:
        console.print(_("Every village has the optimum's product.") if villages
                      else _("Every township has the optimum's industry."))
    elif villages:
        console.print(ngettext("{n} village differs from the optimum (objective contribution left on the table, "
                               "before price steps):",
                               "{n} villages differ from the optimum (objective contribution left on the table, "
                               "before price steps):", len(d)).format(n=len(d)), highlight=False)
    else:
        console.print(ngettext(
            "{n} township differs from the optimum (objective contribution left on the table, before price steps):",
            "{n} townships differ from the optimum (objective contribution left on the table, before price steps):",
            len(d)).format(n=len(d)), highlight=False)  # fmt: skip
    if not d.empty:
        key = "village_id" if villages else "township_id"
        shown = d.head(15)
        m = money(*shown["left_on_the_table_yuan"])
        for r in shown.itertuples(index=False):
            console.print(
                "  " + _("{id} {name} ({county}): plan {plan}, optimum {optimum}, {left} {unit} left on the table").format(
                    id=getattr(r, key), name=r.name, county=r.county, plan=r.plan_industry, optimum=r.optimum_industry,
                    left=m(r.left_on_the_table_yuan), unit=m.unit),
                highlight=False, markup=False,
            )
        if len(d) > 15:
            console.print("  " + _("… and {n} more (differing_townships.csv)").format(n=len(d) - 15), highlight=False)
    for note in ev.notes:
        console.print(_("Note: {note}").format(note=note), highlight=False, markup=False)
    if ev.optimum_run_dir:
        console.print(_("Optimum: {folder}").format(folder=f"[bold]{escape(str(ev.optimum_run_dir))}[/]"))
    if ev.out_dir:
        console.print(_("Evaluation: {folder} (evaluate.gpkg layer plan has differs_from_optimum)").format(
            folder=f"[bold]{escape(str(ev.out_dir))}[/]"))
