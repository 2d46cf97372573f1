"""What every command shares: exit codes, the two consoles, problem printing, small formatters.

Only the CLI prints; library code logs and returns values.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from rich.console import Console
from rich.markup import escape

from optimizer.errors import InputError


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


EPILOG = (
    "Exit codes: 0 solved; 1 internal error; 2 invalid input; 3 infeasible; 4 stopped without a plan; "
    "5 checker disagrees; 6 stopped early with a plan (written, flagged); 7 (evaluate) the plan breaks a limit."
)

class _PipeSafe:
    """A text stream that stops writing, silently, once its reader has gone.

    `optimizer validate x.yaml | head` closes the pipe early; without this, the next
    print raises BrokenPipeError and a refused instance (exit 2) would end as exit 1.
    The command runs to its end and keeps its exit code.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self.broken = False

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

        self.broken = True
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
state = {"debug": False, "quiet": False, "lang": "en"}



def fail_input(exc: InputError) -> None:
    n = len(exc.problems)
    err.print(f"[bold red]The instance has {n} problem{'s' if n != 1 else ''}:[/]")
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


class NullStatus:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: object) -> None:
        return None


def print_problems(console: Any, exc: InputError, head: str) -> None:
    """Every located problem, one per line, as `optimizer validate` prints them."""
    from rich.markup import escape

    n = len(exc.problems)
    console.print(f"[bold red]{head} {n} problem{'s' if n != 1 else ''}:[/]")
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
