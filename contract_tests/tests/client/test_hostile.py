"""The client against hostile and broken servers on raw sockets (127.0.0.1): every call ends, in bounded time
and memory, with a result or a typed error. Deadlines are small (tenths of a second) and asserted by the
error they produce, never by measuring durations."""

from __future__ import annotations

import asyncio
import base64
import gzip
import importlib.util
import zlib
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx
import pytest
from m3ter_billing import (
    APIConnectionError,
    APITimeoutError,
    AsyncM3terBilling,
    M3terBilling,
    M3terError,
    ResponseTooLargeError,
    StatementJobTimeoutError,
    _statements,
)
from m3ter_billing.backends import HttpBackend

from .hostile import TOKEN_BODY, WARM_UP, Exchange, RawServer, api, chunk, gzip_bomb
from .support import API_KEY, API_SECRET, ORG_ID, bill_body

BILL = "bill-1"
BILL_BYTES = b'{"id": "bill-1", "version": 1, "status": "PENDING", "billingFrequency": "MONTHLY"}'


def options(server: RawServer, **extra: Any) -> dict[str, Any]:
    return {
        "base_url": server.url,
        "org_id": ORG_ID,
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "trust_env": False,
        **extra,
    }


def sync_call(server: RawServer, **extra: Any) -> Any:
    with M3terBilling(sleep=lambda s: None, **options(server, **extra)) as client:
        return client.bills.retrieve(BILL)


def async_call(server: RawServer, **extra: Any) -> Any:
    return _async_call(server, "httpx", **extra)


def aiohttp_call(server: RawServer, **extra: Any) -> Any:
    return _async_call(server, "aiohttp", **extra)


def aiohttp_warm_call(server: RawServer, **extra: Any) -> Any:
    return _async_call(server, "aiohttp", warm=True, **extra)


def _async_call(server: RawServer, backend: HttpBackend, *, warm: bool = False, **extra: Any) -> Any:
    async def nap(seconds: float) -> None:
        return None

    async def go() -> Any:
        async with AsyncM3terBilling(sleep=nap, http_backend=backend, **options(server, **extra)) as client:
            if warm:
                await client.bills.retrieve(WARM_UP)
            return await client.bills.retrieve(BILL)

    return asyncio.run(go())


# "aiohttp": the async client over the aiohttp extra (a dev dependency), held to the same behaviour;
# "aiohttp-warm": the same call made once the token is cached (the aiohttp backend's quick lane).
CALLS = {"sync": sync_call, "async": async_call, "aiohttp": aiohttp_call, "aiohttp-warm": aiohttp_warm_call}


# Skipped only where aiohttp is missing (the floors run installs the extra, at its floor).
WITHOUT_AIOHTTP = pytest.mark.skipif(importlib.util.find_spec("aiohttp") is None, reason="aiohttp not installed")


@pytest.fixture(params=[pytest.param(name, marks=WITHOUT_AIOHTTP) if "aiohttp" in name else name for name in CALLS])
def call(request: pytest.FixtureRequest) -> Callable[..., Any]:
    return CALLS[request.param]


# -- bounded time ------------------------------------------------------------------------------------------


def drip(exchange: Exchange) -> None:
    """Headers at once, then one byte of the body every 20 ms for as long as anyone listens."""
    exchange.head(200, {"Content-Type": "application/json", "Content-Length": "100000"})
    while exchange.wait(0.02) and exchange.send(b" "):
        pass


def test_slow_drip_body_ends_at_the_total_timeout(call: Callable[..., Any]) -> None:
    with RawServer(api(drip)) as server, pytest.raises(APITimeoutError, match="total timeout"):
        call(server, total_timeout=0.3)


def test_slow_drip_token_endpoint_ends_at_the_total_timeout(call: Callable[..., Any]) -> None:
    with RawServer(api(token=drip)) as server:
        with pytest.raises(APITimeoutError):
            call(server, total_timeout=0.3)
        assert server.count("GET", BILL) == 0


def drip_then_stall(exchange: Exchange) -> None:
    """Headers at once, five body bytes 20 ms apart, then nothing: every read so far got its byte in time,
    and the next one waits for a byte that never comes."""
    exchange.head(200, {"Content-Type": "application/json", "Content-Length": "100000"})
    for _ in range(5):
        if not (exchange.wait(0.02) and exchange.send(b" ")):
            return
    while exchange.wait(0.05):
        pass


