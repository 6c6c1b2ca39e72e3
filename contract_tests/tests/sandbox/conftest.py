from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from m3ter_contract.sandbox import DEFAULT_BASE_URL, ManualClock, Sandbox, SandboxServer, mock_m3ter


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sandbox(clock: ManualClock) -> Sandbox:
    return Sandbox(clock=clock, rate_limit=None, large_bill_line_items=300)


@pytest.fixture
def mocked(sandbox: Sandbox) -> Iterator[Sandbox]:
    with mock_m3ter(sandbox):
        yield sandbox


@pytest.fixture
def api(mocked: Sandbox) -> Iterator[httpx.Client]:
    """An httpx client against the respx-mocked sandbox, already holding a bearer token."""
    token = mocked.issue_token()
    with httpx.Client(base_url=DEFAULT_BASE_URL, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture
def server(sandbox: Sandbox) -> Iterator[SandboxServer[Sandbox]]:
    with SandboxServer(sandbox) as running:
        yield running
