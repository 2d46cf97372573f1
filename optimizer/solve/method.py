"""`--method auto`: HiGHS on the whole model, or the county decomposition — and why.

Measured on the generated instances (docs/performance.md): HiGHS alone proves small
instances quickly but stays at the root node from about 1,000 townships; the
decomposition reaches gaps of 1e-5 … 1e-7 from 1,000 to 50,000 townships in seconds,
but only where county-level limits give its bound something to work with: without them
its bound is the LP bound and HiGHS on the whole model does at least as well (the
generalized-assignment instances are such a case).
"""

from __future__ import annotations

from typing import Any

from optimizer.solve.options import EXACT_UP_TO_TOWNSHIPS, SolveOptions

#: From this many townships `auto` decomposes an instance with county structure.
DECOMPOSE_FROM_TOWNSHIPS = 300


def county_rows(spec: Any, townships: Any) -> int:
    """Rows local to a county in an instance (from its limits, before any model is built)."""
    cons = spec.constraints
    n = len(cons.water.county_max_m3) + len(cons.grid_county_max_mw)
    if cons.min_conservation_share_per_county is not None:
        n += townships["county"].nunique()
    if cons.water.basin_max_m3 and "basin" in townships.columns:
        spans = townships.groupby("basin")["county"].nunique()
        n += sum(1 for b in cons.water.basin_max_m3 if spans.get(b, 0) == 1)
    return n


def choose_method(options: SolveOptions, spec: Any, townships: Any) -> tuple[str, str]:
    """(method, reason in words) for this instance and these options."""
    n = len(townships)
    n_counties = townships["county"].nunique()
    if options.method == "direct":
        return "direct", "asked for (--method direct)"
    if options.method == "decompose":
        return "decompose", "asked for (--method decompose)"
    if options.gap == 0.0 and n <= EXACT_UP_TO_TOWNSHIPS:
        return "direct", f"{n} townships: solved exactly by HiGHS on the whole model"
    if n_counties < 2:
        return "direct", "one county: nothing to decompose"
    local = county_rows(spec, townships)
    if local == 0:
        return "direct", ("no county-level limits: the decomposition's bound would be the LP bound, "
                          "HiGHS on the whole model does as well")
    if n < DECOMPOSE_FROM_TOWNSHIPS:
        return "direct", f"{n:,} townships (< {DECOMPOSE_FROM_TOWNSHIPS:,}): HiGHS on the whole model is fast here"
    return "decompose", (f"{n:,} townships in {n_counties:,} counties with {local:,} county-level limits: "
                         f"pricing the few limits that span counties splits the model by county")


#: From this many villages `auto` decomposes a village instance by county. Measured on
#: generated instances (20 villages per township, --time-limit 60–90; docs/performance.md,
#: villages): HiGHS on the whole model proved 7.8e-5 at 6,000 villages and 8.6e-5 at 10,000
#: (the decomposition stopped at 4.7e-3 at 6,000); at 20,000 HiGHS found no plan in 90 s and
#: the decomposition reached 3.7e-3.
DECOMPOSE_FROM_VILLAGES = 15_000


def choose_village_method(options: SolveOptions, villages: int, counties: int) -> tuple[str, str]:
    """(method, reason in words) for a village instance: counties as blocks (solve/decompose/villages.py)."""
    if options.method == "direct":
        return "direct", "asked for (--method direct)"
    if counties < 2:
        return "direct", "village instance in one county: nothing to decompose"
    if options.method == "decompose":
        return "decompose", "asked for (--method decompose): village instance, counties as blocks"
    if villages < DECOMPOSE_FROM_VILLAGES:
        return "direct", f"{villages:,} villages (< {DECOMPOSE_FROM_VILLAGES:,}): HiGHS on the whole model is fast here"
    return "decompose", (f"{villages:,} villages in {counties:,} counties: pricing the few rows that span counties "
                         f"splits the model by county")
