"""`optimizer gep`: GEP accounts of the baseline or of a plan, printed and written."""

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
    names,
    output_options,
    print_problems,
)
from optimizer.errors import InputError
from optimizer.i18n import N_, _


def register(app: typer.Typer) -> None:
    """Add the `gep` command to a Typer app (the lead wires it into optimizer.cli)."""
    @app.command(
        name="gep",
        epilog=exit_codes(Exit.OK, Exit.INTERNAL, Exit.INVALID_INPUT),
    )
    def gep_command(
        instance: Annotated[Path, typer.Argument(help="Instance YAML file, e.g. instances/fuchuan/fuchuan.yaml.")],
        plan: Annotated[Optional[Path], typer.Option("--plan", help="A run folder (its allocation.csv) or a CSV with township_id,industry. Without it: the baseline land use.")] = None,
        convention: Annotated[Optional[str], typer.Option("--convention", "-c", help="GEP unit prices: 'instance' (the industries' own, as the optimiser uses) or a named set of the instance's gep_price_sets.")] = None,
        results: Annotated[Path, typer.Option("--results", help="Folder for outputs: writes <results>/<instance>/<run id>-gep/.")] = Path("results"),
        scenario: Annotated[Optional[str], typer.Option("--scenario", "-s", help="Scenarios or named overrides to apply first, comma-separated, as for solve.")] = None,
        set_: Annotated[Optional[list[str]], typer.Option("--set", help="Change one value by its path (repeatable), as for solve.")] = None,
        export: Annotated[Optional[str], typer.Option("--export", metavar="FORMATS", help=EXPORT_HELP, callback=check_export)] = None,
    ) -> None:
        """GEP of the baseline or of a plan: by service, category, township, county and city (CSV + GeoPackage).

        Example: optimizer gep instances/fuchuan/fuchuan.yaml --plan results/fuchuan/<run id>
        """
        from rich.console import Console

        from optimizer.analyses.gep import account_instance

        out = Console(soft_wrap=True)
        err = Console(stderr=True, soft_wrap=True)
        try:
            accounts, out_dir = account_instance(
                instance, plan, convention, results_root=results,
                scenarios=names(scenario), sets=set_ or [], output=output_options(export),
            )
        except InputError as exc:
            print_problems(err, exc, _("The input has"))
            raise typer.Exit(2) from None
        print_accounts(out, accounts)
        out.print(_("Results: {folder} (gep.gpkg layer gep_by_township opens in QGIS)").format(folder=f"[bold]{out_dir}[/]"))


def _fmt(x: float) -> str:
    return f"{x:,.0f}"


def _money(frame: Any, columns: list[str]) -> Any:
    """One money unit for these columns of a table (yuan, or 万元/亿元 with --units cn)."""
    values = [float(v) for c in columns if c in frame for v in frame[c]]
    return money(*values)


