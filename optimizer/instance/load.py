"""Reading an instance: YAML with line numbers, township tables through pyogrio.

The loader keeps the position of every YAML node so that a schema error on
`industries.apple.yield_per_ha` can be reported as `fuchuan.yaml:42:5`, which is what
Calliope and most YAML-driven tools lose by validating the resolved dict.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import ValidationError

from optimizer.errors import InputError, Location, Problem, did_you_mean
from optimizer.instance.schema import Instance, TableRef

log = logging.getLogger(__name__)

PathKey = tuple[str | int, ...]


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

    def locate(self, *path: str | int) -> Location:
        """Best YAML location for a dotted path (the deepest node that exists)."""
        return yaml_location(self.path, self.positions, tuple(path))


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


def _schema_problems(
    path: Path, data: dict[str, Any], positions: dict[PathKey, tuple[int, int]], exc: ValidationError
) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in {"TableRef", "str"}))
        # Pydantic reports union members separately; skip the duplicate 'str' branch.
        if err["type"] == "string_type" and any(p == "TableRef" for p in err["loc"]):
            continue
        dotted = ".".join(str(p) for p in loc)
        suggestion = None
        if err["type"] == "extra_forbidden":
            parent = _get(data, loc[:-1])
            model_fields = _allowed_keys(loc[:-1])
            suggestion = did_you_mean(str(loc[-1]), model_fields) if model_fields else None
            message = f"unknown key '{loc[-1]}'"
            if parent is None:
                message += " here"
        elif err["type"] == "missing":
            message = f"required key '{loc[-1]}' is missing"
            loc = loc[:-1]
        else:
            got = err.get("input")
            message = err["msg"].replace("Value error, ", "")
            if got is not None and not isinstance(got, (dict, list)):
                message += f" (got {got!r})"
        problems.append(
            Problem(yaml_location(path, positions, loc), message, suggestion, path=dotted or None)
        )
    return problems


def _get(data: Any, path: PathKey) -> Any:
    for key in path:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _allowed_keys(parent: PathKey) -> list[str]:
    """Field names of the schema model at a YAML path, for 'did you mean' on unknown keys."""
    import types
    import typing

    from pydantic import BaseModel

    def unwrap(annotation: Any) -> Any:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            models = [a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
            return models[0] if models else None
        return annotation

    current: Any = Instance
    for key in parent:
        current = unwrap(current)
        origin = typing.get_origin(current)
        if origin is dict:
            current = typing.get_args(current)[1]
        elif origin is list:
            current = typing.get_args(current)[0]
        elif isinstance(current, type) and issubclass(current, BaseModel) and key in current.model_fields:
            current = current.model_fields[key].annotation
        else:
            return []
    current = unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _table_ref(ref: TableRef | str) -> TableRef:
    return TableRef(path=ref) if isinstance(ref, str) else ref


def read_table(path: Path, layer: str | None = None) -> tuple[pd.DataFrame, Any | None, str | None]:
    """Read a township or site table; returns (attributes, geometry or None, CRS string)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except UnicodeDecodeError:  # Excel on a Chinese Windows saves CSV as GBK
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="gbk")
        df.columns = [str(c).strip() for c in df.columns]
        return df, None, None
    if suffix in {".gpkg", ".geojson", ".json", ".shp", ".fgb"}:
        import geopandas as gpd
        import pyogrio

        layers = [str(row[0]) for row in pyogrio.list_layers(path)]
        if layer is None and len(layers) > 1:
            raise InputError([Problem(Location(path), f"the file has {len(layers)} layers ({', '.join(layers)})",
                                      "say which one with townships: {path: ..., layer: NAME}")])
        if layer is not None and layer not in layers:
            raise InputError([Problem(Location(path), f"no layer '{layer}' in the file (it has: {', '.join(layers)})",
                                      did_you_mean(layer, layers))])
        gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
        if not isinstance(gdf, gpd.GeoDataFrame):  # a table without geometry
            df = pd.DataFrame(gdf).astype(object)
            df = df.where(df.notna(), "").astype(str)
            df.columns = [str(c).strip() for c in df.columns]
            return df, None, None
        crs = gdf.crs.to_string() if gdf.crs is not None else None
        geometry = gdf.geometry if "geometry" in gdf else None
        attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name, errors="ignore"))
        attrs = attrs.astype(object).where(attrs.notna(), "").astype(str)
        attrs.columns = [str(c).strip() for c in attrs.columns]
        return attrs, geometry, crs
    raise InputError(
        [
            Problem(
                Location(path),
                f"unsupported table format '{suffix}'",
                "use .gpkg, .geojson or .csv",
            )
        ]
    )


