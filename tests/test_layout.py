"""The package layout keeps its promises (docs/architecture.md): no import circles, the
checker independent of the model, a light CLI, no algebra in GIS code and vice versa.

These are read from the source with `ast`, so they hold for imports inside functions too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "optimizer"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path) -> set[str]:
    """Every module imported anywhere in the file (top level and inside functions).

    Relative imports (`from ..model import x`) are resolved against the file's package.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module:
                found.add(module)
                found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        targets = set()
        for imp in _imports(path):
            while imp and imp not in mods:
                imp = imp.rpartition(".")[0]
            if imp and imp != name and not name.startswith(imp + "."):  # a package's own __init__ is not a circle
                targets.add(imp)
        graph[name] = targets
    return graph


def test_no_import_circles() -> None:
    graph = _graph()
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    # A package __init__ re-exporting its modules is not a circle with them.
    real = [c for c in cycles if not all(a.startswith(b + ".") or b.startswith(a + ".") for a, b in zip(c, c[1:]))]
    assert not real, "import circles: " + "; ".join(" → ".join(c) for c in real)


def _imports_of(prefix: str) -> dict[str, set[str]]:
    return {name: _imports(path) for name, path in _modules().items() if name == prefix or name.startswith(prefix + ".")}


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        # Two independent routes to the same numbers: the checker shares no model code.
        # It reads the input files through the loader's two readers (tables.py, yamlfile.py)
        # and nothing else of optimizer.instance — see test_checker_reads_with_the_loaders_readers_only.
        ("optimizer.check", ("optimizer.model", "optimizer.solve", "optimizer.run", "pyomo", "highspy")),
        # The algebra never reads files or touches geometry.
        ("optimizer.model", ("geopandas", "pyogrio", "shapely", "optimizer.outputs", "optimizer.cli")),
        # Validation runs without building anything.
        ("optimizer.instance", ("pyomo", "highspy", "optimizer.model", "optimizer.solve")),
        # Writing results knows tables and geometry, not the algebra.
        ("optimizer.outputs", ("pyomo", "highspy", "optimizer.model", "optimizer.solve")),
        # The pipeline never calls an analysis.
        ("optimizer.run", ("optimizer.analyses", "optimizer.cli")),
        ("optimizer.solve", ("optimizer.analyses", "optimizer.cli", "geopandas", "pyogrio")),
    ],
)
def test_boundaries(package: str, forbidden: tuple[str, ...]) -> None:
    bad = {
        name: sorted(i for i in imps if any(i == f or i.startswith(f + ".") for f in forbidden))
        for name, imps in _imports_of(package).items()
    }
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, f"{package} must not import {forbidden}: {bad}"


#: What the checker may import from optimizer.instance: reading rules, not model code.
#: One reader per file kind, so that a file that validates (a GBK CSV, padded headers, a
#: GeoPackage number column holding text) is read the same way by the checker instead of
#: failing there with exit 1 and discarding the plan; schema, load, validate, overrides and
#: coefficients (what the checker re-implements) stay out of reach.
CHECK_MAY_READ_WITH = {"optimizer.instance.tables", "optimizer.instance.yamlfile"}


def test_checker_reads_with_the_loaders_readers_only() -> None:
    used = {
        name: sorted(i for i in imps if (i == "optimizer.instance" or i.startswith("optimizer.instance."))
                     and not any(i == ok or i.startswith(ok + ".") for ok in CHECK_MAY_READ_WITH))
        for name, imps in _imports_of("optimizer.check").items()
    }
    used = {k: v for k, v in used.items() if v}
    assert not used, f"optimizer.check may use only {sorted(CHECK_MAY_READ_WITH)} of optimizer.instance: {used}"
    # and the two readers themselves reach nothing else of the instance package
    for reader in CHECK_MAY_READ_WITH:
        imps = _imports_of(reader)[reader]
        inner = sorted(i for i in imps if i.startswith("optimizer.instance") and i not in CHECK_MAY_READ_WITH)
        assert not inner, f"{reader} imports {inner}"
        assert not any(i.startswith(("optimizer.model", "optimizer.solve")) for i in imps), imps


def test_only_the_cli_prints() -> None:
    offenders = []
    for name, path in _modules().items():
        if name.startswith("optimizer.cli") or name == "optimizer.__main__":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                offenders.append(f"{name}:{node.lineno}")
    assert not offenders, f"print() outside the CLI: {offenders}"


def test_cli_import_is_light() -> None:
    """`optimizer --help` must not pay for pandas, Pyomo or geopandas."""
    code = (
        "import sys, optimizer.cli; "
        "print(','.join(m for m in ('pandas', 'pyomo', 'geopandas', 'numpy', 'highspy', 'pyogrio', 'dask') if m in sys.modules))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "", f"importing the CLI loaded: {res.stdout.strip()}"
