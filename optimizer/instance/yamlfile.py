"""YAML with positions: every node's line and column, so problems point at `file:line:col`.

Why: a schema error on `industries.apple.yield_per_ha` is only useful to a planner as
`fuchuan.yaml:42:5`, which tools that validate the resolved dict lose.

The reader is also the guard against files that are not what they seem, because a
planner's YAML is often edited by hand, pasted from chat programs or saved by Windows
tools. Before anything is built it refuses, located and in words:

- text that is not UTF-8 (or UTF-16/32 with a byte-order mark, which YAML allows),
  naming GBK/GB18030 when that is what it looks like;
- NUL and other control characters, which no editor shows;
- duplicate keys (PyYAML silently keeps the later value: a lock
  `{industry: agro_pv, industry: apple, forbid: true}` would forbid apple);
- aliases (`*name`) that expand the document beyond a small bound (a "billion laughs"
  file of a few hundred bytes would otherwise expand to 10⁷ values);
- nesting deeper than any instance needs (deeper structures overflow Python's stack);
- files larger than an instance can sensibly be.

The alias and depth bounds are enforced on the event stream, before any node tree is
built, so a hostile file is refused in milliseconds.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from optimizer.errors import InputError, Location, Problem, file_problem
from optimizer.i18n import _

PathKey = tuple[str | int, ...]

#: libyaml's parser when PyYAML has it (the same documents, ten times faster).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: The largest instance file read (bytes). The biggest shipped one is ~30 kB and a
#: generated 20,000-township instance 80 kB; townships belong in the township table.
MAX_BYTES = 5_000_000
#: Most values (scalars, lists, mappings) an instance file may hold, counted before any
#: tree is built: a 20,000-township instance holds ~8,000; 100,000 still validates in a
#: few seconds, where a 10 MB list of 600,000 values took 17 s and its solve over 90 s.
MAX_VALUES = 100_000
#: Deepest nesting accepted. An instance needs about 7 levels
#: (constraints.markets.<name>.price_steps[i].above_output); flow values of overrides a few more.
MAX_DEPTH = 40
#: Values that aliases (`*name`) may add to the document in total. Reusing a block of
#: GEP services across industries adds tens; an alias bomb adds millions.
MAX_ALIAS_VALUES = 10_000

#: Characters YAML forbids in a stream (YAML 1.1 §5.1): C0 controls except tab, line feed
#: and carriage return; DEL; C1 controls except NEL; surrogates; U+FFFE and U+FFFF.
FORBIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")


@dataclass
class YamlDocument:
    """A parsed YAML file: its data, each node's position and each scalar as written."""

    data: Any
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    #: Scalars as written in the file (plain style only), for hints such as "write
    #: 0012 in quotes": YAML 1.1 reads `0012` as the octal number 10.
    written: dict[PathKey, str] = field(default_factory=dict)
    #: Problems that leave the data readable (duplicate keys), for the loader to report
    #: together with the schema's and the tables' (only with `strict=False`).
    problems: list[Problem] = field(default_factory=list)


def yaml_location(file: Path, positions: dict[PathKey, tuple[int, int]], path: PathKey) -> Location:
    """The deepest node of `path` that exists in the file (its parent, if it does not)."""
    for end in range(len(path), -1, -1):
        pos = positions.get(tuple(path[:end]))
        if pos is None and end:
            pos = positions.get(tuple(str(p) for p in path[:end]))
        if pos is not None:
            return Location(file=file, line=pos[0], column=pos[1])
    return Location(file=file)


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _char_name(ch: str) -> str:
    if ch == "\x00":
        return _("a NUL byte (U+0000)")
    return _("the control character U+{code:04X}").format(code=ord(ch))


def decode(raw: bytes, path: Path) -> str:
    """Bytes → text as YAML allows: UTF-8 (BOM or not), or UTF-16/32 with a BOM.

    Anything else is refused at the first byte that is not UTF-8, naming GBK/GB18030
    when the bytes read as such (what Notepad and Excel on a Chinese Windows save).
    """
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                       (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                       (codecs.BOM_UTF16_BE, "utf-16")):
        if raw.startswith(bom):
            try:
                return raw.decode(codec)
            except UnicodeDecodeError as exc:
                raise InputError([Problem(Location(path), _("the file starts with a {codec} byte-order mark but is "
                                                            "not {codec} text ({reason})").format(
                    codec=codec.upper().replace("-SIG", ""), reason=exc.reason), _("save the file as UTF-8"))]) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = raw[: exc.start].decode("utf-8", errors="replace")
        line, col = _line_col(good, len(good))
        hint = _("save the file as UTF-8 (in Notepad: Save as ▸ Encoding ▸ UTF-8)")
        try:
            raw.decode("gb18030")
            what = _("the file is not UTF-8 text: it looks like GBK/GB18030 (Chinese Windows)")
        except UnicodeDecodeError:
            what = _("the file is not UTF-8 text (byte 0x{byte:02X} cannot start a character)").format(byte=raw[exc.start])
        raise InputError([Problem(Location(path, line, col), what, hint)]) from None


