"""The sandbox for the client tests that run against it: served in process (respx) and on loopback HTTP.

Kept apart from ``support.py`` because it imports the harness (``m3ter_contract``), which the client's tests
at the dependency floors run without. A test module imports the fixtures it uses
from here (``sandbox_fixture``, ``sandbox_url_fixture``: named so that the import does not clash with the
parameters ``sandbox`` and ``sandbox_url``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from m3ter_contract.sandbox import ManualClock, Sandbox, SandboxServer, mock_m3ter

SANDBOX_URL = "https://sandbox.m3ter.test"  # the respx-mocked sandbox's base URL (never resolved)


@pytest.fixture(name="sandbox")
def sandbox_fixture() -> Sandbox:
    """A seeded sandbox on a manual clock (``advance()`` moves it), without its rate limit."""
    return Sandbox(seed=5, clock=ManualClock(), rate_limit=None)


@pytest.fixture(name="sandbox_url", params=["respx", "http"])
def sandbox_url_fixture(request: pytest.FixtureRequest, sandbox: Sandbox) -> Iterator[str]:
    """The base URL of ``sandbox``, mocked in process with respx and served on 127.0.0.1: a test asking for it
    runs on both."""
    if request.param == "respx":
        with mock_m3ter(sandbox, base_url=SANDBOX_URL):
            yield SANDBOX_URL
    else:
        with SandboxServer(sandbox) as server:
            yield server.url


def sandbox_options(sandbox: Sandbox, base_url: str, **extra: Any) -> dict[str, Any]:
    """A client's keyword arguments for ``sandbox`` at ``base_url``: its credentials, and ``extra``."""
    creds = sandbox.credentials
    return {
        "base_url": base_url,
        "org_id": creds.org_id,
        "api_key": creds.api_key,
        "api_secret": creds.api_secret,
        **extra,
    }
