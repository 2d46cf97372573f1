"""The command-line face of the optimiser: one thin module per command, exit codes, rich output.

No modelling logic lives here: each command parses, calls the library and presents the
result, importing heavy libraries only when it runs. Only this package prints.

Exit codes (also in `optimizer --help`):
  0  solved within the gap (or the command succeeded)
  1  internal error (a bug: rerun with --debug and report the traceback)
  2  invalid input (every problem is listed with its file and line/row)
  3  the instance is infeasible: no plan meets every limit
  4  stopped (time limit or Ctrl-C) before any plan was found
  5  the independent checker disagrees with the solver's plan
  6  stopped (time limit or Ctrl-C) with a plan: results written, flagged as not proven
  7  `evaluate`: the planner's plan breaks at least one limit
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated, Optional

import typer
from rich.logging import RichHandler
from rich.markup import escape

import optimizer
from optimizer.cli import (
    alternatives,
    compare,
    evaluate,
    frontier,
    gep,
    instances,
    report,
    robust,
    solve,
    sweep,
    tools,
    validate,
    value,
)
from optimizer.cli.common import EPILOG, Exit, err, fail_input, out, print_infeasible, state
from optimizer.errors import InfeasibleInstance, InputError

__all__ = ["Exit", "app", "main"]

app = typer.Typer(
    name="optimizer",
    help=(
        "Karst township industrial-layout optimiser (石漠化地区 一乡一业 产业布局优化).\n\n"
        "Chooses one industry per township (apple, citrus, agro-PV, conservation, …) to maximise GEP "
        "and farmers' income under soil, water, sunlight, market, grid and budget limits, with HiGHS.\n\n"
        "Typical week: `optimizer validate my.yaml`, then `optimizer solve my.yaml`, then open "
        "results/<instance>/<run>/allocation.gpkg in QGIS."
    ),
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

def _version(value: bool) -> None:
    if value:
        out.print(f"optimizer {optimizer.__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More detail: -v progress and HiGHS log, -vv debug.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors and the final result.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors (for bug reports).")] = False,
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")] = None,
    lang: Annotated[Optional[str], typer.Option("--lang", metavar="zh|en", help="Language of messages, tables and reports (default: from LANG/LC_ALL).")] = None,
    units: Annotated[str, typer.Option("--units", metavar="yuan|cn", help="Money in tables and reports: yuan, or cn for 万元/亿元 (files keep yuan).")] = "yuan",
) -> None:
    from optimizer.i18n import LANGUAGES, UNITS, set_language, set_units

    if lang is not None and lang.lower() not in LANGUAGES:
        raise typer.BadParameter(f"'{lang}': use zh or en", param_hint="--lang")
    if units.lower() not in UNITS:
        raise typer.BadParameter(f"'{units}': use yuan or cn", param_hint="--units")
    state["lang"] = set_language(lang)
    set_units(units)
    # Files (map aliases, workbook headers) are bilingual unless a language is asked for.
    state["lang_option"] = lang.lower() if lang else None
    level = logging.WARNING
    if verbose == 1:
        level = logging.INFO
    elif verbose >= 2 or debug:
        level = logging.DEBUG
    if quiet:
        level = logging.ERROR
    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, rich_tracebacks=debug)],
        force=True,
    )
    if level > logging.DEBUG:
        logging.getLogger("pyomo").setLevel(max(level, logging.WARNING))
    state["debug"] = debug
    state["quiet"] = quiet


for _module in (solve, validate, sweep, frontier, value, robust, alternatives, compare, gep, evaluate, instances, report,
                tools):
    _module.register(app)


_GLOBAL_FLAGS = {"-q", "--quiet", "-v", "-vv", "-vvv", "--verbose", "--debug"}
_GLOBAL_WITH_VALUE = {"--lang", "--units"}


def _globals_first(argv: list[str]) -> list[str]:
    """Accept -q/-v/--debug anywhere (`optimizer solve x.yaml -q`), as planners type them.

    Typer wants global options before the subcommand; tokens that are the value of an
    option (`--set -v`) are left alone.
    """
    flags, rest = [], []
    skip = False
    for i, tok in enumerate(argv):
        prev = argv[i - 1] if i else ""
        if skip:
            skip = False
            continue
        if tok in _GLOBAL_WITH_VALUE and i + 1 < len(argv):
            flags += [tok, argv[i + 1]]
            skip = True
            continue
        if tok.split("=", 1)[0] in _GLOBAL_WITH_VALUE and "=" in tok:
            flags.append(tok)
            continue
        takes_value = prev.startswith("-") and prev not in _GLOBAL_FLAGS and "=" not in prev and prev not in (
            "--serial", "--json", "--warm-start", "--cold-start", "--no-write", "--help", "--version",
            "--no-robust-plan", "--prove-forced")
        if tok in _GLOBAL_FLAGS and not takes_value:
            flags.append(tok)
        else:
            rest.append(tok)
    return flags + rest


def _interrupted(exc: BaseException) -> bool:
    """Whether Ctrl-C caused `exc`: a KeyboardInterrupt during a C extension's import
    surfaces as "ImportError: initialization failed", with the interrupt in its chain."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return _SIGINT_SEEN[0]