def check_characters(text: str, path: Path) -> list[Problem]:
    """Every character YAML forbids (NUL, other controls), located, at most 20."""
    problems = []
    for m in FORBIDDEN_CHARACTERS.finditer(text):
        line, col = _line_col(text, m.start())
        hint = (_("a NUL byte usually means the file was saved as UTF-16 without a byte-order mark, or is not "
                  "text; save it as UTF-8") if m.group() == "\x00" else _("delete it; editors often do not show it"))
        problems.append(Problem(Location(path, line, col), _("{char} is not allowed in YAML").format(
            char=_char_name(m.group())), hint))
        if len(problems) >= 20:
            break
    return problems


def _marked(path: Path, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    loc = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path)
    what = " ".join(str(x) for x in (exc.context, exc.problem) if x)
    return Problem(loc, _("YAML syntax error: {what}").format(what=what))


def _check_events(text: str, path: Path) -> None:
    """Depth and alias expansion from the event stream, before a node tree exists.

    Each node's expanded size is counted as its events close (an anchored node's size is
    remembered; an alias adds it), so a bomb is refused at the alias that crosses the bound
    after reading a few hundred bytes.
    """
    sizes: dict[str, int] = {}
    stack: list[list[Any]] = []  # [size so far, anchor] of each open collection
    events = 0
    expanded = 0
    try:
        for ev in yaml.parse(text, Loader=_LOADER):
            if events > MAX_VALUES:
                m = ev.start_mark
                raise InputError([Problem(Location(path, m.line + 1, m.column + 1), _(
                    "the file holds more than {limit} values; an instance needs a few thousand").format(
                    limit=f"{MAX_VALUES:,}"), _("township data belongs in the township table, not the YAML"))])
            if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                events += 1
                stack.append([1, ev.anchor])
                if len(stack) > MAX_DEPTH:
                    m = ev.start_mark
                    raise InputError([Problem(Location(path, m.line + 1, m.column + 1),
                                              _("the file nests deeper than {limit} levels").format(limit=MAX_DEPTH),
                                              _("an instance needs about 7 levels; check the indentation and brackets"))])
            elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                size, anchor = stack.pop()
                if anchor is not None:
                    sizes[anchor] = size
                if stack:
                    stack[-1][0] += size
                else:
                    expanded += size
            elif isinstance(ev, (yaml.ScalarEvent, yaml.AliasEvent)):
                if isinstance(ev, yaml.ScalarEvent):
                    events += 1
                    size = 1
                    if ev.anchor is not None:
                        sizes[ev.anchor] = 1
                else:
                    m = ev.start_mark
                    if ev.anchor not in sizes:
                        raise InputError([Problem(Location(path, m.line + 1, m.column + 1), _(
                            "the alias *{name} refers to no anchor &{name} above it").format(name=ev.anchor))])
                    size = sizes[ev.anchor]
                if stack:
                    stack[-1][0] += size
                else:
                    expanded += size
                total = expanded + sum(s for s, _a in stack)
                if isinstance(ev, yaml.AliasEvent) and total - events > MAX_ALIAS_VALUES:
                    raise InputError([Problem(Location(path, m.line + 1, m.column + 1), _(
                        "aliases (*name) expand the file by more than {limit} values (here *{name})").format(
                        limit=f"{MAX_ALIAS_VALUES:,}", name=ev.anchor),
                        _("write the values out, or reuse smaller blocks; a file that expands this much is an "
                          "'alias bomb'"))])
    except yaml.MarkedYAMLError as exc:
        raise InputError([_marked(path, exc)]) from None


