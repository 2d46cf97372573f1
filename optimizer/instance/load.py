"""Reading an instance: YAML with positions, its tables, scenarios and `--set` applied.

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
from pydantic import ValidationError

from optimizer.errors import InputError, Location, Problem, did_you_mean
from optimizer.instance.overrides import apply_one, apply_to_table, parse_set, scenario_overrides
from optimizer.instance.schema import Instance, TableRef, allowed_keys
from optimizer.instance.tables import read_table
from optimizer.instance.yamlfile import PathKey, read_yaml, yaml_location

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

    def locate(self, *path: str | int) -> Location:
        """Best YAML location for a dotted path (the deepest node that exists)."""
        return yaml_location(self.path, self.positions, tuple(path))


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
            model_fields = allowed_keys(loc[:-1])
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


def _table_ref(ref: TableRef | str) -> TableRef:
    return TableRef(path=ref) if isinstance(ref, str) else ref


def load_instance(
    path: str | Path, scenarios: list[str] | tuple[str, ...] = (), sets: list[str] | tuple[str, ...] = ()
) -> LoadedInstance:
    """Read and schema-check an instance, with scenarios and `--set` overrides applied.

    Cross-checks live in `validate.py`. Raises InputError with every problem at once.
    """
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
