"""Shared pytest configuration: every test runs offline; servers bind to 127.0.0.1 only.

Under CI (``CI`` set) hypothesis draws the same examples every run (``derandomize``), so a failure there
is a regression, not a lucky draw; local runs keep exploring new examples.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def _expected_seconds(item: pytest.Item) -> float:
    marker = item.get_closest_marker("slow")
    return -1.0 if marker is None else float(marker.kwargs.get("seconds", 0))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first, longest first (``slow(seconds=N)``), the others in their order: spread over
    pytest-xdist's workers (worksteal), the longest starts at once and the rest fill in around it, instead
    of the run waiting for it at the end."""
    items.sort(key=_expected_seconds, reverse=True)
