"""What every command shares: exit codes, the two consoles, problem printing, small formatters.

Only the CLI prints; library code logs and returns values.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from rich.console import Console
from rich.markup import escape

from optimizer.errors import InputError
from optimizer.i18n import N_


class Exit(IntEnum):
    OK = 0
    INTERNAL = 1
    INVALID_INPUT = 2
    INFEASIBLE = 3
    NO_SOLUTION = 4
    CHECK_FAILED = 5
    STOPPED_WITH_PLAN = 6
    PLAN_VIOLATES = 7
    ABORTED = 130


#: What each exit code means, in one line each (the README's table, `optimizer --help`).
EXIT_MEANING = {
    Exit.OK: N_("done (solved within the gap, or the command succeeded)"),
    Exit.INTERNAL: N_("internal error (a bug: rerun with --debug and report the traceback)"),
    Exit.INVALID_INPUT: N_("invalid input (every problem listed with its file and line/row)"),
    Exit.INFEASIBLE: N_("infeasible: no plan meets every limit (the run folder says which limits conflict)"),
    Exit.NO_SOLUTION: N_("stopped (time limit or Ctrl-C) before any plan was found"),
    Exit.CHECK_FAILED: N_("the independent checker disagrees with the solver's plan"),
    Exit.STOPPED_WITH_PLAN: N_("stopped early with a plan: written, flagged as not proven best"),
    Exit.PLAN_VIOLATES: N_("the plan breaks at least one limit (listed)"),
    Exit.ABORTED: N_("aborted by a second Ctrl-C"),
}


def exit_codes(*codes: Exit) -> str:
    """The epilog of one command: only the exit codes it can return."""
    return "Exit codes: " + "; ".join(f"{int(c)} {EXIT_MEANING[c]}" for c in codes) + "."


def _translated_epilog(epilog: str) -> str:
    """An `exit_codes` epilog in the language in force (it is built, in English, at import)."""
    from optimizer.i18n import _

    if not (epilog.startswith("Exit codes: ") and epilog.endswith(".")):
        return _(epilog)
    code_of = {f"{int(c)} {meaning}": (int(c), meaning) for c, meaning in EXIT_MEANING.items()}
    parts = [code_of.get(part) for part in epilog[len("Exit codes: "):-1].split("; ")]
    if any(p is None for p in parts):
        return epilog
    return _("Exit codes: {codes}.").format(codes="; ".join(f"{c} {_(m)}" for c, m in parts))  # type: ignore[misc]


def help_texts(command: Any) -> list[str]:
    """Every help text of a command tree (what the catalogue extracts for `--help`)."""
    texts = [command.help, getattr(command, "short_help", None)]
    texts += [getattr(p, "help", None) for p in command.params]
    for sub in getattr(command, "commands", {}).values():
        texts += help_texts(sub)
    return [t for t in texts if t]


def translate_help(command: Any) -> None:
    """Put the `--help` of a command tree into the language in force.

    Typer holds the help as English text from the docstrings and `help=` strings; the
    catalogue has them (scripts/update_catalogue.py extracts them from this tree), so
    they are swapped here, once per process, before the command line is parsed.
    """
    from optimizer.i18n import _, language

    if language() == "en":
        return
    if hasattr(command, "rich_markup_mode"):
        # Rich wraps help at spaces and cuts a longer run with "…"; Chinese has no spaces,
        # so Click's plain layout (which breaks long runs) shows the whole text.
        command.rich_markup_mode = None
    if command.help:
        command.help = _(command.help)
    if getattr(command, "short_help", None):
        command.short_help = _(command.short_help)
    if getattr(command, "epilog", None):
        command.epilog = _translated_epilog(command.epilog)
    for p in command.params:
        if getattr(p, "help", None):
            p.help = _(p.help)
    for sub in getattr(command, "commands", {}).values():
        translate_help(sub)


EPILOG = exit_codes(*Exit)

class _PipeSafe:
    """A text stream that stops writing, silently, once its reader has gone.

    `optimizer validate x.yaml | head` closes the pipe early; without this, the next
    print raises BrokenPipeError and a refused instance (exit 2) would end as exit 1.
    The command runs to its end and keeps its exit code.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._broken_on: Any = None  # the stream whose reader went away (sys.stdout may be replaced)

    @property
    def broken(self) -> bool:
        return self._broken_on is not None and self._broken_on is self._stream

    @property
    def _stream(self) -> Any:
        import sys

        return getattr(sys, self._name)

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._silence()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._silence()

    def _silence(self) -> None:
        import os

        self._broken_on = self._stream
        try:  # point the descriptor at /dev/null so the interpreter's final flush is quiet too
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
        except (OSError, ValueError):
            pass

    def isatty(self) -> bool:
        try:
            return self._stream.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._stream, "encoding", "utf-8")


