"""Property tier: Hypothesis sweeps what hand-written cases miss, through the same real
handlers (against moto, in-process) that the unit tier drives."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from tests.unit.conftest import aws, chat, moto_session  # noqa: F401  (the unit fixtures)

# A fixed budget per property so the tier's time stays predictable; derandomised so a CI
# failure reproduces locally. HYPOTHESIS_PROFILE=deep runs a longer sweep by hand.
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "deep",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