def print_accounts(console: Any, accounts: Any) -> None:
    """Totals by category against the baseline, and per county when there are few."""
    from rich.table import Table

    from optimizer.instance.schema import GEP_CATEGORIES

    tot = accounts.totals
    baseline_only = accounts.plan_source == "baseline"
    title = _("GEP of {instance} — {plan}").format(
        instance=accounts.instance, plan=_("baseline land use") if baseline_only else accounts.plan_source)
    category_labels = {"material": N_("GEP material"), "regulating": N_("GEP regulating"), "cultural": N_("GEP cultural")}
    rows = [(_(category_labels.get(c, "GEP " + c)), f"gep_{c}_yuan") for c in GEP_CATEGORIES] + [
        (_("GEP total"), "gep_total_yuan"),
        (_("farmers' income (before price steps)"), "farmer_income_yuan"),
    ]
    m = money(*[tot[k] for _label, key in rows for k in (key, f"baseline_{key}") if k in tot])
    table = Table(title=title, caption=_("convention: {convention}; {unit}").format(convention=accounts.convention, unit=m.unit),
                  header_style="bold")
    table.add_column("")
    if not baseline_only:
        table.add_column(_("plan"), justify="right")
    table.add_column(_("baseline"), justify="right")
    if not baseline_only:
        table.add_column(_("change"), justify="right")
    for label, key in rows:
        cells = [m(tot[f"baseline_{key}"])]
        if not baseline_only:
            cells = [m(tot[key]), *cells, m(tot[f"change_{key}"])]
        table.add_row(label, *cells)
    console.print(fit(table))
    if accounts.price_changes:
        changed = accounts.prices[accounts.prices["price_from"] == "price set"]
        console.print(_("Unit prices from price set '{name}':").format(name=accounts.convention), highlight=False)
        for (service, unit), g in changed.groupby(["service", "unit"], sort=True):
            was = ", ".join(sorted({f"{p:g}" for p in g["instance_unit_price_yuan"]}))
            console.print(
                f"  {service}: {was} → {g['unit_price_yuan'].iloc[0]:g} yuan/{unit} "
                f"({', '.join(g['industry'])})",
                highlight=False, markup=False,
            )
    _print_townships(console, accounts, baseline_only)
    if len(accounts.by_county) <= 12:
        bc = accounts.by_county
        m = _money(bc, ["baseline_gep_total_yuan", "baseline_farmer_income_yuan"] if baseline_only else
                   ["gep_total_yuan", "change_gep_total_yuan", "farmer_income_yuan", "change_farmer_income_yuan"])
        ct = Table(title=_("by county ({unit})").format(unit=m.unit), header_style="bold")
        cols = [N_("county"), N_("townships"), N_("GEP total"), N_("farmers' income")]
        if not baseline_only:
            cols = [N_("county"), N_("townships"), N_("GEP total"), N_("GEP change"), N_("farmers' income"),
                    N_("income change")]
        for col in cols:
            ct.add_column(_(col), justify="left" if col == "county" else "right")
        for r in bc.itertuples(index=False):
            if baseline_only:
                cells = [m(r.baseline_gep_total_yuan), m(r.baseline_farmer_income_yuan)]
            else:
                cells = [m(r.gep_total_yuan), m(r.change_gep_total_yuan),
                         m(r.farmer_income_yuan), m(r.change_farmer_income_yuan)]  # fmt: skip
            ct.add_row(str(r.county), str(r.townships), *cells)
        console.print(fit(ct))


def _print_townships(console: Any, accounts: Any, baseline_only: bool, limit: int = 25) -> None:
    """The GEP–income pair per township (largest GEP change first when there are many)."""
    from rich.table import Table

    bt = accounts.by_township
    shown = bt if len(bt) <= limit else bt.sort_values("change_gep_total_yuan", ascending=False).head(limit)
    m = _money(shown, ["gep_total_yuan", "farmer_income_yuan"] if baseline_only else
               ["gep_total_yuan", "change_gep_total_yuan", "farmer_income_yuan", "change_farmer_income_yuan"])
    title = (_("per township ({unit}; per ha: yuan/ha/yr)") if len(bt) <= limit
             else _("the {limit} townships with the largest GEP gain ({unit}; per ha: yuan/ha/yr)")).format(
        unit=m.unit, limit=limit)
    if m.factor == 1.0:  # the title the tool always had, when all figures are in yuan
        title = (_("per township (yuan/yr)") if len(bt) <= limit
                 else _("the {limit} townships with the largest GEP gain (yuan/yr)").format(limit=limit))
    table = Table(title=title, header_style="bold")
    cols = [N_("township"), N_("industry"), N_("GEP"), N_("income"), N_("GEP/ha"), N_("income/ha")]
    if not baseline_only:
        cols = [N_("township"), N_("industry"), N_("GEP"), N_("Δ GEP"), N_("income"), N_("Δ income"), N_("GEP/ha"),
                N_("income/ha")]
    for col in cols:
        left = col in ("township", "industry")
        table.add_column(_(col), justify="left" if left else "right", no_wrap=left)
    for r in shown.itertuples(index=False):
        cells = [m(r.gep_total_yuan), m(r.farmer_income_yuan)]
        if not baseline_only:
            cells = [m(r.gep_total_yuan), m(r.change_gep_total_yuan),
                     m(r.farmer_income_yuan), m(r.change_farmer_income_yuan)]  # fmt: skip
        per_ha = [_fmt(r.gep_total_yuan_per_ha), _fmt(r.farmer_income_yuan_per_ha)]
        table.add_row(f"{r.township_id} {r.name}", str(r.industry), *cells, *per_ha)
    console.print(fit(table))
    if len(bt) > limit:
        console.print(_("… {n} more townships in gep_by_township.csv").format(n=len(bt) - limit), highlight=False)
