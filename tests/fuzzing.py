"""A seeded mutator of the shipped instances, and the oracle every mutation must satisfy.

Why seeded rather than hypothesis: each mutation is a file edit a planner could make (a
GBK export, a duplicated YAML key, text in a GeoPackage number column), named by its
seed, so a failure is reproduced with one number and read as one sentence.

A mutation copies one shipped instance (YAML, township GeoPackage, site CSV) to a
folder and damages or transforms one file — or all three at once. `optimizer validate`
and `optimizer solve` then run on it, in a warm worker process (a fresh interpreter, so
no HiGHS thread pool is forked) that is killed and restarted if a command hangs. The
oracle:

- refused: exit 2 from both commands, every problem line naming an input file (or the
  command line), with a line or row where the mutation damaged a line or a cell, no
  traceback, within a few CPU seconds;
- accepted: validate exits 0 (or 3, infeasible, an answer) and solve exits 0, 3 or 6 —
  a solve that writes a plan is checked by the independent checker, so exit 0 means it
  agreed; a mutation that only changes how the same data is written (an encoding, a
  separator, .xlsx) must also reach the unmutated optimum.

Every mutation declares what it expects: "refuse" (the input is wrong: acceptance is a
failure), "same" (the data is unchanged: refusal or another optimum is a failure) or
"either" (a valid change, or a fault some readers forgive: both outcomes are checked).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import multiprocessing as mp
import os
import random
import re
import shutil
import sqlite3
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
INSTANCES = ("fuchuan", "guanling", "zhaotong", "karst3")
#: Wall seconds after which a command counts as hung and the worker is restarted.
HANG_S = 90.0
#: CPU seconds a refusal may take ("in words, within a few seconds").
REFUSAL_CPU_S = 5.0


# --------------------------------------------------------------------------- the worker


def _serve(conn: Any) -> None:  # pragma: no cover - runs in the worker process
    import optimizer.cli as cli

    while True:
        job = conn.recv()
        if job is None:
            return
        argv, cwd = job
        out, err = io.StringIO(), io.StringIO()
        code: Any = 0
        cpu, wall = time.process_time(), time.perf_counter()
        old_argv, old_cwd = sys.argv, os.getcwd()
        try:
            os.chdir(cwd)
            sys.argv = ["optimizer", *argv]
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    cli.main()
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                except BaseException as exc:  # noqa: BLE001 - the oracle wants to see it
                    import traceback

                    err.write("Traceback (escaped main): " + "".join(traceback.format_exception(exc)))
                    code = 1
        finally:
            sys.argv = old_argv
            os.chdir(old_cwd)
        conn.send((int(code), out.getvalue(), err.getvalue(), time.process_time() - cpu, time.perf_counter() - wall))


@dataclass
class Outcome:
    code: int | None  # None: hung
    stdout: str = ""
    stderr: str = ""
    cpu_s: float = 0.0
    wall_s: float = 0.0


class Worker:
    """One warm interpreter running `optimizer ...` commands; restarted after a hang."""

    def __init__(self) -> None:
        self._ctx = mp.get_context("spawn")
        self._start()

    def _start(self) -> None:
        self.conn, child = self._ctx.Pipe()
        self.proc = self._ctx.Process(target=_serve, args=(child,), daemon=True)
        self.proc.start()

    def run(self, argv: list[str], cwd: Path, timeout: float = HANG_S) -> Outcome:
        self.conn.send((argv, str(cwd)))
        if not self.conn.poll(timeout):
            self.proc.kill()
            self.proc.join(5)
            self._start()
            return Outcome(None, wall_s=timeout)
        try:
            code, out, err, cpu, wall = self.conn.recv()
        except (EOFError, ConnectionError):  # the interpreter died (a crash in C code)
            self.proc.join(5)
            self._start()
            return Outcome(-1, "", f"Traceback: the worker process died (exit code {self.proc.exitcode})")
        return Outcome(code, out, err, cpu, wall)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.send(None)
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()


# --------------------------------------------------------------------------- mutations


@dataclass
class Mutation:
    kind: str
    instance: str
    folder: Path
    yaml: Path
    expect: str  # "refuse" | "same" | "either"
    description: str
    #: Files whose problems must appear, with a line or row (a cell or line was damaged).
    located: list[Path] = field(default_factory=list)
    #: Files whose problems must appear, a file-level location being enough (CRS, encoding of a whole file).
    named: list[Path] = field(default_factory=list)
    extra_args: list[str] = field(default_factory=list)
    #: The fault is in a command-line argument: a problem must point at it.
    command_line: bool = False


class Skip(Exception):
    """The instance offers nothing this mutation could damage."""


def copy_instance(name: str, folder: Path) -> Path:
    src = ROOT / "instances" / name
    folder.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.is_file():  # instance files only; example plans live in sub-folders
            shutil.copy(f, folder / f.name)
    return folder / f"{name}.yaml"


@dataclass
class Node:
    path: tuple[Any, ...]
    node: yaml.Node
    key: yaml.Node | None  # the key node, for mapping values


def yaml_nodes(text: str) -> list[Node]:
    """Every node of the YAML with its path (PyYAML's marks carry character indexes)."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    found: list[Node] = []

    def visit(n: yaml.Node, path: tuple[Any, ...], key: yaml.Node | None) -> None:
        found.append(Node(path, n, key))
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                visit(v, (*path, k.value), k)
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                visit(v, (*path, i), None)

    visit(root, (), None)
    return found


def _scalars(text: str, pick: Callable[[Node], bool]) -> list[Node]:
    return [n for n in yaml_nodes(text) if isinstance(n.node, yaml.ScalarNode) and n.node.style in (None, '"', "'")
            and n.key is not None and pick(n)]


def _value(n: Node) -> Any:
    return yaml.safe_load(n.node.value) if n.node.style is None else n.node.value


def _is_number(n: Node) -> bool:
    v = _value(n) if n.node.style is None else None
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _replace(text: str, n: yaml.Node, new: str) -> str:
    return text[: n.start_mark.index] + new + text[n.end_mark.index:]


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


_SKIP_TREES = ("overrides", "scenarios", "sources", "description", "title")


def _schema_leaf(n: Node) -> bool:
    return bool(n.path) and n.path[0] not in _SKIP_TREES and n.path[-1] not in ("source", "reason", "note")


def _ranges() -> dict[str, Any]:
    from optimizer.instance.schema import RANGES

    return RANGES


def _range_name(path: tuple[Any, ...]) -> str | None:
    ranges = _ranges()
    for key in reversed(path):
        if isinstance(key, str) and key in ranges:
            return key
    if len(path) >= 3 and path[0] == "gep_price_sets":
        return "gep_price_yuan"
    return None


# YAML mutations ------------------------------------------------------------------


def m_yaml_type(rng: random.Random, y: Path) -> tuple[str, str]:
    text = y.read_text(encoding="utf-8")
    nodes = _scalars(text, _schema_leaf)
    n = rng.choice(nodes)
    v = _value(n)
    if isinstance(v, bool):
        new = rng.choice(["maybe", "[1, 2]", "{a: 1}", "3"])
    elif isinstance(v, (int, float)):
        new = rng.choice(["abc", "[1, 2]", "{a: 1}", "'12 t'", "true"])
    else:
        new = rng.choice(["[x, y]", "{a: 1}"])
    y.write_text(_replace(text, n.node, new), encoding="utf-8")
    return "refuse", f"{'.'.join(map(str, n.path))} at line {_line_of(text, n.node.start_mark.index)}: {v!r} → {new}"


def m_yaml_range(rng: random.Random, y: Path) -> tuple[str, str]:
    text = y.read_text(encoding="utf-8")
    nodes = _scalars(text, lambda n: _schema_leaf(n) and _is_number(n) and _range_name(n.path) is not None)
    n = rng.choice(nodes)
    r = _ranges()[_range_name(n.path)]  # type: ignore[index]
    choices = [".inf", "-.inf", ".nan", "1.0e+400", "1.7e+308", "-1.7e+308", repr(r.high * 10 if r.high else 1.0)]
    if r.low >= 0:
        choices.append("-1")
    if r.integer:
        choices.append(repr(r.low + 0.5))
    new = rng.choice(choices)
    expect = "refuse"
    if rng.random() < 0.25:  # an in-range extreme: valid input, which must solve cleanly
        new = repr(float(r.high) if rng.random() < 0.5 else float(r.low) if not r.low_open else r.high / 2)
        if r.integer:
            new = str(int(float(new)))
        expect = "either"
    y.write_text(_replace(text, n.node, new), encoding="utf-8")
    return expect, f"{'.'.join(map(str, n.path))}: {n.node.value} → {new}"


def m_yaml_encoding(rng: random.Random, y: Path) -> tuple[str, str]:
    text = y.read_text(encoding="utf-8")
    codec = rng.choice(["utf-8-sig", "utf-16", "utf-32", "gbk", "gb18030", "utf-16-le"])
    y.write_bytes(text.encode(codec, errors="replace"))
    same = codec in ("utf-8-sig", "utf-16", "utf-32")
    return ("same" if same else "either"), f"YAML saved as {codec}", "file"


def m_yaml_duplicate_key(rng: random.Random, y: Path) -> tuple[str, str]:
    text = y.read_text(encoding="utf-8")
    nodes = [n for n in yaml_nodes(text) if isinstance(n.node, yaml.MappingNode) and len(n.node.value) >= 1]
    n = rng.choice(nodes)
    k, v = rng.choice(n.node.value)
    if n.node.flow_style:
        at = n.node.end_mark.index - 1  # the closing brace
        new = text[:at] + f", {k.value}: 1" + text[at:]
    elif isinstance(v, yaml.ScalarNode) and v.end_mark.line == k.start_mark.line:
        line_end = text.index("\n", v.end_mark.index) if "\n" in text[v.end_mark.index:] else len(text)
        new = text[:line_end] + "\n" + " " * k.start_mark.column + f"{k.value}: 0" + text[line_end:]
    else:  # a block value: put the duplicate after the whole entry
        end = v.end_mark.index
        while end > 0 and text[end - 1] in " \n":
            end -= 1
        new = text[:end] + "\n" + " " * k.start_mark.column + f"{k.value}: 0" + text[end:]
    y.write_text(new, encoding="utf-8")
    return "refuse", f"key '{k.value}' of {'.'.join(map(str, n.path)) or 'the top level'} written twice"


def m_yaml_alias(rng: random.Random, y: Path) -> tuple[str, str]:
    text = y.read_text(encoding="utf-8")
    if rng.random() < 0.6:
        width, depth = rng.choice([(10, 8), (9, 9), (50, 5), (1000, 3)])
        lines = ["alias_bomb:", "  - &l0 [" + ",".join(['"lol"'] * width) + "]"]
        for i in range(1, depth):
            lines.append(f"  - &l{i} [" + ",".join([f"*l{i - 1}"] * width) + "]")
        y.write_text(text + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
        return "refuse", f"alias bomb {width}^{depth}"
    # A legitimate anchor: one industry's suitability gates reused by another.
    nodes = [n for n in yaml_nodes(text) if n.path[-1:] == ("suitability",) and isinstance(n.node, yaml.MappingNode)]
    if len(nodes) < 2:
        raise Skip
    a, b = rng.sample(nodes, 2)
    first, second = sorted((a, b), key=lambda n: n.node.start_mark.index)
    new = (text[: first.node.start_mark.index] + "&gates " + text[first.node.start_mark.index: second.node.start_mark.index]
           + "*gates" + text[second.node.end_mark.index:])
    if second.node.flow_style is False:  # a block mapping: the alias must sit on the key's line
        new = (text[: first.node.start_mark.index] + "&gates\n" + " " * first.node.start_mark.column
               + text[first.node.start_mark.index: second.key.end_mark.index] + ": *gates\n"  # type: ignore[union-attr]
               + text[second.node.end_mark.index:])
    y.write_text(new, encoding="utf-8")
    return "either", f"{'.'.join(map(str, second.path))} reuses {'.'.join(map(str, first.path))} through an alias"


def m_yaml_depth(rng: random.Random, y: Path) -> tuple[str, str]:
    text = y.read_text(encoding="utf-8")
    n = rng.choice(_scalars(text, _schema_leaf))
    depth = rng.choice([5, 50, 300, 900, 2000])
    y.write_text(_replace(text, n.node, "[" * depth + "1" + "]" * depth), encoding="utf-8")
    return "refuse", f"{'.'.join(map(str, n.path))} nested {depth} levels deep"


def m_yaml_size(rng: random.Random, y: Path) -> tuple[str, str]:
    text = y.read_text(encoding="utf-8")
    from optimizer.instance.yamlfile import MAX_BYTES, MAX_VALUES

    if rng.random() < 0.5:
        mb = rng.choice([0.5, 4.0, 6.0])
        y.write_text(text + "\n# " + "x" * int(mb * 1e6) + "\n", encoding="utf-8")
        return ("refuse" if mb * 1e6 > MAX_BYTES else "same"), f"a {mb} MB comment", "file"
    n = rng.choice([1_000, 10_000, 40_000])  # 5 values each: a mapping, 2 keys, 2 texts
    items = "".join(f'  - {{item: "padding {i}", source: "generated"}}\n' for i in range(n))
    text = re.sub(r"(?m)^sources:\s*$", "sources:\n" + items.rstrip("\n"), text, count=1)
    y.write_text(text, encoding="utf-8")
    return ("refuse" if 5 * n > MAX_VALUES else "same"), f"{n:,} extra sources entries", "file"


def m_yaml_control(rng: random.Random, y: Path) -> tuple[str, str]:
    text = y.read_text(encoding="utf-8")
    ch = rng.choice(["\x00", "\x01", "\x07", "\x1b", "\x7f"])
    at = rng.randrange(len(text))
    y.write_text(text[:at] + ch + text[at:], encoding="utf-8")
    return "refuse", f"U+{ord(ch):04X} inserted at line {_line_of(text, at)}"


def m_yaml_name(rng: random.Random, y: Path) -> tuple[str, str]:
    text = y.read_text(encoding="utf-8")
    name = rng.choice(["..", ".hidden", "a/b", "..\\\\x", "x" * 300, "名字", "NUL", "con.x", "ok-name_2.v1", ""])
    new = re.sub(r"(?m)^name: .*$", f"name: '{name}'", text, count=1)
    y.write_text(new, encoding="utf-8")
    return ("either" if name == "ok-name_2.v1" else "refuse"), f"name: {name[:40]!r}"


def m_yaml_code_as_number(rng: random.Random, y: Path) -> tuple[str, str]:
    text = y.read_text(encoding="utf-8")
    m = re.search(r'\{township: "(\d+)"', text)
    if not m:
        raise Skip
    code = m.group(1)
    new = text[: m.start()] + "{township: " + code + text[m.end():]
    y.write_text(new, encoding="utf-8")
    return "refuse", f"lock township {code} written as a YAML number"


def m_yaml_unknown_key(rng: random.Random, y: Path) -> tuple[str, str]:
    from optimizer.instance.schema import allowed_keys

    text = y.read_text(encoding="utf-8")
    keys = [n for n in yaml_nodes(text) if n.key is not None and n.path and n.path[0] not in ("overrides", "scenarios")
            and n.path[-1] in allowed_keys(tuple(n.path[:-1])) and len(str(n.path[-1])) > 3]
    n = rng.choice(keys)
    word = n.key.value  # type: ignore[union-attr]
    i = rng.randrange(len(word) - 1)
    typo = word[:i] + word[i + 1] + word[i] + word[i + 2:] if word[i] != word[i + 1] else word + "s"
    k = n.key
    y.write_text(text[: k.start_mark.index] + typo + text[k.end_mark.index:], encoding="utf-8")  # type: ignore[union-attr]
    return "refuse", f"key '{word}' misspelt '{typo}'"


def m_yaml_syntax(rng: random.Random, y: Path) -> tuple[str, str]:
    text = y.read_text(encoding="utf-8")
    lines = text.split("\n")
    candidates = [i for i, ln in enumerate(lines) if re.match(r"^\s+[a-z_]+: \S", ln) and "#" not in ln]
    i = rng.choice(candidates)
    how = rng.choice(["tab", "unclosed", "dedent"])
    if how == "tab":
        lines[i] = "\t" + lines[i].lstrip()
    elif how == "unclosed":
        lines[i] = lines[i] + " [unclosed"
    else:
        lines[i] = lines[i].lstrip()[:1] + " " + lines[i].lstrip()
    y.write_text("\n".join(lines), encoding="utf-8")
    return "either", f"line {i + 1}: {how}"


# township table mutations ----------------------------------------------------------


NUMERIC = ("plannable_area_ha", "soil_depth_cm", "slope_deg", "rocky_desertification_grade", "water_available_m3",
           "irradiance_kwh_per_m2")


def _gpkg(y: Path) -> Path:
    return y.parent / "townships.gpkg"


def _gpkg_exec(path: Path, sql: str, args: tuple[Any, ...] = ()) -> None:
    con = sqlite3.connect(path)
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='trigger' AND name LIKE 'rtree%'").fetchall():
        con.execute(f'DROP TRIGGER "{name}"')
    con.execute(sql, args)
    con.commit()
    con.close()


def _gpkg_count(path: Path) -> int:
    con = sqlite3.connect(path)
    n = con.execute("SELECT count(*) FROM townships").fetchone()[0]
    con.close()
    return int(n)


def _attributes(y: Path) -> Any:
    import pyogrio

    return pyogrio.read_dataframe(_gpkg(y), read_geometry=False)


def _point_yaml_at(y: Path, table: str) -> None:
    text = y.read_text(encoding="utf-8")
    y.write_text(re.sub(r"(?m)^townships: .*$", f"townships: {table}", text, count=1), encoding="utf-8")


def m_table_to_csv(rng: random.Random, y: Path) -> tuple[str, str]:
    df = _attributes(y)
    codec = rng.choice(["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16", "utf-16-le"])
    sep = rng.choice([",", ";", "\t"])
    if rng.random() < 0.5:
        df.columns = [f" {c}  " for c in df.columns]
    text = df.to_csv(index=False, sep=sep)
    (y.parent / "townships.csv").write_bytes(text.encode(codec, errors="replace"))
    _point_yaml_at(y, "townships.csv")
    return "same", f"township table as CSV, {codec}, separator {sep!r}"


def m_table_to_xlsx(rng: random.Random, y: Path) -> tuple[str, str]:
    df = _attributes(y)
    df.to_excel(y.parent / "townships.xlsx", index=False, sheet_name=rng.choice(["Sheet1", "乡镇"]))
    _point_yaml_at(y, "townships.xlsx")
    return "same", "township table as .xlsx"


def m_table_cell_text(rng: random.Random, y: Path) -> tuple[str, str]:
    g = _gpkg(y)
    col = rng.choice(NUMERIC)
    fid = rng.randrange(1, _gpkg_count(g) + 1)
    value = rng.choice(["abc", "12,5", "1.2.3", "", " ", "1e400", "inf", "NaN", "１２", "85%", "12 ha"])
    _gpkg_exec(g, f"UPDATE townships SET {col} = ? WHERE fid = ?", (value, fid))
    return "refuse", f"townships.gpkg fid {fid} {col} = {value!r} (text in a number column)"


def m_table_cell_null(rng: random.Random, y: Path) -> tuple[str, str]:
    g = _gpkg(y)
    col = rng.choice(NUMERIC + ("township_id", "county", "baseline_land_use", "name"))
    fid = rng.randrange(1, _gpkg_count(g) + 1)
    _gpkg_exec(g, f"UPDATE townships SET {col} = NULL WHERE fid = ?", (fid,))
    return "refuse", f"townships.gpkg fid {fid} {col} = NULL"


def m_table_cell_range(rng: random.Random, y: Path) -> tuple[str, str]:
    g = _gpkg(y)
    col = rng.choice(NUMERIC)
    fid = rng.randrange(1, _gpkg_count(g) + 1)
    r = _ranges()[col]
    value = rng.choice([-5.0, r.high * 10, 1e300, float("inf"), float("-inf")] + ([2.5, 7] if r.integer else [95.0]))
    expect = "refuse" if not r.contains(value) else "either"
    _gpkg_exec(g, f"UPDATE townships SET {col} = ? WHERE fid = ?", (value, fid))
    return expect, f"townships.gpkg fid {fid} {col} = {value!r}"


def m_table_crs(rng: random.Random, y: Path) -> tuple[str, str]:
    g = _gpkg(y)
    how = rng.choice(["-1", "0", "shapefile without .prj"])
    if how in ("-1", "0"):
        _gpkg_exec(g, "UPDATE gpkg_geometry_columns SET srs_id = ?", (int(how),))
        return "refuse", f"GeoPackage srs_id {how}", "file"
    import pyogrio

    df = pyogrio.read_dataframe(g)
    df = df.set_crs(None, allow_override=True)
    df.columns = [c[:10] if c != "geometry" else c for c in df.columns]  # DBF names are ≤ 10 characters
    df = df.loc[:, ~df.columns.duplicated()]
    pyogrio.write_dataframe(df, y.parent / "townships.shp")
    for f in y.parent.glob("townships.prj"):
        f.unlink()
    _point_yaml_at(y, "townships.shp")
    return "refuse", "Shapefile without .prj (and DBF-truncated column names)", "file"


def m_table_ring(rng: random.Random, y: Path) -> tuple[str, str]:
    g = _gpkg(y)
    fid = rng.randrange(1, _gpkg_count(g) + 1)
    if rng.random() < 0.6:
        pts = [(0.0, 0.0), (1000.0, 0.0), (1000.0, 1000.0), (0.0, 1000.0)]  # not closed
        what = "an unclosed ring"
    else:
        pts = [(0.0, 0.0), (1000.0, 1000.0), (1000.0, 0.0), (0.0, 1000.0), (0.0, 0.0)]  # a bow tie
        what = "a self-intersecting ring"
    wkb = b"\x01" + struct.pack("<III", 3, 1, len(pts)) + b"".join(struct.pack("<dd", *p) for p in pts)
    con = sqlite3.connect(g)
    srs = con.execute("SELECT srs_id FROM gpkg_geometry_columns").fetchone()[0]
    con.close()
    _gpkg_exec(g, "UPDATE townships SET geom = ? WHERE fid = ?", (b"GP\x00\x01" + struct.pack("<i", srs) + wkb, fid))
    return "refuse", f"townships.gpkg fid {fid}: {what}"


def m_table_duplicate_id(rng: random.Random, y: Path) -> tuple[str, str]:
    g = _gpkg(y)
    n = _gpkg_count(g)
    a, b = rng.sample(range(1, n + 1), 2)
    _gpkg_exec(g, "UPDATE townships SET township_id = (SELECT township_id FROM townships WHERE fid = ?) WHERE fid = ?",
               (a, b))
    return "refuse", f"townships.gpkg fid {b} takes the id of fid {a}"


def m_table_county_typo(rng: random.Random, y: Path) -> tuple[str, str]:
    g = _gpkg(y)
    df = _attributes(y)
    i = rng.randrange(len(df))
    county = str(df["county"].iloc[i])
    typo = county[:-1] + ("具" if county.endswith("县") else "x") if len(county) > 2 else county + "x"
    _gpkg_exec(g, "UPDATE townships SET county = ? WHERE fid = ?", (typo, i + 1))
    text = y.read_text(encoding="utf-8")
    named = county in text.split("constraints:")[1] if "constraints:" in text else False
    return ("refuse" if named else "either"), f"townships.gpkg fid {i + 1} county {county} → {typo}"


def m_table_baseline_typo(rng: random.Random, y: Path) -> tuple[str, str]:
    g = _gpkg(y)
    fid = rng.randrange(1, _gpkg_count(g) + 1)
    _gpkg_exec(g, "UPDATE townships SET baseline_land_use = baseline_land_use || 'x' WHERE fid = ?", (fid,))
    return "refuse", f"townships.gpkg fid {fid}: baseline land use misspelt"


def m_table_drop_column(rng: random.Random, y: Path) -> tuple[str, str]:
    df = _attributes(y)
    col = rng.choice(NUMERIC + ("township_id", "county", "baseline_land_use", "name"))
    df = df.drop(columns=[col])
    df.to_csv(y.parent / "townships.csv", index=False)
    _point_yaml_at(y, "townships.csv")
    return "refuse", f"required column {col} missing (CSV)", "file"


def m_table_csv_damage(rng: random.Random, y: Path) -> tuple[str, str]:
    df = _attributes(y)
    text = df.to_csv(index=False)
    lines = text.split("\n")
    i = rng.randrange(1, len(df) + 1)
    how = rng.choice(["nul", "ragged", "broken_utf8", "decimal_comma", "unquoted_comma"])
    if how == "nul":
        lines[i] = lines[i][:3] + "\x00" + lines[i][3:]
        raw = "\n".join(lines).encode("utf-8")
    elif how == "ragged":
        lines[i] = lines[i] + ",surplus"
        raw = "\n".join(lines).encode("utf-8")
    elif how == "broken_utf8":
        raw = "\n".join(lines).encode("utf-8")
        start = len("\n".join(lines[:i]).encode("utf-8")) + 1
        raw = raw[:start + 2] + b"\xff\xfe" + raw[start + 4:]
    elif how == "decimal_comma":
        semi = df.copy()
        col = rng.choice(["soil_depth_cm", "slope_deg", "plannable_area_ha"])
        semi[col] = semi[col].map(lambda v: f"{v:.1f}".replace(".", ","))
        raw = semi.to_csv(index=False, sep=";").encode("utf-8")
    else:  # a comma inside an unquoted name
        cells = lines[i].split(",")
        cells[1] = cells[1].strip('"') + "，x"  # a full-width comma is fine; make it ASCII below
        lines[i] = ",".join(cells).replace("，x", ",x")
        raw = "\n".join(lines).encode("utf-8")
    (y.parent / "townships.csv").write_bytes(raw)
    _point_yaml_at(y, "townships.csv")
    return "refuse", f"CSV township table: {how} in data row {i}"


def m_table_not_a_file(rng: random.Random, y: Path) -> tuple[str, str]:
    target = y.parent / "townships.gpkg"
    target.unlink()
    if rng.random() < 0.5:
        os.mkfifo(target)
        return "refuse", "the township table is a named pipe", "file"
    target.mkdir()
    return "refuse", "the township table is a folder", "file"


# site table mutations -------------------------------------------------------------


def _site(y: Path) -> Path:
    return y.parent / "site_coefficients.csv"


def _read_site(y: Path) -> Any:
    import pandas as pd

    return pd.read_csv(_site(y), dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _pv_industry(y: Path) -> str:
    data = yaml.safe_load(y.read_text(encoding="utf-8"))
    return next(k for k, v in data["industries"].items() if (v or {}).get("pv_capacity_mw_per_ha", 0) > 0)


def _township_ids(y: Path) -> list[str]:
    return [str(t) for t in _attributes(y)["township_id"]]


def m_site_cell(rng: random.Random, y: Path) -> tuple[str, str]:
    df = _read_site(y)
    if rng.random() < 0.5:
        pv = _pv_industry(y)
        value = rng.choice(["0", "1.5", "50", "85", "-0.2", "inf", "1e400", "abc", "0.8.1"])
        if "pv_performance_ratio" not in df.columns:
            df["pv_performance_ratio"] = ""
        df.loc[len(df)] = {**{c: "" for c in df.columns}, "township_id": rng.choice(_township_ids(y)),
                           "industry": pv, "pv_performance_ratio": value}
        df = df.drop_duplicates(subset=["township_id", "industry"], keep="last")
        col = "pv_performance_ratio"
    else:
        cols = [c for c in df.columns if c not in ("township_id", "industry") and not c.startswith("note")]
        col = rng.choice(cols)
        i = rng.randrange(len(df))
        value = rng.choice(["-1", "inf", "NaN", "1e400", "abc", "12,5", "1e12"])
        if col.startswith("gep."):
            from optimizer.instance.cells import IndustryFacts

            facts = IndustryFacts.from_raw(yaml.safe_load(y.read_text(encoding="utf-8")))
            ok = [j for j in range(len(df)) if col[4:] in facts.services.get(df["industry"].iloc[j], {})]
            if not ok:
                raise Skip
            i = rng.choice(ok)
        df.loc[df.index[i], col] = value
    df.to_csv(_site(y), index=False)
    return "refuse", f"site cell {col} = {value}"


def m_site_join(rng: random.Random, y: Path) -> tuple[str, str]:
    df = _read_site(y)
    i = rng.randrange(len(df))
    if rng.random() < 0.5:
        df.loc[df.index[i], "township_id"] = df["township_id"].iloc[i][:-1] + "9" + "9"
        what = "unknown township"
    else:
        df.loc[df.index[i], "industry"] = df["industry"].iloc[i][:-1]
        what = "misspelt industry"
    df.to_csv(_site(y), index=False)
    return "refuse", f"site table row {i + 1}: {what}"


def m_site_format(rng: random.Random, y: Path) -> tuple[str, str]:
    df = _read_site(y)
    how = rng.choice(["csv", "csv", "xlsx"])
    if how == "xlsx":
        for col in df.columns:
            if col not in ("township_id", "industry") and not col.startswith("note"):
                df[col] = [float(v) if v else None for v in df[col]]
        df.to_excel(y.parent / "site.xlsx", index=False)
        text = y.read_text(encoding="utf-8")
        y.write_text(re.sub(r"(?m)^site_coefficients: .*$", "site_coefficients: site.xlsx", text, count=1),
                     encoding="utf-8")
        return "same", "site table as .xlsx"
    codec = rng.choice(["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
    sep = rng.choice([",", ";", "\t"])
    _site(y).write_bytes(df.to_csv(index=False, sep=sep).encode(codec, errors="replace"))
    return "same", f"site table as CSV, {codec}, separator {sep!r}"


def m_site_structure(rng: random.Random, y: Path) -> tuple[str, str]:
    df = _read_site(y)
    how = rng.choice(["duplicate_row", "unknown_column", "pipe"])
    if how == "pipe":
        _site(y).unlink()
        os.mkfifo(_site(y))
        return "refuse", "the site table is a named pipe", "file"
    if how == "duplicate_row":
        i = rng.randrange(len(df))
        df.loc[len(df)] = df.iloc[i]
    else:
        cols = [c for c in df.columns if c not in ("township_id", "industry") and not c.startswith("note")]
        col = rng.choice(cols)
        df = df.rename(columns={col: col.replace("_", "", 1) if "_" in col else col + "x"})
    df.to_csv(_site(y), index=False)
    return "refuse", f"site table: {how}"


# the command line -------------------------------------------------------------------


def m_cli_set(rng: random.Random, y: Path) -> tuple[str, str, list[str]]:
    data = yaml.safe_load(y.read_text(encoding="utf-8"))
    ind = rng.choice(sorted(data["industries"]))
    how = rng.choice(["industry", "field", "value", "county"])
    if how == "industry":
        arg = f"industries.{ind[:-1]}.price_yuan_per_unit=5"
    elif how == "field":
        arg = f"industries.{ind}.prise_yuan_per_unit=5"
    elif how == "value":
        arg = f"industries.{ind}.water_m3_per_ha=" + rng.choice(["-3", "inf", "abc", "1e400"])
    else:
        arg = "constraints.water.county_max_m3.Nowhere=5"
    return "refuse", f"--set {arg}", ["--set", arg]


# ---------------------------------------------------------------------------------------

Mutator = Callable[[random.Random, Path], Any]

KINDS: dict[str, tuple[str, Mutator]] = {
    "yaml.type": ("yaml", m_yaml_type),
    "yaml.range": ("yaml", m_yaml_range),
    "yaml.encoding": ("yaml-file", m_yaml_encoding),
    "yaml.duplicate_key": ("yaml", m_yaml_duplicate_key),
    "yaml.alias": ("yaml", m_yaml_alias),
    "yaml.depth": ("yaml", m_yaml_depth),
    "yaml.size": ("yaml-file", m_yaml_size),
    "yaml.control": ("yaml", m_yaml_control),
    "yaml.name": ("yaml", m_yaml_name),
    "yaml.code_as_number": ("yaml", m_yaml_code_as_number),
    "yaml.unknown_key": ("yaml", m_yaml_unknown_key),
    "yaml.syntax": ("yaml", m_yaml_syntax),
    "table.to_csv": ("table", m_table_to_csv),
    "table.to_xlsx": ("table", m_table_to_xlsx),
    "table.cell_text": ("table", m_table_cell_text),
    "table.cell_null": ("table", m_table_cell_null),
    "table.cell_range": ("table", m_table_cell_range),
    "table.crs": ("table-file", m_table_crs),
    "table.ring": ("table", m_table_ring),
    "table.duplicate_id": ("table", m_table_duplicate_id),
    "table.county_typo": ("table", m_table_county_typo),
    "table.baseline_typo": ("table", m_table_baseline_typo),
    "table.drop_column": ("table-file", m_table_drop_column),
    "table.csv_damage": ("table", m_table_csv_damage),
    "table.not_a_file": ("table-file", m_table_not_a_file),
    "site.cell": ("site", m_site_cell),
    "site.join": ("site", m_site_join),
    "site.format": ("site", m_site_format),
    "site.structure": ("site", m_site_structure),
    "cli.set": ("cli", m_cli_set),
    "multi": ("multi", None),  # type: ignore[dict-item]
}

#: One of each file's refusing, line- or row-located mutations, for "several problems at once".
MULTI_PARTS = {
    "yaml": ("yaml.type", "yaml.duplicate_key", "yaml.range", "yaml.unknown_key"),
    "table": ("table.cell_text", "table.cell_range", "table.duplicate_id", "table.baseline_typo"),
    "site": ("site.cell", "site.join"),
}


def _target(y: Path, where: str) -> Path:
    if where.startswith("yaml"):
        return y
    if where.startswith("table"):
        text = y.read_text(encoding="utf-8", errors="replace")
        m = re.search(r"(?m)^townships: (?:\{path: )?([^,}\s]+)", text)
        return y.parent / (m.group(1).strip("'\"") if m else "townships.gpkg")
    if where == "site":
        text = y.read_text(encoding="utf-8", errors="replace")
        m = re.search(r"(?m)^site_coefficients: (\S+)", text)
        return y.parent / (m.group(1) if m else "site_coefficients.csv")
    return y


def make(seed: int, workdir: Path) -> Mutation:
    """Mutation number `seed`: the kind cycles through KINDS, the instance through INSTANCES."""
    rng = random.Random(seed)
    names = list(KINDS)
    kind = names[seed % len(names)]
    instance = INSTANCES[(seed // len(names)) % len(INSTANCES)]
    for attempt in range(20):
        folder = workdir / f"m{seed:04d}-{attempt}"
        y = copy_instance(instance, folder)
        try:
            return _apply(kind, rng, instance, folder, y)
        except Skip:
            shutil.rmtree(folder, ignore_errors=True)
            kind = names[rng.randrange(len(names))]
    raise RuntimeError(f"seed {seed}: no applicable mutation")


def _apply(kind: str, rng: random.Random, instance: str, folder: Path, y: Path) -> Mutation:
    where, fn = KINDS[kind]
    if kind == "multi":
        return _multi(rng, instance, folder, y)
    if where == "cli":
        expect, text, args = fn(rng, y)
        return Mutation(kind, instance, folder, y, expect, text, extra_args=args, command_line=True)
    expect, text, *scope = fn(rng, y)
    target = _target(y, where)
    mutation = Mutation(kind, instance, folder, y, expect, text)
    if expect == "refuse":
        (mutation.named if scope == ["file"] else mutation.located).append(target)
    return mutation


def _refs(y: Path) -> list[str]:
    text = y.read_text(encoding="utf-8", errors="replace")
    return re.findall(r"(?m)^(?:townships|site_coefficients):.*$", text)


def _multi(rng: random.Random, instance: str, folder: Path, y: Path) -> Mutation:
    """A refusing, located fault in the YAML, the township table and the site table at once."""
    parts, located = [], []
    for options in MULTI_PARTS.values():
        for _attempt in range(30):
            saved = {p: p.read_bytes() for p in folder.iterdir() if p.is_file()}
            refs = _refs(y)
            sub = rng.choice(options)
            try:
                expect, text, *_scope = KINDS[sub][1](rng, y)
            except Skip:
                continue
            if expect == "refuse" and _refs(y) == refs:
                break
            for p, data in saved.items():  # undo, and draw again
                p.write_bytes(data)
        else:
            raise Skip
        parts.append(f"{sub}: {text}")
        located.append(_target(y, KINDS[sub][0]))
    return Mutation("multi", instance, folder, y, "refuse", "; ".join(parts), located=located)


# --------------------------------------------------------------------------- the oracle


_PROBLEM_LINE = re.compile(r"^  (?P<where>\S.*?)  (?P<text>\S.*)$")


@dataclass
class Verdict:
    seed: int
    kind: str
    instance: str
    description: str
    expect: str
    outcome: str  # refused | accepted | infeasible | FAIL
    reason: str = ""
    validate_cpu_s: float = 0.0
    validate_wall_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _problem_lines(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    out = []
    for ln in lines:
        if ln.startswith("  ") and not ln.startswith("   "):
            out.append(ln)
    return out


def _locations_ok(m: Mutation, stderr: str) -> str | None:
    """Why the refusal's locations fall short of the oracle, or None."""
    lines = _problem_lines(stderr)
    if not lines:
        return "exit 2 without any problem line"
    files = {str(p) for p in m.folder.iterdir()} | {str(p.resolve()) for p in m.folder.iterdir()}
    for ln in lines:
        where = _PROBLEM_LINE.match(ln)
        loc = where.group("where") if where else ln.strip()
        if not (loc.startswith("command line") or any(loc.startswith(f) for f in files)):
            return f"problem not located at an input file: {ln.strip()[:200]}"
    for target in m.located:
        t = [str(target), str(target.resolve())]
        hits = [ln for ln in lines if any(ln.strip().startswith(x) for x in t)]
        if not hits:
            return f"no problem names {target.name}"
        if not any(re.match(r"^\s*\S+?:(\d+|row \d+|column \S)", ln) for ln in hits):
            return f"no problem of {target.name} has a line, row or column: {hits[0].strip()[:200]}"
    for target in m.named:
        if not any(target.name in ln for ln in lines):
            return f"no problem names {target.name}"
    if m.command_line and not any(ln.strip().startswith("command line --set #1") for ln in lines):
        return "no problem points at the --set argument"
    return None


def _bad_output(o: Outcome) -> str | None:
    if o.code is None:
        return f"hung (> {HANG_S:.0f} s)"
    text = o.stdout + o.stderr
    if "Traceback" in text:
        return "traceback: " + text[text.index("Traceback"):][:600]
    if o.code == 1 or "Internal error" in text:
        return "exit 1: " + text.strip()[-600:]
    return None


def _objective(results: Path) -> float | None:
    summaries = sorted(results.rglob("summary.json"))
    if not summaries:
        return None
    data = json.loads(summaries[-1].read_text(encoding="utf-8"))
    return data.get("objective_yuan")


def judge(worker: Worker, seed: int, m: Mutation, baseline: dict[str, float]) -> Verdict:
    v = Verdict(seed, m.kind, m.instance, m.description, m.expect, "FAIL")
    val = worker.run(["validate", str(m.yaml), *m.extra_args], m.folder)
    v.validate_cpu_s, v.validate_wall_s = val.cpu_s, val.wall_s
    bad = _bad_output(val)
    if bad:
        v.reason = "validate " + bad
        return v
    results = m.folder / "results"
    sol = worker.run(["solve", str(m.yaml), "--results", str(results), *m.extra_args], m.folder)
    bad = _bad_output(sol)
    if bad:
        v.reason = "solve " + bad
        return v
    if val.code == 2:
        if m.expect == "same":
            v.reason = "the same data written differently was refused: " + val.stderr.strip()[:600]
            return v
        why = _locations_ok(m, val.stderr)
        if why:
            v.reason = why
            return v
        if val.cpu_s > REFUSAL_CPU_S:
            v.reason = f"refusal took {val.cpu_s:.1f} CPU s"
            return v
        if sol.code != 2:
            v.reason = f"validate refused but solve exited {sol.code}: {(sol.stdout + sol.stderr).strip()[-400:]}"
            return v
        v.outcome = "refused"
        return v
    if val.code not in (0, 3):
        v.reason = f"validate exited {val.code}: {(val.stdout + val.stderr).strip()[-400:]}"
        return v
    if m.expect == "refuse":
        v.reason = f"wrong input accepted (validate exit {val.code}, solve exit {sol.code})"
        return v
    if sol.code not in (0, 3, 6):
        v.reason = f"accepted by validate, but solve exited {sol.code}: {(sol.stdout + sol.stderr).strip()[-600:]}"
        return v
    if val.code == 3 and sol.code != 3:
        v.reason = f"validate said infeasible, solve exited {sol.code}"
        return v
    if m.expect == "same":
        got = _objective(results)
        want = baseline.get(m.instance)
        if got is None or want is None or not math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-3):
            v.reason = f"the same data written differently solved to {got}, not {want}"
            return v
    v.outcome = "infeasible" if sol.code == 3 else "accepted"
    return v


def baselines(worker: Worker, workdir: Path) -> dict[str, float]:
    """The optimum of each unmutated shipped instance, by the same command line."""
    out = {}
    for name in INSTANCES:
        folder = workdir / f"baseline-{name}"
        y = copy_instance(name, folder)
        o = worker.run(["solve", str(y), "--results", str(folder / "results")], folder)
        assert o.code == 0, (name, o.stdout, o.stderr)
        obj = _objective(folder / "results")
        assert obj is not None
        out[name] = obj
    return out


def run(seeds: range | list[int], workdir: Path, report: Path | None = None) -> list[Verdict]:
    """Mutate, run and judge every seed; optionally write the verdicts as JSON."""
    worker = Worker()
    try:
        base = baselines(worker, workdir)
        verdicts = []
        for seed in seeds:
            m = make(seed, workdir)
            verdicts.append(judge(worker, seed, m, base))
            shutil.rmtree(m.folder, ignore_errors=True)
    finally:
        worker.close()
    if report is not None:
        report.write_text(json.dumps([v.to_dict() for v in verdicts], ensure_ascii=False, indent=1), encoding="utf-8")
    return verdicts


def counts(verdicts: list[Verdict]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for v in verdicts:
        row = table.setdefault(v.kind, {"refused": 0, "accepted": 0, "infeasible": 0, "FAIL": 0})
        row[v.outcome] += 1
    return table
