"""Karst township industrial-layout optimiser.

One industry per township (apple, citrus, agro-PV, conservation, or any an instance
defines), chosen by a Pyomo model solved with HiGHS to maximise GEP and farmers'
income under soil, water, sunlight, market, grid and budget limits.
"""

from __future__ import annotations

__all__ = ["__version__"]


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
