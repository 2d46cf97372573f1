"""What the model needs, prepared once in pandas: allowed pairs and their totals.

Every coefficient the algebra uses is computed here per pair as a *total* for the
township (per-ha figure × plannable area), so each constraint family is a plain sum
over pairs and reads like its line in docs/model.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from optimizer.instance.schema import Instance

PAIR_TOTALS = {
    "output_per_ha": "output",
    "water_per_ha": "water_m3",
    "pv_capacity_per_ha": "pv_mw",
    "investment_per_ha": "investment_yuan",
    "farmer_income_per_ha": "income_yuan",
    "gep_material_per_ha": "gep_material_yuan",
    "gep_regulating_per_ha": "gep_regulating_yuan",
    "gep_cultural_per_ha": "gep_cultural_yuan",
}


@dataclass
class ModelData:
    spec: Instance
    townships: pd.DataFrame  # typed, indexed by township_id
    pairs: pd.DataFrame  # allowed pairs only, with PAIR_TOTALS columns, county, basin, area_ha, conservation
    must_locks: dict[str, str] = field(default_factory=dict)
    income_floor: pd.Series | None = None

    def column(self, name: str) -> dict[tuple[str, str], float]:
        """A pair column as {(township, industry): value}, dropping zeros (sparse rows)."""
        s = self.pairs[name]
        s = s[s != 0]
        return dict(zip(s.index, s.to_numpy().tolist()))

    def by(self, group: str, name: str) -> dict[str, list[tuple[tuple[str, str], float]]]:
        """Nonzero pair values of a column grouped by a township attribute (county, basin)."""
        s = self.pairs[name]
        mask = (s != 0).to_numpy()
        out: dict[str, list[tuple[tuple[str, str], float]]] = {}
        for key, idx, val in zip(self.pairs[group].to_numpy()[mask], s.index[mask], s.to_numpy()[mask].tolist()):
            out.setdefault(key, []).append((idx, val))
        return out
