"""The tool commands: `schema` (JSON Schema for editors), `generate` (random instances), `check` (recheck a run)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from optimizer.cli.common import Exit, err, exit_codes, out
from optimizer.i18n import _


def register(app: typer.Typer) -> None:
    app.command(epilog=exit_codes(Exit.OK))(schema)
    app.command(epilog=exit_codes(Exit.OK, Exit.INTERNAL, Exit.INVALID_INPUT))(generate)
    app.command(epilog=exit_codes(Exit.OK, Exit.INTERNAL, Exit.INVALID_INPUT, Exit.CHECK_FAILED))(check)


def schema(
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Print the instance JSON Schema, for editor validation as you type.

    In VS Code (YAML extension), put this first line in an instance file:
    # yaml-language-server: $schema=./instance.schema.json
    """
    from optimizer.instance.schema import Instance

    text = json.dumps(Instance.model_json_schema(), indent=2, ensure_ascii=False)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
        err.print(escape(_("wrote {file}").format(file=output)))
    else:
        sys.stdout.write(text + "\n")


def generate(
    outdir: Annotated[Path, typer.Argument(help="Folder to write instance.yaml and its township table into.")],
    townships: Annotated[int, typer.Option("--townships", "-n", help="Number of townships.", min=1)] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same instance).")] = 1,
    table_format: Annotated[str, typer.Option("--format", help="Township table format: gpkg (polygons) or csv.")] = "gpkg",
    kind: Annotated[str, typer.Option("--kind", help="karst (default: the township model with binding limits) or gap (a generalized-assignment benchmark: one capacity per industry, CSV only).")] = "karst",
    industries: Annotated[int, typer.Option("--industries", help="--kind gap: number of industries (capacities).", min=1)] = 10,
    gap_type: Annotated[str, typer.Option("--gap-type", help="--kind gap: c (weights 5–25, profits 10–50) or d (profits rise with weights: hard).")] = "d",
    villages_per_township: Annotated[Optional[float], typer.Option("--villages-per-township", "-k", help="Write a village instance: this many villages per township on average (at least one each), with the leading-industry rule.", min=1.0)] = None,
) -> None:
    """Write a random but realistic instance (binding water, grid, market and budget limits), or a GAP benchmark."""
    if kind == "gap":
        from optimizer.generate.gap import generate_gap_instance

        if gap_type not in ("c", "d"):
            err.print("[red]--gap-type must be c or d[/]")
            raise typer.Exit(Exit.INVALID_INPUT)
        path = generate_gap_instance(outdir, townships, industries, seed, kind=gap_type)  # type: ignore[arg-type]
        out.print(f"wrote {path}")
        return
    if kind != "karst":
        err.print("[red]--kind must be karst or gap[/]")
        raise typer.Exit(Exit.INVALID_INPUT)
    from optimizer.generate import generate_instance

    if table_format not in ("gpkg", "csv"):
        err.print("[red]" + escape(_("--format must be gpkg or csv")) + "[/]")
        raise typer.Exit(Exit.INVALID_INPUT)
    path = generate_instance(outdir, townships, seed, table_format=table_format,  # type: ignore[arg-type]
                             villages_per_township=villages_per_township)
    out.print(escape(_("wrote {file}").format(file=path)))


def check(
    instance: Annotated[Path, typer.Argument(help="Instance YAML file the run was made from.")],
    run_dir: Annotated[Path, typer.Argument(help="Run folder holding allocation.csv and summary.json.")],
) -> None:
    """Recheck a run independently: every limit and the objective, from the input tables.

    A what-if run (scenarios, --set) is checked against the limits it was solved under,
    from its own instance.resolved.yaml.
    """
    from optimizer.check import check_run

    if not (run_dir / "summary.json").exists() or not (run_dir / "allocation.csv").exists():
        err.print("[red]" + escape(_("{folder} is not a finished run folder (no summary.json and allocation.csv)").format(
            folder=run_dir)) + "[/]")
        raise typer.Exit(Exit.INVALID_INPUT)
    resolved = run_dir / "instance.resolved.yaml"
    if resolved.exists():
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        if summary.get("overrides_applied"):
            err.print(escape(_("checking against the run's resolved instance ({n} what-if changes)").format(
                n=len(summary["overrides_applied"]))))
            instance = resolved
    report = check_run(instance, run_dir)
    if report.ok:
        out.print("[green]" + _("OK") + "[/] " + escape(_("every limit holds; objective recomputed as {objective} yuan").format(
            objective=f"{report.objective_yuan:,.0f}")))
        return
    for v in report.violations:
        err.print(f"  {v}", highlight=False, markup=False)
    for mm in report.mismatches:
        err.print(f"  {mm}", highlight=False, markup=False)
    raise typer.Exit(Exit.CHECK_FAILED)