def _walk(node: yaml.Node, path: Path, doc: YamlDocument, problems: list[Problem]) -> None:
    """Positions, scalars as written and duplicate keys, depth-first (depth is bounded)."""
    constructor = yaml.constructor.SafeConstructor()
    seen_dups: set[tuple[int, int]] = set()

    def visit(n: yaml.Node, prefix: PathKey) -> None:
        doc.positions[prefix] = (n.start_mark.line + 1, n.start_mark.column + 1)
        if isinstance(n, yaml.ScalarNode):
            if not n.style:  # plain (libyaml says "", PyYAML None)
                doc.written[prefix] = n.value
            return
        if isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                visit(item, prefix + (i,))
            return
        if not isinstance(n, yaml.MappingNode):
            return
        first: dict[Any, yaml.Node] = {}
        for key_node, value_node in n.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key: Any
            try:
                key = constructor.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            except (yaml.YAMLError, ValueError, OverflowError):
                key = key_node.value
            if isinstance(key_node, yaml.ScalarNode):
                here = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                try:
                    earlier = first.get(key)
                except TypeError:
                    earlier = None
                if earlier is not None and here not in seen_dups:
                    seen_dups.add(here)
                    where = (earlier.start_mark.line + 1, earlier.start_mark.column + 1)
                    problems.append(Problem(Location(path, *here), _(
                        "duplicate key '{key}' (first at line {line}, column {column}): YAML would silently keep "
                        "only this later value").format(key=key_node.value, line=where[0], column=where[1]),
                        _("delete one of the two"), path=".".join(str(p) for p in (*prefix, key)) or None))
                elif earlier is None:
                    try:
                        first[key] = key_node
                    except TypeError:
                        pass
                if not key_node.style and not isinstance(key, str):
                    doc.written[prefix + (key, "[key]")] = key_node.value
            child = prefix + (key if key is not None else key_node.value,)
            doc.positions[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            visit(value_node, child)
            # Point problems with the key's value (unknown keys, wrong types) at the key itself.
            doc.positions[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)

    visit(node, ())


def _first_unreadable_scalar(node: yaml.Node) -> yaml.Node | None:
    """The scalar that made construction fail (e.g. a date 2026-13-45), to locate the error."""
    constructor = yaml.constructor.SafeConstructor()
    stack = [node]
    seen: set[int] = set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, yaml.ScalarNode):
            try:
                constructor.construct_object(n)
            except Exception:  # noqa: BLE001 - any failure locates the culprit
                return n
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(reversed(n.value))
        elif isinstance(n, yaml.MappingNode):
            for k, v in reversed(n.value):
                stack.extend((v, k))
    return None


def load_yaml(path: Path, max_bytes: int = MAX_BYTES, strict: bool = True) -> YamlDocument:
    """Read a YAML file with positions, refusing what would mislead or hang (see the module doc).

    With `strict=False`, duplicate keys come back in `doc.problems` instead of being
    raised, so that the loader can go on to report the schema's and the tables' problems.
    """
    path = Path(path)
    bad = file_problem(path, _("instance file"))
    if bad is not None:
        raise InputError([bad])
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError([Problem(Location(path), _("the file is {size} MB; an instance file holds at most {limit} MB")
                                  .format(size=f"{size / 1e6:.1f}", limit=f"{max_bytes / 1e6:g}"),
                                  _("township data belongs in the township table, not the YAML"))])
    text = decode(path.read_bytes(), path)
    problems = check_characters(text, path)
    if problems:
        raise InputError(problems)
    _check_events(text, path)
    loader = _LOADER(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            raise InputError([_marked(path, exc)]) from None
        doc = YamlDocument(data=None)
        if node is None:
            return doc
        _walk(node, path, doc, problems)
        try:
            doc.data = loader.construct_document(node)
        except yaml.MarkedYAMLError as exc:
            raise InputError([*problems, _marked(path, exc)]) from None
        except (ValueError, OverflowError, TypeError) as exc:
            culprit = _first_unreadable_scalar(node)
            loc = (Location(path, culprit.start_mark.line + 1, culprit.start_mark.column + 1) if culprit is not None
                   else Location(path))
            raise InputError([*problems, Problem(loc, _("cannot read the value '{value}': {reason}").format(
                value=culprit.value if culprit is not None else "?", reason=exc),
                _("write it in quotes if it is text"))]) from None
    finally:
        loader.dispose()
    if problems and strict:
        raise InputError(problems)
    doc.problems = problems
    return doc


def read_yaml(path: Path) -> tuple[dict[str, Any], dict[PathKey, tuple[int, int]]]:
    """An instance file's data (a mapping) and positions; every refusal is located."""
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise InputError([Problem(Location(path, 1, 1), _("an instance must be a YAML mapping (key: value)"))])
    return doc.data, doc.positions
