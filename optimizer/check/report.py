"""What the checker hands back: violations, mismatches, constraint rows, the report.

These types are the checker's public face (check.json is `CheckReport.to_dict()`), so
their fields and the wording of `describe()` are a contract with docs/outputs.md and with
`optimizer evaluate`; `format_amount` is how every message shows a number.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import pandas as pd

from optimizer.i18n import N_, _

#: Families with one row per township; check.json lists only their violated or binding rows.
PER_TOWNSHIP_FAMILIES = frozenset(
    {
        "one_industry_per_township",
        "water_use_per_township_max",
        "farmer_income_per_township_min",
        "industry_locked_in",
    }
)
#: Slack (relative, absolute below 1) under which a row counts as binding, as in summary.json.
BINDING_TOL = 1e-6


@dataclass(frozen=True)
class Violation:
    """A constraint of docs/model.md (or a rule of the allowed pairs) that the plan breaks.

    `name` is the constraint's name in docs/model.md (e.g. `water_use_per_county_max`);
    rules that the model enforces by leaving pairs out of P rather than by a row get
    names of their own (`suitability_<gate>`, `industry_forbidden`, `unknown_industry`,
    `industry_not_candidate`, `unknown_township`). `amount` and `limit` are what the plan
    does and what it may do, in `unit`, so a report can say by how much it is off.
    """

    name: str
    index: str | None
    amount: float | None
    limit: float | None
    unit: str
    sense: str
    message: str

    def __str__(self) -> str:
        where = f"[{self.index}]" if self.index is not None else ""
        return f"{self.name}{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))


@dataclass(frozen=True)
class Mismatch:
    """A number (or label) written in a run's files that disagrees with the recomputation.

    `source` is `allocation` or `summary`; `key` the column or dotted summary key;
    `index` the township id (allocation) or the county / market / constraint index.
    """

    source: str
    key: str
    index: str | None
    written: Any
    recomputed: Any
    message: str

    def __str__(self) -> str:
        return f"{self.source} {self.key}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))


@dataclass(frozen=True)
class ConstraintValue:
    """One recomputed constraint row: lhs (sense) rhs, and whether it holds within tol.

    Kept for every row, not only violated ones, so that reports can show slack and
    binding rows and so that a summary's `constraints` list can be compared row by row.
    """

    name: str
    index: str | None
    lhs: float
    rhs: float
    sense: str  # "<=", ">=" or "=="
    unit: str
    slack: float
    satisfied: bool
    #: Exceeded (negative slack) but by less than the unit's stated tolerance.
    within_tolerance: bool = False

    def to_dict(self) -> dict[str, Any]:
        """`jsonable(asdict(self))`, field by field: check.json lists every village row, and at
        50,000 villages `asdict`'s deep copies took most of the time of writing it."""
        return {name: _plain(getattr(self, name)) for name in _CONSTRAINT_FIELDS}


