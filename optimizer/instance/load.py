"""Reading an instance: YAML with positions, its tables, scenarios and `--set` applied.

The loader keeps the position of every YAML node so that a schema error on
`industries.apple.yield_per_ha` can be reported as `fuchuan.yaml:42:5`, which is what
Calliope and most YAML-driven tools lose by validating the resolved dict. A value that
came from `--set` or a named override is reported where that was written (the command
line argument, the override's line), not at the YAML line it replaced.

Every problem at once, across files: when the YAML breaks the schema, the tables are
still read (from the path the YAML names) and their cells checked, so a planner sees
the YAML's, the township table's and the site table's problems in one run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from optimizer.errors import InputError, Location, Problem, did_you_mean
from optimizer.i18n import N_, _, language
from optimizer.instance.cells import IndustryFacts, check_baselines, check_site, typed_townships
from optimizer.instance.overrides import apply_one, apply_to_site, apply_to_table, parse_set, scenario_overrides, set_origin
from optimizer.instance.schema import RANGES, Instance, TableRef, allowed_keys
from optimizer.instance.tables import Table, read_table
from optimizer.instance.yamlfile import PathKey, YamlDocument, load_yaml, yaml_location

log = logging.getLogger(__name__)


@dataclass
class LoadedInstance:
    """A parsed instance: the validated spec and its tables, geometry kept aside.

    `townships` is indexed by `township_id` (strings) and holds no geometry, so that
    the model and the checker never touch geopandas; geometry joins the results at the
    end, by id.
    """

    path: Path
    spec: Instance
    raw: dict[str, Any]
    positions: dict[PathKey, tuple[int, int]]
    townships: pd.DataFrame
    townships_file: Path
    geometry: Any | None = None  # geopandas.GeoSeries indexed by township_id, or None
    crs: str | None = None
    site: pd.DataFrame | None = None
    site_file: Path | None = None
    input_files: list[Path] = field(default_factory=list)
    applied_overrides: list[Any] = field(default_factory=list)  # overrides.Applied, in order
    scenarios: list[str] = field(default_factory=list)
    #: Data-row number in the file of each township / site row (blank records skipped).
    township_rows: list[int] = field(default_factory=list)
    site_rows: list[int] = field(default_factory=list)
    #: Located faults the table readers found without stopping (validation reports them).
    read_problems: list[Problem] = field(default_factory=list)
    #: Row positions of the township table whose geometry could not be read.
    bad_geometry: set[int] = field(default_factory=set)
    #: Where each overridden YAML path was set (the --set argument, the override's line).
    origins: dict[tuple[str, ...], Location] = field(default_factory=dict)
    #: Township-table cells set by an override: (column, township id or None for all) → where.
    cell_origins: dict[tuple[str, str | None], Location] = field(default_factory=dict)
    #: Village instances only: the village table and village site table (villages.py).
    village_tables: Any | None = None

    def locate(self, *path: str | int) -> Location:
        """Best location for a dotted path: the override that set it, else the deepest YAML node."""
        return origin(self.origins, tuple(str(p) for p in path)) or yaml_location(self.path, self.positions, tuple(path))

    def township_cell(self, pos: int | None, column: str) -> Location:
        """A township-table cell (row position, column), or the --set that wrote it."""
        return township_locator(self.townships_file, self.township_rows, self.cell_origins, self.townships)(pos, column)

    def site_cell(self, pos: int | None, column: str) -> Location:
        return _table_cell(self.site_file or Path("?"), self.site_rows, {}, pos, column, None)


def origin(origins: dict[tuple[str, ...], Location], path: tuple[str, ...]) -> Location | None:
    """The override that set `path` or one of its parents, if any."""
    for end in range(len(path), 0, -1):
        loc = origins.get(path[:end])
        if loc is not None:
            return loc
    return None


def township_locator(file: Path, rows: list[int], cell_origins: dict[tuple[str, str | None], Location],
                     frame: pd.DataFrame) -> Any:
    """Locate(position, column) for the township table, honouring `townships.<column>[.<id>]` overrides."""
    ids = frame["township_id"].astype(str).tolist() if cell_origins and "township_id" in frame.columns else []

    def locate(pos: int | None, column: str) -> Location:
        tid = ids[pos] if pos is not None and pos < len(ids) else None
        return _table_cell(file, rows, cell_origins, pos, column, tid)

    return locate


def _table_cell(file: Path, rows: list[int], cell_origins: dict[tuple[str, str | None], Location],
                pos: int | None, column: str, tid: str | None) -> Location:
    if cell_origins:
        loc = cell_origins.get((column, tid)) or cell_origins.get((column, None))
        if loc is not None:
            return loc
    if pos is None:
        return Location(file, table_column=column)
    return Location(file, row=rows[pos] if pos < len(rows) else pos + 1, table_column=column)


def _quote_hint(written: str | None, got: Any) -> str:
    """Township codes and names written as YAML numbers: say how to write them as text."""
    text = written if written is not None else str(got)
    hint = _('write it in quotes: "{text}"').format(text=text)
    if written is not None and written.startswith("0") and written.isdigit():
        hint += " " + _("(unquoted, YAML reads {text} as the number {value} and the leading zero is lost)").format(
            text=written, value=got)
    return hint


def _schema_problems(path: Path, doc: YamlDocument, data: dict[str, Any], exc: ValidationError) -> list[Problem]:
    problems = []
    positions = doc.positions
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in {"TableRef", "str"}))
        # Pydantic reports union members separately; skip the duplicate 'str' branch.
        if err["type"] == "string_type" and any(p == "TableRef" for p in err["loc"]):
            continue
        is_key = bool(loc) and loc[-1] == "[key]"
        if is_key:
            loc = loc[:-1]
        dotted = ".".join(str(p) for p in loc)
        suggestion = None
        got = err.get("input")
        if err["type"] == "extra_forbidden":
            parent = _get(data, loc[:-1])
            model_fields = allowed_keys(loc[:-1])
            suggestion = did_you_mean(str(loc[-1]), model_fields) if model_fields else None
            message = _("unknown key '{key}'").format(key=loc[-1])
            if parent is None:
                message += " " + _("here")
        elif err["type"] == "missing":
            message = _("required key '{key}' is missing").format(key=loc[-1])
            loc = loc[:-1]
        elif err["type"] == "string_type" and isinstance(got, (int, float, bool)):
            written = doc.written.get(tuple(loc) + (("[key]",) if is_key else ()))
            if is_key:
                message = _("the key {value} is a number; names and codes are text").format(value=written or got)
            else:
                message = _("a text is needed here, but {value} is a YAML {kind}").format(
                    value=written or got, kind=_("true/false value") if isinstance(got, bool) else _("number"))
            suggestion = _quote_hint(written, got)
        elif err["type"] == "finite_number":
            message = _("{value} is not a finite number").format(value=doc.written.get(tuple(loc), got))
            suggestion = _("write an ordinary number; YAML reads .inf, .nan and numbers beyond 1.8e308 as infinite")
        else:
            message = _pydantic_message(err)
            if got is not None and not isinstance(got, (dict, list)):
                message += _(" (got {value})").format(value=repr(got))
            name = next((str(p) for p in reversed(loc) if isinstance(p, str) and p in RANGES), None)
            if name is not None and err["type"] in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
                suggestion = _("accepted: {range}").format(range=RANGES[name].text())
        problems.append(Problem(yaml_location(path, positions, loc), message, suggestion, path=dotted or None))
    return problems


#: Pydantic's messages, by error type, in the catalogue (its English, with the limits as placeholders).
_PYDANTIC = {
    "float_parsing": N_("Input should be a valid number, unable to parse string as a number"),
    "float_type": N_("Input should be a valid number"),
    "int_parsing": N_("Input should be a valid integer, unable to parse string as an integer"),
    "int_type": N_("Input should be a valid integer"),
    "int_from_float": N_("Input should be a valid integer, got a number with a fractional part"),
    "bool_parsing": N_("Input should be a valid boolean, unable to interpret input"),
    "bool_type": N_("Input should be a valid boolean"),
    "greater_than_equal": N_("Input should be greater than or equal to {ge}"),
    "greater_than": N_("Input should be greater than {gt}"),
    "less_than_equal": N_("Input should be less than or equal to {le}"),
    "less_than": N_("Input should be less than {lt}"),
    "dict_type": N_("Input should be a valid dictionary"),
    "list_type": N_("Input should be a valid list"),
    "literal_error": N_("Input should be {expected}"),
    "string_type": N_("Input should be a valid string"),
}


def _pydantic_message(err: dict[str, Any]) -> str:
    """Pydantic's message for a validation error, in Chinese when that is the language (its own English otherwise)."""
    message = str(err["msg"]).replace("Value error, ", "")
    template = _PYDANTIC.get(str(err.get("type")))
    if template is None or language() == "en":
        return message
    try:
        return _(template).format(**{k: v for k, v in (err.get("ctx") or {}).items()})
    except (KeyError, IndexError, ValueError):
        return message