out = Console(soft_wrap=True, file=_PipeSafe("stdout"))  # type: ignore[arg-type]
err = Console(stderr=True, soft_wrap=True, file=_PipeSafe("stderr"))  # type: ignore[arg-type]
state: dict[str, Any] = {"debug": False, "quiet": False, "lang": "en", "lang_option": None}

#: Help of every command's `--export` option.
EXPORT_HELP = ("Also write the map layer as shp (Shapefile with .cpg and a field list) and/or geojson (WGS 84), "
               "comma-separated: --export gpkg,shp,geojson. The GeoPackage is always written.")


def check_export(value: str | None) -> str | None:
    """Typer callback: reject unknown `--export` formats before anything runs."""
    if value is None:
        return value
    import typer

    from optimizer.outputs.export import parse_formats

    try:
        parse_formats(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return value


def output_options(export: str | None) -> Any:
    """What the files are written with: `--lang` if given (else labels in both languages), `--export`."""
    from optimizer.outputs.export import OutputOptions, parse_formats

    return OutputOptions(lang=state.get("lang_option"), export=parse_formats(export))



def fail_input(exc: InputError) -> None:
    from optimizer.i18n import ngettext

    n = len(exc.problems)
    err.print("[bold red]" + escape(ngettext("The instance has {n} problem:", "The instance has {n} problems:", n).format(n=n))
              + "[/]")
    for p in exc.problems:
        err.print(f"  [cyan]{escape(str(p.location))}[/]  {escape(p.path + ': ' if p.path else '')}{escape(p.message)}"
                  + (f"  [green]({escape(p.suggestion)})[/]" if p.suggestion else ""), highlight=False)
    import typer

    raise typer.Exit(Exit.INVALID_INPUT)


def names(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def fmt(x: float | None, digits: int = 0) -> str:
    if x is None:
        return "—"
    return f"{x:,.{digits}f}"


class Money:
    """Money figures shown together, in one unit: yuan, or with `--units cn` 万元 or 亿元.

    Why one unit for the figures shown together: a column or a row reads in one unit,
    named in its header. Chinese planning documents write money in 万元 (10⁴ yuan), and in
    亿元 (10⁸ yuan) from 1亿 up; the largest figure decides. Files (CSV, GeoPackage) keep
    yuan whatever the option: their column names carry the unit and must stay stable.
    """

    def __init__(self, *values: float | None, per_year: bool = True, units: str | None = None) -> None:
        from optimizer.i18n import money_scale
        from optimizer.i18n import units as units_in_force

        self.factor, self.unit, self.digits = money_scale(values, per_year=per_year, units=units or units_in_force())

    def __call__(self, x: float | None) -> str:
        return fmt(None if x is None else x / self.factor, self.digits)


def money(*values: float | None, per_year: bool = True) -> Money:
    """A formatter for these money figures in the unit `--units` asks for (see `Money`)."""
    return Money(*values, per_year=per_year)


class NullStatus:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: object) -> None:
        return None


def print_problems(console: Any, exc: InputError, head: str) -> None:
    """Every located problem, one per line, as `optimizer validate` prints them."""
    from rich.markup import escape

    from optimizer.i18n import ngettext

    n = len(exc.problems)
    console.print("[bold red]" + escape(ngettext("{head} {n} problem:", "{head} {n} problems:", n).format(head=head, n=n))
                  + "[/]")
    for p in exc.problems:
        console.print(
            f"  [cyan]{escape(str(p.location))}[/]  {escape(p.path + ': ' if p.path else '')}{escape(p.message)}"
            + (f"  [green]({escape(p.suggestion)})[/]" if p.suggestion else ""),
            highlight=False,
        )




def print_infeasible(summary: dict[str, Any], run_dir: Any | None = None) -> None:
    """The answer "infeasible", one wording for every command: which limits conflict, in words.

    Validation's conflicts are located (file:line or file:row:column); HiGHS's come as the
    rows of its irreducible infeasible subset and as the least relaxation of the limits
    under which a plan exists.
    """
    from optimizer.i18n import _

    err.print("[bold red]" + escape(_("Infeasible: no plan meets every limit.")) + "[/]")
    for c in summary.get("conflicts", []):
        err.print(f"  [cyan]{escape(c['where'])}[/]  {escape(c['text'])}", highlight=False)
    rows = summary.get("infeasible_rows") or []
    if rows:
        err.print(escape(_("Limits that cannot hold together (found by HiGHS): {rows}").format(
            rows=", ".join(rows[:12]) + (" …" if len(rows) > 12 else ""))), highlight=False)
    relax = summary.get("least_relaxation") or []
    if relax:
        err.print(escape(_("The least change to the limits that admits a plan:")), highlight=False)
        for r in relax[:20]:
            err.print(f"  • {escape(r['text'])}", highlight=False)
    ways = summary.get("ways_out") or []
    if len(ways) > 1:
        err.print(escape(_("Or move one kind of limit alone:")), highlight=False)
        for way in ways:
            texts = [r["text"] for r in way["rows"]]
            more = _(" (and {n} more)").format(n=len(texts) - 3) if len(texts) > 3 else ""
            err.print(f"  • {escape('; '.join(texts[:3]) + more)}", highlight=False)
    if not summary.get("conflicts") and not rows and not relax:
        fam = ", ".join(summary.get("infeasible_families") or [])
        err.print(escape(_("Limits in conflict: {families}").format(families=fam or _("not identified within the time limit"))))
    if run_dir is not None:
        err.print(escape(_("Diagnosis: {folder} (summary.json)").format(folder=run_dir)), highlight=False)


def process_started() -> float:
    """time.time() when this process started: `--time-limit` counts from there."""
    import time

    try:
        import psutil

        return float(psutil.Process().create_time())
    except Exception:  # no process table: count from now
        return time.time()


class LiveStatus:
    """A status line that stays on the terminal while HiGHS solves, or nothing when piped.

    Pyomo captures stdout and stderr (descriptors included) while HiGHS runs, so the
    status console writes to a duplicate of the terminal's stderr taken before. On a
    terminal the line is updated in place; when stderr is not a terminal (a log file, a
    pipe) a plain line is printed every 15 s of solving instead; with -q nothing at all.
    """

    def __init__(self, quiet: bool) -> None:
        import os
        import sys

        self.quiet = quiet
        self.console: Console | None = None
        self.status: Any = None
        self._last_plain = 0.0
        if quiet:
            return
        try:
            stream = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1, encoding="utf-8", errors="replace")
        except (OSError, ValueError, AttributeError):  # no descriptor (tests, embedded use)
            return
        self.console = Console(file=stream, soft_wrap=True)

    def __enter__(self) -> LiveStatus:
        if self.console is not None and self.console.is_terminal:
            from optimizer.i18n import _

            self.status = self.console.status(escape(_("starting")), spinner="dots")
            self.status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.__exit__(*exc)
        if self.console is not None:
            self.console.file.close()

    def phase(self, name: str) -> None:
        if self.status is not None:
            self.status.update(escape(name))

    def solving(self, p: dict[str, Any]) -> None:
        """One progress report from HiGHS's callbacks (see optimizer.solve.highs)."""
        from optimizer.i18n import _

        limit = p.get("time_limit_s")
        elapsed = _("{s:.0f} s of {limit:.0f} s").format(s=p["elapsed_s"], limit=limit) if limit else _("{s:.0f} s").format(s=p["elapsed_s"])
        parts = [_("solving by county decomposition") if p.get("method") == "decompose" else _("solving with HiGHS"),
                 elapsed]
        if p.get("best_yuan") is not None:
            parts.append(_("best plan {v} yuan/yr").format(v=fmt(p["best_yuan"])))
        else:
            parts.append(_("no plan yet"))
        if p.get("bound_yuan") is not None:
            parts.append(_("bound {v}").format(v=fmt(p["bound_yuan"])))
        if p.get("gap") is not None:
            parts.append(_("gap {g:.3%}").format(g=p["gap"]))
        line = " · ".join(parts)
        if self.status is not None:
            self.status.update(escape(line))
        elif self.console is not None and p["elapsed_s"] - self._last_plain >= 15:
            self._last_plain = p["elapsed_s"]
            self.console.print(line, highlight=False, markup=False)


