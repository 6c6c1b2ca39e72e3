"""Pytest fixtures for the sandbox, registered as a pytest plugin (entry point ``pytest11``) wherever
m3ter-billing-contract is installed.

- ``m3ter_sandbox``: a fresh Sandbox with a ManualClock and no rate limit (tests move the clock).
- ``m3ter_mock``: the same sandbox answering every httpx request to https://api.m3ter.com (respx).
- ``m3ter_server``: the same sandbox on a real HTTP server on 127.0.0.1 (a free port), stopped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .clock import ManualClock
from .core import Sandbox
from .mocking import mock_m3ter
from .server import SandboxServer


@pytest.fixture
def m3ter_sandbox() -> Sandbox:
    return Sandbox(clock=ManualClock(), rate_limit=None)


@pytest.fixture
def m3ter_mock(m3ter_sandbox: Sandbox) -> Iterator[Sandbox]:
    with mock_m3ter(m3ter_sandbox) as sandbox:
        yield sandbox


@pytest.fixture
def m3ter_server(m3ter_sandbox: Sandbox) -> Iterator[SandboxServer]:
    with SandboxServer(m3ter_sandbox) as server:
        yield server
