"""Karst township industrial-layout optimiser.

One industry per township (apple, citrus, agro-PV, conservation, or any an instance
defines), chosen by a Pyomo model solved with HiGHS to maximise GEP and farmers'
income under soil, water, sunlight, market, grid and budget limits.
"""

from __future__ import annotations

import os

__all__ = ["__version__"]

# One BLAS thread unless the user sets another count, before anything imports numpy. Why:
# numpy's OpenBLAS runs a dot product of 15,000 entries (a plan's objective at 5,000
# townships) on threads: 44 µs instead of 2 µs on a quiet machine, ~4 ms a call when the
# cores are busy, and its spinning threads took CPU from HiGHS and the county search (a
# warm budget sweep point under load, cProfile: HiGHS 160 ms → 93 ms, county search 50 → 27
# ms with one thread). The work here is many small products; its parallelism is in HiGHS
# and in the county workers.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def __getattr__(name: str) -> str:
    """`optimizer.__version__`, read from the installed metadata only when asked for.

    Reading package metadata costs ~50 ms at import; `optimizer --help` should not pay it.
    """
    if name != "__version__":
        raise AttributeError(name)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("karst-layout-optimizer")
    except PackageNotFoundError:  # running from a source tree without installation
        return "0.0.0+unknown"
