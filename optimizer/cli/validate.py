"""`optimizer validate INSTANCE`: every problem at once, located, without solving."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from optimizer.cli.common import Exit, err, exit_codes, fail_input, names, out, print_infeasible
from optimizer.errors import InputError
from optimizer.i18n import _


def register(app: typer.Typer) -> None:
    app.command(epilog=exit_codes(Exit.OK, Exit.INTERNAL, Exit.INVALID_INPUT, Exit.INFEASIBLE))(validate)


def validate(
    instance: Annotated[Path, typer.Argument(help="Instance YAML file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print problems as JSON (for editors and scripts).")] = False,
    scenario: Annotated[Optional[str], typer.Option("--scenario", "-s", help="Scenarios or named overrides to apply first, comma-separated.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Change one value by its path (repeatable), as for solve.")] = None,
) -> None:
    """Check an instance without solving: every problem at once, with file and line or row."""
    from optimizer.run import load_and_validate

    try:
        valid = load_and_validate(instance, scenarios=names(scenario), sets=set_ or [])
    except InputError as exc:
        if as_json:
            out.print_json(json.dumps([p.to_dict() for p in exc.problems], ensure_ascii=False))
            raise typer.Exit(Exit.INVALID_INPUT) from None
        fail_input(exc)
        return
    n_pairs = int(valid.pairs["allowed"].sum())
    if valid.conflicts:  # valid input, but the answer is already known: infeasible
        if as_json:
            out.print_json(json.dumps([{**p.to_dict(), "kind": "infeasible"} for p in valid.conflicts], ensure_ascii=False))
        else:
            print_infeasible({"conflicts": [{"where": str(p.location), "text": p.message} for p in valid.conflicts]})
        raise typer.Exit(Exit.INFEASIBLE)
    if as_json:
        out.print_json(json.dumps([{**w.to_dict(), "kind": "warning"} for w in valid.warnings], ensure_ascii=False))
        return
    for w in valid.warnings:
        err.print(f"  [yellow]{escape(_('warning'))}[/] [cyan]{escape(str(w.location))}[/]  {escape(w.message)}",
                  highlight=False)
    if valid.villages is not None:
        out.print("[green]OK[/] " + _("{instance}: {townships} townships, {villages} villages, {industries} candidate "
                                     "industries, {pairs} allowed village-industry pairs.").format(
            instance=escape(str(instance)), townships=len(valid.townships), villages=len(valid.villages),
            industries=sum(1 for i in valid.spec.industries.values() if i.candidate), pairs=n_pairs))
        return
    out.print("[green]" + _("OK") + "[/] " + escape(_(
        "{instance}: {townships} townships, {industries} candidate industries, {pairs} allowed township-industry pairs."
    ).format(instance=instance, townships=len(valid.townships),
             industries=sum(1 for i in valid.spec.industries.values() if i.candidate), pairs=n_pairs)))
