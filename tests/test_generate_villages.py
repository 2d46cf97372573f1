"""`optimizer generate --villages-per-township K`: village instances, feasible by construction."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.generate import generate_instance
from optimizer.run import load_and_validate

N, K, SEED = 80, 6.5, 11


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_instance(tmp_path_factory.mktemp("gv"), N, SEED, villages_per_township=K)


def test_counts_areas_water_and_geometry_add_up(generated: Path) -> None:
    valid = load_and_validate(generated)
    v, t = valid.villages, valid.townships
    assert v is not None
    assert len(v) == round(N * K) and set(v["township_id"]) == set(t.index)  # every township has villages
    assert not valid.warnings  # areas add up to the townships', and every village lies inside its township
    assert not valid.conflicts
    sums = v.groupby("township_id")[["plannable_area_ha", "water_available_m3"]].sum()
    assert np.allclose(sums["plannable_area_ha"], t["plannable_area_ha"].reindex(sums.index), atol=0.06)
    assert np.allclose(sums["water_available_m3"], t["water_available_m3"].reindex(sums.index), atol=1)


def test_village_attributes_are_spatially_correlated(generated: Path) -> None:
    """Villages resemble their township's other villages more than the region's."""
    v = load_and_validate(generated).villages
    assert v is not None
    for col in ("slope_deg", "soil_depth_cm", "irradiance_kwh_per_m2"):
        within = v.groupby("township_id")[col].var().mean()
        assert within < 0.6 * v[col].var(), col
    # and a township holds different grades: valley and upland villages
    spread = v.groupby("township_id")["rocky_desertification_grade"].agg(lambda g: g.max() - g.min())
    assert (spread >= 1).mean() > 0.5


def test_known_plan_meets_every_limit_and_the_leading_rule(generated: Path, tmp_path: Path) -> None:
    from optimizer.check import check_plan

    known = pd.read_csv(generated.parent / "known_feasible_plan.csv", dtype=str, keep_default_na=False)
    report = check_plan(generated, known, compare_written=False)
    assert report.violations == [], [str(x) for x in report.violations[:5]]
    names = {c.name for c in report.constraints}
    assert "leading_industry_share_min" in names and "water_use_per_village_max" in names
    # the rule is not trivial: the plan's derived leading industries are the ones written
    led = known[known["leading_industry"] != ""].drop_duplicates("township_id")
    assert len(led) > N / 4


def test_the_instance_solves_and_is_checked(generated: Path, tmp_path: Path) -> None:
    from optimizer.run import solve_instance
    from optimizer.solve import SolveOptions

    run = solve_instance(generated, SolveOptions(gap=1e-2, time_limit=60), results_root=tmp_path)
    assert run.has_plan and run.check_ok, run.check_messages[:5]
    towns = pd.read_csv(run.run_dir / "township_allocation.csv", dtype={"township_id": str}, encoding="utf-8-sig")
    led = towns[towns["leading_industry"].fillna("") != ""]
    assert (led["leading_share"] >= 0.6 - 1e-9).all()
    # somewhere a township's villages take more than one product
    alloc = pd.read_csv(run.run_dir / "allocation.csv", dtype=str, encoding="utf-8-sig")
    assert (alloc.groupby("township_id")["industry"].nunique() > 1).any()


def test_same_seed_same_files(generated: Path, tmp_path: Path) -> None:
    again = generate_instance(tmp_path / "again", N, SEED, villages_per_township=K)

    def digest(folder: Path) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}

    assert digest(generated.parent) == digest(again.parent)


def test_csv_tables_and_small_k(tmp_path: Path) -> None:
    path = generate_instance(tmp_path, 5, 2, villages_per_township=1, table_format="csv")
    valid = load_and_validate(path)
    assert valid.villages is not None and len(valid.villages) == 5
    with pytest.raises(ValueError):
        generate_instance(tmp_path / "bad", 5, 2, villages_per_township=0.5)
