"""The Pyomo model: one module per constraint family (docs/model.md names them).

Never imports geopandas and never reads files: it gets a ValidInstance.
"""

from optimizer.model.build import ModelData, build_model, prepare

__all__ = ["ModelData", "build_model", "prepare"]
