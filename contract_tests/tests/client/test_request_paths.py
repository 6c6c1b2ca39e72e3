"""The async client's two request paths send the same requests and give back the same responses.

With ``http_backend="aiohttp"`` the API calls are built by the client and sent below ``httpx.AsyncClient``
(``_direct``); with the default they go through ``httpx.AsyncClient``. Over the same mock transport, what
reaches the transport (method, URL, headers, timeouts) and what the caller gets (cookies kept, event hooks
called, ``history``, httpx's log line) must not depend on the path.
"""

from __future__ import annotations

import asyncio
import datetime
import importlib.util
import logging
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from m3ter_billing import AsyncM3terBilling, InvalidParameterError, M3terBilling, M3terError, _direct

from .support import API_KEY, API_SECRET, BASE_URL, ORG_ID, bill_body, dumps, token_body

pytestmark = pytest.mark.skipif(importlib.util.find_spec("aiohttp") is None, reason="no aiohttp")
PATHS = ("httpx", "aiohttp")


class Recorder:
    """A mock server: the token route and a bill route; every request it saw, and cookies when asked."""

    def __init__(
        self, *, set_cookie: bool = False, refuse_first: bool = False, refuse: dict[int, int] | None = None
    ) -> None:
        self.seen: list[httpx.Request] = []
        self.set_cookie = set_cookie
        self.refuse = {1: 401} if refuse_first else dict(refuse or {})  # the n-th API call (from 1) -> its status
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        # The raw path and the method: a generated bill id such as "/oauth/token" is sent escaped
        # (".../bills/%2Foauth%2Ftoken"), and its decoded path ends the same way.
        if request.method == "POST" and request.url.raw_path.endswith(b"/oauth/token"):
            return httpx.Response(200, content=dumps(token_body()))
        self.calls += 1
        status = self.refuse.get(self.calls)
        if status is not None:
            return httpx.Response(status, content=b'{"message": "refused"}')
        headers = {"Set-Cookie": "lb=sticky-1; Path=/"} if self.set_cookie else {}
        return httpx.Response(200, content=dumps(bill_body()), headers=headers)


def client(recorder: Recorder, path: str, **extra: Any) -> AsyncM3terBilling:
    options: dict[str, Any] = {
        "base_url": BASE_URL,
        "org_id": ORG_ID,
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "transport": httpx.MockTransport(recorder),
        "http_backend": path,
    }
    return AsyncM3terBilling(**{**options, **extra})


def sent(request: httpx.Request) -> tuple[Any, ...]:
    return (request.method, str(request.url), request.headers.multi_items(), request.extensions["timeout"])


ids = st.text(min_size=1, max_size=20).filter(lambda s: s not in (".", ".."))
values = st.text(max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    bill_id=ids,
    org_id=st.one_of(st.none(), ids),
    additional=st.one_of(st.none(), st.lists(values, max_size=3)),
    extra_query=st.dictionaries(st.sampled_from(["a", "b c", "x/y", "additional"]), values, max_size=2),
    extra_headers=st.dictionaries(
        st.sampled_from(["X-Trace", "Accept", "User-Agent", "Authorization", "Host"]),
        st.from_regex(r"[a-z0-9]{0,8}", fullmatch=True),
        max_size=2,
    ),
)
# An id whose decoded path ends like the token endpoint's (it once made the mock answer a token).
@example(bill_id="/oauth/token", org_id=None, additional=None, extra_query={}, extra_headers={})
def test_both_paths_send_the_same_request(
    bill_id: str,
    org_id: str | None,
    additional: list[str] | None,
    extra_query: dict[str, str],
    extra_headers: dict[str, str],
) -> None:
    async def one(path: str) -> tuple[Any, ...] | type[BaseException]:
        recorder = Recorder()
        async with client(recorder, path, default_query={"d": "1"}) as c:
            try:
                for _ in range(2):  # the first fetches the token; the second is sent with the cached one
                    await c.bills.retrieve(
                        bill_id,
                        org_id=org_id,
                        additional=additional,
                        extra_query=extra_query,
                        extra_headers=extra_headers,
                    )
            except InvalidParameterError:
                return InvalidParameterError
        return tuple(sent(request) for request in recorder.seen)

    assert asyncio.run(one("aiohttp")) == asyncio.run(one("httpx"))


