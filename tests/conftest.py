"""Shared fixtures: paths to shipped instances and a results folder per test."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny" / "tiny.yaml"
FUCHUAN = ROOT / "instances" / "fuchuan" / "fuchuan.yaml"


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return tmp_path / "results"
