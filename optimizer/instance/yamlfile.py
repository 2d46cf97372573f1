"""YAML with positions: every node's line and column, so problems point at `file:line:col`.

Why: a schema error on `industries.apple.yield_per_ha` is only useful to a planner as
`fuchuan.yaml:42:5`, which tools that validate the resolved dict lose.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from optimizer.errors import InputError, Location, Problem

PathKey = tuple[str | int, ...]


def _positions(node: yaml.Node, prefix: PathKey, out: dict[PathKey, tuple[int, int]]) -> None:
    out[prefix] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            # Point key errors (unknown keys) at the key itself.
            out[prefix + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _positions(value_node, prefix + (key,), out)
            out[prefix + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _positions(item, prefix + (i,), out)


def yaml_location(file: Path, positions: dict[PathKey, tuple[int, int]], path: PathKey) -> Location:
    for end in range(len(path), -1, -1):
        pos = positions.get(tuple(path[:end]))
        if pos is not None:
            return Location(file=file, line=pos[0], column=pos[1])
    return Location(file=file)


def read_yaml(path: Path) -> tuple[dict[str, Any], dict[PathKey, tuple[int, int]]]:
    """Parse YAML once for data and once for positions; YAML syntax errors are located."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError([Problem(Location(path), "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise InputError(
            [Problem(Location(path), f"not UTF-8 text ({exc.reason}); save the file as UTF-8")]
        ) from None
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        loc = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path)
        raise InputError([Problem(loc, f"YAML syntax error: {exc.problem}")]) from None
    if not isinstance(data, dict):
        raise InputError([Problem(Location(path, 1, 1), "an instance must be a YAML mapping (key: value)")])
    positions: dict[PathKey, tuple[int, int]] = {}
    if node is not None:
        _positions(node, (), positions)
    return data, positions
