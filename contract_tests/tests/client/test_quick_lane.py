"""The aiohttp backend's quick lane (``_direct.DirectSender.retrieve``) ends every call as the default path does.

A plain ``retrieve()`` made with a cached token goes out without httpx's request and response objects; when
its first answer is anything but a plain 200 (another status, a cookie, a body that does not decode, a reset,
a timeout, a body too large) the default path takes over from that answer. Each case below is played by a
raw-socket server on 127.0.0.1 to a warm client (its token cached) on both backends: the results, the typed
errors, the requests the server saw and the token requests must be the same, and the aiohttp client must
have taken the lane.
"""

from __future__ import annotations

import asyncio
import gzip
import importlib.util
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from m3ter_billing import AsyncM3terBilling, M3terError, _direct, _transport

from .hostile import WARM_UP, Exchange, RawServer, api
from .support import API_KEY, API_SECRET, ORG_ID, bill_body, dumps, job_body

pytestmark = pytest.mark.skipif(importlib.util.find_spec("aiohttp") is None, reason="no aiohttp")

BILL = "bill-1"
Answer = Callable[[Exchange], object]


def ok(exchange: Exchange) -> None:
    exchange.json(200, bill_body(BILL))


def status(code: int, **headers: str) -> Answer:
    return lambda exchange: exchange.respond(code, b'{"message": "no"}', headers)


def cookie(exchange: Exchange) -> None:
    exchange.respond(200, dumps(bill_body(BILL)), {"Set-Cookie": "lb=sticky-1; Path=/"})


def gzipped(exchange: Exchange) -> None:
    exchange.respond(200, gzip.compress(dumps(bill_body(BILL))), {"Content-Encoding": "gzip"})


def body(raw: bytes) -> Answer:
    return lambda exchange: exchange.respond(200, raw)


def reset_mid_body(exchange: Exchange) -> None:
    exchange.head(200, {"Content-Type": "application/json", "Content-Length": "500"})
    exchange.send(b'{"id": "bill-1", ')
    exchange.reset()


def short_body(exchange: Exchange) -> None:
    exchange.head(200, {"Content-Type": "application/json", "Content-Length": "500"})
    exchange.send(b'{"id": "bill-1", ')
    exchange.close()


def stall(exchange: Exchange) -> None:
    exchange.head(200, {"Content-Type": "application/json", "Content-Length": "100"})
    while exchange.wait(0.05):
        pass


class Script:
    """Answers the n-th call to the bill with ``answers[n]`` (the last one again after the end) and keeps
    what every request carried."""

    def __init__(self, answers: list[Answer]) -> None:
        self.answers = answers
        self.calls = 0
        self.seen: list[tuple[str, str, str | None, str | None]] = []
        self._lock = threading.Lock()

    def __call__(self, exchange: Exchange) -> None:
        with self._lock:
            answer = self.answers[min(self.calls, len(self.answers) - 1)]
            self.calls += 1
            self.seen.append(
                (
                    exchange.method,
                    exchange.target,
                    exchange.headers.get("authorization"),
                    exchange.headers.get("cookie"),
                )
            )
        answer(exchange)


CASES: dict[str, tuple[list[Answer], dict[str, Any], int]] = {
    # name: (the answers, client options, calls made after the warm-up)
    "200": ([ok], {}, 2),
    "200 setting a cookie": ([cookie, ok], {}, 2),
    "200 gzipped": ([gzipped], {}, 1),
    "200 not json": ([body(b"<html>")], {}, 1),
    "200 not a bill": ([body(b'{"id": 5, "version": "one"}')], {}, 1),
    "404": ([status(404)], {}, 1),
    "503 then 200": ([status(503), ok], {}, 1),
    "429 with Retry-After then 200": ([status(429, **{"Retry-After": "1"}), ok], {}, 1),
    "503 until the retries run out": ([status(503)], {}, 1),
    "401 then 200 (a new token)": ([status(401), ok], {}, 1),
    "403 twice": ([status(403)], {}, 1),
    "302": ([status(302, Location="/elsewhere")], {}, 1),
    "204": ([status(204)], {}, 1),
    "reset in the body then 200": ([reset_mid_body, ok], {}, 1),
    "short body then 200": ([short_body, ok], {}, 1),
    "body too large": ([ok], {"max_response_bytes": 20}, 1),
    "stalled body": ([stall], {"total_timeout": 0.3}, 1),
    "no retries": ([status(503), ok], {"max_retries": 0}, 1),
}


