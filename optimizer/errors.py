"""Problems found in user input, each with a location a planner can open.

Validation collects every problem before reporting, because fixing one error per run
is the most frustrating way to learn an input format.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Location:
    """Where a problem is: a YAML file line/column or a table row/column."""

    file: Path
    line: int | None = None  # 1-based, YAML
    column: int | None = None  # 1-based, YAML
    row: int | None = None  # 1-based data row in a table (header excluded)
    table_column: str | None = None

    def __str__(self) -> str:
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


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean' hint for a misspelt key or id, or None if nothing is close."""
    options = [str(c) for c in choices]
    close = difflib.get_close_matches(str(word), options, n=1, cutoff=0.6)
    if not close:
        lowered = {o.lower(): o for o in options}
        close = [lowered[str(word).lower()]] if str(word).lower() in lowered else []
    return f"did you mean '{close[0]}'?" if close else None


@dataclass
class InfeasibleInstance(Exception):
    """Valid input whose limits no plan can meet: an answer (exit 3), not an input error.

    `conflicts` are located, in words, like input problems, but they say which limits
    conflict rather than what is wrong with a file.
    """

    conflicts: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.conflicts)