_NUMBER = __import__("re").compile(r"^[\s+\-−—]*[\d,.]+\s*%?$|^—$|^$")


def fit(table: Any) -> Any:
    """Make a table readable at the console's width (80 columns when piped) without cutting a number.

    Returns a renderable that lays the table out when it is printed, for the width it is
    printed at. Columns whose cells are all numbers keep the width of their longest
    number (a number has no space, so it never wraps), but their header folds onto
    further lines: a long header such as "Δ GEP total (yuan/yr)" must not take the room
    of the text columns. Text columns share what is left and fold onto further lines
    instead of ending in "…". Rich alone does not manage this: it keeps no-wrap columns
    at their header's width and shrinks the text columns to nothing, or lets the console
    crop the last column.
    """
    return _Fitted(table)


class _Fitted:
    """A rich table given column widths at render time (see `fit`)."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def __rich_console__(self, console: Any, options: Any) -> Any:
        needed = _lay_out(self.table, options.max_width)
        if needed > options.max_width:  # too many numbers for the width: wider, never cut
            options = options.update(width=needed)
        yield from console.render(self.table, options)


def _lay_out(table: Any, width: int) -> int:
    """Give every column of `table` a width so that the table fits `width` cells; return its width.

    Columns start at their natural width and give up room widest first, in two stages:
    first down to their longest word (a number's column to its longest number or
    header word), then down to the last resort (a number's column to its longest
    number, which is never cut; a text column to 4 cells, folding). When even that does
    not fit, the table keeps every word whole and is wider than `width`.
    """
    from rich.cells import cell_len

    def longest(texts: list[str], split: Any) -> int:
        return max([cell_len(part) for t in texts for part in split(t)] or [1])

    natural: list[int] = []
    soft: list[int] = []  # no word broken
    hard: list[int] = []  # the last resort
    for column in table.columns:
        cells = [str(c) for c in column._cells]
        header = str(column.header)
        column.overflow = "fold"
        column.no_wrap = False
        column.min_width = None
        if cells and all(_NUMBER.match(c) for c in cells):
            number = max(cell_len(c) for c in cells) or 1
            natural.append(max(number, longest([header], str.splitlines)))
            soft.append(max(number, longest([header], str.split)))
            hard.append(number)
        else:
            nat = longest(cells + [header], str.splitlines)
            natural.append(nat)
            soft.append(min(nat, longest(cells + [header], str.split)))
            hard.append(min(nat, 4))
    overhead = table._extra_width + sum(table._get_padding_width(i) for i in range(len(table.columns)))
    budget = width - overhead

    def shrink(widths: list[int], floor: list[int]) -> list[int]:
        widths = list(widths)
        while sum(widths) > budget:
            candidates = [i for i, w in enumerate(widths) if w > floor[i]]
            if not candidates:
                break
            widths[max(candidates, key=lambda i: widths[i])] -= 1
        return widths

    widths = shrink(natural, soft)
    if sum(widths) > budget:
        last_resort = shrink(widths, hard)
        if sum(last_resort) <= budget:
            widths = last_resort
    for column, w in zip(table.columns, widths):
        column.width = w
    return sum(widths) + overhead
