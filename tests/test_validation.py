"""Invalid input: every planted problem is reported at once, located, in plain words."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from optimizer.errors import InputError
from optimizer.run import load_and_validate
from tests.conftest import TINY


def _copy_tiny(tmp_path: Path) -> Path:
    for f in TINY.parent.iterdir():
        shutil.copy(f, tmp_path / f.name)
    return tmp_path / TINY.name


def _problems(path: Path) -> list[str]:
    with pytest.raises(InputError) as exc:
        load_and_validate(path)
    return [str(p) for p in exc.value.problems]


def _conflicts(path: Path) -> list[str]:
    """Limits no plan can meet: valid input whose answer is "infeasible" (not an InputError)."""
    valid = load_and_validate(path)
    assert valid.conflicts, "expected validation to prove the instance infeasible"
    return [str(p) for p in valid.conflicts]


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


def test_yaml_schema_problems_all_reported_with_lines(tmp_path):
    y = _copy_tiny(tmp_path)
    text = y.read_text(encoding="utf-8")
    text = text.replace("    yield_per_ha: 10\n", "    yeild_per_ha: 10\n", 1)
    text = text.replace("operating_cost_yuan_per_ha: 4000", "operating_cost_yuan_per_ha: -4000")
    text = text.replace("  grid_county_max_mw:", "  gird_county_max_mw:")
    y.write_text(text, encoding="utf-8")
    probs = _problems(y)
    assert len(probs) == 3, probs
    joined = "\n".join(probs)
    assert f"tiny.yaml:{_line_of(y, 'yeild_per_ha')}:5: industries.fruit.yeild_per_ha: unknown key 'yeild_per_ha' (did you mean 'yield_per_ha'?)" in joined
    assert f"tiny.yaml:{_line_of(y, '-4000')}:" in joined and "greater than or equal to 0 (got -4000" in joined
    assert "did you mean 'grid_county_max_mw'?" in joined


def test_table_and_cross_reference_problems_all_reported(tmp_path):
    y = _copy_tiny(tmp_path)
    csv = tmp_path / "townships.csv"
    rows = csv.read_text(encoding="utf-8").splitlines()
    rows[1] = rows[1].replace("T1,Alpha,A,X,100,", "T1,Alpha,A,X,-100,")  # negative area, data row 1
    rows[2] = rows[2].replace(",50000,1200,maize", ",lots,1200,maize")  # non-numeric, row 2
    rows[3] = rows[3].replace("T3,", "T2,")  # duplicate id, row 3
    rows[4] = rows[4].replace(",maize", ",maiz")  # baseline typo, row 4
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    text = y.read_text(encoding="utf-8").replace("county_max_m3: {A: 15000}", "county_max_m3: {AA: 15000}")
    text = text.replace("industries: [fruit]", "industries: [friut]")
    y.write_text(text, encoding="utf-8")
    probs = "\n".join(_problems(y))
    assert ("townships.csv:row 1:column plannable_area_ha: plannable_area_ha -100 is outside the accepted range, "
            "0 to 1,000,000 ha") in probs
    assert "townships.csv:row 2:column water_available_m3: 'lots' is not a number" in probs
    assert "townships.csv:row 3:column township_id: duplicate township id 'T2' (first at row 2)" in probs
    assert "townships.csv:row 4:column baseline_land_use: baseline land use 'maiz'" in probs
    assert "did you mean 'maize'?" in probs
    assert f"tiny.yaml:{_line_of(y, 'AA: 15000')}:" in probs and "county 'AA' is not in the township table" in probs
    assert "market 'fruit_market' names unknown industry 'friut' (did you mean 'fruit'?)" in probs


def test_township_with_no_allowed_industry_and_impossible_limits(tmp_path):
    y = _copy_tiny(tmp_path)
    text = y.read_text(encoding="utf-8")
    # Conservation gated out everywhere on grade > 0: T3 (grade 3, soil 30, irr 1,200 → PV only)
    text = text.replace("    counts_as_conservation: true\n", "    counts_as_conservation: true\n    suitability: {max_rocky_desertification_grade: 0}\n")
    text = text.replace("  min_conservation_share: 0.1\n", "  min_conservation_share: 0.1\n  investment_budget_yuan: 0\n")
    text = text.replace("suitability: {min_irradiance_kwh_per_m2: 1100}", "suitability: {min_irradiance_kwh_per_m2: 1250}")
    y.write_text(text, encoding="utf-8")
    probs = "\n".join(_conflicts(y))
    assert "township T3 (Gamma) can take no industry" in probs
    assert "fruit: soil depth 30 cm < 40 cm" in probs
    assert "pv: irradiance 1200 kWh/m² < 1250" in probs
    assert "conservation: desertification grade 3 > 0" in probs


def test_impossible_conservation_share_and_budget(tmp_path):
    y = _copy_tiny(tmp_path)
    text = y.read_text(encoding="utf-8")
    text = text.replace("    counts_as_conservation: true\n", "    counts_as_conservation: true\n    investment_yuan_per_ha: 100\n")
    text = text.replace("  min_conservation_share: 0.1\n", "  min_conservation_share: 0.1\n  investment_budget_yuan: 1000\n")
    y.write_text(text, encoding="utf-8")
    probs = "\n".join(_conflicts(y))
    assert "no plan can meet this investment budget: even the least possible is 40,000 yuan, above the limit of 1,000 yuan" in probs


def test_missing_table_and_yaml_syntax_error(tmp_path):
    y = tmp_path / "broken.yaml"
    y.write_text("name: x\ntownships: nowhere.csv\nindustries: {a: {label: A}\n", encoding="utf-8")
    probs = _problems(y)
    assert len(probs) == 1 and "broken.yaml:4:" in probs[0] and "YAML syntax error" in probs[0]
    y.write_text("name: x\ntownships: nowhere.csv\nindustries: {a: {label: A}}\n", encoding="utf-8")
    probs = _problems(y)
    assert probs == [f"{y}:2:1: townships: township table 'nowhere.csv' not found (looked in {tmp_path})"] or (
        "township table 'nowhere.csv' not found" in probs[0] and ":2:" in probs[0]
    )


def test_missing_column_suggests_misspelt_one(tmp_path):
    y = _copy_tiny(tmp_path)
    csv = tmp_path / "townships.csv"
    csv.write_text(csv.read_text(encoding="utf-8").replace("slope_deg", "slop_deg"), encoding="utf-8")
    probs = "\n".join(_problems(y))
    assert "required column 'slope_deg' (mean slope (degrees)) is missing (did you mean 'slop_deg'?)" in probs


def test_geometry_problems_are_located(tmp_path):
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import Polygon

    y = _copy_tiny(tmp_path)
    df = pd.read_csv(tmp_path / "townships.csv", dtype=str)
    square = Polygon([(0, 0), (1, 0), (1, 1), (0, 1)])
    bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])  # self-intersecting
    gdf = gpd.GeoDataFrame(df, geometry=[square, bowtie, square, square], crs=None)
    gdf.to_file(tmp_path / "townships.gpkg", layer="townships", engine="pyogrio")
    y.write_text(y.read_text(encoding="utf-8").replace("townships: townships.csv", "townships: townships.gpkg"), encoding="utf-8")
    probs = "\n".join(_problems(y))
    assert "no coordinate reference system" in probs
    assert "townships.gpkg:row 2:column geometry: invalid geometry (Self-intersection" in probs


def test_table_reading_forgives_spaces_and_names_layers(tmp_path):
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import Point

    y = _copy_tiny(tmp_path)
    csv = tmp_path / "townships.csv"
    lines = csv.read_text(encoding="utf-8").splitlines()
    lines[0] = ", ".join(lines[0].split(","))  # "township_id, name, county, ..."
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    load_and_validate(y)  # spaces after commas in the header are not a problem
    df = pd.read_csv(TINY.parent / "townships.csv", dtype=str)
    g = gpd.GeoDataFrame(df, geometry=[Point(i, 0) for i in range(4)], crs=4326)
    g.to_file(tmp_path / "two.gpkg", layer="boundary", engine="pyogrio")
    g.to_file(tmp_path / "two.gpkg", layer="townships", engine="pyogrio")
    y.write_text(y.read_text(encoding="utf-8").replace("townships: townships.csv", "townships: two.gpkg"), encoding="utf-8")
    probs = "\n".join(_problems(y))
    assert "the file has 2 layers (boundary, townships)" in probs and "layer: NAME" in probs
    y.write_text(y.read_text(encoding="utf-8").replace("townships: two.gpkg", "townships: {path: two.gpkg, layer: townshps}"), encoding="utf-8")
    assert "did you mean 'townships'?" in "\n".join(_problems(y))
