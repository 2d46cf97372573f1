"""`optimizer compare RUN_A RUN_B`: what changed between two runs, as terminal tables and files."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from optimizer.cli.common import EXPORT_HELP, Exit, check_export, exit_codes, fit, output_options
from optimizer.errors import InputError
from optimizer.i18n import _


def register(app: typer.Typer) -> None:
    """Add `compare RUN_A RUN_B` to a Typer app (the CLI wires it; tests use a bare app)."""

    @app.command("compare", epilog=exit_codes(Exit.OK, Exit.INTERNAL, Exit.INVALID_INPUT))
    def compare(
        run_a: Annotated[Path, typer.Argument(metavar="RUN_A", help="The reference run folder (A), e.g. results/fuchuan/<run id>.")],
        run_b: Annotated[Path, typer.Argument(metavar="RUN_B", help="The run to compare with it (B); every change is B − A.")],
        results: Annotated[Path, typer.Option("--results", help="Folder for the comparison outputs (<results>/<instance>-compare/<id>/).")] = Path("results"),
        no_write: Annotated[bool, typer.Option("--no-write", help="Only print; write no files.")] = False,
        export: Annotated[Optional[str], typer.Option("--export", metavar="FORMATS", help=EXPORT_HELP, callback=check_export)] = None,
    ) -> None:
        """Compare two runs: townships that changed industry, GEP, income, water, PV and investment per county and in total, and limits that became binding or slack.

        Writes CSV tables, comparison.json and comparison.gpkg (every township, the changed ones highlighted).

        Example: optimizer compare results/fuchuan/20261127-101500-ab12cd results/fuchuan/20261127-103000-cd34ef
        """
        from rich.console import Console
        from rich.markup import escape

        from optimizer.analyses.compare import compare_runs, write_comparison

        out, err = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
        try:
            comp = compare_runs(run_a, run_b)
        except InputError as exc:
            n = len(exc.problems)
            err.print(f"[bold red]Cannot compare: {n} problem{'s' if n != 1 else ''}:[/]")
            for p in exc.problems:
                err.print(f"  [cyan]{escape(str(p.location))}[/]  {escape(p.message)}"
                          + (f"  [green]({escape(p.suggestion)})[/]" if p.suggestion else ""), highlight=False)
            raise typer.Exit(2) from None
        for w in comp.warnings:
            err.print(f"[yellow]Warning:[/] {escape(w)}", highlight=False)
        print_comparison(comp, out)
        if not no_write:
            folder = write_comparison(comp, results, output=output_options(export))
            out.print(f"Comparison: [bold]{escape(str(folder))}[/] (comparison.gpkg layer townships maps every "
                      "township, the changed ones highlighted)")


def _num(x: Any, digits: int = 0, sign: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if sign and round(x, digits) == 0:
        return "0"
    return f"{x:{'+' if sign else ''},.{digits}f}"


def _run_line(label: str, r: Any) -> str:
    gap = f"{r.gap:.4%}" if isinstance(r.gap, (int, float)) else "—"
    what = ", ".join(r.scenarios) or ("--set" if r.overrides_applied else "as given")
    return (f"{label}: {r.instance} {r.run_id} ({what}) — {r.status}, objective {_num(r.objective_yuan)} "
            f"yuan/yr, bound {_num(r.bound_yuan)}, gap {gap}")


def print_comparison(comp: Any, console: Any, max_townships: int = 30) -> None:
    """The comparison as rich tables: totals, changed townships, limits that changed status."""
    from rich.markup import escape
    from rich.table import Table

    console.print(_run_line("A", comp.run_a), highlight=False, markup=False)
    console.print(_run_line("B", comp.run_b), highlight=False, markup=False)
    for label, r in (("A", comp.run_a), ("B", comp.run_b)):
        for o in r.overrides_applied[:8]:
            console.print(f"  {label}: {o.get('path')}: {o.get('old')!r} → {o.get('new')!r} ({o.get('source')})",
                          highlight=False, markup=False)

    t = Table(title="Totals (B − A)", header_style="bold")
    for col, just in (("figure", "left"), ("A", "right"), ("B", "right"), ("change", "right"), ("change %", "right")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for row in comp.totals.itertuples(index=False):
        digits = 1 if row.unit == "MWp" else 0
        t.add_row(escape(f"{row.label} ({row.unit})"), _num(row.a, digits), _num(row.b, digits),
                  _num(row.change, digits, sign=True),
                  "—" if math.isnan(row.change_pct) else ("0%" if row.change == 0 else f"{row.change_pct:+.1f}%"))
    console.print(fit(t))

    ct = comp.changed_townships
    n = len(ct)
    villages = "village_id" in ct.columns or "villages" in comp.per_county.columns
    if n == 0:
        console.print(_("No village changed product ({n} compared).").format(n=comp.townships_compared) if villages
                      else f"No township changed industry ({comp.townships_compared} compared).")
    else:
        moves = ", ".join(f"{k} ×{v}" for k, v in comp.transitions.items())
        title = (_("Villages that changed product: {n} of {of} ({moves})") if villages
                 else "Townships that changed industry: {n} of {of} ({moves})")
        t = Table(title=title.format(n=n, of=comp.townships_compared, moves=moves), header_style="bold")
        # One text column (unit, county, A → B on their own lines) beside five
        # numbers: three text columns left the numbers no room at 80 columns.
        first = "village, county: A → B" if villages else "township, county: A → B"
        for col in (first, "Δ GEP total (yuan/yr)", "Δ income (yuan/yr)",
                    "Δ water (m³/yr)", "Δ PV (MWp)", "Δ investment (yuan)"):  # fmt: skip
            t.add_column(col, justify="left" if col == first else "right")
        key = "village_id" if "village_id" in ct.columns else "township_id"
        for row in ct.head(max_townships).itertuples(index=False):
            t.add_row(escape(f"{getattr(row, key)} {row.name}\n{row.county}\n{row.industry_a} → {row.industry_b}"),
                      _num(row.delta_gep_total_yuan, sign=True), _num(row.delta_farmer_income_yuan, sign=True),
                      _num(row.delta_water_use_m3, sign=True), _num(row.delta_pv_capacity_mw, 1, sign=True),
                      _num(row.delta_investment_yuan, sign=True))
        console.print(fit(t))
        if n > max_townships:
            console.print(f"… and {n - max_townships} more (changed_townships.csv has them all)")

    lc = comp.limit_changes
    if lc.empty:
        console.print("No limit changed between binding, nearly binding and slack.")
    else:
        t = Table(title="Limits that changed status", header_style="bold")
        for col in ("limit", "change", "A used", "B used", "A limit", "B limit"):
            t.add_column(col, justify="left" if col in ("limit", "change") else "right")
        for row in lc.itertuples(index=False):
            t.add_row(escape(row.name), row.change, _share(row.used_share_a, row.status_a), _share(row.used_share_b, row.status_b),
                      _num(row.rhs_a), _num(row.rhs_b))
        console.print(fit(t))
    changed_rhs = comp.constraint_changes[comp.constraint_changes["rhs_changed"]]
    if not changed_rhs.empty:
        shown = [f"{r.name} {_num(r.rhs_a)} → {_num(r.rhs_b)}" for r in changed_rhs.head(12).itertuples(index=False)]
        console.print("Limits whose value differs between the runs: " + ", ".join(shown)
                      + (" …" if len(changed_rhs) > 12 else ""), highlight=False, markup=False)


def _share(share: float, status: str) -> str:
    if status in ("absent", "slack (not listed)"):
        return status
    return "—" if share is None or math.isnan(share) else f"{share:.0%}"
