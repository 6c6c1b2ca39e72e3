"""The network under the client (``_network``): each sync socket operation gets at most the time its call has
left, and a statement download connects to exactly the addresses its URL was vetted with.

Nothing here connects anywhere: httpcore's own network backends are replaced, for the test, by fakes that
record what they were asked to connect to (and with which timeout, TLS server name and request) and answer
from memory. The resolver is injected; ``socket.getaddrinfo`` fails the test when anything calls it.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx
import pytest
from m3ter_billing import (
    APIConnectionError,
    APITimeoutError,
    AsyncM3terBilling,
    M3terBilling,
    StatementJobResponse,
    StatementURLRefusedError,
)
from m3ter_billing._deadline import DEADLINE, SENDING, Deadline
from m3ter_billing._network import DeadlineBackend

from .support import ORG_ID, TOKEN, job_body

PUBLIC = "52.216.0.1"
PUBLIC_2 = "52.216.0.2"
HOST = "statements.s3.amazonaws.com"
URL = f"https://{HOST}/org/job-1.json?X-Amz-Expires=900&X-Amz-Signature=aaaa1111"
DOCUMENT = b'{"bill": {"id": "bill-1"}}'
BILL = b'{"id": "bill-1", "version": 1, "status": "PENDING", "billingFrequency": "MONTHLY"}'


def _http_response(body: bytes) -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


@dataclass
class Network:
    """What the fake network was asked: connections (address, port, timeout), TLS server names, requests."""

    body: bytes = DOCUMENT
    refuse: set[str] = field(default_factory=set)
    silent: set[str] = field(default_factory=set)  # addresses whose connect times out (a black hole)
    connects: list[tuple[str, int]] = field(default_factory=list)
    timeouts: list[tuple[str, float | None]] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)
    sent: bytearray = field(default_factory=bytearray)

    def connect(self, host: str, port: int, timeout: float | None) -> None:
        self.connects.append((host, port))
        self.timeouts.append(("connect", timeout))
        if host in self.refuse:
            raise httpcore.ConnectError(f"fake network: {host} refused")
        if host in self.silent:
            raise httpcore.ConnectTimeout(f"fake network: {host} did not answer")

    @property
    def host_headers(self) -> list[str]:
        return [line.split(":", 1)[1].strip() for line in self.sent.decode().split("\r\n") if line.startswith("Host:")]


class FakeStream(httpcore.NetworkStream):
    def __init__(self, network: Network) -> None:
        self.network = network
        self.pending = _http_response(network.body)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.network.timeouts.append(("read", timeout))
        data, self.pending = self.pending[:max_bytes], self.pending[max_bytes:]
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.network.timeouts.append(("write", timeout))
        self.network.sent += buffer

    def close(self) -> None:
        pass

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        self.network.server_names.append(server_hostname)
        self.network.timeouts.append(("tls", timeout))
        return self

    def get_extra_info(self, info: str) -> Any:
        return None


class AsyncFakeStream(httpcore.AsyncNetworkStream):
    def __init__(self, network: Network) -> None:
        self.sync = FakeStream(network)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.sync.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.sync.write(buffer, timeout)

    async def aclose(self) -> None:
        pass

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        self.sync.start_tls(ssl_context, server_hostname, timeout)
        return self

    def get_extra_info(self, info: str) -> Any:
        return None


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> Network:
    """httpcore's sync and async backends answer from memory; resolving a name with the system fails."""
    fake = Network()

    def connect_tcp(
        self: Any,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        fake.connect(host, port, timeout)
        return FakeStream(fake)

    async def async_connect_tcp(
        self: Any,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        fake.connect(host, port, timeout)
        return AsyncFakeStream(fake)

    def no_dns(*args: Any, **kwargs: Any) -> Any:
        pytest.fail(f"the system resolver was asked for {args[:2]}")

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect_tcp)
    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", async_connect_tcp)
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    return fake


class Rebinding:
    """A hostile DNS: a public address the first time it is asked, loopback after that."""

    def __init__(self, *first: str) -> None:
        self.first = list(first) or [PUBLIC]
        self.asked: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        return self.first if len(self.asked) == 1 else ["127.0.0.1"]


def _client(**extra: Any) -> M3terBilling:
    options: dict[str, Any] = {"base_url": "https://api.m3ter.test", "org_id": ORG_ID, "token": TOKEN}
    return M3terBilling(trust_env=False, **(options | extra))


def _async_client(**extra: Any) -> AsyncM3terBilling:
    options: dict[str, Any] = {"base_url": "https://api.m3ter.test", "org_id": ORG_ID, "token": TOKEN}
    return AsyncM3terBilling(trust_env=False, **(options | extra))


def _job(url: str = URL) -> StatementJobResponse:
    return StatementJobResponse.from_dict(job_body(status="COMPLETE", presignedJsonStatementUrl=url))


# -- statement downloads connect to the vetted addresses ----------------------------------------------------


def test_a_download_connects_to_the_vetted_address_under_the_original_name(network: Network) -> None:
    dns = Rebinding()
    with _client(resolve_host=dns) as client:
        statement = client.statement_jobs.download(_job())
    assert statement.json == {"bill": {"id": "bill-1"}}
    assert dns.asked == [(HOST, 443)]  # resolved once, for the check
    assert network.connects == [(PUBLIC, 443)]  # and connected there, not to a second answer
    assert network.server_names == [HOST]  # TLS: SNI and certificate checked for the original name
    assert network.host_headers == [HOST]


async def test_async_download_connects_to_the_vetted_address(network: Network) -> None:
    for backend in ("httpx", "aiohttp"):
        if backend == "aiohttp" and not _has_aiohttp():
            continue
        network.connects.clear()
        network.server_names.clear()
        dns = Rebinding()
        async with _async_client(resolve_host=dns, http_backend=backend) as client:
            statement = await client.statement_jobs.download(_job())
        assert statement.json == {"bill": {"id": "bill-1"}}
        assert dns.asked == [(HOST, 443)]
        assert network.connects == [(PUBLIC, 443)], backend
        assert network.server_names == [HOST]


def _has_aiohttp() -> bool:
    import importlib.util

    return importlib.util.find_spec("aiohttp") is not None


def test_the_next_vetted_address_is_tried_when_one_refuses(network: Network) -> None:
    network.refuse.add(PUBLIC)
    with _client(resolve_host=Rebinding(PUBLIC, PUBLIC_2), max_retries=0) as client:
        client.statement_jobs.download(_job())
    assert network.connects == [(PUBLIC, 443), (PUBLIC_2, 443)]


def test_the_next_vetted_address_is_tried_when_one_does_not_answer(network: Network) -> None:
    # As socket.create_connection does: a connect that times out moves on to the next address too.
    network.silent.add(PUBLIC)
    with _client(resolve_host=Rebinding(PUBLIC, PUBLIC_2), max_retries=0) as client:
        client.statement_jobs.download(_job())
    assert network.connects == [(PUBLIC, 443), (PUBLIC_2, 443)]


async def test_the_async_download_tries_the_next_address_when_one_does_not_answer(network: Network) -> None:
    network.silent.add(PUBLIC)
    async with _async_client(resolve_host=Rebinding(PUBLIC, PUBLIC_2), max_retries=0) as client:
        await client.statement_jobs.download(_job())
    assert network.connects == [(PUBLIC, 443), (PUBLIC_2, 443)]


def test_every_download_is_vetted_and_pinned_again(network: Network) -> None:
    """A second download resolves again; an answer that turned private is refused before any connection."""
    dns = Rebinding()
    with _client(resolve_host=dns) as client:
        client.statement_jobs.download(_job())
        with pytest.raises(StatementURLRefusedError, match="loopback"):
            client.statement_jobs.download(_job())
    assert network.connects == [(PUBLIC, 443)]


def test_a_name_that_did_not_resolve_is_not_connected_to(network: Network) -> None:
    client = _client(resolve_host=lambda host, port: [], max_retries=0)
    with client, pytest.raises(APIConnectionError, match="did not resolve"):
        client.statement_jobs.download(_job())
    assert network.connects == []


def test_an_ip_literal_is_connected_to_as_it_is(network: Network) -> None:
    url = f"https://{PUBLIC}/org/job-1.json?X-Amz-Signature=aaaa1111"
    with _client(resolve_host=Rebinding()) as client:
        client.statement_jobs.download(_job(url))
    assert network.connects == [(PUBLIC, 443)]


@pytest.mark.parametrize("case", ["private-allowed", "base-url-origin"])
def test_urls_that_are_not_vetted_by_address_connect_by_name(network: Network, case: str) -> None:
    """No address was checked for these, so there is nothing to pin: the connection resolves the name."""
    dns = Rebinding()
    if case == "private-allowed":
        client, url, host = _client(resolve_host=dns, allow_private_statement_hosts=True), URL, HOST
    else:
        url, host = "https://api.m3ter.test/s/job-1.json?sig=aaaa1111", "api.m3ter.test"
        client = _client(resolve_host=dns)
    with client:
        client.statement_jobs.download(_job(url))
    assert dns.asked == []
    assert network.connects == [(host, 443)]


def test_api_calls_connect_by_name_as_before(network: Network) -> None:
    network.body = BILL
    dns = Rebinding()
    with _client(resolve_host=dns) as client:
        assert client.bills.retrieve("bill-1").id == "bill-1"
    assert dns.asked == []
    assert network.connects == [("api.m3ter.test", 443)]
    assert network.server_names == ["api.m3ter.test"]


async def test_async_api_calls_connect_by_name_as_before(network: Network) -> None:
    network.body = BILL
    async with _async_client(resolve_host=Rebinding()) as client:
        assert (await client.bills.retrieve("bill-1")).id == "bill-1"
    assert network.connects == [("api.m3ter.test", 443)]


def test_through_a_proxy_the_proxy_connects(network: Network, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    network.refuse.add("127.0.0.1")  # nothing listens; the fake refuses before any socket exists
    client = M3terBilling(
        base_url="https://api.m3ter.test", org_id=ORG_ID, token=TOKEN, resolve_host=Rebinding(), max_retries=0
    )
    with client, pytest.raises(APIConnectionError):
        client.statement_jobs.download(_job())
    assert network.connects == [("127.0.0.1", 9)]


# -- the deadline, per sync socket operation ----------------------------------------------------------------


def test_every_sync_socket_operation_gets_at_most_the_time_left(network: Network) -> None:
    """The socket timeouts the client gave: none above the total timeout, however long the socket timeout."""
    network.body = BILL
    with _client(timeout=3600.0, total_timeout=5.0) as client:
        client.bills.retrieve("bill-1")
    kinds = {kind for kind, _ in network.timeouts}
    assert kinds == {"connect", "tls", "write", "read"}
    assert all(seconds is not None and 0 < seconds <= 5.0 for _, seconds in network.timeouts)


def _sending(deadline: Deadline | None) -> Any:
    request = httpx.Request("GET", "https://api.m3ter.test/x", extensions={DEADLINE: deadline})
    return SENDING.set(request)


def test_a_read_gets_the_time_left_not_its_own_timeout(network: Network) -> None:
    backend = DeadlineBackend(httpcore.SyncBackend())
    stream = backend.connect_tcp("api.m3ter.test", 443, timeout=60.0)
    token = _sending(Deadline(time.monotonic() + 2.0, 2.0))
    try:
        stream.read(10, timeout=60.0)
        stream.read(10, timeout=0.5)  # shorter than the time left: kept
        stream.read(10, timeout=None)  # no socket timeout: the time left
    finally:
        SENDING.reset(token)
    reads = [seconds for kind, seconds in network.timeouts if kind == "read"]
    assert reads[1] == 0.5
    for seconds in (reads[0], reads[2]):
        assert seconds is not None
        assert 0 < seconds <= 2.0


def test_no_socket_operation_starts_past_the_deadline(network: Network) -> None:
    backend = DeadlineBackend(httpcore.SyncBackend())
    stream = backend.connect_tcp("api.m3ter.test", 443, timeout=60.0)
    token = _sending(Deadline(time.monotonic() - 0.001, 1.0))
    try:
        with pytest.raises(APITimeoutError, match=r"total timeout \(1s\) ran out waiting for the server"):
            stream.read(10, timeout=60.0)
        with pytest.raises(APITimeoutError, match="total timeout"):
            backend.connect_tcp("api.m3ter.test", 443, timeout=60.0)
    finally:
        SENDING.reset(token)
    assert network.connects == [("api.m3ter.test", 443)]  # only the one made before


def test_a_read_cut_short_by_the_deadline_is_the_deadline_error() -> None:
    given: list[float | None] = []

    class Stalled(httpcore.NetworkStream):
        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            given.append(timeout)
            time.sleep(min(timeout or 0, 1.0))  # a socket silent for its whole timeout (1 s at most: a guard)
            raise httpcore.ReadTimeout("timed out")

    class Backend(httpcore.NetworkBackend):
        def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
            return Stalled()

    stream = DeadlineBackend(Backend()).connect_tcp("api.m3ter.test", 443)
    token = _sending(Deadline(time.monotonic() + 0.05, 0.05))
    try:
        with pytest.raises(APITimeoutError, match="total timeout"):
            stream.read(10, timeout=60.0)
    finally:
        SENDING.reset(token)
    assert len(given) == 1
    assert given[0] is not None
    assert given[0] <= 0.05  # the read was given the time left, not its 60 s


def test_without_a_deadline_the_socket_timeout_stands(network: Network) -> None:
    backend = DeadlineBackend(httpcore.SyncBackend())
    stream = backend.connect_tcp("api.m3ter.test", 443, timeout=7.0)
    stream.read(10, timeout=60.0)
    assert network.timeouts == [("connect", 7.0), ("read", 60.0)]


async def test_async_deadline_error_names_the_total_timeout() -> None:
    """The async client bounds the whole exchange: a transport that never answers ends at the deadline."""
    stalled = asyncio.Event()

    async def never(request: httpx.Request) -> httpx.Response:
        await stalled.wait()
        raise AssertionError("unreachable")

    client = AsyncM3terBilling(
        base_url="https://api.m3ter.test",
        org_id=ORG_ID,
        token=TOKEN,
        transport=httpx.MockTransport(never),
        total_timeout=0.05,
        max_retries=0,
    )
    async with client:
        with pytest.raises(APITimeoutError, match="total timeout"):
            await asyncio.wait_for(client.bills.retrieve("bill-1"), timeout=30)  # a hang guard only


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("https://statements.example/x.json", 443),
        ("http://statements.example/x.json", 80),
        ("https://statements.example:8443/x.json", 8443),
    ],
)
def test_the_public_pinning_extensions_pin_the_urls_own_port(url: str, port: int) -> None:
    from m3ter_billing.backends import statement_extensions

    (pinned,) = statement_extensions(url, ["203.0.113.7"]).values()
    assert (pinned.host, pinned.port, pinned.addresses) == ("statements.example", port, ("203.0.113.7",))
    assert statement_extensions(url, None) == {}
