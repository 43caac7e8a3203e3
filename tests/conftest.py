"""Shared test helpers: real fixtures (skipped when absent) and small models built with ifcopenshell.api."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"
SAMPLES = ROOT / "sample_models"


def fixture_path(relative: str) -> Path:
    path = FIXTURES / relative
    if not path.exists():
        pytest.skip(f"shared fixture {relative} is not present")
    return path


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES.exists():
        pytest.skip("../shared/fixtures is not present")
    return FIXTURES