@pytest.mark.parametrize("path", PATHS)
async def test_cookies_a_response_sets_are_sent_with_the_next_call(path: str) -> None:
    recorder = Recorder(set_cookie=True)
    async with client(recorder, path) as c:
        await c.bills.retrieve("bill-1")
        await c.bills.retrieve("bill-1")
    bills = [r for r in recorder.seen if "/bills/" in r.url.path]
    assert "cookie" not in bills[0].headers
    assert bills[1].headers["cookie"] == "lb=sticky-1"


@pytest.mark.parametrize("path", PATHS)
async def test_event_hooks_of_a_borrowed_client_see_every_request_and_response(path: str) -> None:
    recorder = Recorder()
    events: list[str] = []

    async def on_request(request: httpx.Request) -> None:
        events.append(f"request {request.method} {request.url.path}")

    async def on_response(response: httpx.Response) -> None:
        events.append(f"response {response.status_code} {response.request.url.path}")

    borrowed = httpx.AsyncClient(
        transport=httpx.MockTransport(recorder), event_hooks={"request": [on_request], "response": [on_response]}
    )
    options = {"base_url": BASE_URL, "org_id": ORG_ID, "api_key": API_KEY, "api_secret": API_SECRET}
    async with AsyncM3terBilling(http_client=borrowed, http_backend=path, **options) as c:  # type: ignore[arg-type]
        await c.bills.retrieve("bill-1")
    bill = f"/organizations/{ORG_ID}/bills/bill-1"
    assert events == [
        "request POST /oauth/token",
        "response 200 /oauth/token",
        f"request GET {bill}",
        f"response 200 {bill}",
    ]


