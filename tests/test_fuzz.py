"""The fuzz harness: seeded mutations of every input file of the shipped instances.

Each mutation must end in a located refusal (exit 2 from validate and solve, in words,
within a few CPU seconds) or in an accepted instance that really is valid (it solves,
and the independent checker agrees). See tests/fuzzing.py for the mutations and the
oracle. The fast run covers every kind of mutation once or twice; the slow run is the
1,000 mutations whose outcome counts docs/instance-format.md reports
(`FUZZ_REPORT=path.json python -m pytest -m slow tests/test_fuzz.py` writes them).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import fuzzing

FAST = 60
SLOW = 1000


def _check(verdicts: list[fuzzing.Verdict]) -> None:
    failures = [v for v in verdicts if v.outcome == "FAIL"]
    assert not failures, "\n".join(
        f"seed {v.seed} {v.kind} on {v.instance} ({v.description}): {v.reason}" for v in failures[:20])


def test_fuzz_fast(tmp_path: Path) -> None:
    verdicts = fuzzing.run(range(FAST), tmp_path)
    _check(verdicts)
    kinds = {v.kind for v in verdicts}
    assert kinds == set(fuzzing.KINDS), set(fuzzing.KINDS) - kinds
    assert any(v.outcome == "refused" for v in verdicts) and any(v.outcome != "refused" for v in verdicts)


@pytest.mark.slow
def test_fuzz_thousand(tmp_path: Path) -> None:
    report = Path(os.environ["FUZZ_REPORT"]) if os.environ.get("FUZZ_REPORT") else tmp_path / "fuzz.json"
    verdicts = fuzzing.run(range(SLOW), tmp_path, report)
    _check(verdicts)
