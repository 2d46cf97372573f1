"""Shared fixtures: paths to shipped instances and a results folder per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The tests read the English messages: a developer's Chinese locale must not change them
# (tests/test_i18n.py sets the language it tests explicitly).
os.environ["LANGUAGE"] = "en"

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny" / "tiny.yaml"
FUCHUAN = ROOT / "instances" / "fuchuan" / "fuchuan.yaml"


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return tmp_path / "results"