def header_drip(exchange: Exchange) -> None:
    """The status line, then one header byte every 20 ms: the headers never end (for 5 s at most, a hang
    guard; then silence)."""
    exchange.send(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    for _ in range(250):
        if not (exchange.wait(0.02) and exchange.send(b"a")):
            return
    while exchange.wait(0.05):
        pass


# Each read is given a socket timeout; before the fix, the one after the last byte got the whole time the
# call had left when it started, so the call ended up to that much past its deadline with a plain read
# timeout (and a header drip never ended). The deadline's own error says the total timeout cut it short.
@pytest.mark.parametrize("handler", [drip_then_stall, header_drip], ids=["body", "headers"])
@pytest.mark.parametrize("timeout", [None, 30.0], ids=["no-socket-timeout", "long-socket-timeout"])
def test_a_read_after_a_drip_ends_at_the_total_timeout(
    call: Callable[..., Any], handler: Callable[[Exchange], None], timeout: float | None
) -> None:
    with RawServer(api(handler)) as server:
        with pytest.raises(APITimeoutError, match="total timeout"):
            call(server, timeout=timeout, total_timeout=0.5, max_retries=0)
        assert server.count("GET", BILL) == 1


def test_a_slow_token_then_a_stalled_body_share_one_deadline(call: Callable[..., Any]) -> None:
    def slow_token(exchange: Exchange) -> None:
        exchange.wait(0.1)
        exchange.token()

    with RawServer(api(drip_then_stall, token=slow_token)) as server, pytest.raises(APITimeoutError, match="total"):
        call(server, timeout=30.0, total_timeout=0.5, max_retries=0)


def silent(exchange: Exchange) -> None:
    """Read the request, never answer."""
    while exchange.wait(0.05):
        pass


def test_silent_token_endpoint_times_out_with_the_client_timeouts(call: Callable[..., Any]) -> None:
    with RawServer(api(token=silent)) as server:
        with pytest.raises(APITimeoutError):
            call(server, timeout=0.2, total_timeout=5, max_retries=1)
        # the token request was retried once (its own timeout, then the retry's), then gave up
        assert server.settled_count("POST", "/oauth/token", 2) == 2


def test_per_call_timeout_keyword_bounds_a_silent_server() -> None:
    with RawServer(api(bill=silent)) as server, M3terBilling(**options(server, max_retries=0)) as client:
        with pytest.raises(APITimeoutError):
            client.bills.retrieve(BILL, timeout=0.2)
        with pytest.raises(APITimeoutError):
            client.with_options(timeout=0.2).statement_jobs.retrieve("job-1")


WAITS = ["sync", "httpx", pytest.param("aiohttp", marks=WITHOUT_AIOHTTP)]


@pytest.mark.parametrize("backend", WAITS)
def test_a_hanging_poll_ends_the_wait_near_its_timeout(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The client's own limits (30 s a read, 60 s a call) would hold the poll far past the wait's timeout; the
    # poll gets the wait's time left, or the grace (made short here), and its timeout ends the wait.
    monkeypatch.setattr(_statements, "POLL_GRACE", 0.2)
    limits = {"timeout": 30, "total_timeout": 60, "max_retries": 0}

    def wait(server: RawServer) -> None:
        if backend == "sync":
            with M3terBilling(**options(server, **limits)) as client:
                client.statement_jobs.wait("job-1", timeout=0.1)
            return

        async def go() -> None:
            chosen: Any = backend
            async with AsyncM3terBilling(http_backend=chosen, **options(server, **limits)) as client:
                await client.statement_jobs.wait("job-1", timeout=0.1)

        asyncio.run(go())

    with RawServer(api(bill=silent)) as server, pytest.raises(StatementJobTimeoutError) as caught:
        wait(server)
    assert "still not answered yet after 0.1s (the last poll got no answer in time)" in str(caught.value)
    assert isinstance(caught.value.__cause__, APITimeoutError)


@pytest.mark.parametrize("backend", WAITS)
def test_a_poll_told_to_retry_later_than_the_wait_allows_ends_it(backend: str) -> None:
    # A 429 asking for 30 s while the wait has 20 s: the poll gives up at once (its bound is the wait's, the
    # client's own total timeout being 60 s), and the wait ends with the reason, not the poll's error.
    limits = {"timeout": 30, "total_timeout": 60}

    def wait(server: RawServer) -> None:
        if backend == "sync":
            with M3terBilling(**options(server, **limits)) as client:
                client.statement_jobs.wait("job-1", timeout=20)
            return

        async def go() -> None:
            chosen: Any = backend
            async with AsyncM3terBilling(http_backend=chosen, **options(server, **limits)) as client:
                await client.bills.retrieve(WARM_UP)  # the polls on a cached token (the aiohttp quick lane)
                await client.statement_jobs.wait("job-1", timeout=20)

        asyncio.run(go())

    def busy(exchange: Exchange) -> None:
        exchange.respond(429, b'{"message": "slow down"}', {"Retry-After": "30"})

    with RawServer(api(bill=busy)) as server, pytest.raises(StatementJobTimeoutError) as caught:
        wait(server)
    assert "the last poll could not finish within the wait's 20s" in str(caught.value)
    assert "waiting 30.00s to retry after 429" in str(caught.value)
    assert isinstance(caught.value.__cause__, APITimeoutError)
    assert server.count("GET", "/statementjobs/job-1") == 1


# -- retries that cover the body ------------------------------------------------------------------------


def half_then_reset(exchange: Exchange) -> None:
    exchange.head(200, {"Content-Type": "application/json", "Content-Length": str(len(BILL_BYTES))})
    exchange.send(BILL_BYTES[:20])
    exchange.reset()


def half_then_close(exchange: Exchange) -> None:
    exchange.head(200, {"Content-Type": "application/json", "Content-Length": str(len(BILL_BYTES))})
    exchange.send(BILL_BYTES[:20])
    exchange.close()


def chunked_then_close(exchange: Exchange) -> None:
    exchange.head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    exchange.send(chunk(BILL_BYTES[:20]))
    exchange.close()  # no terminating zero-length chunk


BROKEN = {"reset": half_then_reset, "early-close": half_then_close, "incomplete-chunked": chunked_then_close}


def first_broken(
    broken: Callable[[Exchange], object], good: Callable[[Exchange], object]
) -> Callable[[Exchange], None]:
    seen: list[int] = []

    def handle(exchange: Exchange) -> None:
        seen.append(1)
        (broken if len(seen) == 1 else good)(exchange)

    return handle


@pytest.mark.parametrize("fault", sorted(BROKEN))
def test_a_body_broken_mid_read_is_retried(call: Callable[..., Any], fault: str) -> None:
    good = lambda exchange: exchange.respond(200, BILL_BYTES)  # noqa: E731
    with RawServer(api(first_broken(BROKEN[fault], good))) as server:
        bill = call(server)
        assert bill.id == BILL
        assert server.count("GET", BILL) == 2


@pytest.mark.parametrize("fault", sorted(BROKEN))
def test_a_token_body_broken_mid_read_is_retried(call: Callable[..., Any], fault: str) -> None:
    def broken(exchange: Exchange) -> None:
        exchange.head(200, {"Content-Type": "application/json", "Content-Length": "200"})
        exchange.send(b'{"token_type": "Bearer", ')
        exchange.reset() if fault == "reset" else exchange.close()

    with RawServer(api(token=first_broken(broken, Exchange.token))) as server:
        assert call(server).id == BILL
        assert server.count("POST", "/oauth/token") == 2


def test_a_body_that_always_breaks_exhausts_the_retries(call: Callable[..., Any]) -> None:
    with RawServer(api(half_then_reset)) as server:
        with pytest.raises(APIConnectionError):
            call(server)
        assert server.count("GET", BILL) == 3  # the first attempt and two retries


# -- bounded memory --------------------------------------------------------------------------------------


def endless_chunked(exchange: Exchange) -> None:
    exchange.head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    piece = chunk(b" " * 65536)
    while not exchange.stopped and exchange.send(piece):
        pass


def endless_gzip_bomb(exchange: Exchange) -> None:
    exchange.head(200, {"Content-Type": "application/json", "Content-Encoding": "gzip", "Transfer-Encoding": "chunked"})
    for data in gzip_bomb():
        if exchange.stopped or not exchange.send(chunk(data)):
            return


def gzip_in_gzip_bomb(exchange: Exchange) -> None:
    """64 MiB of zeros, gzipped twice (a few hundred bytes on the wire)."""
    inner = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    once = b"".join(inner.compress(bytes(1 << 20)) for _ in range(64)) + inner.flush()
    outer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    twice = outer.compress(once) + outer.flush()
    exchange.respond(200, twice, {"Content-Encoding": "gzip, gzip"})


def announced_huge(exchange: Exchange) -> None:
    """Announce a 1 GB body, send none of it, and wait: the client must not wait for it."""
    exchange.head(200, {"Content-Type": "application/json", "Content-Length": str(10**9)})
    while exchange.wait(0.05):
        pass


def _endless_encoded(exchange: Exchange, encoding: str, first: bytes, piece: bytes) -> None:
    exchange.head(
        200, {"Content-Type": "application/json", "Content-Encoding": encoding, "Transfer-Encoding": "chunked"}
    )
    exchange.send(chunk(first))
    while not exchange.stopped and exchange.send(chunk(piece)):
        pass


# Compressed bodies that decode to little or nothing however long they run.
gzip_then_zeros = partial(_endless_encoded, encoding="gzip", first=gzip.compress(b"{}"), piece=bytes(65536))
empty_deflate_blocks = partial(
    _endless_encoded, encoding="deflate", first=b"\x78\x9c", piece=b"\x00\x00\x00\xff\xff" * 13107
)


@pytest.mark.parametrize(
    "body",
    [endless_chunked, endless_gzip_bomb, gzip_in_gzip_bomb, announced_huge, gzip_then_zeros, empty_deflate_blocks],
    ids=["chunked", "gzip-bomb", "gzip-in-gzip", "announced", "gzip-then-zeros", "empty-deflate-blocks"],
)
def test_a_body_past_max_response_bytes_is_refused(call: Callable[..., Any], body: Callable[[Exchange], None]) -> None:
    with RawServer(api(body)) as server:
        with pytest.raises(ResponseTooLargeError) as info:
            call(server, max_response_bytes=1024 * 1024)
        assert info.value.limit == 1024 * 1024
        assert server.count("GET", BILL) == 1  # not retried


def test_a_gzip_body_within_the_limit_is_decoded(call: Callable[..., Any]) -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    body = compressor.compress(BILL_BYTES) + compressor.flush()

    with RawServer(api(lambda e: e.respond(200, body, {"Content-Encoding": "gzip"}))) as server:
        assert call(server, max_response_bytes=4096).id == BILL


def _deflated(exchange: Exchange, body: bytes) -> bool:
    return exchange.respond(200, body, {"Content-Encoding": "deflate"})


def test_raw_deflate_and_zlib_deflate_are_both_decoded() -> None:
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    bodies = [zlib.compress(BILL_BYTES), raw.compress(BILL_BYTES) + raw.flush()]
    for body in bodies:
        with RawServer(api(partial(_deflated, body=body))) as server:
            assert sync_call(server).id == BILL


def _deflated_in_pieces(exchange: Exchange, body: bytes, first: int) -> None:
    exchange.head(
        200, {"Content-Type": "application/json", "Content-Encoding": "deflate", "Transfer-Encoding": "chunked"}
    )
    exchange.send(chunk(body[:first]) + chunk(body[first:]) + b"0\r\n\r\n")


@pytest.mark.parametrize("wrapped", [True, False], ids=["zlib", "raw"])
def test_deflate_is_decoded_whatever_its_first_chunk(call: Callable[..., Any], wrapped: bool) -> None:
    # Whether "deflate" is zlib-wrapped or raw is known from its first two bytes, which may come apart.
    raw = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
    body = raw.compress(BILL_BYTES) + raw.flush()
    for first in (1, 2, 3):
        with RawServer(api(partial(_deflated_in_pieces, body=body, first=first))) as server:
            assert call(server).id == BILL


def test_a_body_that_is_not_what_its_encoding_says_is_a_connection_error(call: Callable[..., Any]) -> None:
    server = RawServer(api(lambda e: e.respond(200, BILL_BYTES, {"Content-Encoding": "gzip"})))
    with server, pytest.raises(APIConnectionError, match="Content-Encoding"):
        call(server)


def test_an_encoding_not_asked_for_is_refused(call: Callable[..., Any]) -> None:
    server = RawServer(api(lambda e: e.respond(200, BILL_BYTES, {"Content-Encoding": "br"})))
    with server, pytest.raises(APIConnectionError, match="unsupported Content-Encoding"):
        call(server)


def test_the_client_asks_for_gzip_and_deflate_only() -> None:
    seen: list[str] = []

    def record(exchange: Exchange) -> None:
        seen.append(exchange.headers.get("accept-encoding", ""))
        exchange.json(200, bill_body())

    with RawServer(api(record)) as server:
        sync_call(server)
    assert seen == ["gzip, deflate"]


def _chain(error: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is not None and all(current is not seen for seen in found):
            found.append(current)
            pending += (current.__cause__, current.__context__)
    return found


def _download(server: RawServer, backend: str) -> Any:
    if backend == "sync":
        with M3terBilling(sleep=lambda s: None, **options(server, max_retries=1)) as client:
            return client.statement_jobs.download("j1")

    async def nap(seconds: float) -> None:
        return None

    async def go() -> Any:
        async with AsyncM3terBilling(sleep=nap, http_backend=backend, **options(server, max_retries=1)) as client:  # type: ignore[arg-type]
            return await client.statement_jobs.download("j1")

    return asyncio.run(go())


@pytest.mark.parametrize("backend", ["sync", "httpx", pytest.param("aiohttp", marks=WITHOUT_AIOHTTP)])
def test_a_failed_download_keeps_no_signed_request_in_its_chain(backend: str) -> None:
    # The typed error keeps httpx's error as its cause (its type and text help); not the httpx.Request,
    # whose repr shows the whole presigned URL and whose headers hold the bearer token of API calls.
    signature = "SIGNATURE0123456789abcdefSECRET"

    def serve(exchange: Exchange) -> None:
        if "/statementjobs/" in exchange.path:
            url = f"http://127.0.0.1:{exchange.conn.getsockname()[1]}/stmt.json?X-Amz-Signature={signature}"
            exchange.json(
                200, {"id": "j1", "version": 1, "statementJobStatus": "COMPLETE", "presignedJsonStatementUrl": url}
            )
        else:
            exchange.reset()

    with RawServer(api(serve)) as server, pytest.raises(APIConnectionError) as info:
        _download(server, backend)
    chain = _chain(info.value)
    assert len(chain) > 1  # httpx's error is still there
    for error in chain:
        request = getattr(error, "_request", None)
        assert request is None, f"{type(error).__name__} keeps {request!r}"
        assert signature not in repr(error)
        assert signature not in str(error)


# -- nothing secret reachable from an error --------------------------------------------------------------

SIGNATURE = "SIGNATURE0123456789abcdefSECRET"
CREDENTIAL = "AKIASECRETCREDENTIAL%2F20250101%2Fus-east-1%2Fs3%2Faws4_request"
SECRETS = (
    str(TOKEN_BODY["access_token"]),
    SIGNATURE,
    "AKIASECRETCREDENTIAL",
    API_SECRET,
    base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode(),
)


def _not_http(exchange: Exchange) -> None:
    """An answer aiohttp and httpx cannot parse: no status line."""
    exchange.send(b"NOT-HTTP garbage\r\n\r\n")
    exchange.close()


def _bad_chunk(exchange: Exchange) -> None:
    """A status line and headers, then a chunked body whose first chunk size is not a number."""
    exchange.head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    exchange.send(b"zz\r\n{}\r\n")
    exchange.close()


def _echoing_status(exchange: Exchange) -> None:
    """A status line that is not HTTP, quoting the request target (with a presigned URL's signature):
    httpcore's and h11's errors quote it back, chained under the client's."""
    exchange.send(b"HTTP/1.1 2000 " + exchange.target.encode("latin-1") + b"\r\n\r\n")
    exchange.close()


FAULTS = {"not-http": _not_http, "bad-chunk": _bad_chunk, "silent": silent, "echoing-status": _echoing_status}


def _failing(operation: str, fault: Callable[[Exchange], None]) -> Callable[[Exchange], None]:
    """The bill (``bill``), every poll of the job (``wait``) or the presigned statement URL (``download``)
    answered by ``fault``; a COMPLETE job with a signed URL on the server's own origin otherwise."""

    def serve(exchange: Exchange) -> None:
        port = exchange.conn.getsockname()[1]
        job = "/statementjobs/" in exchange.path
        failing = {
            "bill": exchange.path.endswith(f"/bills/{BILL}"),
            "wait": job,
            "download": exchange.path == "/stmt.json",
        }
        if failing[operation]:
            fault(exchange)
        elif job:
            query = f"X-Amz-Credential={CREDENTIAL}&X-Amz-Signature={SIGNATURE}"
            url = f"http://127.0.0.1:{port}/stmt.json?{query}"
            exchange.json(
                200, {"id": "j1", "version": 1, "statementJobStatus": "COMPLETE", "presignedJsonStatementUrl": url}
            )
        else:
            exchange.json(404, {"message": "no"})

    return serve


def _operate(server: RawServer, backend: str, operation: str, warm: bool) -> None:
    """``operation`` on ``backend`` (after a call that caches the token, when ``warm``): it must fail."""
    limits = options(server, max_retries=1, timeout=30, total_timeout=0.5)

    def sync() -> None:
        with M3terBilling(sleep=lambda s: None, **limits) as client:
            if warm:
                client.bills.retrieve(WARM_UP)
            if operation == "bill":
                client.bills.retrieve(BILL)
            elif operation == "wait":
                client.statement_jobs.wait("j1", timeout=5)
            else:
                client.statement_jobs.download("j1")

    async def nap(seconds: float) -> None:
        return None

    async def go() -> None:
        chosen: Any = backend
        async with AsyncM3terBilling(sleep=nap, http_backend=chosen, **limits) as client:
            if warm:
                await client.bills.retrieve(WARM_UP)
            if operation == "bill":
                await client.bills.retrieve(BILL)
            elif operation == "wait":
                await client.statement_jobs.wait("j1", timeout=5)
            else:
                await client.statement_jobs.download("j1")

    if backend == "sync":
        sync()
    else:
        asyncio.run(go())


def _reachable_text(error: BaseException) -> list[str]:
    """What a program can read from ``error`` and everything chained to it (``__cause__`` and
    ``__context__``, recursively): each one's str, repr, attributes and aiohttp's ``request_info``."""
    texts: list[str] = []
    for current in _chain(error):
        texts += [str(current), repr(current)]
        texts += [f"{name}={value!r}" for name, value in vars(current).items()]
        info = getattr(current, "request_info", None)
        if info is not None:
            texts += [repr(info), str(info.url), str(info.real_url), repr(dict(info.headers))]
    return texts


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("operation", ["bill", "wait", "download"])
@pytest.mark.parametrize("backend", ["sync", "httpx", pytest.param("aiohttp", marks=WITHOUT_AIOHTTP)])
def test_no_secret_is_reachable_from_a_failed_call(backend: str, operation: str, fault: str, warm: bool) -> None:
    # aiohttp's own exceptions carry request_info (the request's headers, a bearer token among them, and its
    # whole URL, a presigned signature among them): translated, they must not stay chained to the error.
    with RawServer(api(_failing(operation, FAULTS[fault]))) as server, pytest.raises(M3terError) as info:
        _operate(server, backend, operation, warm)
    for text in _reachable_text(info.value):
        for secret in SECRETS:
            assert secret not in text, f"{secret[:12]}... reachable from {type(info.value).__name__}: {text[:300]}"


def test_an_httpx_error_the_caller_is_handling_is_left_as_it_was(call: Callable[..., Any]) -> None:
    # A call made while the caller handles an httpx error of its own chains that error as the context of
    # the client's; the client takes its own requests off its errors, never the caller's.
    mine = httpx.Request("GET", "http://127.0.0.1:9/mine")
    own = httpx.ConnectError("the caller's own", request=mine)
    with RawServer(api(lambda exchange: exchange.reset())) as server:
        try:
            raise own
        except httpx.ConnectError:
            with pytest.raises(APIConnectionError) as info:
                call(server, max_retries=0)
    assert info.value.__cause__ is not own  # the client's error, with the caller's in its chain
    assert own.request is mine
