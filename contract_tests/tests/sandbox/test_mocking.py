"""``mock_m3ter`` (the ``m3ter_mock`` fixture): what the mock covers besides httpx."""

from __future__ import annotations

import importlib.util
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
import respx
from m3ter_billing import AsyncM3terBilling
from m3ter_contract.sandbox import (
    DEFAULT_BASE_URL,
    ManualClock,
    Sandbox,
    SandboxServer,
    UnmockedBackendError,
    mock_m3ter,
)
from respx.models import AllMockedAssertionError

needs_aiohttp = pytest.mark.skipif(importlib.util.find_spec("aiohttp") is None, reason="no aiohttp")


class CountingListener:
    """A loopback socket that counts the connections it accepts (and answers none of them)."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen()
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.socket.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.socket.shutdown(socket.SHUT_RDWR)
        self.socket.close()
        self._thread.join(5)


@pytest.fixture
def listener() -> Iterator[CountingListener]:
    running = CountingListener()
    yield running
    running.close()


def client_of(sandbox: Sandbox, base_url: str, backend: str) -> AsyncM3terBilling:
    creds = sandbox.credentials
    return AsyncM3terBilling(
        base_url=base_url,
        org_id=creds.org_id,
        api_key=creds.api_key,
        api_secret=creds.api_secret,
        max_retries=0,
        http_backend="aiohttp" if backend == "aiohttp" else "httpx",
    )


@needs_aiohttp
async def test_an_aiohttp_client_is_refused_before_it_connects(listener: CountingListener) -> None:
    with mock_m3ter(clock=ManualClock(), rate_limit=None, base_url=listener.url) as sandbox:
        async with client_of(sandbox, listener.url, "aiohttp") as client:
            with pytest.raises(UnmockedBackendError, match=r"intercepts http://127\.0\.0\.1:\d+ for httpx only"):
                await client.bills.retrieve(sandbox.seeded.bills["monthly"])
    assert listener.connections == 0
    assert sandbox.requests == []


async def test_an_httpx_client_is_answered_by_the_sandbox(listener: CountingListener) -> None:
    with mock_m3ter(clock=ManualClock(), rate_limit=None, base_url=listener.url) as sandbox:
        async with client_of(sandbox, listener.url, "httpx") as client:
            bill_id = sandbox.seeded.bills["monthly"]
            assert (await client.bills.retrieve(bill_id)).id == bill_id
    assert listener.connections == 0


@needs_aiohttp
async def test_aiohttp_elsewhere_and_after_the_block_is_untouched(listener: CountingListener) -> None:
    served = Sandbox(clock=ManualClock(), rate_limit=None, large_bill_line_items=10)
    with served.serve() as server, mock_m3ter(clock=ManualClock(), rate_limit=None, base_url=listener.url):
        async with client_of(served, server.url, "aiohttp") as client:  # another origin: not the mocked one
            bill_id = served.seeded.bills["monthly"]
            assert (await client.bills.retrieve(bill_id)).id == bill_id
    with served.serve() as server:
        async with client_of(served, server.url, "aiohttp") as client:
            assert (await client.bills.retrieve(bill_id)).id == bill_id
    assert listener.connections == 0


def test_other_hosts_pass_through_to_the_network(server: SandboxServer[Sandbox]) -> None:
    with mock_m3ter(clock=ManualClock(), rate_limit=None) as mocked, httpx.Client() as http:
        assert http.get(f"{server.url}/oauth/token").status_code == 405  # the real server answered
        token = mocked.issue_token()
        bill = http.get(
            f"{DEFAULT_BASE_URL}/organizations/{mocked.org_id}/bills/{mocked.seeded.bills['monthly']}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert bill.status_code == 200
    assert [entry.path for entry in server.sandbox.requests] == ["/oauth/token"]
    assert [entry.status for entry in mocked.requests] == [200]


def test_without_pass_through_the_error_names_the_mocked_base_url(server: SandboxServer[Sandbox]) -> None:
    with (
        mock_m3ter(clock=ManualClock(), rate_limit=None, pass_through=False),
        httpx.Client() as http,
        pytest.raises(AllMockedAssertionError, match=r"intercepts https://api\.m3ter\.com only"),
    ):
        http.get(f"{server.url}/oauth/token")
    assert server.sandbox.requests == []


@pytest.mark.parametrize("mock_first", [True, False])
def test_a_test_s_own_respx_routes_still_answer(mock_first: bool) -> None:
    own = respx.mock(assert_all_called=False)
    own.get("https://payments.example.com/ping").respond(200, json={"ok": True})
    sandbox = Sandbox(clock=ManualClock(), rate_limit=None, large_bill_line_items=10)
    first, second = (mock_m3ter(sandbox), own) if mock_first else (own, mock_m3ter(sandbox))
    with first, second, httpx.Client() as http:
        assert http.get("https://payments.example.com/ping").json() == {"ok": True}
        token = sandbox.issue_token()
        url = f"{DEFAULT_BASE_URL}/organizations/{sandbox.org_id}/bills/{sandbox.seeded.bills['monthly']}"
        assert http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        with pytest.raises(AllMockedAssertionError):  # the test's own router is strict: its choice
            http.get("https://elsewhere.example.com/")