def load_instance(
    path: str | Path, scenarios: list[str] | tuple[str, ...] = (), sets: list[str] | tuple[str, ...] = ()
) -> LoadedInstance:
    """Read and schema-check an instance, with scenarios and `--set` overrides applied.

    Cross-checks live in `validate.py`. Raises InputError with every problem at once.
    """
    from optimizer.instance.overrides import apply_one, parse_set, scenario_overrides

    path = Path(path)
    data, positions = read_yaml(path)
    problems: list[Problem] = []
    overrides, scen_problems = scenario_overrides(data, list(scenarios), positions, path) if scenarios else ([], [])
    problems.extend(scen_problems)
    cli = Location(Path("command line"))
    for expr in sets:
        parsed = parse_set(expr, cli)
        if isinstance(parsed, Problem):
            problems.append(parsed)
        else:
            overrides.append(parsed)
    applied = []
    origin_of: dict[PathKey, Location] = {}
    # `townships.<column>[.<id>]` changes the township table, after it is read.
    table_overrides = [ov for ov in overrides if len(ov.path) >= 2 and ov.path[0] == "townships"
                       and ov.path[1] not in ("path", "layer")]
    overrides = [ov for ov in overrides if ov not in table_overrides]
    for ov in overrides:
        done, problem = apply_one(data, ov)
        if problem is not None:
            problems.append(problem)
        else:
            applied.append(done)
            origin_of[ov.path] = ov.origin
    if problems:
        raise InputError(problems)
    try:
        spec = Instance.model_validate(data)
    except ValidationError as exc:
        found = _schema_problems(path, data, positions, exc)
        # A value that came from an override is reported where the override was written.
        for i, p in enumerate(found):
            for opath, loc in origin_of.items():
                dotted = ".".join(str(x) for x in opath)
                if p.path and (p.path == dotted or p.path.startswith(dotted + ".")):
                    found[i] = Problem(loc, p.message, p.suggestion, path=p.path)
        raise InputError(found) from None

    base = path.parent
    input_files = [path]

    tref = _table_ref(spec.townships)
    tpath = (base / tref.path).resolve()
    townships = pd.DataFrame()
    geometry = crs = None
    if not tpath.exists():
        problems.append(
            Problem(
                yaml_location(path, positions, ("townships",)),
                f"township table '{tref.path}' not found (looked in {base})",
                did_you_mean(tref.path, [p.name for p in base.iterdir()]) if base.exists() else None,
                path="townships",
            )
        )
    else:
        try:
            townships, geometry, crs = read_table(tpath, tref.layer)
            if geometry is not None and "township_id" in townships.columns:
                # Geometry joins results by id at the end; duplicates are reported by validation.
                geometry = geometry.set_axis(townships["township_id"].astype(str).str.strip().to_numpy())
            input_files.append(tpath)
        except InputError as exc:
            problems.extend(exc.problems)
        except Exception as exc:  # pyogrio/GDAL errors: say which file, not a traceback
            problems.append(Problem(Location(tpath), f"could not read the table: {exc}"))
        if table_overrides and not townships.empty:
            from optimizer.instance.overrides import apply_to_table

            for ov in table_overrides:
                done, problem = apply_to_table(townships, ov)
                if problem is not None:
                    problems.append(problem)
                else:
                    applied.append(done)

    site = None
    spath = None
    if spec.site_coefficients is not None:
        sref = _table_ref(spec.site_coefficients)
        spath = (base / sref.path).resolve()
        if not spath.exists():
            problems.append(
                Problem(
                    yaml_location(path, positions, ("site_coefficients",)),
                    f"site-coefficient table '{sref.path}' not found",
                    path="site_coefficients",
                )
            )
        else:
            try:
                site, _, _ = read_table(spath, sref.layer)
                input_files.append(spath)
            except Exception as exc:
                problems.append(Problem(Location(spath), f"could not read the table: {exc}"))
    if problems:
        raise InputError(problems)
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
    )
