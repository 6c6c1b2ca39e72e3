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


def test_two_mocks_side_by_side_each_answer_theirs_and_pass_the_rest(server: SandboxServer[Sandbox]) -> None:
    eu = "https://api.eu.m3ter.test"
    first = Sandbox(clock=ManualClock(), rate_limit=None, large_bill_line_items=10)
    second = Sandbox(clock=ManualClock(), rate_limit=None, large_bill_line_items=10, seed=1)
    with mock_m3ter(first), mock_m3ter(second, base_url=eu), httpx.Client() as http:
        for sandbox, base in ((first, DEFAULT_BASE_URL), (second, eu)):
            token = sandbox.issue_token()
            url = f"{base}/organizations/{sandbox.org_id}/bills/{sandbox.seeded.bills['monthly']}"
            assert http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert http.get(f"{server.url}/oauth/token").status_code == 405  # neither mock's: the real server
    assert [entry.path for entry in server.sandbox.requests] == ["/oauth/token"]


@pytest.mark.parametrize("host", ["api.eu.m3ter.com", "10.0.0.7", "payments.example.com"])
def test_by_default_only_this_machine_is_passed_through(host: str) -> None:
    # A client aimed at another m3ter host by mistake must not reach it. Read from the catch-all's decision,
    # never sent: were the refusal broken, a sent request would go to that host.
    from m3ter_contract.sandbox.respx_adapter import respx_router

    catch_all = respx_router(Sandbox(large_bill_line_items=10)).routes[-1]
    with pytest.raises(AllMockedAssertionError, match=r"to this machine only \(pass_through=True"):
        catch_all.side_effect(httpx.Request("GET", f"https://{host}/oauth/token"))  # type: ignore[misc,operator]


@pytest.mark.parametrize(
    ("pass_through", "host", "passes"),
    [
        ("loopback", "127.0.0.1", True),
        ("loopback", "localhost", True),
        ("loopback", "[::1]", True),
        ("loopback", "example.com", False),
        (True, "example.com", True),
        (False, "127.0.0.1", False),
    ],
)
def test_what_passes_through(pass_through: bool | str, host: str, passes: bool) -> None:
    # The catch-all's decision, read without sending anything (a request it passes would go to the network).
    from m3ter_contract.sandbox.respx_adapter import respx_router

    router = respx_router(Sandbox(large_bill_line_items=10), pass_through=pass_through)  # type: ignore[arg-type]
    request = httpx.Request("GET", f"http://{host}:8080/ping")
    catch_all = router.routes[-1]
    if passes:
        assert catch_all.side_effect(request) is request  # type: ignore[misc,operator]
    else:
        with pytest.raises(AllMockedAssertionError):
            catch_all.side_effect(request)  # type: ignore[misc,operator]


def test_an_odd_pass_through_is_refused() -> None:
    with pytest.raises(ValueError, match='pass_through must be True, False or "loopback"'):
        mock_m3ter(pass_through="yes").__enter__()  # type: ignore[arg-type]


@needs_aiohttp
async def test_mocks_ending_in_any_order_leave_aiohttp_as_it_was(listener: CountingListener) -> None:
    import aiohttp

    original = aiohttp.BaseConnector.connect
    first = mock_m3ter(clock=ManualClock(), rate_limit=None, base_url=listener.url, large_bill_line_items=10)
    second = mock_m3ter(clock=ManualClock(), rate_limit=None, base_url=DEFAULT_BASE_URL, large_bill_line_items=10)
    sandbox = first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first ends while the second still runs
    async with client_of(sandbox, DEFAULT_BASE_URL, "aiohttp") as client:
        with pytest.raises(UnmockedBackendError):  # the second's origin is still refused
            await client.bills.retrieve(sandbox.seeded.bills["monthly"])
    second.__exit__(None, None, None)
    assert aiohttp.BaseConnector.connect is original
    assert listener.connections == 0