@dataclass
class CheckReport:
    """Everything the checker found and recomputed for one plan.

    `ok` is true only when no constraint is violated and no written number disagrees:
    a plan that satisfies every limit but reports a wrong total is still not to be
    trusted.
    """

    violations: list[Violation] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)
    objective_yuan: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)
    market_revenue_loss_yuan: dict[str, float] = field(default_factory=dict)
    constraints: list[ConstraintValue] = field(default_factory=list)
    per_township: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    summary_checked: bool = False

    @property
    def ok(self) -> bool:
        return not self.violations and not self.mismatches

    def violations_named(self, name: str) -> list[Violation]:
        """The violations of one constraint family, e.g. `water_use_per_county_max`."""
        return [v for v in self.violations if v.name == name]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN → null) of the report, of a size that does not grow with T.

        Violations, mismatches, notes, the objective, its parts and the per-market losses
        are given in full. Of the constraint rows, every coupling row (county, basin,
        market, grid, budget, conservation) is listed, but a per-township row
        (`PER_TOWNSHIP_FAMILIES`) only when it is violated or binding — as in summary.json,
        a satisfied `one_industry_per_township` row is not listed although it holds with
        equality. `constraints_checked` counts every row checked, and
        `constraints_checked_by_family` per family. Likewise `per_township` holds the
        recomputed figures of the townships named by a violation or a mismatch only, and
        `townships_checked` counts the townships recomputed. The full lists stay on the
        report object (`constraints`, `per_township`).
        """
        listed = [c for c in self.constraints if _listed(c)]
        pt = self.per_township
        named = {v.index for v in self.violations} | {m.index for m in self.mismatches}
        named.discard(None)
        records = (
            pt[pt["township_id"].isin(named)].to_dict(orient="records")
            if len(pt) and named and "township_id" in pt.columns
            else []
        )
        return jsonable(
            {
                "ok": self.ok,
                "objective_yuan": self.objective_yuan,
                "parts": dict(self.parts),
                "market_revenue_loss_yuan": dict(self.market_revenue_loss_yuan),
                "violations": [v.to_dict() for v in self.violations],
                "mismatches": [m.to_dict() for m in self.mismatches],
                "constraints_checked": len(self.constraints),
                "constraints_checked_by_family": dict(Counter(c.name for c in self.constraints)),
                "constraints": [c.to_dict() for c in listed],
                "notes": list(self.notes),
                "summary_checked": self.summary_checked,
                "townships_checked": len(pt),
                "per_township": records,
            }
        )

    def describe(self) -> str:
        """A few lines of plain text for a terminal or a log."""
        head = "OK" if self.ok else "FAILED"
        parts = ", ".join(
            f"{words} {format_amount(self.parts.get(key, 0.0), 'yuan')}"
            for words, key in (
                ("GEP material", "gep_material_yuan"),
                ("regulating", "gep_regulating_yuan"),
                ("cultural", "gep_cultural_yuan"),
                ("farmers' income", "farmer_income_yuan"),
                ("market revenue loss", "market_revenue_loss_yuan"),
            )
        )
        lines = [
            (
                f"Plan check {head}: {len(self.violations)} violation(s), "
                f"{len(self.mismatches)} mismatch(es)."
            ),
            f"Objective {format_amount(self.objective_yuan, 'yuan')} ({parts}).",
        ]
        lines += [f"  violation {v.name}: {v.message}" for v in self.violations]
        lines += [f"  mismatch {m.source}.{m.key}: {m.message}" for m in self.mismatches]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _listed(row: ConstraintValue) -> bool:
    """Whether `to_dict` lists a constraint row: coupling rows always, per-township rows
    when violated or binding (slack within BINDING_TOL, relative to the limit)."""
    if row.name not in PER_TOWNSHIP_FAMILIES or not row.satisfied:
        return True
    if row.name == "one_industry_per_township":
        return False  # holds with equality whenever it holds: binding says nothing
    return row.slack <= BINDING_TOL * max(1.0, abs(row.rhs))


def format_amount(value: float | None, unit: str = "") -> str:
    """A number a planner can read: thousands separators, no float noise, and a unit.

    Large numbers get at most two decimals, small ones up to three; a tiny non-zero
    number is shown in significant digits rather than as a misleading "0".
    """
    if value is None:
        return "n/a"
    x = float(value)
    if not math.isfinite(x):
        text = str(x)
    else:
        text = f"{x:,.2f}" if abs(x) >= 1000 else f"{x:,.3f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        if text in ("0", "-0") and x != 0:
            text = f"{x:.3g}"
        if text == "-0":
            text = "0"
    return f"{text} {_(unit)}".rstrip() if unit else text


#: The units messages show, for the catalogue (format_amount translates them).
UNITS_SHOWN = (N_("yuan"), N_("yuan/ha"), N_("ha"), N_("m³"), N_("MWp"), N_("cm"), N_("kWh/m²"), N_("t"), N_("MWh"))


def percent(share: float) -> str:
    """A share as a percentage for messages (0.2 → '20%')."""
    return f"{share * 100:g}%"


_CONSTRAINT_FIELDS = tuple(f.name for f in fields(ConstraintValue))
_PLAIN = (str, bool, int, type(None))


def _plain(value: Any) -> Any:
    """`jsonable` of one field value, without its recursion for the scalars a row holds."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    return jsonable(value)


def jsonable(obj: Any) -> Any:
    """Replace NaN/inf by None and numpy scalars by Python ones, recursively."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        try:
            obj = obj.item()
        except (ValueError, TypeError):
            pass
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
