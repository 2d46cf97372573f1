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
    names,
    output_options,
    print_problems,
)
from optimizer.errors import InputError


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
            print_problems(err, exc, "The input has")
            raise typer.Exit(2) from None
        print_accounts(out, accounts)
        out.print(f"Results: [bold]{out_dir}[/] (gep.gpkg layer gep_by_township opens in QGIS)")


def _fmt(x: float) -> str:
    return f"{x:,.0f}"


def print_accounts(console: Any, accounts: Any) -> None:
    """Totals by category against the baseline, and per county when there are few."""
    from rich.table import Table

    from optimizer.instance.schema import GEP_CATEGORIES

    tot = accounts.totals
    baseline_only = accounts.plan_source == "baseline"
    title = f"GEP of {accounts.instance} — {'baseline land use' if baseline_only else accounts.plan_source}"
    table = Table(title=title, caption=f"convention: {accounts.convention}; yuan/yr", header_style="bold")
    table.add_column("")
    if not baseline_only:
        table.add_column("plan", justify="right")
    table.add_column("baseline", justify="right")
    if not baseline_only:
        table.add_column("change", justify="right")
    rows = [(f"GEP {c}", f"gep_{c}_yuan") for c in GEP_CATEGORIES] + [
        ("GEP total", "gep_total_yuan"),
        ("farmers' income (before price steps)", "farmer_income_yuan"),
    ]
    for label, key in rows:
        cells = [_fmt(tot[f"baseline_{key}"])]
        if not baseline_only:
            cells = [_fmt(tot[key]), *cells, _fmt(tot[f"change_{key}"])]
        table.add_row(label, *cells)
    console.print(fit(table))
    if accounts.price_changes:
        changed = accounts.prices[accounts.prices["price_from"] == "price set"]
        console.print(f"Unit prices from price set '{accounts.convention}':", highlight=False)
        for (service, unit), g in changed.groupby(["service", "unit"], sort=True):
            was = ", ".join(sorted({f"{p:g}" for p in g["instance_unit_price_yuan"]}))
            console.print(
                f"  {service}: {was} → {g['unit_price_yuan'].iloc[0]:g} yuan/{unit} "
                f"({', '.join(g['industry'])})",
                highlight=False, markup=False,
            )
    _print_townships(console, accounts, baseline_only)
    if len(accounts.by_county) <= 12:
        ct = Table(title="by county (yuan/yr)", header_style="bold")
        cols = ["county", "townships", "GEP total", "farmers' income"]
        if not baseline_only:
            cols = ["county", "townships", "GEP total", "GEP change", "farmers' income", "income change"]
        for col in cols:
            ct.add_column(col, justify="left" if col == "county" else "right")
        for r in accounts.by_county.itertuples(index=False):
            if baseline_only:
                cells = [_fmt(r.baseline_gep_total_yuan), _fmt(r.baseline_farmer_income_yuan)]
            else:
                cells = [_fmt(r.gep_total_yuan), _fmt(r.change_gep_total_yuan),
                         _fmt(r.farmer_income_yuan), _fmt(r.change_farmer_income_yuan)]  # fmt: skip
            ct.add_row(str(r.county), str(r.townships), *cells)
        console.print(fit(ct))


def _print_townships(console: Any, accounts: Any, baseline_only: bool, limit: int = 25) -> None:
    """The GEP–income pair per township (largest GEP change first when there are many)."""
    from rich.table import Table

    bt = accounts.by_township
    shown = bt if len(bt) <= limit else bt.sort_values("change_gep_total_yuan", ascending=False).head(limit)
    title = "per township (yuan/yr)" if len(bt) <= limit else f"the {limit} townships with the largest GEP gain (yuan/yr)"
    table = Table(title=title, header_style="bold")
    cols = ["township", "industry", "GEP", "income", "GEP/ha", "income/ha"]
    if not baseline_only:
        cols = ["township", "industry", "GEP", "Δ GEP", "income", "Δ income", "GEP/ha", "income/ha"]
    for col in cols:
        left = col in ("township", "industry")
        table.add_column(col, justify="left" if left else "right", no_wrap=left)
    for r in shown.itertuples(index=False):
        cells = [_fmt(r.gep_total_yuan), _fmt(r.farmer_income_yuan)]
        if not baseline_only:
            cells = [_fmt(r.gep_total_yuan), _fmt(r.change_gep_total_yuan),
                     _fmt(r.farmer_income_yuan), _fmt(r.change_farmer_income_yuan)]  # fmt: skip
        per_ha = [_fmt(r.gep_total_yuan_per_ha), _fmt(r.farmer_income_yuan_per_ha)]
        table.add_row(f"{r.township_id} {r.name}", str(r.industry), *cells, *per_ha)
    console.print(fit(table))
    if len(bt) > limit:
        console.print(f"… {len(bt) - limit} more townships in gep_by_township.csv", highlight=False)