@pytest.mark.parametrize("path", PATHS)
async def test_the_raw_response_is_complete(path: str, caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder(refuse_first=True)  # a 401: the token is refreshed and the call sent again
    caplog.set_level(logging.INFO, logger="httpx")
    async with client(recorder, path) as c:
        raw = await c.with_raw_response.bills.retrieve("bill-1")
    response = raw.http_response
    assert response is not None
    assert response.request.url.path.endswith("/bills/bill-1")
    assert response.content == dumps(bill_body())
    assert response.history == []  # token, refused call, new token: kept out (Basic credentials, tokens)
    assert response.request.headers["authorization"] == "[REDACTED]"
    lines = [record.getMessage() for record in caplog.records if record.name == "httpx"]
    assert len(lines) == 4  # token, refused call, token, call
    assert all(line.startswith("HTTP Request: ") for line in lines)


@pytest.mark.parametrize(
    "refuse",
    [{2: 401}, {2: 403}, {2: 401, 3: 401}, {2: 403, 3: 403}, {2: 403, 3: 403, 4: 403}],
    ids=["401", "403", "401 twice", "403 twice", "403 thrice"],
)
def test_a_call_refused_with_a_cached_token_is_handled_the_same_on_both_paths(refuse: dict[int, int]) -> None:
    # The aiohttp path sends a call with the cached token itself and drives the auth flow only after a
    # refusal: what is sent, what is raised and what the caller sees must be the default path's.
    async def one(path: str) -> tuple[Any, ...]:
        recorder = Recorder(refuse=refuse)
        outcomes: list[Any] = []
        async with client(recorder, path) as c:
            for _ in range(3):
                try:
                    raw = await c.with_raw_response.bills.retrieve("bill-1")
                except M3terError as exc:  # the typed error itself is compared
                    outcomes.append((type(exc).__name__, getattr(exc, "status_code", None)))
                else:
                    assert raw.http_response is not None
                    outcomes.append([r.status_code for r in raw.http_response.history])
            tokens = c.http.auth.token_requests  # type: ignore[union-attr]
        return tuple(outcomes), tuple(sent(request) for request in recorder.seen), tokens

    aiohttp, default = asyncio.run(one("aiohttp")), asyncio.run(one("httpx"))
    assert aiohttp == default
    assert aiohttp[2] >= 2  # a refusal was followed by a new token at least once


def read_state(response: httpx.Response) -> tuple[Any, ...]:
    """What a caller can see of a response's body and its reading (``elapsed`` raises until it is read)."""
    return (
        response.status_code,
        response.content,
        b"".join(response.iter_bytes()),
        response.is_stream_consumed,
        response.is_closed,
        response.num_bytes_downloaded,
        response.elapsed >= datetime.timedelta(0),
        response.request.content,
    )


@pytest.mark.parametrize("taken", [True, False], ids=["body taken", "body read"])
@pytest.mark.parametrize("path", PATHS)
async def test_the_raw_response_is_read_and_timed(path: str, taken: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # Below httpx.AsyncClient the body the transport read is handed over without httpx's read machinery when
    # the installed httpx is known to end up the same; either way the caller sees a read, timed response.
    monkeypatch.setattr(_direct, "_SAME_AS_READ", taken)
    async with client(Recorder(), path) as c:
        raw = await c.with_raw_response.bills.retrieve("bill-1")
    assert raw.http_response is not None
    assert read_state(raw.http_response) == (
        200,
        dumps(bill_body()),
        dumps(bill_body()),
        True,
        True,
        len(dumps(bill_body())),
        True,
        b"",
    )


def test_the_pinned_httpx_takes_a_read_body_without_reading_it_again() -> None:
    # The probe of what httpx's read() leaves passes on the httpx we pin: the aiohttp path's shortcut is on.
    assert _direct._same_as_read()


def test_a_sync_response_over_a_mock_transport_is_timed() -> None:
    # A mock transport reads the body before httpx's client does; the response handed out is still timed.
    options = {"base_url": BASE_URL, "org_id": ORG_ID, "api_key": API_KEY, "api_secret": API_SECRET}
    with M3terBilling(transport=httpx.MockTransport(Recorder()), **options) as c:  # type: ignore[arg-type]
        raw = c.with_raw_response.bills.retrieve("bill-1")
    assert raw.http_response is not None
    assert read_state(raw.http_response)[-2:] == (True, b"")


def test_the_cookie_check_agrees_with_walking_the_jar() -> None:
    cookies = httpx.Cookies()
    assert not _direct._has_cookies(cookies)
    cookies.set("lb", "sticky-1", domain="api.m3ter.test")
    assert _direct._has_cookies(cookies)
    cookies.jar.clear("api.m3ter.test", "/", "lb")  # leaves the jar's empty per-domain dicts behind
    assert not _direct._has_cookies(cookies)


@settings(max_examples=300, deadline=None)
@given(
    raw_path=st.text(alphabet=st.sampled_from(list("ab/.%~-_:@!$&'()*+,;= ?#é")), max_size=16).map(lambda s: "/" + s),
    query=st.one_of(st.none(), st.text(alphabet=st.sampled_from(list("a=&./%+ é")), max_size=8)),
)
def test_a_joined_url_equals_the_whole_url_parsed(raw_path: str, query: str | None) -> None:
    # The API path reuses the base URL's parsed form when the path and query need no normalising (dot
    # segments, characters httpx quotes); whatever they hold, the URL is the one httpx parses from the text.
    base = httpx.URL("https://api.m3ter.test/v1")
    whole = httpx.URL("https://api.m3ter.test" + raw_path + ("" if query is None else "?" + query))
    url = _direct.joined(base, raw_path, query)
    assert (str(url), url.raw_path, url.netloc) == (str(whole), whole.raw_path, whole.netloc)
