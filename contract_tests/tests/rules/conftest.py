"""Fixtures for the rule tests: a fresh sandbox on a manual clock, checked in-process."""

from __future__ import annotations

import pytest
from m3ter_contract.rules import Spec
from m3ter_contract.sandbox import ManualClock, Sandbox


@pytest.fixture(scope="session")
def spec() -> Spec:
    return Spec.load()


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(clock=ManualClock(), rate_limit=None, large_bill_line_items=50)
