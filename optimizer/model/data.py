"""What the model needs, prepared once in pandas: allowed pairs and their totals.

Every coefficient the algebra uses is computed here per pair as a *total* for the
township (per-ha figure × plannable area), so each constraint family is a plain sum
over pairs and reads like its line in docs/model.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from optimizer.instance.schema import Instance
from optimizer.model.scaling import UNSCALED, Scaling

#: The model counts water in 万 m³ (10,000 m³), yearly money in 万元 (10,000 yuan) and
#: investment in 亿元 (1e8 yuan), the units Chinese planning documents use. In m³ and yuan a region's investment budget is ~1e12
#: and HiGHS warns that the model is badly scaled for its 1e-6 tolerances; in 万 the
#: coefficients stay within ~1e-2…1e6. Reports convert back to m³ and yuan.
WATER_UNIT_M3 = 1e4
MONEY_UNIT_YUAN = 1e4
#: Market output in thousands of the output unit (kt of fruit, GWh of power).
OUTPUT_UNIT = 1e3
#: Establishment investment in 亿元 (1e8 yuan): a PV township costs billions of yuan.
INVESTMENT_UNIT_YUAN = 1e8

#: per-ha pair column → (model total column, divisor from the report unit to the model unit)
PAIR_TOTALS = {
    "output_per_ha": ("output_1000", OUTPUT_UNIT),
    "water_per_ha": ("water_10k_m3", WATER_UNIT_M3),
    "pv_capacity_per_ha": ("pv_mw", 1.0),
    "investment_per_ha": ("investment_100m_yuan", INVESTMENT_UNIT_YUAN),
    "farmer_income_per_ha": ("income_10k_yuan", MONEY_UNIT_YUAN),
    "gep_material_per_ha": ("gep_material_10k_yuan", MONEY_UNIT_YUAN),
    "gep_regulating_per_ha": ("gep_regulating_10k_yuan", MONEY_UNIT_YUAN),
    "gep_cultural_per_ha": ("gep_cultural_10k_yuan", MONEY_UNIT_YUAN),
}


@dataclass
class LeadingRule:
    """The leading-industry rule of a village instance, ready for the algebra (leading.py).

    `pairs` are the (township, industry) pairs that may lead: a counted industry that at
    least one of the township's villages may take; `area` is A_t, the township's villages'
    plannable area; `exempt` are the industries whose area does not count (not in C).
    """

    share: float  # s = min_leading_share
    counted: list[str]  # C
    exempt: list[str]  # candidate industries not in C
    pairs: list[tuple[str, str]]
    area: dict[str, float]  # A_t by township


@dataclass
class ModelData:
    spec: Instance
    townships: pd.DataFrame  # typed, indexed by township_id
    pairs: pd.DataFrame  # allowed pairs only, with PAIR_TOTALS columns, county, basin, area_ha, conservation
    must_locks: dict[str, str] = field(default_factory=dict)
    income_floor: pd.Series | None = None
    scaling: Scaling = UNSCALED  # row and objective factors (model/scaling.py)
    #: Village instances only: the typed village table; then `pairs` are (village, industry)
    #: with a `village` and a `township` column, `must_locks` and `income_floor` are per village.
    villages: pd.DataFrame | None = None
    leading: LeadingRule | None = None

    @property
    def units(self) -> pd.DataFrame:
        """The planning units: villages in a village instance, else townships."""
        return self.townships if self.villages is None else self.villages

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
