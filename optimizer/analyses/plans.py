"""A planner's plan as input: a CSV (township_id, industry) or a run folder, read and located.

Shared by `evaluate`, `gep --plan` and the analyses that score a given plan. A plan file
is input like an instance: unknown, missing or duplicated townships and unknown
industries are reported all at once, each with file, row, column and a did-you-mean.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd

from optimizer.errors import InputError, Location, Problem, did_you_mean
from optimizer.i18n import _, ngettext
from optimizer.instance.validate import ValidInstance

log = logging.getLogger(__name__)

_MAX_LISTED = 20  # missing townships named one by one; the rest counted

_EXCEL_NUMBER = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")



def plan_file(path: Path) -> Path:
    """A plan given as a run folder means its allocation.csv; a file is itself."""
    path = Path(path)
    if path.is_dir():
        csv = path / "allocation.csv"
        if not csv.exists():
            raise InputError(
                [Problem(Location(path), "this folder has no allocation.csv", "give a run folder of `optimizer solve` or a CSV with township_id,industry")]
            )
        return csv
    return path


def read_plan(path: Path | str, valid: ValidInstance) -> pd.Series:
    """Read a plan CSV (`township_id`, `industry`; other columns ignored) as industry per township.

    Every problem is collected and raised at once as an InputError: a missing column,
    an unknown township (did-you-mean on ids, or the id of a township named by its
    name), a township listed twice (with the row of its first listing), an unknown or
    empty industry (did-you-mean on ids and labels), and townships with no row at all.
    Rows are numbered as data rows, header excluded, like the validator's table errors;
    blank lines keep their numbers so the row matches what a spreadsheet shows (+1).
    A file saved by Excel in GBK (the default on Chinese Windows) is accepted.

    Industries that exist but may not be chosen (a non-candidate baseline land use, a
    pair outside the gates) are not file errors: they are the plan's choices, and the
    checker reports them as violations.
    """
    path = Path(path)
    df = _read_csv(path)
    df.columns = [str(c).strip() for c in df.columns]
    problems: list[Problem] = []
    # A village instance's plan names one product per village (village_id, industry).
    key = valid.unit_key
    word = "village" if valid.villages is not None else "township"
    for col in (key, "industry"):
        if col not in df.columns:
            problems.append(
                Problem(
                    Location(path, table_column=col),
                    _("required column '{col}' is missing (a plan needs {key} and industry)").format(col=col, key=key),
                    did_you_mean(col, df.columns),
                )
            )
    if problems:
        raise InputError(problems)
    if key != "township_id":
        df = df.rename(columns={"township_id": "_township_of_village", key: "township_id"})

    t = valid.units
    ids = set(t.index)
    by_name: dict[str, list[str]] = {}
    for tid, name in zip(t.index, t["name"]):
        by_name.setdefault(str(name), []).append(tid)
    industries = valid.spec.industries
    by_label = {}
    for iid, ind in industries.items():
        by_label[ind.label] = iid
        if ind.label_zh:
            by_label[ind.label_zh] = iid

    # Townships listed somewhere: an unknown id is most likely a misspelling of one that is not.
    listed_ids = {_known_id(str(v).strip(), ids) for v in df["township_id"]}
    unlisted = ids - listed_ids
    chosen: dict[str, str] = {}
    first_row: dict[str, int] = {}
    for pos, (raw_tid, raw_ind) in enumerate(zip(df["township_id"], df["industry"])):
        row = pos + 1
        tid, iid = str(raw_tid).strip(), str(raw_ind).strip()
        if not tid and not iid and not any(str(v).strip() for v in df.iloc[pos]):
            continue  # a blank line
        cell = Location(path, row=row, table_column=key)
        if not tid:
            problems.append(Problem(cell, _("{col} is empty").format(col=key)))
            continue
        if _known_id(tid, ids) != tid:
            log.info("%s row %d: township id %s read as %s (a spreadsheet wrote it as a number)", path, row, tid, tid[:-2])
            tid = tid[:-2]
        if tid not in ids:
            problems.append(Problem(cell, (_("unknown village '{tid}'") if word == "village" else _("unknown township '{tid}'")).format(
                tid=tid), _township_hint(tid, ids, unlisted, by_name)))
        elif tid in first_row:
            problems.append(
                Problem(cell, (_("village '{tid}' ({name}) is listed twice (first at row {row})") if word == "village"
                               else _("township '{tid}' ({name}) is listed twice (first at row {row})")).format(
                    tid=tid, name=t.at[tid, "name"], row=first_row[tid]))
            )
        else:
            first_row[tid] = row
        icell = Location(path, row=row, table_column="industry")
        if not iid:
            problems.append(Problem(icell, (_("industry is empty for village '{tid}'") if word == "village"
                                            else _("industry is empty for township '{tid}'")).format(tid=tid),
                                    _("industries: {names}").format(names=", ".join(industries))))
        elif iid not in industries:
            hint = (
                _("'{label}' is the label of industry '{ind}'; use its id").format(label=iid, ind=by_label[iid])
                if iid in by_label
                else did_you_mean(iid, industries) or _("industries: {names}").format(names=", ".join(industries))
            )
            problems.append(Problem(icell, _("unknown industry '{ind}'").format(ind=iid), hint))
        elif tid in ids and first_row.get(tid) == row:
            chosen[tid] = iid

    listed = set(first_row)
    missing = [tid for tid in t.index if tid not in listed]
    if missing:
        named = ", ".join(f"{tid} ({t.at[tid, 'name']})" for tid in missing[:_MAX_LISTED])
        more = _(" and {n} more").format(n=len(missing) - _MAX_LISTED) if len(missing) > _MAX_LISTED else ""
        n = len(missing)
        problems.append(
            Problem(
                Location(path, table_column=key),
                (ngettext("{n} village has no row: {names}{more}", "{n} villages have no row: {names}{more}", n)
                 if word == "village" else
                 ngettext("{n} township has no row: {names}{more}", "{n} townships have no row: {names}{more}", n)).format(
                    n=n, names=named, more=more),
                _("every village of the instance needs exactly one row") if word == "village"
                else _("every township of the instance needs exactly one row"),
            )
        )
    if problems:
        raise InputError(problems)
    plan = pd.Series([chosen[tid] for tid in t.index], index=t.index, name="industry")
    log.info("read plan %s: %d %ss", path, len(plan), word)
    return plan


def _read_csv(path: Path) -> pd.DataFrame:
    """The plan table as text, blank lines kept as empty rows so row numbers stay true."""
    if not path.exists():
        raise InputError([Problem(Location(path), "file not found")])
    if path.suffix.lower() in (".xlsx", ".xls", ".ods"):
        raise InputError(
            [Problem(Location(path), "a plan must be a CSV file", "in Excel: File ▸ Save As ▸ CSV UTF-8")]
        )
    last: Exception | None = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding, skip_blank_lines=False)
        except UnicodeDecodeError as exc:
            last = exc
        except pd.errors.EmptyDataError:
            raise InputError([Problem(Location(path), _("the file is empty"), _("write a header: township_id,industry"))]) from None
        except pd.errors.ParserError as exc:
            raise InputError([Problem(Location(path), _("not a readable CSV table: {reason}").format(reason=exc))]) from None
    raise InputError([Problem(Location(path), _("not UTF-8 or GBK text ({reason})").format(reason=last),
                              _("save the file as CSV UTF-8"))])


def _known_id(tid: str, ids: set[str]) -> str:
    """`451123100.0` (a spreadsheet's number) is township 451123100."""
    if tid not in ids and tid.endswith(".0") and tid[:-2] in ids:
        return tid[:-2]
    return tid


def _township_hint(tid: str, ids: set[str], unlisted: set[str], by_name: dict[str, list[str]]) -> str | None:
    if tid in by_name:
        owners = by_name[tid]
        return f"'{tid}' is the name of township {', '.join(owners)}; use its id"
    if _EXCEL_NUMBER.match(tid):
        return "a spreadsheet turned the id into a number; format the column as text and retype the ids"
    hint = did_you_mean(tid, sorted(unlisted)) or did_you_mean(tid, sorted(ids))
    if hint:
        return hint
    close = did_you_mean(tid, by_name)
    if close:
        name = close.split("'")[1]
        return f"did you mean {', '.join(by_name[name])} ({name})?"
    return None


def write_plan_folder(valid: ValidInstance, plan: pd.Series, folder: Path, extra: dict | None = None,
                      command: str = "plan") -> tuple[dict, object]:
    """Write a plan that the pipeline did not solve (a robust plan, an alternative) as a run folder.

    The folder has what `optimizer solve` writes for a plan — allocation.csv,
    county_totals.csv, allocation.gpkg, instance.resolved.yaml, summary.json and
    manifest.json (written last) — plus check.json, the independent checker's verdict on
    the plan against the instance (scenarios and --set applied). So `optimizer compare`,
    `optimizer check` and QGIS take it like any run. `extra` goes into summary.json.
    Returns (summary, checker report). The folder must not exist yet; it is written in
    place (callers write into their own `.partial` folder or a resumable batch folder).
    """
    from optimizer.check import check_run
    from optimizer.outputs import tables
    from optimizer.outputs.gpkg import write_plan_geopackage
    from optimizer.outputs.workbook import write_run_workbook
    from optimizer.outputs.write import sha256, versions, write_csv, write_json
    from optimizer.run import write_resolved_instance

    loaded = valid.loaded
    folder.mkdir(parents=True, exist_ok=False)
    alloc = tables.allocation_table(valid, plan)
    towns, counties = tables.plan_tables(valid, alloc)  # as solve writes them (a village plan: its townships too)
    tot = tables.totals(valid, alloc, towns)
    summary = {
        "instance": valid.spec.name,
        "run_id": folder.name,
        "command": command,
        "status": "given",  # not solved by the pipeline: see the extra fields for how it was made
        "objective_yuan": tables.objective_value(valid, tot),
        "bound_yuan": None,
        "gap": None,
        "double_count": valid.spec.objective.double_count,
        "weights": {"gep": valid.spec.objective.gep_weight, "income": valid.spec.objective.income_weight},
        "scenarios": list(loaded.scenarios),
        "overrides_applied": [a.to_dict() for a in loaded.applied_overrides],
        "totals": tot,
        "market_revenue_loss_yuan": tables.market_losses(valid, alloc),
        "per_county": counties.to_dict(orient="records"),
        **(extra or {}),
    }
    write_csv(folder / "allocation.csv", alloc)
    write_csv(folder / "county_totals.csv", counties)
    write_resolved_instance(folder / "instance.resolved.yaml", loaded)
    if towns is not None:
        write_csv(folder / "township_allocation.csv", towns)
    write_plan_geopackage(folder / "allocation.gpkg", valid, alloc, tables.summary_table(summary), counties, towns)
    write_run_workbook(folder / "allocation.xlsx", alloc, counties, summary, None)
    write_json(folder / "summary.json", summary)
    report = check_run(folder / "instance.resolved.yaml", folder)
    write_json(folder / "check.json", report.to_dict())
    summary["check_ok"] = report.ok
    write_json(folder / "summary.json", summary)
    write_json(folder / "manifest.json", {
        "tool": "karst-layout-optimizer", "command": command, "versions": versions(),
        "instance_file": str(loaded.path.resolve()), "inputs": {str(p): sha256(p) for p in loaded.input_files},
        "scenarios": list(loaded.scenarios), "overrides_diff": [str(a) for a in loaded.applied_overrides],
        "check_ok": report.ok, "outputs": {p.name: sha256(p) for p in sorted(folder.iterdir())},
    })
    return summary, report
