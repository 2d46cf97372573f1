"""The files as a planner meets them: GeoPackages opened by GDAL and by QGIS, the workbook
opened by LibreOffice, the Shapefile read back through GDAL.

Real clients run in subprocesses: Debian's PyQGIS lives in the system Python
(/usr/bin/python3), LibreOffice is `soffice`. Where one is missing the test is skipped
with the reason; install them (docs/outputs.md, "Checking the files") to run it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

from optimizer.analyses.compare import compare_runs, write_comparison
from optimizer.analyses.evaluate import evaluate_plan
from optimizer.analyses.gep import account_instance
from optimizer.outputs.export import OutputOptions, shapefile_field_names
from optimizer.outputs.labels import column_label, industry_labels
from optimizer.run import solve_instance
from optimizer.solve import SolveOptions
from tests.conftest import FUCHUAN, ROOT

QGIS_PYTHON = os.environ.get("QGIS_PYTHON", "/usr/bin/python3")
CLIENTS = ROOT / "tests" / "clients"

#: (GeoPackage, layer) → (renderer QGIS must apply on opening, its class attribute).
STYLED = {
    ("allocation.gpkg", "allocation"): ("categorizedSymbol", "industry"),
    ("gep.gpkg", "gep_by_township"): ("graduatedSymbol", "gep_total_yuan_per_ha"),
    ("comparison.gpkg", "townships"): ("categorizedSymbol", "change"),
    ("evaluate.gpkg", "plan"): ("categorizedSymbol", "verdict"),
    ("stability.gpkg", "stability"): ("categorizedSymbol", "most_frequent_industry"),
    ("stability.gpkg", "how_stable"): ("categorizedSymbol", "stability_class"),
    ("alternatives.gpkg", "flexibility"): ("categorizedSymbol", "flexibility_class"),
}

#: Fuchuan's fruit prices, uncertain: enough for a few samples whose optima differ.
FUCHUAN_UNCERTAINTY = {
    "samples": 4, "seed": 11,
    "parameters": {
        "citrus_price": {"path": "industries.citrus.price_yuan_per_unit", "relative": True,
                         "distribution": "uniform", "low": 0.3, "high": 1.4},
    },
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """One real folder of each kind from Fuchuan (polygons): solve, gep, compare, evaluate,
    robust (stability) and alternatives (flexibility)."""
    import yaml

    from optimizer.analyses.alternatives import find_alternatives
    from optimizer.analyses.robust import RobustSpec, run_robust

    root = tmp_path_factory.mktemp("clients")
    a = solve_instance(FUCHUAN, SolveOptions(), results_root=root / "results",
                       output=OutputOptions(export=("shp", "geojson")))  # fmt: skip
    b = solve_instance(FUCHUAN, SolveOptions(), results_root=root / "results",
                       sets=["constraints.min_conservation_share=0.5"])  # fmt: skip
    compared = write_comparison(compare_runs(a.run_dir, b.run_dir), root / "results")
    _, gep = account_instance(FUCHUAN, a.run_dir, results_root=root / "results")
    plan = pd.read_csv(a.run_dir / "allocation.csv", dtype={"township_id": str}, encoding="utf-8-sig")
    plan = plan[["township_id"]].assign(industry="citrus")  # citrus everywhere: breaks limits
    plan.to_csv(root / "citrus.csv", index=False)
    ev = evaluate_plan(FUCHUAN, root / "citrus.csv", optimum_run=a.run_dir, results_root=root / "results")
    assert ev.violations, "the all-citrus plan should break limits"
    uncertain = root / "fuchuan"
    shutil.copytree(FUCHUAN.parent, uncertain)
    spec = yaml.safe_load(FUCHUAN.read_text(encoding="utf-8"))
    spec["uncertainty"] = FUCHUAN_UNCERTAINTY
    (uncertain / FUCHUAN.name).write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    robust = run_robust(RobustSpec(instance=str(uncertain / FUCHUAN.name), robust=False), root / "robust", serial=True)
    alternatives = find_alternatives(FUCHUAN, within=0.02, n=2, results_root=root / "results")
    return {"allocation.gpkg": a.run_dir, "gep.gpkg": gep, "comparison.gpkg": compared,
            "evaluate.gpkg": ev.out_dir, "run_b": b.run_dir, "stability.gpkg": robust.folder,
            "alternatives.gpkg": alternatives.folder}  # fmt: skip


def _gpkgs(folders: dict[str, Path]) -> list[Path]:
    return [folders[name] / name for name in ("allocation.gpkg", "gep.gpkg", "comparison.gpkg", "evaluate.gpkg",
                                              "stability.gpkg", "alternatives.gpkg")]


def _data_layers(path: Path) -> list[str]:
    return [str(n) for n, _ in pyogrio.list_layers(path) if n != "layer_styles"]


# --------------------------------------------------------------------------- GDAL


def test_gdal_finds_the_style_layer_of_every_geopackage(folders):
    for path in _gpkgs(folders):
        layers = dict(pyogrio.list_layers(path))
        assert "layer_styles" in layers, f"{path.name}: GDAL does not see layer_styles"
        styles = pyogrio.read_dataframe(path, layer="layer_styles")
        by_table = styles.set_index("f_table_name")
        for name in _data_layers(path):
            assert name in by_table.index, f"{path.name}: no default style for {name}"
            row = by_table.loc[name]
            assert bool(row["useAsDefault"]) and row["f_table_schema"] == ""
            info = pyogrio.read_info(path, layer=name)
            assert row["f_geometry_column"] == (info["geometry_name"] if info["geometry_type"] else "")
        for (file, layer), (renderer, attr) in STYLED.items():
            if file == path.name:
                qml = by_table.loc[layer, "styleQML"]
                assert f'type="{renderer}"' in qml and f'attr="{attr}"' in qml


def test_debian_ogrinfo_lists_layer_styles_without_warnings(folders):
    ogrinfo = shutil.which("ogrinfo")
    if ogrinfo is None:
        pytest.skip("ogrinfo (gdal-bin) is not installed")
    for path in _gpkgs(folders):
        res = subprocess.run([ogrinfo, "-ro", "-so", str(path), "layer_styles"], capture_output=True, text=True)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "Feature Count" in res.stdout
        assert "partially supported" not in res.stderr, res.stderr  # GeoPackage 1.2, not 1.4


def test_every_column_has_an_alias_in_gpkg_data_columns(folders):
    for path in _gpkgs(folders):
        cols = pyogrio.read_dataframe(path, sql="SELECT table_name, column_name, name FROM gpkg_data_columns")
        aliases = {(r.table_name, r.column_name): r.name for r in cols.itertuples()}
        for name in _data_layers(path):
            info = pyogrio.read_info(path, layer=name)
            for column in info["fields"]:
                assert aliases.get((name, column)) == column_label(column), f"{path.name}:{name}.{column}"
        ext = pyogrio.read_dataframe(path, sql="SELECT table_name, extension_name FROM gpkg_extensions")
        assert {("gpkg_data_columns", "gpkg_schema"), ("gpkg_data_column_constraints", "gpkg_schema")} <= set(
            zip(ext["table_name"], ext["extension_name"]))


def test_gdal_reads_the_aliases_as_alternative_names(folders):
    from tests.clients.gdal_fields import field_names

    path = folders["allocation.gpkg"] / "allocation.gpkg"
    fields = field_names(str(path), "allocation")
    if fields is None:
        pytest.skip("cannot reach a GDAL >= 3.7 library through pyogrio to read alternative names")
    assert fields["industry"][0] == "产业 (industry)"
    assert fields["farmer_income_yuan"][0] == "农民收入 (farmers' income, yuan/yr)"
    assert fields["farmer_income_yuan"][1] == "农民收入 / farmers' income (yuan/yr)"


# --------------------------------------------------------------------------- QGIS


def _qgis_reason() -> str | None:
    if not Path(QGIS_PYTHON).exists():
        return f"{QGIS_PYTHON} not found (set QGIS_PYTHON to a Python with PyQGIS)"
    res = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})  # fmt: skip
    if res.returncode != 0:
        return f"{QGIS_PYTHON} cannot import qgis.core (apt-get install python3-qgis qgis-providers)"
    return None


def _open_in_qgis(pairs: list[tuple[Path, str]]) -> list[dict]:
    reason = _qgis_reason()
    if reason:
        pytest.skip(reason)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("PYTHONPATH", None)  # the venv's packages are not the system Python's
    res = subprocess.run([QGIS_PYTHON, str(CLIENTS / "qgis_layers.py"), json.dumps([[str(p), n] for p, n in pairs])],
                         capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "partially supported" not in res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_qgis_opens_every_layer_styled_with_aliases(folders):
    pairs = [(folders[file] / file, layer) for file, layer in STYLED]
    pairs.append((folders["allocation.gpkg"] / "allocation.gpkg", "county_totals"))
    got = {(Path(r["path"]).name, r["layer"]): r for r in _open_in_qgis(pairs)}
    for key, (renderer, attr) in STYLED.items():
        r = got[key]
        assert r["valid"], key
        assert r["renderer"] == renderer and r["attr"] == attr, (key, r.get("renderer"))
        assert r["labels_enabled"], key  # township names on the map
        for column, alias in r["aliases"].items():
            if column != "fid":
                assert alias == column_label(column), (key, column, alias)

    alloc = pd.read_csv(folders["allocation.gpkg"] / "allocation.csv", encoding="utf-8-sig")
    cats = dict(got[("allocation.gpkg", "allocation")]["categories"])
    assert cats == industry_labels(alloc)  # every chosen industry, legend "中文 English"
    assert all(" " in label for label in cats.values())
    assert got[("allocation.gpkg", "allocation")]["features"] == len(alloc)

    gep = pd.read_csv(folders["gep.gpkg"] / "gep_by_township.csv", encoding="utf-8-sig")
    ranges = got[("gep.gpkg", "gep_by_township")]["ranges"]
    assert len(ranges) >= 3
    assert ranges[0][0] == pytest.approx(gep["gep_total_yuan_per_ha"].min())
    assert ranges[-1][1] == pytest.approx(gep["gep_total_yuan_per_ha"].max())

    comp = got[("comparison.gpkg", "townships")]
    assert comp["features"] == len(alloc)  # every township, not only the changed ones
    changed = pd.read_csv(folders["comparison.gpkg"] / "changed_townships.csv", encoding="utf-8-sig")
    moves = {f"{a} → {b}" for a, b in zip(changed["industry_a"], changed["industry_b"])}
    assert {v for v, _ in comp["categories"]} == moves | {"unchanged"}

    verdicts = {v for v, _ in got[("evaluate.gpkg", "plan")]["categories"]}
    assert "breaks_limits" in verdicts

    stability = pd.read_csv(folders["stability.gpkg"] / "stability.csv", encoding="utf-8-sig")
    assert got[("stability.gpkg", "stability")]["features"] == len(stability)
    most = {v for v, _ in got[("stability.gpkg", "stability")]["categories"]}
    assert set(stability["most_frequent_industry"]) <= most
    classes = {v for v, _ in got[("stability.gpkg", "how_stable")]["categories"]}
    assert set(stability["stability_class"]) <= classes <= {"always", "mostly", "leaning", "contested", "none"}
    flex = pd.read_csv(folders["alternatives.gpkg"] / "flexibility.csv", encoding="utf-8-sig")
    flex_classes = {v for v, _ in got[("alternatives.gpkg", "flexibility")]["categories"]}
    assert set(flex["flexibility_class"]) <= flex_classes

    table = got[("allocation.gpkg", "county_totals")]
    assert table["valid"] and table["aliases"]["county"] == "县 (county)"


def test_qgis_opens_a_village_run_styled_by_product_and_by_leading_industry(tmp_path):
    """A village run's map: villages coloured by their product, townships by their leading
    industry, in QGIS itself, every category a product the plan chose."""
    path = ROOT / "instances" / "fuchuan_villages" / "fuchuan_villages.yaml"
    run = solve_instance(path, SolveOptions(), results_root=tmp_path)
    assert run.check_ok is True
    gpkg = run.run_dir / "allocation.gpkg"
    got = {r["layer"]: r for r in _open_in_qgis([(gpkg, "allocation"), (gpkg, "townships")])}
    villages = pd.read_csv(run.run_dir / "allocation.csv", encoding="utf-8-sig")
    towns = pd.read_csv(run.run_dir / "township_allocation.csv", encoding="utf-8-sig")
    v, t = got["allocation"], got["townships"]
    assert v["valid"] and t["valid"]
    assert (v["renderer"], v["attr"]) == ("categorizedSymbol", "industry")
    assert (t["renderer"], t["attr"]) == ("categorizedSymbol", "leading_industry")
    assert v["features"] == len(villages) and t["features"] == len(towns)
    assert set(villages["industry"]) <= {value for value, _ in v["categories"]}
    assert set(towns["leading_industry"].dropna()) <= {value for value, _ in t["categories"]}
    # every field has words, and a village's name reads as a village's, a township's as a township's
    for layer in (v, t):
        assert all(alias and alias != column for column, alias in layer["aliases"].items() if column != "fid")
    assert v["aliases"]["name"] == "村 (village)" and v["aliases"]["village_id"] == "村代码 (village id)"
    assert v["aliases"]["township_name"] == "乡镇 (township)"
    assert t["aliases"]["name"] == "乡镇 (township)"


def test_village_workbook_in_libreoffice_names_villages_and_their_townships(tmp_path):
    """The village run's workbook as LibreOffice reads it: every column headed in words (none
    left as its code), the village's name under "村 (village)", its township's beside it."""
    path = ROOT / "instances" / "fuchuan_villages" / "fuchuan_villages.yaml"
    run = solve_instance(path, SolveOptions(), results_root=tmp_path / "runs")
    (tmp_path / "lo").mkdir()
    plan = _to_csv(run.run_dir / "allocation.xlsx", tmp_path / "lo")["方案 Plan"]
    csv = pd.read_csv(run.run_dir / "allocation.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert len(plan.columns) == len(csv.columns)
    assert not set(plan.columns) & set(csv.columns)  # no column left under its code
    assert list(plan["村 (village)"]) == list(csv["name"])
    assert list(plan["村代码 (village id)"]) == list(csv["village_id"])
    assert list(plan["乡镇 (township)"]) == list(csv["township_name"])
    assert "乡镇主导产业 (township's leading industry)" in plan.columns


# --------------------------------------------------------------------------- exports


def test_shapefile_reads_back_with_its_encoding_and_field_list(folders):
    run = folders["allocation.gpkg"]
    assert (run / "allocation.cpg").read_text().strip().upper() == "UTF-8"
    fields = pd.read_csv(run / "allocation_fields.csv", encoding="utf-8-sig")
    assert fields["field"].str.len().max() <= 10 and fields["field"].is_unique
    shp = pyogrio.read_dataframe(run / "allocation.shp")
    gpkg = pyogrio.read_dataframe(run / "allocation.gpkg", layer="allocation")
    assert list(shp.columns[:-1]) == list(fields["field"])  # geometry last
    back = shp.rename(columns=dict(zip(fields["field"], fields["column"])))
    assert list(back["name"]) == list(gpkg["name"])  # Chinese names survive (.cpg UTF-8)
    assert back["farmer_income_yuan"].to_numpy() == pytest.approx(gpkg["farmer_income_yuan"].to_numpy())
    assert shp.crs == gpkg.crs
    assert fields.set_index("column").loc["farmer_income_yuan", "label_zh"] == "农民收入"


def test_geojson_is_wgs84(folders):
    run = folders["allocation.gpkg"]
    info = pyogrio.read_info(run / "allocation.geojson")
    assert info["crs"] in ("EPSG:4326", "OGC:CRS84")
    gj = pyogrio.read_dataframe(run / "allocation.geojson")
    minx, miny, maxx, maxy = gj.total_bounds
    assert 100 < minx < maxx < 120 and 20 < miny < maxy < 30  # Fuchuan, Guangxi, in lon/lat
    assert len(gj) == 12


def test_shapefile_field_names_are_short_unique_and_fixed():
    cols = ["township_id", "baseline_farmer_income_yuan", "baseline_gep_total_yuan", "change_gep_total_yuan",
            "change_farmer_income_yuan", "gep_material_yuan", "gep_regulating_yuan", "industry_label_zh",
            "industry_label", "left_on_the_table_yuan", "delta_gep_total_yuan_a", "delta_gep_total_yuan_b",
            "Township_ID"]  # fmt: skip
    names = shapefile_field_names(cols)
    assert names == shapefile_field_names(cols)  # the same columns, the same names
    assert all(len(n) <= 10 for n in names.values())
    assert len({n.lower() for n in names.values()}) == len(cols)  # unique, as DBF compares them
    assert names["township_id"] == "twp_id" and names["gep_material_yuan"] == "gep_mat"
    assert names["Township_ID"] == "twp_ID1"  # a clash (DBF ignores case) is numbered, the later column


# --------------------------------------------------------------------------- workbook


def _soffice() -> str:
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        pytest.skip("LibreOffice (soffice) is not installed (apt-get install libreoffice-calc-nogui)")
    return exe


def _to_csv(xlsx: Path, out: Path) -> dict[str, pd.DataFrame]:
    """Every sheet of a workbook as LibreOffice reads it (headless), values as stored."""
    exe = _soffice()
    # 44 comma, 34 quote, 76 UTF-8, row 1; cell contents as stored (not as shown); -1 = every sheet.
    fmt = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
    profile = out / "lo-profile"  # its own profile: runs beside any other LibreOffice
    res = subprocess.run([exe, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", fmt,
                          "--outdir", str(out), str(xlsx)], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    sheets = {}
    for csv in out.glob(f"{xlsx.stem}-*.csv"):
        sheets[csv.stem.removeprefix(f"{xlsx.stem}-")] = pd.read_csv(csv, dtype=str, keep_default_na=False)
    assert sheets, res.stdout + res.stderr
    return sheets


def test_workbook_opens_in_libreoffice_with_the_run_figures(folders, tmp_path):
    run = folders["allocation.gpkg"]
    sheets = _to_csv(run / "allocation.xlsx", tmp_path)
    assert set(sheets) == {"方案 Plan", "县汇总 County totals", "约束 Limits", "GEP 账户 GEP accounts"}
    csv = pd.read_csv(run / "allocation.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    plan = sheets["方案 Plan"]
    assert list(plan.columns) == [column_label(c) for c in csv.columns]
    assert list(plan.iloc[:, 0]) == list(csv["township_id"])  # ids as text
    assert list(plan[column_label("name")]) == list(csv["name"])
    for col in ("area_ha", "farmer_income_yuan", "gep_total_yuan", "water_use_m3"):
        assert pd.to_numeric(plan[column_label(col)]).to_numpy() == pytest.approx(pd.to_numeric(csv[col]).to_numpy())
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    limits = sheets["约束 Limits"]
    rows = [r for r in summary["constraints"] if r["family"] != "market_output_beyond_step_def"]
    assert list(limits[column_label("model_name")]) == [r["name"] for r in rows]
    # A percentage cell comes out as "85.91…%" (LibreOffice keeps the number type's format).
    shares = pd.to_numeric(limits[column_label("used_share")].str.rstrip("%")) / 100
    assert shares.to_numpy() == pytest.approx([r["used_share"] for r in rows])
    assert "water use in county 富川瑶族自治县 within its limit" in " ".join(limits[column_label("limit_words")])
    county = sheets["县汇总 County totals"]
    counties = pd.read_csv(run / "county_totals.csv", encoding="utf-8-sig")
    assert pd.to_numeric(county[column_label("gep_total_yuan")]).sum() == pytest.approx(counties["gep_total_yuan"].sum())
    gep = sheets["GEP 账户 GEP accounts"]
    assert pd.to_numeric(gep[column_label("gep_regulating_yuan")]).sum() == pytest.approx(
        pd.to_numeric(csv["gep_regulating_yuan"]).sum())


def _formula_frame() -> pd.DataFrame:
    return pd.DataFrame({"township_id": ["=1+1", "+8613", "-2+3", "@SUM(A1:A2)"], "name": ["=A1", "x", "y", "z"],
                         "area_ha": [1.5, 2.0, float("nan"), 4.0]})  # fmt: skip


def test_formula_like_text_stays_text_in_libreoffice(tmp_path):
    from optimizer.outputs.workbook import Sheet, write_workbook

    write_workbook(tmp_path / "f.xlsx", [Sheet("表", "Sheet", _formula_frame())])
    sheet = next(iter(_to_csv(tmp_path / "f.xlsx", tmp_path).values()))
    assert list(sheet.iloc[:, 0]) == ["=1+1", "+8613", "-2+3", "@SUM(A1:A2)"]  # not 2, 8613, 1, …
    assert list(sheet.iloc[:, 1]) == ["=A1", "x", "y", "z"]
    assert list(sheet.iloc[:, 2]) == ["1.5", "2", "", "4"]  # NaN → empty cell


def test_workbook_cells_types_formats_and_frozen_header(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    from optimizer.outputs.workbook import Sheet, write_workbook

    write_workbook(tmp_path / "f.xlsx", [Sheet("表", "Sheet", _formula_frame(), frozen_columns=2)], lang="en")
    ws = openpyxl.load_workbook(tmp_path / "f.xlsx")["Sheet"]
    assert [c.value for c in ws[1]] == ["township id", "township", "plannable area (ha)"]
    assert all(ws.cell(row=r, column=1).data_type == "s" for r in range(2, 6))  # text, never a formula
    assert ws.freeze_panes == "C2"
    assert ws.cell(row=2, column=3).number_format == "#,##0.0" and ws.cell(row=2, column=3).value == 1.5
    assert ws.cell(row=4, column=3).value is None
    assert ws.auto_filter.ref == "A1:C5"
    assert ws.column_dimensions["A"].width >= 12


# --------------------------------------------------------------------------- languages and the CLI


def test_one_language_on_request(tmp_path):
    from optimizer.outputs.gpkg import write_layers

    df = pd.DataFrame({"township_id": ["1"], "farmer_income_yuan": [1.0]})
    for lang, expected in (("zh", "农民收入（元/年）"), ("en", "farmers' income (yuan/yr)"),
                           (None, "农民收入 (farmers' income, yuan/yr)")):  # fmt: skip
        path = tmp_path / f"{lang}.gpkg"
        write_layers(path, {}, {"t": df}, lang=lang)
        cols = pyogrio.read_dataframe(path, sql="SELECT column_name, name FROM gpkg_data_columns")
        assert dict(zip(cols["column_name"], cols["name"]))["farmer_income_yuan"] == expected


def test_cli_export_and_bad_format(tmp_path):
    from typer.testing import CliRunner

    from optimizer.cli import Exit, app
    from tests.conftest import TINY

    runner = CliRunner()
    res = runner.invoke(app, ["solve", str(TINY), "--results", str(tmp_path), "--export", "gpkg,shp,geojson"])
    assert res.exit_code == Exit.OK, res.output
    run = next((tmp_path / "tiny").iterdir())
    names = {p.name for p in run.iterdir()}
    assert {"allocation.gpkg", "allocation.xlsx", "allocation.dbf", "allocation.cpg", "allocation_fields.csv",
            "allocation.geojson"} <= names  # tiny has no geometry: the Shapefile is its .dbf
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert {"allocation.dbf", "allocation.xlsx"} <= set(manifest["outputs"])
    openpyxl = pytest.importorskip("openpyxl")
    header = [c.value for c in openpyxl.load_workbook(run / "allocation.xlsx")["方案 Plan"][1]]
    assert header[:2] == ["乡镇代码 (township id)", "乡镇 (township)"]  # no --lang: both languages
    res = runner.invoke(app, ["--lang", "en", "solve", str(TINY), "--results", str(tmp_path / "en")])
    assert res.exit_code == Exit.OK, res.output
    run = next((tmp_path / "en" / "tiny").iterdir())
    header = [c.value for c in openpyxl.load_workbook(run / "allocation.xlsx")["Plan"][1]]
    assert header[:2] == ["township id", "township"]
    cols = pyogrio.read_dataframe(run / "allocation.gpkg", sql="SELECT column_name, name FROM gpkg_data_columns")
    assert dict(zip(cols["column_name"], cols["name"]))["area_ha"] == "plannable area (ha)"
    res = runner.invoke(app, ["solve", str(TINY), "--results", str(tmp_path), "--export", "kml"])
    assert res.exit_code == Exit.INVALID_INPUT
    assert "unknown export format(s) kml" in res.output

