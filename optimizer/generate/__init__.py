"""Synthetic instances of any size, as hard as real ones and feasible by construction.

Owns ``optimizer generate``: drawing a township instance and writing its folder.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from optimizer.generate.attributes import township_attributes
from optimizer.generate.coefficients import allowed_townships, coefficients
from optimizer.generate.industries import BASELINE, CANDIDATES, CONSERVATION, industry_catalogue
from optimizer.generate.layout import layout
from optimizer.generate.limits import (
    coupling_limits,
    known_feasible_plan,
    log_plans,
    township_options,
    unconstrained_plan,
)
from optimizer.generate.sites import site_coefficients
from optimizer.generate.write import Generated, TableFormat, write_instance
from optimizer.instance.schema import Industry

__all__ = ["generate_instance"]

log = logging.getLogger(__name__)


def generate_instance(
    outdir: Path,
    n_townships: int,
    seed: int,
    *,
    table_format: TableFormat = "gpkg",
    name: str | None = None,
    villages_per_township: float | None = None,
) -> Path:
    """Write a synthetic instance of ``n_townships`` townships to ``outdir``.

    With ``villages_per_township`` (K), a village instance: round(n·K) villages in the
    townships, at least one each (villages.py). Returns the path of
    ``outdir/instance.yaml``. The same arguments give identical files.
    """
    if n_townships < 1:
        raise ValueError("n_townships must be at least 1")
    if table_format not in ("csv", "gpkg"):
        raise ValueError(f"table_format must be 'csv' or 'gpkg', not {table_format!r}")
    t0 = time.perf_counter()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    if villages_per_township is not None:
        return _generate_villages(outdir, n_townships, villages_per_township, seed, table_format, name, t0)
    name = name or f"synthetic_n{n_townships}_s{seed}"
    # One generator for every draw: the steps must keep their order for a seed to keep
    # its instance.
    rng = np.random.default_rng(seed)
    gen = _township_instance(n_townships, rng)
    path = write_instance(gen, outdir, name=name, seed=seed, table_format=table_format)
    log.info(
        "generated %s: %d townships, %d counties, %d cities in %.2f s",
        path,
        n_townships,
        gen.layout.n_counties,
        gen.layout.n_cities,
        time.perf_counter() - t0,
    )
    return path


def _generate_villages(outdir: Path, n: int, k: float, seed: int, table_format: TableFormat, name: str | None,
                       t0: float) -> Path:
    """A village instance (villages.py) written by write.py's `write_village_instance`."""
    if not k >= 1:
        raise ValueError("villages_per_township must be at least 1")
    from optimizer.generate.villages import village_instance
    from optimizer.generate.write import write_village_instance

    rng = np.random.default_rng(seed)
    gen = village_instance(n, k, rng)
    name = name or f"synthetic_villages_n{n}_k{k:g}_s{seed}"
    path = write_village_instance(gen, outdir, name=name, seed=seed, table_format=table_format)
    log.info("generated %s: %d villages in %d townships in %.2f s", path, len(gen.village_township), n,
             time.perf_counter() - t0)
    return path


def _township_instance(n: int, rng: np.random.Generator) -> Generated:
    """Draw one instance of ``n`` townships, each a planning unit.

    Instances of other shapes (villages inside townships, benchmark instances of other
    problem classes) are meant to get a builder of their own beside this one, reusing the
    steps that fit and returning a `Generated` for write.py.
    """
    lay = layout(n, rng)
    attrs = township_attributes(lay, rng)
    catalogue = industry_catalogue()
    industries = {k: Industry.model_validate(v) for k, v in catalogue.items()}
    allowed = {i: allowed_townships(industries[i], attrs) for i in CANDIDATES}
    if not allowed[CONSERVATION].all():
        raise RuntimeError("conservation must stay open to every township")
    site = site_coefficients(attrs, allowed, rng)
    coef = {i: coefficients(industries[i], attrs, site.get(i, {})) for i in (*CANDIDATES, BASELINE)}
    feasible = township_options(industries[BASELINE], attrs, allowed, site, coef)
    unconstrained = unconstrained_plan(coef, feasible)
    known = known_feasible_plan(lay, attrs["plannable_area_ha"], coef, feasible, unconstrained)
    constraints = coupling_limits(lay, attrs, coef, unconstrained, known, rng)
    log_plans(n, allowed, unconstrained, known)
    return Generated(
        layout=lay,
        attributes=attrs,
        site=site,
        industries=catalogue,
        constraints=constraints,
        known=known,
    )