_SIGINT_SEEN = [False]


def _note_sigint(signum: int, frame: object) -> None:
    _SIGINT_SEEN[0] = True
    raise KeyboardInterrupt


def _help_in_language(command: object, args: list[str]) -> None:
    """`--help` in the language asked for: --lang, else the locale (set before the command line is parsed)."""
    from optimizer.cli.common import translate_help
    from optimizer.i18n import set_language

    lang = None
    for i, tok in enumerate(args):
        if tok == "--lang" and i + 1 < len(args):
            lang = args[i + 1]
        elif tok.startswith("--lang="):
            lang = tok.split("=", 1)[1]
    try:
        set_language(lang)
    except ValueError:  # an unknown --lang: the option's own check reports it
        set_language(None)
    translate_help(command)


def main() -> None:
    """Console-script entry: no traceback reaches a planner unless --debug is given."""
    import signal

    from optimizer.i18n import _

    debug = "--debug" in sys.argv
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _note_sigint)  # remember Ctrl-C even if an import swallows it
    try:
        args = _globals_first(sys.argv[1:])
        command = typer.main.get_command(app)
        _help_in_language(command, args)  # inside the try: a Ctrl-C here is an abort like any other
        rc = command(args=args, standalone_mode=False)
        sys.exit(rc if isinstance(rc, int) else 0)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except InputError as exc:
        try:
            fail_input(exc)
        except typer.Exit as e2:
            sys.exit(e2.exit_code)
    except InfeasibleInstance as exc:
        print_infeasible({"conflicts": [{"where": str(p.location), "text": p.message} for p in exc.conflicts]})
        sys.exit(Exit.INFEASIBLE)
    except KeyboardInterrupt:
        err.print("[yellow]" + escape(_("Aborted by the user; nothing was written.")) + "[/]")
        sys.exit(Exit.ABORTED)
    except typer.Abort:
        err.print("[yellow]" + escape(_("Aborted.")) + "[/]")
        sys.exit(Exit.ABORTED)
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument
        exc.show()  # type: ignore[attr-defined]
        sys.exit(getattr(exc, "exit_code", 2))
    except Exception as exc:
        if debug:
            raise
        if _interrupted(exc):
            err.print("[yellow]" + escape(_("Aborted by the user; nothing was written.")) + "[/]")
            sys.exit(Exit.ABORTED)
        err.print("[bold red]" + escape(_("Internal error:")) + f"[/] {type(exc).__name__}: {escape(str(exc))}")
        err.print(escape(_("This is a bug in the optimiser. Rerun with --debug to see the traceback and report it.")))
        sys.exit(Exit.INTERNAL)