def _get(data: Any, path: PathKey) -> Any:
    for key in path:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _table_ref(ref: TableRef | str) -> TableRef:
    return TableRef(path=ref) if isinstance(ref, str) else ref


def _raw_ref(value: Any) -> TableRef | None:
    """The table a YAML names even when the YAML breaks the schema (best effort)."""
    if isinstance(value, str) and value.strip():
        return TableRef(path=value)
    if isinstance(value, dict) and isinstance(value.get("path"), str):
        layer = value.get("layer")
        return TableRef(path=value["path"], layer=layer if isinstance(layer, str) else None)
    return None


def load_instance(
    path: str | Path, scenarios: list[str] | tuple[str, ...] = (), sets: list[str] | tuple[str, ...] = ()
) -> LoadedInstance:
    """Read and schema-check an instance, with scenarios and `--set` overrides applied.

    Cross-checks live in `validate.py`. Raises InputError with every problem found, in
    the YAML and in the tables alike.
    """
    path = Path(path)
    doc = load_yaml(path, strict=False)
    if not isinstance(doc.data, dict):
        raise InputError([*doc.problems, Problem(Location(path, 1, 1),
                                                 _("an instance must be a YAML mapping (key: value)"))])
    data: dict[str, Any] = doc.data
    positions = doc.positions
    problems: list[Problem] = list(doc.problems)
    overrides, scen_problems = scenario_overrides(data, list(scenarios), positions, path) if scenarios else ([], [])
    problems.extend(scen_problems)
    for number, expr in enumerate(sets, start=1):
        parsed = parse_set(expr, set_origin(number, expr))
        if isinstance(parsed, Problem):
            problems.append(parsed)
        else:
            overrides.append(parsed)
    applied = []
    origins: dict[tuple[str, ...], Location] = {}
    # `townships.<column>[.<id>]` changes the township table, after it is read.
    table_overrides = [ov for ov in overrides if len(ov.path) >= 2 and ov.path[0] == "townships"
                       and ov.path[1] not in ("path", "layer")]
    # `site_coefficients.<column>[.<industry>[.<id>]]` changes the site table, after it is read.
    site_overrides = [ov for ov in overrides if len(ov.path) >= 2 and ov.path[0] == "site_coefficients"
                      and ov.path[1] not in ("path", "layer")]
    overrides = [ov for ov in overrides if ov not in table_overrides and ov not in site_overrides]
    for ov in overrides:
        keys = tuple(str(p) for p in ov.path)
        created = next((keys[:end] for end in range(1, len(keys)) if _get(data, ov.path[:end]) is None), None)
        done, problem = apply_one(data, ov)
        if problem is not None:
            problems.append(problem)
        else:
            applied.append(done)
            origins[keys] = ov.origin
            if created is not None:  # what the new industry (market, …) still lacks is this --set's problem too
                origins.setdefault(created, ov.origin)
    spec: Instance | None = None
    try:
        spec = Instance.model_validate(data)
    except ValidationError as exc:
        found = _schema_problems(path, doc, data, exc)
        # A value that came from an override is reported where the override was written.
        for i, p in enumerate(found):
            where = origin(origins, tuple(p.path.split("."))) if p.path else None
            if where is not None:
                found[i] = Problem(where, p.message, p.suggestion, path=p.path)
        problems.extend(found)

    base = path.parent
    input_files = [path]
    tref = _table_ref(spec.townships) if spec is not None else _raw_ref(data.get("townships"))
    tpath = (base / tref.path).resolve() if tref is not None else path
    townships = pd.DataFrame()
    table: Table | None = None
    geometry = crs = None
    cell_origins: dict[tuple[str, str | None], Location] = {}
    read_problems: list[Problem] = []
    unreadable = False
    if tref is not None and not tpath.exists():
        unreadable = True
        problems.append(Problem(
            yaml_location(path, positions, ("townships",)),
            _("township table '{name}' not found (looked in {folder})").format(name=tref.path, folder=base),
            did_you_mean(tref.path, [p.name for p in base.iterdir()]) if base.is_dir() else None,
            path="townships",
        ))
    elif tref is not None:
        try:
            table = read_table(tpath, tref.layer)
            townships, geometry, crs = table.frame, table.geometry, table.crs
            read_problems.extend(table.problems)
            if geometry is not None and "township_id" in townships.columns:
                # Geometry joins results by id at the end; duplicates are reported by validation.
                geometry = geometry.set_axis(townships["township_id"].astype(str).str.strip().to_numpy())
            input_files.append(tpath)
        except InputError as exc:
            unreadable = True
            problems.extend(exc.problems)
        if table_overrides and not townships.empty:
            for ov in table_overrides:
                done, problem = apply_to_table(townships, ov)
                if problem is not None:
                    problems.append(problem)
                else:
                    applied.append(done)
                    cell_origins[(str(ov.path[1]), str(ov.path[2]) if len(ov.path) == 3 else None)] = ov.origin

    site = None
    site_table: Table | None = None
    spath = None
    sref_value = spec.site_coefficients if spec is not None else data.get("site_coefficients")
    sref = (_table_ref(sref_value) if spec is not None and sref_value is not None else _raw_ref(sref_value))
    if sref is not None:
        spath = (base / sref.path).resolve()
        if not spath.exists():
            unreadable = True
            problems.append(Problem(
                yaml_location(path, positions, ("site_coefficients",)),
                _("site-coefficient table '{name}' not found (looked in {folder})").format(name=sref.path, folder=base),
                did_you_mean(sref.path, [p.name for p in base.iterdir()]) if base.is_dir() else None,
                path="site_coefficients",
            ))
        else:
            try:
                site_table = read_table(spath, sref.layer, geometry=False)
                site = site_table.frame
                read_problems.extend(site_table.problems)
                input_files.append(spath)
            except InputError as exc:
                unreadable = True
                problems.extend(exc.problems)
    if site_overrides:
        for ov in site_overrides:
            if site is None:
                if sref is None:  # (an unreadable table is reported above)
                    problems.append(Problem(ov.origin, _("{source}: '{path}': the instance has no site-coefficient table")
                                            .format(source=ov.source, path=ov.dotted), path=ov.dotted))
                continue
            done, problem = apply_to_site(site, ov)
            if problem is not None:
                problems.append(problem)
            else:
                applied.append(done)
    village_tables = None
    if spec is not None:
        from optimizer.instance.villages import input_files as village_files
        from optimizer.instance.villages import read_village_tables

        village_tables = read_village_tables(spec, base, lambda *keys: yaml_location(path, positions, keys), problems)
        input_files += village_files(village_tables)
    if problems:
        # Nothing will be validated: check the tables' cells here, so that every problem
        # of every file is reported in this one run.
        problems.extend(read_problems)
        tf = table.rows if table is not None else []
        typed = pd.DataFrame()
        if table is not None and not townships.empty:
            typed = typed_townships(townships, tpath, tf, township_locator(tpath, tf, cell_origins, townships), problems)
        facts = IndustryFacts.from_spec(spec) if spec is not None else IndustryFacts.from_raw(data)
        if not typed.empty and facts.names:
            check_baselines(typed, facts.names, township_locator(tpath, tf, cell_origins, townships), problems)
        if site_table is not None and spath is not None:
            sr = site_table.rows
            known = set(typed.index) if not typed.empty else None
            check_site(site, spath, sr, lambda i, c: _table_cell(spath, sr, {}, i, c, None), facts, known, problems)
        log.debug("%s: %d problems (tables unreadable: %s)", path.name, len(problems), unreadable)
        raise InputError(_dedupe(problems))
    assert spec is not None
    log.debug("read %s: %d townships", path, len(townships))
    return LoadedInstance(
        path=path,
        spec=spec,
        raw=data,
        positions=positions,
        townships=townships,
        townships_file=tpath,
        geometry=geometry,
        crs=crs,
        site=site,
        site_file=spath,
        input_files=input_files,
        applied_overrides=applied,
        scenarios=list(scenarios),
        township_rows=table.rows if table is not None else [],
        site_rows=site_table.rows if site_table is not None else [],
        read_problems=read_problems,
        bad_geometry=table.bad_geometry if table is not None else set(),
        origins=origins,
        cell_origins=cell_origins,
        village_tables=village_tables,
    )


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[str] = set()
    out = []
    for p in problems:
        key = str(p)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out
