"""Shared pytest configuration: every test runs offline; servers bind to 127.0.0.1 only.

Under CI (``CI`` set) hypothesis draws the same examples every run (``derandomize``), so a failure there
is a regression, not a lucky draw; local runs keep exploring new examples. Neither has a time limit.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# No test depends on wall-clock speed: hypothesis's per-example deadline (200 ms) and its too-slow health
# check are off everywhere, since on a loaded machine (or beside other pytest-xdist workers) an example can
# take longer without anything being wrong.
_NOT_TIMED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("local", _NOT_TIMED)
settings.register_profile("ci", _NOT_TIMED, derandomize=True, database=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "local")


def _expected_seconds(item: pytest.Item) -> float:
    marker = item.get_closest_marker("slow")
    return -1.0 if marker is None else float(marker.kwargs.get("seconds", 0))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first, longest first (``slow(seconds=N)``), the others in their order: spread over
    pytest-xdist's workers (worksteal), the longest starts at once and the rest fill in around it, instead
    of the run waiting for it at the end."""
    items.sort(key=_expected_seconds, reverse=True)
