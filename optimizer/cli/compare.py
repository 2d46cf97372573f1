"""`optimizer compare RUN_A RUN_B`: what changed between two runs, as terminal tables and files."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from optimizer.cli.common import EXPORT_HELP, Exit, check_export, exit_codes, fit, money, output_options
from optimizer.errors import InputError
from optimizer.i18n import _, ngettext


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
            err.print("[bold red]" + escape(ngettext("Cannot compare: {n} problem:", "Cannot compare: {n} problems:", n).format(
                n=n)) + "[/]")
            for p in exc.problems:
                err.print(f"  [cyan]{escape(str(p.location))}[/]  {escape(p.message)}"
                          + (f"  [green]({escape(p.suggestion)})[/]" if p.suggestion else ""), highlight=False)
            raise typer.Exit(2) from None
        for w in comp.warnings:
            err.print("[yellow]" + escape(_("Warning:")) + f"[/] {escape(w)}", highlight=False)
        print_comparison(comp, out)
        if not no_write:
            folder = write_comparison(comp, results, output=output_options(export))
            out.print(_("Comparison: {folder} (comparison.gpkg layer townships maps every township, the changed "
                        "ones highlighted)").format(folder=f"[bold]{escape(str(folder))}[/]"))


def _num(x: Any, digits: int = 0, sign: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if sign and round(x, digits) == 0:
        return "0"
    return f"{x:{'+' if sign else ''},.{digits}f}"


def _run_line(label: str, r: Any) -> str:
    gap = f"{r.gap:.4%}" if isinstance(r.gap, (int, float)) else "—"
    what = ", ".join(r.scenarios) or ("--set" if r.overrides_applied else _("as given"))
    m = money(r.objective_yuan, r.bound_yuan)
    return _("{label}: {instance} {run_id} ({what}) — {status}, objective {objective} {unit}, bound {bound}, gap {gap}").format(
        label=label, instance=r.instance, run_id=r.run_id, what=what, status=r.status, objective=m(r.objective_yuan),
        unit=m.unit, bound=m(r.bound_yuan), gap=gap)


def print_comparison(comp: Any, console: Any, max_townships: int = 30) -> None:
    """The comparison as rich tables: totals, changed townships, limits that changed status."""
    from rich.markup import escape
    from rich.table import Table

    from optimizer.i18n import language
    from optimizer.outputs.labels import unit_text

    console.print(_run_line("A", comp.run_a), highlight=False, markup=False)
    console.print(_run_line("B", comp.run_b), highlight=False, markup=False)
    for label, r in (("A", comp.run_a), ("B", comp.run_b)):
        for o in r.overrides_applied[:8]:
            console.print(f"  {label}: {o.get('path')}: {o.get('old')!r} → {o.get('new')!r} ({o.get('source')})",
                          highlight=False, markup=False)

    t = Table(title=_("Totals (B − A)"), header_style="bold")
    for col, just in ((_("figure"), "left"), ("A", "right"), ("B", "right"), (_("change"), "right"), (_("change %"), "right")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for row in comp.totals.itertuples(index=False):
        digits = 1 if row.unit == "MWp" else 0
        unit, factor = unit_text(str(row.unit), language()), 1.0
        if str(row.unit).startswith("yuan"):
            m = money(row.a, row.b, per_year=row.unit == "yuan/yr")
            unit, factor, digits = m.unit, m.factor, m.digits
        t.add_row(escape(_("{label} ({unit})").format(label=_count_label(row.figure, row.label), unit=unit)), _num(_div(row.a, factor), digits), _num(_div(row.b, factor), digits),
                  _num(_div(row.change, factor), digits, sign=True),
                  "—" if math.isnan(row.change_pct) else ("0%" if row.change == 0 else f"{row.change_pct:+.1f}%"))
    console.print(fit(t))

    ct = comp.changed_townships
    n = len(ct)
    villages = "village_id" in ct.columns or "villages" in comp.per_county.columns
    if n == 0:
        console.print(_("No village changed product ({n} compared).").format(n=comp.townships_compared) if villages
                      else _("No township changed industry ({n} compared).").format(n=comp.townships_compared))
    else:
        moves = ", ".join(f"{k} ×{v}" for k, v in comp.transitions.items())
        title = (_("Villages that changed product: {n} of {of} ({moves})") if villages
                 else _("Townships that changed industry: {n} of {total} ({moves})"))
        t = Table(title=title.format(n=n, of=comp.townships_compared, total=comp.townships_compared, moves=moves),
                  header_style="bold")
        shown = ct.head(max_townships)
        m_gep = money(*shown["delta_gep_total_yuan"])
        m_inc = money(*shown["delta_farmer_income_yuan"])
        m_inv = money(*shown["delta_investment_yuan"], per_year=False)
        # One text column (unit, county, A → B on their own lines) beside five
        # numbers: three text columns left the numbers no room at 80 columns.
        first = _("village, county: A → B") if villages else _("township, county: A → B")
        for i, col in enumerate((first, _("Δ GEP total ({unit})").format(unit=m_gep.unit),
                                 _("Δ income ({unit})").format(unit=m_inc.unit), _("Δ water (m³/yr)"), _("Δ PV (MWp)"),
                                 _("Δ investment ({unit})").format(unit=m_inv.unit))):  # fmt: skip
            t.add_column(col, justify="left" if i == 0 else "right")
        key = "village_id" if "village_id" in ct.columns else "township_id"
        for row in shown.itertuples(index=False):
            t.add_row(escape(f"{getattr(row, key)} {row.name}\n{row.county}\n{row.industry_a} → {row.industry_b}"),
                      _num(_div(row.delta_gep_total_yuan, m_gep.factor), m_gep.digits, sign=True),
                      _num(_div(row.delta_farmer_income_yuan, m_inc.factor), m_inc.digits, sign=True),
                      _num(row.delta_water_use_m3, sign=True), _num(row.delta_pv_capacity_mw, 1, sign=True),
                      _num(_div(row.delta_investment_yuan, m_inv.factor), m_inv.digits, sign=True))
        console.print(fit(t))
        if n > max_townships:
            console.print(_("… and {n} more (changed_townships.csv has them all)").format(n=n - max_townships))

    lc = comp.limit_changes
    if lc.empty:
        console.print(_("No limit changed between binding, nearly binding and slack."))
    else:
        t = Table(title=_("Limits that changed status"), header_style="bold")
        for i, col in enumerate((_("limit"), _("change"), _("A used"), _("B used"), _("A limit"), _("B limit"))):
            t.add_column(col, justify="left" if i < 2 else "right")
        for row in lc.itertuples(index=False):
            t.add_row(escape(row.name), row.change, _share(row.used_share_a, row.status_a), _share(row.used_share_b, row.status_b),
                      _num(row.rhs_a), _num(row.rhs_b))
        console.print(fit(t))
    changed_rhs = comp.constraint_changes[comp.constraint_changes["rhs_changed"]]
    if not changed_rhs.empty:
        shown = [f"{r.name} {_num(r.rhs_a)} → {_num(r.rhs_b)}" for r in changed_rhs.head(12).itertuples(index=False)]
        console.print(_("Limits whose value differs between the runs: ") + ", ".join(shown)
                      + (" …" if len(changed_rhs) > 12 else ""), highlight=False, markup=False)


def _count_label(figure: str, label: str) -> str:
    """A totals row's words in the language in force (counts per industry are named by rule)."""
    from optimizer.i18n import language

    if language() != "en":
        for prefix, template in (("townships_leading_", _("townships led by: {industry}")),
                                 ("townships_", _("townships: {industry}")), ("villages_", _("villages: {industry}"))):
            if figure.startswith(prefix):
                return template.format(industry=figure[len(prefix):])
    return _(label)


def _div(x: Any, factor: float) -> Any:
    """A money figure in the unit shown (None and NaN pass through)."""
    return x if x is None or factor == 1.0 else x / factor


def _share(share: float, status: str) -> str:
    if status in ("absent", "slack (not listed)"):
        return status
    return "—" if share is None or math.isnan(share) else f"{share:.0%}"
