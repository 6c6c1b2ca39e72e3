"""The async client's HTTP backends: choosing one, the extra it needs, and connections kept alive under
fan-out (a keep-alive server on 127.0.0.1 counts the TCP connections it accepts)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
import traceback
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from m3ter_billing import AsyncM3terBilling, ConfigurationError
from m3ter_billing._backends import async_network_transport

from .hostile import Exchange, RawServer
from .support import API_KEY, API_SECRET, ORG_ID, bill_body, token_body

# Skipped only where aiohttp is missing (the floors run installs the extra, at its floor).
BACKENDS = [
    "httpx",
    pytest.param("aiohttp", marks=pytest.mark.skipif(importlib.util.find_spec("aiohttp") is None, reason="no aiohttp")),
]


def test_an_unknown_backend_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="http_backend must be one of 'httpx', 'aiohttp', not 'curl'"):
        AsyncM3terBilling(org_id=ORG_ID, api_key=API_KEY, api_secret=API_SECRET, http_backend="curl")  # type: ignore[arg-type]


def test_the_aiohttp_backend_without_aiohttp_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiohttp", None)  # as if it were not installed
    with pytest.raises(ConfigurationError, match=r"m3ter-billing\[aiohttp\]"):
        AsyncM3terBilling(org_id=ORG_ID, api_key=API_KEY, api_secret=API_SECRET, http_backend="aiohttp")


def test_the_default_backend_never_imports_aiohttp() -> None:
    code = (
        "import sys, asyncio\n"
        "from m3ter_billing import AsyncM3terBilling\n"
        "c = AsyncM3terBilling(org_id='o', api_key='k', api_secret='s')\n"
        "asyncio.run(c.close())\n"
        "assert 'aiohttp' not in sys.modules, 'aiohttp was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


class KeepAliveServer:
    """HTTP/1.1 on 127.0.0.1 that keeps every connection open and counts the ones it accepted. Bill requests
    are answered ``together`` at a time, once that many are waiting: all of them are in flight at once."""

    def __init__(self, together: int) -> None:
        self.together = together
        self._waiting: list[asyncio.Future[None]] = []
        self.accepted = 0
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
                await reader.readexactly(int(headers.get("content-length", "0") or 0))
                self.requests += 1
                if lines[0].startswith("GET"):
                    await self._all_in_flight()
                body = json.dumps(token_body() if lines[0].startswith("POST") else bill_body()).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _all_in_flight(self) -> None:
        arrived = asyncio.get_running_loop().create_future()
        self._waiting.append(arrived)
        if len(self._waiting) == self.together:
            for waiting in self._waiting:
                waiting.set_result(None)
            self._waiting = []
        await arrived

    async def __aenter__(self) -> KeepAliveServer:
        def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.ensure_future(self._serve(reader, writer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        self._server = await asyncio.start_server(handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()


@pytest.fixture
async def server() -> AsyncIterator[KeepAliveServer]:
    async with KeepAliveServer(together=64) as running:
        yield running


@pytest.mark.parametrize("backend", BACKENDS)
async def test_64_concurrent_calls_reuse_their_connections(server: KeepAliveServer, backend: str) -> None:
    client = AsyncM3terBilling(
        base_url=server.url,
        org_id=ORG_ID,
        api_key=API_KEY,
        api_secret=API_SECRET,
        trust_env=False,
        http_backend=backend,  # type: ignore[arg-type]
    )

    async def three_calls(n: int) -> list[Any]:
        # Each task sends its next call as soon as its last answer is in: the connection it just left
        # idle is there to take it (and would be closed already if the pool kept fewer idle connections).
        return [await client.bills.retrieve(f"bill-{n}") for _ in range(3)]

    async with client:
        results = await asyncio.gather(*(three_calls(n) for n in range(64)))
    assert sum(map(len, results)) == 192
    assert server.requests == 1 + 192  # one token, then every call
    assert 64 <= server.accepted <= 65  # one per task (the token's connection may be one of them), never more


def _raw_client(url: str, backend: str) -> AsyncM3terBilling:
    """A client of the raw server at ``url`` (nothing goes anywhere else), not retrying."""
    return AsyncM3terBilling(
        base_url=url,
        org_id=ORG_ID,
        api_key=API_KEY,
        api_secret=API_SECRET,
        trust_env=False,
        max_retries=0,
        http_backend=backend,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_malformed_response_error_names_no_url_signature(backend: str) -> None:
    def garbage(exchange: Exchange) -> None:
        exchange.send(b"HTTP/1.1 2OO NOT-A-STATUS\r\n\r\n")

    signed = "?X-Amz-Signature=feedfacecafe0123456789&X-Amz-Credential=AKIDEXAMPLE"

    async def go(url: str) -> BaseException:
        async with _raw_client(url, backend) as client:
            with pytest.raises(httpx.TransportError) as caught:
                # As download() fetches a presigned URL: no credentials, so no token request first.
                await client.http.get(url + "/statement.json" + signed, auth=None)
        return caught.value

    with RawServer(garbage) as server:
        error = asyncio.run(go(server.url))
    # The malformed status line itself failed (aiohttp's text for it names the URL, signature and all).
    assert isinstance(error, httpx.RemoteProtocolError), repr(error)
    assert "/statement.json" in str(error.request.url)
    text = "".join(traceback.format_exception(error))
    assert "feedfacecafe0123456789" not in text
    assert "AKIDEXAMPLE" not in text


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_header_the_backend_cannot_write_is_a_local_protocol_error(backend: str) -> None:
    # Below the facade's checks (client.http sends what it is given): the same httpx error on both backends,
    # which the facade reports as APIConnectionError, and nothing on the wire.
    async def go(url: str) -> BaseException:
        async with _raw_client(url, backend) as client:
            with pytest.raises(httpx.TransportError) as caught:
                await client.http.get(url + "/x", headers={"X-Note": "a\r\nInjected: 1"}, auth=None)
        return caught.value

    with RawServer(lambda exchange: exchange.json(200, {})) as server:
        error = asyncio.run(go(server.url))
        assert server.requests == []
    assert isinstance(error, httpx.LocalProtocolError), repr(error)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({}, b""),  # none of the headers either HTTP library would add of its own
        ({}, b'{"a": 1}'),  # a body without a Content-Type
        ({"Accept": "application/json", "User-Agent": "ua/1", "Accept-Encoding": "identity"}, b""),
        ({"Content-Type": "text/plain", "User-Agent": "ua/1"}, b"abc"),
    ],
)
def test_the_network_sends_exactly_the_request_headers(backend: str, headers: dict[str, str], body: bytes) -> None:
    # The network transport under the client's layers: what reaches the wire is the request's own headers
    # (and the Content-Length of its body), nothing either library adds where one is missing.
    seen: list[dict[str, str]] = []

    def record(exchange: Exchange) -> None:
        seen.append(exchange.headers)
        exchange.json(200, {})

    async def go(url: str) -> None:
        transport = async_network_transport(backend, trust_env=False)  # type: ignore[arg-type]
        try:
            for _ in range(2):  # the second with the headers as the transport has kept them
                request = httpx.Request("POST" if body else "GET", url + "/x", headers=headers, content=body)
                response = await transport.handle_async_request(request)
                await response.aread()
        finally:
            await transport.aclose()

    with RawServer(record) as server:
        asyncio.run(go(server.url))
    expected = {"host", *(name.lower() for name in headers), *(["content-length"] if body else [])}
    assert [set(names) for names in seen] == [expected, expected]
    assert all(sent[name.lower()] == value for sent in seen for name, value in headers.items())
