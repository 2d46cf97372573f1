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
    output_options,
    print_problems,
)
from optimizer.errors import InputError
from optimizer.i18n import _, ngettext

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
            with err.status("starting", spinner="dots") as status:
                ev = evaluate_plan(
                    instance, plan, options=options, results_root=results, optimum_run=optimum,
                    scenarios=[n.strip() for n in (scenario or "").split(",") if n.strip()], sets=set_ or [],
                    phase=lambda name: status.update(name), output=output_options(export),
                )  # fmt: skip
        except InputError as exc:
            files = {p.location.file for p in exc.problems}
            in_plan = files <= {plan, plan / "allocation.csv"}
            print_problems(err, exc, "The plan file has" if in_plan else "The input has")
            raise typer.Exit(Exit.INVALID_INPUT) from None
        print_evaluation(out, ev)
        if ev.violations:
            raise typer.Exit(Exit.PLAN_VIOLATES)


def _show(x: float, unit: str) -> str:
    """Money in whole yuan; other figures as the checker formats them."""
    from optimizer.check import format_amount

    return f"{x:,.0f}" if unit.startswith("yuan") else format_amount(x)


def print_evaluation(console: Any, ev: Any) -> None:
    """Verdict and violations one per line, the comparison table, differing townships, folders."""
    from rich.markup import escape
    from rich.table import Table

    n = len(ev.violations)
    if n:
        console.print(f"[bold red]Plan {escape(str(ev.plan_file))} breaks {n} limit{'s' if n != 1 else ''}:[/]")
        for v in ev.violations:
            console.print(f"  ✗ {v.message}", highlight=False, markup=False)
    else:
        console.print(f"[bold green]Plan {escape(str(ev.plan_file))} meets every limit.[/]")
    t = ev.totals
    console.print(
        f"Plan: GEP {t['gep_total_yuan']:,.0f} yuan/yr (material {t['gep_material_yuan']:,.0f}, regulating "
        f"{t['gep_regulating_yuan']:,.0f}, cultural {t['gep_cultural_yuan']:,.0f}); farmers' income "
        f"{t['farmer_income_after_price_steps_yuan']:,.0f} yuan/yr after price steps; objective {ev.objective_yuan:,.0f}.",
        highlight=False, markup=False,
    )  # fmt: skip
    if ev.comparison.empty:
        for note in ev.notes:
            console.print(f"Note: {note}", highlight=False, markup=False)
        if ev.out_dir:
            console.print(f"Evaluation: [bold]{ev.out_dir}[/]")
        return
    table = Table(title=f"plan against the optimum ({ev.optimum_status}, run {ev.optimum_run_id})", header_style="bold")
    for col in ("part", "unit", "weight", "plan", "optimum", "left on the table"):
        table.add_column(col, justify="left" if col in ("part", "unit") else "right")
    for r in ev.comparison.itertuples(index=False):
        weight = "" if not r.in_objective else ("Z" if r.part == "objective_yuan" else f"{r.objective_weight:g}")
        table.add_row(
            r.description, r.unit, weight, _show(r.plan, r.unit), _show(r.optimum, r.unit),
            _show(r.left_on_the_table, r.unit),
        )  # fmt: skip
    console.print(fit(table))
    d = ev.differing
    villages = "village_id" in d.columns
    if d.empty:
        console.print(_("Every village has the optimum's product.") if villages
                      else "Every township has the optimum's industry.")
    elif villages:
        console.print(ngettext("{n} village differs from the optimum (objective contribution left on the table, "
                               "before price steps):",
                               "{n} villages differ from the optimum (objective contribution left on the table, "
                               "before price steps):", len(d)).format(n=len(d)), highlight=False)
    else:
        console.print(f"{len(d)} township{'s differ' if len(d) != 1 else ' differs'} from the optimum "
                      "(objective contribution left on the table, before price steps):", highlight=False)  # fmt: skip
    if not d.empty:
        key = "village_id" if villages else "township_id"
        for r in d.head(15).itertuples(index=False):
            console.print(
                f"  {getattr(r, key)} {r.name} ({r.county}): plan {r.plan_industry}, optimum {r.optimum_industry}, "
                f"{r.left_on_the_table_yuan:,.0f} yuan/yr left on the table",
                highlight=False, markup=False,
            )
        if len(d) > 15:
            console.print(f"  … and {len(d) - 15} more (differing_townships.csv)", highlight=False)
    for note in ev.notes:
        console.print(f"Note: {note}", highlight=False, markup=False)
    if ev.optimum_run_dir:
        console.print(f"Optimum: [bold]{ev.optimum_run_dir}[/]")
    if ev.out_dir:
        console.print(f"Evaluation: [bold]{ev.out_dir}[/] (evaluate.gpkg layer plan has differs_from_optimum)")