def outcome(result: Any, server: RawServer) -> Any:
    if isinstance(result, M3terError):
        status_code = getattr(result, "status_code", None)
        response = getattr(result, "response", None)
        message = str(result).replace(server.url, "<server>")
        return (type(result).__name__, message, status_code, None if response is None else response.status_code)
    return result


async def nap(seconds: float) -> None:
    return None


def client_of(server: RawServer, backend: str = "aiohttp", **extra: Any) -> AsyncM3terBilling:
    """A client of ``server`` that waits for nothing between retries."""
    return AsyncM3terBilling(
        base_url=server.url,
        org_id=ORG_ID,
        api_key=API_KEY,
        api_secret=API_SECRET,
        trust_env=False,
        sleep=nap,
        http_backend=backend,  # type: ignore[arg-type]
        **extra,
    )


def lane_counter(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """``{"taken": n}``: how many attempts the quick lane has begun since (each goes through ``exchange``)."""
    lane = {"taken": 0}
    exchange = _transport.BoundedTransport.exchange

    async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        lane["taken"] += 1
        return await exchange(self, *args, **kwargs)

    monkeypatch.setattr(_transport.BoundedTransport, "exchange", counted)
    return lane


def play(name: str, backend: str, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], Any, int, int]:
    answers, options, calls = CASES[name]
    script = Script(answers)
    lane = lane_counter(monkeypatch)

    async def go(server: RawServer) -> list[Any]:
        results: list[Any] = []
        async with client_of(server, backend) as client:
            await client.bills.retrieve(WARM_UP)  # the token, cached
            view = client.with_options(**options)
            for _ in range(calls):
                try:
                    results.append(outcome(await view.bills.retrieve(BILL), server))
                except M3terError as exc:
                    results.append(outcome(exc, server))
        return results

    with RawServer(api(script)) as server:
        results = asyncio.run(go(server))
        tokens = server.count("POST", "/oauth/token")
    seen = [(method, target.replace(server.url, ""), auth, jar) for method, target, auth, jar in script.seen]
    return results, seen, tokens, lane["taken"]


