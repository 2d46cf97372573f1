"""Karst township industrial-layout optimiser.

One industry per township (apple, citrus, agro-PV, conservation, or any an instance
defines), chosen by a Pyomo model solved with HiGHS to maximise GEP and farmers'
income under soil, water, sunlight, market, grid and budget limits.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("karst-layout-optimizer")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
