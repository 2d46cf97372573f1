"""What every family check is handed: the read instance, its townships, and the findings.

Read once per plan; the township table is also kept as plain arrays (`town_num`,
`town_text`) because the family checks index it by position, whole columns at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.check.findings import Findings
from optimizer.check.read_instance import Instance, read_instance
from optimizer.check.read_tables import (
    TOWNSHIP_NUMERIC,
    TOWNSHIP_TEXT,
    Site,
    read_site,
    read_townships,
    read_village_site,
    read_villages,
)

#: In a village instance the per-unit families are the villages' (docs/model.md).
VILLAGE_FAMILIES = {
    "one_industry_per_township": "one_product_per_village",
    "water_use_per_township_max": "water_use_per_village_max",
    "farmer_income_per_township_min": "farmer_income_per_village_min",
}


@dataclass
class Context:
    """The instance as the checker read it, plus the findings collector of this plan."""

    inst: Instance
    towns: pd.DataFrame
    site: Site
    findings: Findings
    tids: np.ndarray  # township ids in table order
    town_index: pd.Index
    town_num: dict[str, np.ndarray]  # numeric column → float per township
    town_text: dict[str, np.ndarray]  # text column → str per township ('' if absent)
    _town_pos: dict[str, int] | None = field(default=None, repr=False)
    #: Village instances: the planning units (`towns`, `tids`, …) are the villages, and
    #: `parents` is the township table; each unit's township is `towns["parent"]`.
    parents: pd.DataFrame | None = None
    leading: dict[str, str] = field(default_factory=dict)  # township → leading industry (village instances)

    @classmethod
    def read(cls, instance_yaml: Path, tol: float) -> Context:
        """Read the instance YAML, its township table and its site table (and village tables)."""
        findings = Findings(tol)
        inst = read_instance(Path(instance_yaml))
        towns = read_townships(inst)
        parents = None
        if inst.villages_ref is not None:
            parents = towns
            towns = read_villages(inst, parents)
            site = read_village_site(inst, towns, findings.report.notes)
            _village_locks(inst, towns)
        else:
            site = read_site(inst, findings.report.notes)
        tids = towns["township_id"].to_numpy(dtype=object)
        blank = np.full(len(towns), "", dtype=object)
        return cls(
            inst=inst,
            towns=towns,
            site=site,
            findings=findings,
            tids=tids,
            town_index=pd.Index(tids, dtype=object),
            town_num={
                c: towns[c].to_numpy(dtype=float, na_value=np.nan) for c in TOWNSHIP_NUMERIC
            },
            town_text={
                c: towns[c].to_numpy(dtype=object) if c in towns.columns else blank
                for c in TOWNSHIP_TEXT
            },
            parents=parents,
        )

    @property
    def villages(self) -> bool:
        """True for a village instance (the units are villages)."""
        return self.parents is not None

    def family(self, name: str) -> str:
        """The docs/model.md name of a per-unit family: the villages' in a village instance."""
        return VILLAGE_FAMILIES.get(name, name) if self.villages else name

    @property
    def unit_word(self) -> str:
        return "village" if self.villages else "township"

    def parent_label(self, tid: str) -> str:
        """A township of a village instance as a message names it."""
        assert self.parents is not None
        row = self.parents.loc[self.parents["township_id"] == tid]
        if not len(row):
            return f"township {tid}"
        name = str(row["name"].iloc[0] or tid)
        return f"{name} ({tid})" if name != tid else name

    @property
    def tol(self) -> float:
        return self.findings.tol

    def town_label(self, tid: str) -> str:
        """A township as a message names it: name (中文名) or name (id)."""
        if self._town_pos is None:
            self._town_pos = dict(zip(self.tids.tolist(), range(len(self.tids))))
        k = self._town_pos.get(tid)
        if k is None:
            return f"township {tid}"
        name = str(self.town_text["name"][k] or tid)
        zh = str(self.town_text["name_zh"][k] or "")
        if zh and zh != name:
            return f"{name} ({zh})"
        return f"{name} ({tid})" if name != tid else name

    def industry_label(self, iid: str) -> str:
        """An industry as a message names it: label (id)."""
        ind = self.inst.industries.get(iid)
        return f"{ind.label} ({iid})" if ind and ind.label != iid else iid

    def warn_unknown_group(self, kind: str, names: Iterable[str]) -> None:
        """Note each county / basin that has a limit but no township in the table."""
        column = "county" if kind == "county" else "basin"
        known = set(self.town_text[column].tolist()) if column in self.towns.columns else set()
        for name in names:
            if name not in known:
                self.findings.note(f"{kind} '{name}' has a limit but no township in the table")


def _village_locks(inst: Instance, units: pd.DataFrame) -> None:
    """Locks of a village instance, restated per village: a township's lock holds for each
    of its villages, and a village's own must-lock wins over its township's."""
    members: dict[str, list[str]] = {}
    for vid, parent in zip(units["township_id"].tolist(), units["parent"].tolist()):
        members.setdefault(parent, []).append(vid)
    must: dict[str, tuple[str, str | None]] = {}
    for tid, iid, reason in inst.must_locks:
        for vid in members.get(tid, []):
            must[vid] = (iid, reason)
    for _tid, vid, iid, reason in inst.village_must_locks:
        must[vid] = (iid, reason)
    forbid: dict[tuple[str, str], str | None] = {}
    for (tid, iid), reason in inst.forbid_locks.items():
        for vid in members.get(tid, []):
            forbid[(vid, iid)] = reason
    forbid.update(inst.village_forbid_locks)
    inst.must_locks = [(vid, iid, reason) for vid, (iid, reason) in must.items()]
    inst.forbid_locks = forbid
