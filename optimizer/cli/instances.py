"""Commands about instance files: `scenarios` (what-ifs an instance names) and `new` (start from a shipped one)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from optimizer.cli.common import Exit, err, exit_codes, fail_input, fit, out
from optimizer.errors import InputError, Location, Problem, did_you_mean

#: The shipped instances live beside the package in a source checkout (and editable installs).
SHIPPED = Path(__file__).resolve().parents[2] / "instances"


def register(app: typer.Typer) -> None:
    app.command(epilog=exit_codes(Exit.OK, Exit.INTERNAL, Exit.INVALID_INPUT))(scenarios)
    app.command(epilog=exit_codes(Exit.OK, Exit.INTERNAL, Exit.INVALID_INPUT))(new)


def scenarios(
    instance: Annotated[Path, typer.Argument(help="Instance YAML file.")],
) -> None:
    """List the instance's named overrides and scenarios: what each changes, from what to what.

    Use them with `optimizer solve INSTANCE --scenario NAME` (several: --scenario a,b).
    """
    from rich.table import Table

    from optimizer.i18n import _
    from optimizer.instance.load import load_instance

    try:
        loaded = load_instance(instance)
    except InputError as exc:
        fail_input(exc)
        return
    spec = loaded.spec
    if not spec.overrides and not spec.scenarios:
        out.print(escape(_("{file} names no overrides or scenarios. What-ifs still work with --set PATH=VALUE.").format(file=instance)))
        return
    lines = loaded.path.read_text(encoding="utf-8").splitlines()
    table = Table(title=_("Named overrides of {name}").format(name=spec.name), header_style="bold")
    for col in (_("override"), _("changes"), _("to"), _("now"), _("note")):
        table.add_column(col)
    for name, changes in spec.overrides.items():
        note = _comment(lines, loaded.positions.get(("overrides", name)))
        for k, (path, value) in enumerate(changes.items()):
            table.add_row(name if k == 0 else "", path, str(value), _current(loaded, path), note if k == 0 else "")
    out.print(fit(table))
    if spec.scenarios:
        st = Table(title=_("Scenarios (applied in order)"), header_style="bold")
        st.add_column(_("scenario"))
        st.add_column(_("overrides"))
        st.add_column(_("note"))
        for name, parts in spec.scenarios.items():
            st.add_row(name, ", ".join(parts), _comment(lines, loaded.positions.get(("scenarios", name))))
        out.print(fit(st))
    out.print(escape(_("Run one with: optimizer solve {file} --scenario NAME").format(file=instance)), highlight=False)


def _comment(lines: list[str], position: tuple[int, int] | None) -> str:
    """The `# comment` written after a key on its own line, the planner's description of it."""
    if position is None or position[0] > len(lines):
        return ""
    text = lines[position[0] - 1]
    return text.split("#", 1)[1].strip() if "#" in text else ""


def _current(loaded: object, dotted: str) -> str:
    """The value the instance has now at a dotted path ('' for township-table columns)."""
    data: object = getattr(loaded, "raw")
    for key in dotted.split("."):
        if isinstance(data, dict) and key in data:
            data = data[key]
        elif isinstance(data, dict) and key.isdigit() and int(key) in data:
            data = data[int(key)]
        else:
            return "(table column)" if dotted.startswith("townships.") else "—"
    return str(data) if not isinstance(data, (dict, list)) else "…"


def new(
    folder: Annotated[Path, typer.Argument(help="Folder to create, e.g. my_county/.")],
    from_: Annotated[str, typer.Option("--from", help="Shipped instance to copy: fuchuan, guanling, zhaotong or karst3.")] = "fuchuan",
) -> None:
    """Start a new instance from a shipped one: copies its YAML, tables and sources to FOLDER.

    Then edit FOLDER/<name>.yaml (rename `name:`), replace the township table with your
    own layer, and run `optimizer validate`.
    """
    from optimizer.i18n import _

    available = sorted(p.name for p in SHIPPED.iterdir() if p.is_dir()) if SHIPPED.is_dir() else []
    if from_ not in available:
        hint = did_you_mean(from_, available) or (_("shipped: {names}").format(names=", ".join(available)) if available
                                                  else _("the shipped instances come with the source repository"))
        fail_input(InputError([Problem(Location(Path("command line")), _("no shipped instance '{name}'").format(name=from_), hint)]))
    if folder.exists() and any(folder.iterdir()):
        fail_input(InputError([Problem(Location(folder), _("the folder exists and is not empty"), _("choose a new folder"))]))
    shutil.copytree(SHIPPED / from_, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    yaml_files = sorted(folder.glob("*.yaml"))
    out.print(escape(_("Copied the {name} instance to {folder}: {files}").format(
        name=from_, folder=folder, files=", ".join(p.name for p in sorted(folder.iterdir())))), highlight=False)
    if yaml_files:
        err.print(escape(_("Next: edit {yaml} (its `name:` names the results folder), then optimizer validate {yaml}").format(
            yaml=yaml_files[0])), highlight=False)
