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

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
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