@pytest.mark.parametrize("name", list(CASES))
def test_the_quick_lane_ends_a_call_as_the_default_path_does(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    default_results, default_seen, default_tokens, _ = play(name, "httpx", monkeypatch)
    results, seen, tokens, taken = play(name, "aiohttp", monkeypatch)
    assert taken >= 1  # the first call after the warm-up began in the lane (with a cookie kept, no other)
    assert results == default_results
    assert seen == default_seen
    assert tokens == default_tokens


def test_the_cases_cover_results_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cases are not all one kind: the comparison above sees bills, status errors, validation errors,
    transport errors and deadlines."""
    kinds = set()
    for name in ("200", "404", "200 not json", "short body then 200", "stalled body", "body too large"):
        for result in play(name, "aiohttp", monkeypatch)[0]:
            kinds.add(result[0] if isinstance(result, tuple) else type(result).__name__)
    assert kinds == {
        "BillResponse",
        "NotFoundError",
        "APIResponseValidationError",
        "APITimeoutError",
        "ResponseTooLargeError",
    }


# -- what goes on the wire ------------------------------------------------------------------------------


def test_the_lane_sends_what_the_full_path_sends(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """On the aiohttp backend itself: the same calls (query parameters, per-call and default headers, both
    operations) with the lane and with the full path (forced by httpx's INFO log line, which the lane leaves
    to that path) put the same request lines and headers on the wire and return the same models."""
    lane = lane_counter(monkeypatch)
    seen: list[list[Any]] = []

    def answer(exchange: Exchange) -> None:
        seen[-1].append((exchange.method, exchange.target, sorted(exchange.headers.items())))
        if "/statementjobs/" in exchange.path:
            exchange.json(200, job_body("job-1"))
        else:
            exchange.json(200, bill_body(BILL))

    async def go(server: RawServer) -> list[Any]:
        async with AsyncM3terBilling(
            base_url=server.url + "/",
            org_id=ORG_ID,
            api_key=API_KEY,
            api_secret=API_SECRET,
            trust_env=False,
            http_backend="aiohttp",
            default_headers={"X-Team": "billing"},
        ) as client:
            await client.bills.retrieve(WARM_UP)
            return [
                await client.bills.retrieve(BILL),
                await client.bills.retrieve("a b/c", additional=["lineItems", "x,y"], extra_headers={"X-Trace": "t-1"}),
                await client.bills.retrieve(BILL, org_id="other org", extra_query={"q": "1 2"}),
                await client.statement_jobs.retrieve("job-1", extra_headers={"Accept": "application/json"}),
            ]

    results = []
    with RawServer(api(answer)) as server:
        for forced in (False, True):
            seen.append([])
            if forced:
                caplog.set_level(logging.INFO, logger="httpx")  # until the test ends
            taken_before = lane["taken"]
            results.append(asyncio.run(go(server)))
            # The lane took every call after the warm-up, and none when the full path was forced.
            assert lane["taken"] == taken_before + (0 if forced else 4)
    assert results[0] == results[1]
    assert seen[0] == seen[1]
    assert len(seen[0]) == 4


@pytest.mark.parametrize("forced", [False, True], ids=["lane", "full path"])
def test_a_retry_sends_the_request_the_call_began_with(forced: bool, caplog: pytest.LogCaptureFixture) -> None:
    """The client's headers and base URL changed while the first answer (a 503) is on its way: the retry
    is the request the call began with, on the lane as on the full path (which builds it before sending)."""
    if forced:
        caplog.set_level(logging.INFO, logger="httpx")
    seen: list[tuple[str, str | None, str | None]] = []

    def answer(exchange: Exchange) -> None:
        seen.append((exchange.target, exchange.headers.get("authorization"), exchange.headers.get("x-new")))
        if len(seen) == 1:
            exchange.wait(0.3)  # the test changes the client meanwhile
            exchange.respond(503, b'{"message": "busy"}')
        else:
            exchange.json(200, bill_body(BILL))

    async def go(server: RawServer) -> Any:
        async with client_of(server) as client:
            await client.bills.retrieve(WARM_UP)
            call = asyncio.ensure_future(client.bills.retrieve(BILL))
            while not seen:
                await asyncio.sleep(0.01)
            client.http.headers["X-New"] = "1"
            client.http.headers["Authorization"] = "Basic set-meanwhile"
            client.http.base_url = server.url + "/v2"
            return await call

    with RawServer(api(answer)) as server:
        result = asyncio.run(go(server))
    assert result.id == BILL
    first, retried = seen
    assert retried == first
    assert first[1] is not None
    assert first[1].startswith("Bearer ")
    assert first[0] == f"/organizations/{ORG_ID}/bills/{BILL}"


# -- the URL the lane sends ------------------------------------------------------------------------------

segments = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12)
BASES = [
    "https://api.example.test:8443",
    "HTTPS://API.Example.TEST:443",  # an upper-case scheme and host, the default port written out
    "http://127.0.0.1:80",
    "https://user@api.example.test",
    "https://[::1]:8443",
]


@given(
    base=st.sampled_from(BASES),
    base_path=st.sampled_from(["", "/", "/v1", "/v1/", "/a%20b"]),
    path=st.lists(segments, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts)),
    params=st.one_of(st.none(), st.dictionaries(st.sampled_from(["additional", "a b", "x/y"]), segments, max_size=2)),
)
def test_the_lanes_url_text_is_the_url_the_default_path_builds(
    base: str, base_path: str, path: str, params: dict[str, str] | None
) -> None:
    import httpx

    client = httpx.AsyncClient()
    client.base_url = httpx.URL(base + base_path)  # as set on the client, not normalised by the facade
    sender = _direct.DirectSender(client, httpx.AsyncHTTPTransport())
    found = sender._url_text(path, params)
    if found is not None:
        text, raw_path, query = found
        assert text == str(sender._url(path, params)) == str(_direct.joined(client.base_url, raw_path, query))


def test_an_api_path_has_a_url_text() -> None:
    import httpx

    sender = _direct.DirectSender(
        httpx.AsyncClient(base_url="https://api.example.test/v1/"), httpx.AsyncHTTPTransport()
    )
    found = sender._url_text("/organizations/o-1/bills/b%201", {"additional": "a,b"})
    assert found is not None
    assert found[0] == "https://api.example.test/v1/organizations/o-1/bills/b%201?additional=a%2Cb"
    assert sender._url_text("/organizations/o-1/bills/./x", None) is None  # a dot segment: httpx's parse decides
