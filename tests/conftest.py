"""Hypothesis profiles: 'ci' (default; deterministic and bounded) and 'thorough'.

Select with the environment variable ``RSTREF_HYPOTHESIS_PROFILE=thorough``.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=25,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=500,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("RSTREF_HYPOTHESIS_PROFILE", "ci"))


def thorough():
    """True when the thorough profile is active (widens some parametrisations)."""
    return os.environ.get("RSTREF_HYPOTHESIS_PROFILE", "ci") == "thorough"
