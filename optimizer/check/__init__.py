"""The independent checker: reads an instance and a plan with its own code, and recomputes
every constraint of docs/model.md, the objective and every written figure.

Why this package exists: a planner has no reason to trust a number that only one piece of
code has ever produced. This checker reads the instance YAML and the input tables through
the loader's two readers (`optimizer/instance/yamlfile.py`, `optimizer/instance/tables.py`:
reading rules, so that a file that validates is read the same way here), takes nothing but
the `industry` column of an allocation, and recomputes every per-township figure, every
constraint of docs/model.md and the objective. It deliberately imports nothing else from
the code it checks (`optimizer/model/`, `optimizer/solve/`, the rest of
`optimizer/instance/` with its schema, validation and coefficient code, `optimizer/run.py`):
two independent routes that arrive at the same numbers are the evidence that both are
right, while a shared helper would let one bug hide in both (tests/test_check.py and
tests/test_layout.py enforce this).

It is also the engine behind `optimizer evaluate`, which lists what is wrong with a plan
a planner wrote by hand, so every finding comes with a plain-language message naming the
township, county or market, the amount, the limit and the unit.

The package reads like the model: one module per constraint family, named as in
docs/model.md and optimizer/model/ (assignment, water, markets, grid, budget,
conservation, income_floor, locks, objective), beside its own reading (read_instance,
read_tables), per-ha recomputation (per_ha, recompute), findings (report, findings) and
comparison of written outputs (compare_allocation, compare_summary); `entry` runs them in
that order.
"""

from optimizer.check.entry import check_plan, check_run
from optimizer.check.markets import price_step_loss
from optimizer.check.report import CheckReport, ConstraintValue, Mismatch, Violation, format_amount

__all__ = [
    "CheckReport",
    "ConstraintValue",
    "Mismatch",
    "Violation",
    "check_plan",
    "check_run",
    "format_amount",
    "price_step_loss",
]
