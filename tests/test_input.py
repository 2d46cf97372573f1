"""What planners really send: every bad input refused in words, located; odd but valid input read.

Each test plants one kind of fault the fuzz harness (tests/test_fuzz.py) found or could
find, and pins the located, plain-words refusal — or, for input that is odd but valid
(GBK, semicolons, .xlsx), that it reads to the same instance.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import struct
import time
from pathlib import Path

import pandas as pd
import pytest

from optimizer.errors import InputError
from optimizer.instance.load import load_instance
from optimizer.run import load_and_validate
from tests.conftest import ROOT, TINY

FUCHUAN_DIR = ROOT / "instances" / "fuchuan"


def _tiny(tmp_path: Path) -> Path:
    for f in TINY.parent.iterdir():
        if not f.is_file():
            continue
        shutil.copy(f, tmp_path / f.name)
    return tmp_path / TINY.name


def _fuchuan(tmp_path: Path) -> Path:
    for f in FUCHUAN_DIR.iterdir():
        if not f.is_file():
            continue
        shutil.copy(f, tmp_path / f.name)
    return tmp_path / "fuchuan.yaml"


def _problems(path: Path, **kw) -> list[str]:
    with pytest.raises(InputError) as exc:
        load_and_validate(path, **kw)
    return [str(p) for p in exc.value.problems]


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --------------------------------------------------------------------------- YAML


def test_duplicate_key_names_both_places(tmp_path):
    y = _tiny(tmp_path)
    _edit(y, "  min_conservation_share: 0.1\n",
          "  min_conservation_share: 0.1\n  locks:\n    - {township: T4, industry: pv, industry: fruit, forbid: true}\n")
    probs = _problems(y)
    line = _line_of(y, "industry: pv, industry: fruit")
    assert len(probs) == 1, probs
    assert f"tiny.yaml:{line}:" in probs[0]
    assert f"duplicate key 'industry' (first at line {line}, column" in probs[0]


def test_alias_bomb_refused_in_milliseconds(tmp_path):
    text = 'name: bomb\nl0: &l0 ["x","x","x","x","x","x","x","x","x","x"]\n'
    for i in range(1, 9):
        text += f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 10) + "]\n"  # 10⁹ leaves at l8
    y = tmp_path / "bomb.yaml"
    y.write_text(text, encoding="utf-8")
    t0 = time.perf_counter()
    with pytest.raises(InputError) as exc:
        load_instance(y)
    elapsed = time.perf_counter() - t0
    assert elapsed < 0.5, elapsed
    (p,) = exc.value.problems
    assert "aliases (*name) expand the file by more than 10,000 values" in str(p)
    assert p.location.line is not None


def test_legitimate_anchor_is_read(tmp_path):
    y = _tiny(tmp_path)
    _edit(y, "    suitability: {min_soil_depth_cm: 40}\n", "    suitability: &deep {min_soil_depth_cm: 40}\n")
    _edit(y, "    candidate: false\n", "    candidate: false\n    suitability: *deep\n")
    inst = load_instance(y)
    assert inst.spec.industries["maize"].suitability.min_soil_depth_cm == 40


def test_deep_nesting_is_refused_without_recursion_error(tmp_path):
    y = _tiny(tmp_path)
    y.write_text(y.read_text(encoding="utf-8") + "description: " + "[" * 600 + "]" * 600 + "\n", encoding="utf-8")
    (p,) = _problems(y)
    assert "nests deeper than 40 levels" in p and f"tiny.yaml:{_line_of(y, 'description:')}:" in p


def test_nul_byte_is_located(tmp_path):
    y = _tiny(tmp_path)
    _edit(y, "title: Tiny", "title: Ti\x00ny")
    (p,) = _problems(y)
    assert f"tiny.yaml:{_line_of(y, 'title:')}:10: a NUL byte (U+0000) is not allowed in YAML" in p


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_yaml_with_byte_order_mark_is_read(tmp_path, encoding):
    y = _tiny(tmp_path)
    y.write_bytes(y.read_text(encoding="utf-8").encode(encoding))
    assert load_instance(y).spec.name == "tiny"


def test_gbk_yaml_is_refused_naming_the_encoding(tmp_path):
    y = _tiny(tmp_path)
    _edit(y, "title: Tiny hand-checkable instance", "title: 富川")
    line = _line_of(y, "title:")
    y.write_bytes(y.read_text(encoding="utf-8").encode("gbk"))
    (p,) = _problems(y)
    assert f"tiny.yaml:{line}:8:" in p
    assert "looks like GBK/GB18030" in p and "save the file as UTF-8" in p


def test_township_code_as_number_gets_a_quote_hint(tmp_path):
    y = _tiny(tmp_path)
    _edit(y, "  min_conservation_share: 0.1\n", "  min_conservation_share: 0.1\n  locks:\n    - {township: 0012, industry: pv}\n")
    (p,) = _problems(y)
    assert "constraints.locks.0.township: a text is needed here, but 0012 is a YAML number" in p
    assert 'write it in quotes: "0012"' in p and "as the number 10" in p


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1.0e+400"])
def test_non_finite_yaml_numbers_are_refused(tmp_path, value):
    y = _tiny(tmp_path)
    _edit(y, "    water_m3_per_ha: 100\n", f"    water_m3_per_ha: {value}\n")
    (p,) = _problems(y)
    assert f"tiny.yaml:{_line_of(y, 'water_m3_per_ha: ' + value)}:" in p and "not a finite number" in p


def test_huge_finite_yaml_number_is_out_of_range(tmp_path):
    y = _tiny(tmp_path)
    _edit(y, "  grid_county_max_mw: {B: 60}", "  grid_county_max_mw: {B: 1.7e+308}")
    (p,) = _problems(y)
    assert "constraints.grid_county_max_mw.B" in p and "accepted: 0 to 1,000,000 MWp" in p


@pytest.mark.parametrize(("name", "words"), [
    ("..", "may not start with '.'"),
    (".hidden", "may not start with '.'"),
    ("a/b", "'/'"),
    ("x" * 300, "300 characters"),
    ("NUL", "reserved device name"),
])
def test_instance_name_is_a_safe_folder_name(tmp_path, name, words):
    y = _tiny(tmp_path)
    _edit(y, "name: tiny\n", f"name: '{name}'\n")
    (p,) = _problems(y)
    assert f"tiny.yaml:{_line_of(y, 'name: ')}:" in p and words in p


def test_yaml_table_and_site_problems_in_one_run(tmp_path):
    y = _tiny(tmp_path)
    _edit(y, "    yield_per_ha: 10\n", "    yeild_per_ha: 10\n")
    csv = tmp_path / "townships.csv"
    csv.write_text(csv.read_text(encoding="utf-8").replace("T2,Beta,A,X,100,50,", "T2,Beta,A,X,100,lots,"),
                   encoding="utf-8")
    (tmp_path / "site.csv").write_text("township_id,industry,pv_performance_ratio\nT4,pv,1.5\nT9,pv,0.8\n",
                                       encoding="utf-8")
    _edit(y, "townships: townships.csv\n", "townships: townships.csv\nsite_coefficients: site.csv\n")
    probs = "\n".join(_problems(y))
    assert "tiny.yaml" in probs and "unknown key 'yeild_per_ha'" in probs
    assert "townships.csv:row 2:column soil_depth_cm: 'lots' is not a number" in probs
    assert "site.csv:row 1:column pv_performance_ratio: pv_performance_ratio 1.5 is outside the accepted range" in probs
    assert "site.csv:row 2:column township_id: unknown township 'T9'" in probs


# --------------------------------------------------------------------------- --set


def test_set_misspelt_industry_suggests_and_plus_adds(tmp_path):
    y = _tiny(tmp_path)
    (p,) = _problems(y, sets=["industries.frut.price_yuan_per_unit=5"])
    assert p.startswith("command line --set #1 'industries.frut.price_yuan_per_unit=5': ")
    assert "no industry 'frut' (did you mean 'fruit'?)" in p
    assert "did you mean --set industries.fruit.price_yuan_per_unit=5?" in p
    (p,) = _problems(y, sets=["industries.frot.price=5"])  # both levels misspelt
    assert "no industry 'frot' (did you mean 'fruit'?)" in p
    assert "'price' is not a key of industries.fruit (did you mean 'price_yuan_per_unit'?)" in p
    assert "did you mean --set industries.fruit.price_yuan_per_unit=5?" in p
    (p,) = _problems(y, sets=["industries.citrus.label=Citrus"])
    assert "no industry 'citrus'" in p and "--set +industries.citrus.label=Citrus" in p
    # '+' adds an industry; what it still lacks is reported at that --set, not at a YAML line.
    probs = _problems(y, sets=["constraints.min_conservation_share=0.1", "+industries.citrus.yield_per_ha=5"])
    assert any(q.startswith("command line --set #2 '+industries.citrus.yield_per_ha=5'") and
               "required key 'label' is missing" in q for q in probs), probs


def test_set_value_problems_point_at_the_argument(tmp_path):
    y = _tiny(tmp_path)
    # A county-keyed limit for a county the table does not have: validation's did-you-mean, at the --set.
    (p,) = _problems(y, sets=["industries.pv.price_yuan_per_unit=300", "constraints.water.county_max_m3.AA=5"])
    assert p.startswith("command line --set #2 'constraints.water.county_max_m3.AA=5'")
    assert "county 'AA' is not in the township table" in p
    # A township-table cell set out of range: at the --set, not at the table's row.
    (p,) = _problems(y, sets=["townships.slope_deg.T2=95"])
    assert p.startswith("command line --set #1 'townships.slope_deg.T2=95'") and "slope_deg 95 is outside" in p


# --------------------------------------------------------------------------- tables


def _tiny_table(tmp_path: Path) -> pd.DataFrame:
    return pd.read_csv(tmp_path / "townships.csv", dtype=str, keep_default_na=False)


@pytest.mark.parametrize(("encoding", "sep"), [
    ("utf-8", ","), ("utf-8-sig", ","), ("gbk", ","), ("gb18030", ";"), ("utf-16", "\t"), ("utf-16-le", ","),
    ("utf-8", ";"), ("utf-8", "\t"),
])
def test_csv_encodings_and_separators_read_the_same(tmp_path, encoding, sep):
    y = _tiny(tmp_path)
    df = _tiny_table(tmp_path)
    df["name"] = ["阿尔法", "贝塔", "伽马", "德尔塔"]
    df.columns = [f"  {c} " for c in df.columns]  # padded headers
    (tmp_path / "townships.csv").write_bytes(df.to_csv(index=False, sep=sep).encode(encoding))
    valid = load_and_validate(y)
    assert valid.townships["name"].tolist() == ["阿尔法", "贝塔", "伽马", "德尔塔"]
    assert valid.townships["soil_depth_cm"].tolist() == [60, 50, 30, 70]


def test_broken_utf8_is_refused_at_its_line(tmp_path):
    y = _tiny(tmp_path)
    df = _tiny_table(tmp_path)
    df["name"] = ["阿尔法阿尔法", "贝塔贝塔", "伽马伽马", "德尔塔德尔塔"]
    raw = df.to_csv(index=False).encode("utf-8")
    cut = raw.index("伽".encode("utf-8"))
    (tmp_path / "townships.csv").write_bytes(raw[:cut] + b"\xff" + raw[cut + 1:])
    (p,) = _problems(y)
    assert "townships.csv:4: the file is UTF-8 text with" in p


def test_xlsx_township_and_site_tables(tmp_path):
    y = _tiny(tmp_path)
    df = _tiny_table(tmp_path)
    for col in ("plannable_area_ha", "soil_depth_cm", "water_available_m3"):
        df[col] = df[col].astype(float)  # stored as numbers in the workbook
    df.to_excel(tmp_path / "townships.xlsx", index=False)
    pd.DataFrame({"township_id": ["T4"], "industry": ["pv"], "pv_performance_ratio": [0.85]}).to_excel(
        tmp_path / "site.xlsx", index=False, sheet_name="site")
    _edit(y, "townships: townships.csv\n", "townships: townships.xlsx\nsite_coefficients: site.xlsx\n")
    valid = load_and_validate(y)
    assert valid.townships.index.tolist() == ["T1", "T2", "T3", "T4"]
    assert valid.pairs.loc[("T4", "pv"), "output_per_ha"] == pytest.approx(0.5 * 1300 * 0.85)


def test_named_pipe_and_folder_are_refused_without_hanging(tmp_path):
    y = _tiny(tmp_path)
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    _edit(y, "townships: townships.csv", "townships: pipe.csv")
    t0 = time.perf_counter()
    (p,) = _problems(y)
    assert time.perf_counter() - t0 < 5
    assert "pipe.csv" in p and "is a named pipe, not a file" in p
    (tmp_path / "folder.csv").mkdir()
    _edit(y, "townships: pipe.csv", "townships: folder.csv")
    (p,) = _problems(y)
    assert "is a folder, not a file" in p


def test_csv_cells_nul_ragged_rows_and_decimal_commas(tmp_path):
    y = _tiny(tmp_path)
    csv = tmp_path / "townships.csv"
    text = csv.read_text(encoding="utf-8")
    text = text.replace("T1,Alpha,", "T1,Al\x00pha,").replace(",50000,1200,maize\nT3", ",50000,1200,maize,extra\nT3")
    text = text.replace("T4,Delta,B,X,100,70,", 'T4,Delta,B,X,100,"7,5",')
    csv.write_text(text, encoding="utf-8")
    probs = "\n".join(_problems(y))
    assert "townships.csv:row 1:column name: the cell holds a NUL byte (U+0000)" in probs
    assert "townships.csv:row 2: the row has 12 cells but the header has 11 columns" in probs
    assert "townships.csv:row 4:column soil_depth_cm: '7,5' is not a number" in probs
    assert "use a point as the decimal separator: 7.5" in probs


@pytest.mark.parametrize("cell", ["", "inf", "NaN", "1e400", "Infinity"])
def test_blank_and_non_finite_table_cells(tmp_path, cell):
    y = _tiny(tmp_path)
    csv = tmp_path / "townships.csv"
    csv.write_text(csv.read_text(encoding="utf-8").replace("T3,Gamma,B,X,100,30,", f"T3,Gamma,B,X,100,{cell},"),
                   encoding="utf-8")
    (p,) = _problems(y)
    assert p.startswith(f"{csv}:row 3:column soil_depth_cm: ")


@pytest.mark.parametrize("ratio", ["0", "1.5", "50", "85", "-0.1"])
def test_site_performance_ratio_held_to_the_yaml_range(tmp_path, ratio):
    y = _tiny(tmp_path)
    (tmp_path / "site.csv").write_text(f"township_id,industry,pv_performance_ratio\nT4,pv,{ratio}\n", encoding="utf-8")
    _edit(y, "townships: townships.csv\n", "townships: townships.csv\nsite_coefficients: site.csv\n")
    (p,) = _problems(y)
    assert f"site.csv:row 1:column pv_performance_ratio: pv_performance_ratio {ratio} is outside the accepted range" in p
    assert "more than 0 and at most 1" in p


def test_site_values_the_model_would_ignore_are_refused(tmp_path):
    y = _tiny(tmp_path)
    (tmp_path / "site.csv").write_text(
        "township_id,industry,pv_performance_ratio,gep.recreation\nT1,fruit,0.8,\nT2,fruit,,3\n", encoding="utf-8")
    _edit(y, "townships: townships.csv\n", "townships: townships.csv\nsite_coefficients: site.csv\n")
    probs = "\n".join(_problems(y))
    assert "row 1:column pv_performance_ratio: industry 'fruit' is not PV" in probs
    assert "row 2:column gep.recreation: industry 'fruit' has no GEP service 'recreation'" in probs


def test_misspelt_county_in_the_table_is_refused_with_did_you_mean(tmp_path):
    y = _tiny(tmp_path)
    _edit(y, "county_max_m3: {A: 15000}", "county_max_m3: {Anshun: 15000}")
    _edit(y, "grid_county_max_mw: {B: 60}", "grid_county_max_mw: {Bijie: 60}")
    csv = tmp_path / "townships.csv"
    text = csv.read_text(encoding="utf-8").replace(",A,X,", ",Anshun,X,").replace(",B,X,", ",Bijie,X,")
    text = text.replace("T3,Gamma,Bijie,", "T3,Gamma,Anshun,")  # Anshun: 3 townships, one misspelt below
    csv.write_text(text.replace("T2,Beta,Anshun,", "T2,Beta,Anshum,"), encoding="utf-8")
    (p,) = _problems(y)
    assert "townships.csv:row 2:column county: county 'Anshum' (township T2) is named by no limit" in p
    assert "did you mean 'Anshun'?" in p
    # A real county without limits, as large as the named one it resembles, is not a slip.
    _edit(y, "grid_county_max_mw: {Bijie: 60}", "grid_county_max_mw: {Anshun: 60}")
    text = text.replace("T3,Gamma,Anshun,", "T3,Gamma,Anshum,").replace("T4,Delta,Bijie,", "T4,Delta,Anshum,")
    csv.write_text(text, encoding="utf-8")
    load_and_validate(y)


# --------------------------------------------------------------------------- GeoPackage


def _gpkg_update(path: Path, sql: str, *args) -> None:
    con = sqlite3.connect(path)
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='trigger' AND name LIKE 'rtree%'").fetchall():
        con.execute(f'DROP TRIGGER "{name}"')  # they call SpatiaLite functions plain sqlite3 lacks
    con.execute(sql, args)
    con.commit()
    con.close()


@pytest.mark.parametrize(("column", "value", "words"), [
    ("soil_depth_cm", "abc", "'abc' is not a number"),
    ("slope_deg", "12,5", "'12,5' is not a number"),
    ("rocky_desertification_grade", 2.5, "rocky_desertification_grade 2.5 is outside the accepted range"),
    ("water_available_m3", "", "the cell is blank; a number is required"),
    ("plannable_area_ha", None, "the cell is blank; a number is required"),
    ("irradiance_kwh_per_m2", float("inf"), "'inf' is not a finite number"),
])
def test_geopackage_text_in_number_columns_is_not_coerced(tmp_path, column, value, words):
    y = _fuchuan(tmp_path)
    _gpkg_update(tmp_path / "townships.gpkg", f"UPDATE townships SET {column} = ? WHERE fid = 3", value)
    probs = _problems(y)
    assert any(f"townships.gpkg:row 3:column {column}: " in p and words in p for p in probs), probs


@pytest.mark.parametrize("srs_id", [-1, 0])
def test_geopackage_undefined_srs_is_no_crs(tmp_path, srs_id):
    y = _fuchuan(tmp_path)
    _gpkg_update(tmp_path / "townships.gpkg", "UPDATE gpkg_geometry_columns SET srs_id = ?", srs_id)
    probs = _problems(y)
    assert any("no coordinate reference system (CRS), or an undefined one" in p for p in probs), probs


def test_geopackage_unclosed_ring_is_named_by_row(tmp_path):
    y = _fuchuan(tmp_path)
    points = [(0, 0), (1000, 0), (1000, 1000), (0, 1000)]  # first and last differ
    wkb = b"\x01" + struct.pack("<III", 3, 1, len(points)) + b"".join(struct.pack("<dd", *q) for q in points)
    blob = b"GP\x00\x01" + struct.pack("<i", 4546) + wkb
    _gpkg_update(tmp_path / "townships.gpkg", "UPDATE townships SET geom = ? WHERE fid = 5", blob)
    (p,) = _problems(y)
    assert "townships.gpkg:row 5:column geometry: the geometry cannot be read: a ring of the polygon is not closed" in p


def test_messages_print_the_digits_that_differ(tmp_path):
    y = _tiny(tmp_path)
    _edit(y, "grid_county_max_mw: {B: 60}", "grid_county_max_mw: {B: 49.9996}")
    _edit(y, "  min_conservation_share: 0.1\n", "  min_conservation_share: 0.1\n  locks:\n    - {township: T4, industry: pv}\n")
    valid = load_and_validate(y)
    (c,) = [str(p) for p in valid.conflicts]
    assert "even the least possible is 50.0000 MWp, above the limit of 49.9996 MWp" in c


def test_docs_state_the_ranges_in_force():
    from optimizer.instance.schema import ranges_markdown

    docs = (ROOT / "docs" / "instance-format.md").read_text(encoding="utf-8")
    assert ranges_markdown() in docs, "regenerate the ranges table of docs/instance-format.md from schema.ranges_markdown()"


def test_in_range_fields_that_multiply_out_of_range_are_refused(tmp_path):
    y = _tiny(tmp_path)
    _edit(y, "    yield_per_ha: 10\n", "    yield_per_ha: 1000000\n")
    _edit(y, "    price_yuan_per_unit: 1000\n", "    price_yuan_per_unit: 1001\n")
    probs = "\n".join(_problems(y))
    assert "revenue of 'fruit' in township T1 comes to 1,001,000,000 yuan/ha, beyond the accepted ±1,000,000,000" in probs


def test_true_false_in_a_number_field_is_refused(tmp_path):
    y = _tiny(tmp_path)
    _edit(y, "    farmer_payments_yuan_per_ha: 1000\n", "    farmer_payments_yuan_per_ha: true\n")
    _edit(y, "county_max_m3: {A: 15000}", "county_max_m3: {A: yes}")
    probs = "\n".join(_problems(y))
    assert "industries.fruit.farmer_payments_yuan_per_ha: a number is needed here, not true" in probs
    assert "constraints.water.county_max_m3: a number is needed for 'A', not true" in probs


def test_fullwidth_digits_are_refused_with_a_hint(tmp_path):
    y = _tiny(tmp_path)
    csv = tmp_path / "townships.csv"
    csv.write_text(csv.read_text(encoding="utf-8").replace("T1,Alpha,A,X,100,60,", "T1,Alpha,A,X,100,６０,"),
                   encoding="utf-8")
    (p,) = _problems(y)
    assert "row 1:column soil_depth_cm: '６０' is not a number" in p and "half-width" in p


def test_gbk_semicolon_padded_csv_solves_and_the_checker_agrees(tmp_path, results):
    """The checker reads the tables through the same reader: no exit 1 after a valid solve."""
    from optimizer.run import solve_instance
    from optimizer.solve import SolveOptions

    y = _tiny(tmp_path)
    df = _tiny_table(tmp_path)
    df["name"] = ["阿尔法", "贝塔", "伽马", "德尔塔"]
    df.columns = [f" {c}  " for c in df.columns]
    (tmp_path / "townships.csv").write_bytes(df.to_csv(index=False, sep=";").encode("gbk"))
    (tmp_path / "site.xlsx").parent.mkdir(exist_ok=True)
    pd.DataFrame({" township_id ": ["T4"], "industry": ["pv"], "pv_performance_ratio": [0.8]}).to_excel(
        tmp_path / "site.xlsx", index=False)
    _edit(y, "townships: townships.csv\n", "townships: townships.csv\nsite_coefficients: site.xlsx\n")
    run = solve_instance(y, SolveOptions(), results_root=results)
    assert run.check_ok, run.check_messages
    assert run.summary["objective_yuan"] == pytest.approx(5_380_000)


def test_table_read_again_is_a_private_copy_and_an_edit_is_always_seen(tmp_path):
    """The in-process reading cache (`tables.read_table`) is keyed by content: an edit that
    keeps the file's size and time stamp is still read, and a caller that changes its
    frame does not change what the next caller reads."""
    from optimizer.instance.tables import read_table

    path = tmp_path / "t.csv"
    path.write_text("township_id,area_ha\nA,10\nB,20\n", encoding="utf-8")
    first = read_table(path)
    first.frame.loc[0, "area_ha"] = "changed"
    first.rows.append(99)
    second = read_table(path)
    assert second.frame["area_ha"].tolist() == ["10", "20"]
    assert second.rows == [1, 2]
    stat = path.stat()
    path.write_text("township_id,area_ha\nA,11\nB,20\n", encoding="utf-8")  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert read_table(path).frame["area_ha"].tolist() == ["11", "20"]
