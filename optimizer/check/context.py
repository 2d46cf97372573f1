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
)


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

    @classmethod
    def read(cls, instance_yaml: Path, tol: float) -> Context:
        """Read the instance YAML, its township table and its site table."""
        findings = Findings(tol)
        inst = read_instance(Path(instance_yaml))
        towns = read_townships(inst)
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
        )

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
