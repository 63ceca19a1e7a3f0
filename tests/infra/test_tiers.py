"""The tier markers select exactly their directory (tests/conftest.py marks each test).

In the infra tier (the repository's tooling): collecting every tier takes seconds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TIERS, tier_of

REPO = Path(__file__).resolve().parents[2]


def collected(*args: str) -> list[str]:
    """Node ids `pytest --collect-only` prints for these arguments."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode in (0, 5), result.stdout + result.stderr  # 5: nothing collected
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_minus_m_unit_selects_exactly_the_unit_tests() -> None:
    selected = collected("-m", "unit", "tests")
    outside = [node for node in selected if not node.startswith("tests/unit/")]
    assert selected, "-m unit selected nothing"
    assert outside == []
    files = {node.split("::")[0] for node in selected}
    on_disk = {p.relative_to(REPO).as_posix() for p in (REPO / "tests" / "unit").glob("test_*.py")}
    assert files == on_disk


@pytest.mark.parametrize("tier", TIERS)
def test_each_tier_directory_maps_to_its_marker(tier: str) -> None:
    assert tier_of(REPO / "tests" / tier / "test_x.py") == tier


def test_files_outside_a_tier_get_no_tier() -> None:
    assert tier_of(REPO / "tests" / "events" / "x.py") is None
    assert tier_of(REPO / "bench" / "x.py") is None
