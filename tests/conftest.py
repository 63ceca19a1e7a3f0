"""Every test is marked with its tier, the directory it lives in (tests/<tier>/...), so
`pytest -m unit` (or integration, e2e, infra, property) selects exactly that tier.

A `pytestmark` in a conftest.py is ignored by pytest; this hook is what marks them."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "integration", "e2e", "infra", "property")


def tier_of(path: Path) -> str | None:
    """The tier a test file belongs to, or None outside tests/<tier>/."""
    try:
        first = path.resolve().relative_to(TESTS).parts[0]
    except (ValueError, IndexError):
        return None
    return first if first in TIERS else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = tier_of(item.path)
        if tier is not None:
            item.add_marker(getattr(pytest.mark, tier))
