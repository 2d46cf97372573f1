"""`optimizer alternatives INSTANCE`: near-optimal plans that differ as much as possible (placeholder)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
