"""Problems found in user input, each with a location a planner can open.

Validation collects every problem before reporting, because fixing one error per run
is the most frustrating way to learn an input format.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from optimizer.i18n import _


@dataclass(frozen=True)
class Location:
    """Where a problem is: a YAML file line/column or a table row/column."""

    file: Path
    line: int | None = None  # 1-based, YAML
    column: int | None = None  # 1-based, YAML
    row: int | None = None  # 1-based data row in a table (header excluded)
    table_column: str | None = None
    #: A command-line argument, e.g. "--set #2 'industries.citrs.price_yuan_per_unit=5'":
    #: a value that came from the command line is reported there, not at a YAML line.
    argument: str | None = None

    def __str__(self) -> str:
        if self.argument is not None:
            return f"{self.file} {self.argument}"
        text = str(self.file)
        if self.row is not None:
            text += f":row {self.row}"
            if self.table_column:
                text += f":column {self.table_column}"
        elif self.table_column:
            text += f":column {self.table_column}"
        elif self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        return text


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, in words a planner understands."""

    location: Location
    message: str
    suggestion: str | None = None
    path: str | None = None  # dotted path into the instance, e.g. industries.apple.yield_per_ha

    def __str__(self) -> str:
        text = f"{self.location}: "
        if self.path:
            text += f"{self.path}: "
        text += self.message
        if self.suggestion:
            text += f" ({self.suggestion})"
        return text

    def to_dict(self) -> dict[str, object]:
        return {
            "file": str(self.location.file),
            "line": self.location.line,
            "column": self.location.column,
            "row": self.location.row,
            "table_column": self.location.table_column,
            "argument": self.location.argument,
            "path": self.path,
            "message": self.message,
            "suggestion": self.suggestion,
        }


@dataclass
class InputError(Exception):
    """Raised with every problem found; the CLI prints them all and exits 2."""

    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


def close_match(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The known name a misspelt one most likely meant, or None if nothing is close.

    In order: the same name in other case; the closest by difflib's ratio; the one name
    that starts with (or contains) what was typed, so `price` finds `price_yuan_per_unit`,
    which difflib's ratio alone misses on long field names.
    """
    options = [str(c) for c in choices]
    text = str(word)
    lowered = {o.lower(): o for o in options}
    if text.lower() in lowered and lowered[text.lower()] != text:
        return lowered[text.lower()]
    close = difflib.get_close_matches(text, options, n=1, cutoff=cutoff)
    if close:
        return close[0]
    if len(text) >= 3:
        for rule in (lambda o: o.lower().startswith(text.lower()), lambda o: text.lower() in o.lower()):
            hits = [o for o in options if rule(o)]
            if len(hits) == 1:
                return hits[0]
    return None


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean' hint for a misspelt key or id, or None if nothing is close."""
    close = close_match(word, choices)
    return _("did you mean '{name}'?").format(name=close) if close else None


def distinct(a: float, b: float, grouping: bool = True) -> tuple[str, str]:
    """Two numbers a message compares, printed with just enough decimals to differ.

    "the least possible is 50 MWp, above the limit of 50 MWp" (for 50 against 49.9996)
    reads as nonsense; this prints "50.0000" and "49.9996". Equal numbers keep no
    decimals; at most 12 are used, beyond which the numbers are shown as Python writes them.
    """
    sep = "," if grouping else ""
    if a == b or not (math.isfinite(a) and math.isfinite(b)):
        return f"{a:{sep}.0f}" if math.isfinite(a) else str(a), f"{b:{sep}.0f}" if math.isfinite(b) else str(b)
    for digits in range(13):
        sa, sb = f"{a:{sep}.{digits}f}", f"{b:{sep}.{digits}f}"
        if sa != sb:
            return sa, sb
    return repr(a), repr(b)


def number(x: float, grouping: bool = True) -> str:
    """One number for a message: whole numbers without decimals, others to 6 significant digits."""
    if not math.isfinite(x):
        return str(x)
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{x:,.0f}" if grouping else f"{x:.0f}"
    return f"{x:,.6g}" if grouping and abs(x) >= 1000 else f"{x:.6g}"


@dataclass
class InfeasibleInstance(Exception):
    """Valid input whose limits no plan can meet: an answer (exit 3), not an input error.

    `conflicts` are located, in words, like input problems, but they say which limits
    conflict rather than what is wrong with a file.
    """

    conflicts: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.conflicts)


def file_problem(path: Path, what: str) -> Problem | None:
    """Why `path` cannot be read as a file, or None: missing, a folder, a pipe, a device.

    Checked before opening, because opening a named pipe blocks until something writes
    to it: a planner who points the township table at one would wait forever.
    """
    import os
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return Problem(Location(path), _("{what} not found").format(what=what))
    except OSError as exc:
        return Problem(Location(path), _("{what} cannot be opened ({reason})").format(what=what, reason=exc.strerror))
    if stat.S_ISDIR(mode):
        return Problem(Location(path), _("{what} is a folder, not a file").format(what=what))
    if stat.S_ISFIFO(mode):
        return Problem(Location(path), _("{what} is a named pipe, not a file").format(what=what),
                       _("save the data to a file and give its path"))
    if not stat.S_ISREG(mode):
        return Problem(Location(path), _("{what} is not a regular file (a device or socket)").format(what=what))
    if not os.access(path, os.R_OK):
        return Problem(Location(path), _("{what} cannot be read (permission denied)").format(what=what))
    return None
