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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first (keeping the order of the rest): spread over pytest-xdist's workers, the
    longest one starts at once and the others fill in around it, instead of the run waiting for it at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
