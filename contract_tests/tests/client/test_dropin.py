"""The official SDK's switches on our client: token=, default_headers/default_query, per-call extras and
org_id, http_client=, M3TER_LOG, and the error layers' .response / .body."""

from __future__ import annotations

import asyncio
import functools
import logging
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from m3ter_billing import (
    APIError,
    APIStatusError,
    AsyncM3terBilling,
    AuthenticationError,
    ConfigurationError,
    InternalServerError,
    InvalidParameterError,
    M3terBilling,
    PermissionDeniedError,
    Response,
)

from .support import (
    API_KEY,
    API_SECRET,
    BASE_URL,
    ORG_ID,
    TOKEN,
    AsyncClientFactory,
    ClientFactory,
    bill_body,
    job_body,
    token_calls,
)

BILL_PATH = f"/organizations/{ORG_ID}/bills/bill-1"
JOB_PATH = f"/organizations/{ORG_ID}/statementjobs/job-1"
FIXED = "fixed-token-do-not-leak-123456"


def test_a_fixed_token_sends_no_token_request(router: respx.Router, make_client: ClientFactory) -> None:
    route = router.get(BILL_PATH).respond(200, json=bill_body())
    client = make_client(token=FIXED, api_key=None, api_secret=None)
    assert client.bills.retrieve("bill-1").id == "bill-1"
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {FIXED}"
    assert token_calls(router) == 0
    assert FIXED not in repr(client.auth)


@pytest.mark.parametrize(("status", "error"), [(401, AuthenticationError), (403, PermissionDeniedError)])
def test_a_refused_fixed_token_raises_at_once(
    router: respx.Router, make_client: ClientFactory, status: int, error: type[APIStatusError]
) -> None:
    route = router.get(BILL_PATH).respond(status, json={"message": f"no {FIXED}"})
    with pytest.raises(error) as info:
        make_client(token=FIXED).bills.retrieve("bill-1")
    assert route.call_count == 1
    assert token_calls(router) == 0
    assert FIXED not in str(info.value)


def test_the_token_comes_from_the_environment(
    router: respx.Router, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("M3TER_API_TOKEN", FIXED)
    monkeypatch.delenv("M3TER_API_KEY", raising=False)
    monkeypatch.delenv("M3TER_API_SECRET", raising=False)
    router.get(BILL_PATH).respond(200, json=bill_body())
    client = make_client(api_key=None, api_secret=None)
    client.bills.retrieve("bill-1")
    assert token_calls(router) == 0


def test_a_token_that_cannot_be_a_header_is_refused(make_client: ClientFactory) -> None:
    with pytest.raises(ConfigurationError, match="bearer token"):
        make_client(token="two words")


def test_default_and_extra_headers_and_query(router: respx.Router, make_client: ClientFactory) -> None:
    route = router.get(BILL_PATH).respond(200, json=bill_body())
    client = make_client(default_headers={"X-Team": "billing", "X-Env": "test"}, default_query={"trace": "0"})
    client.bills.retrieve(
        "bill-1", additional=["lineItems"], extra_headers={"X-Env": "ci"}, extra_query={"trace": "1", "debug": "y"}
    )
    request = route.calls.last.request
    assert request.headers["X-Team"] == "billing"
    assert request.headers["X-Env"] == "ci"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert dict(request.url.params) == {"additional": "lineItems", "trace": "1", "debug": "y"}
    view = client.with_options(default_headers={"X-Team": "other"})
    view.bills.retrieve("bill-1")
    assert route.calls.last.request.headers["X-Team"] == "other"
    assert route.calls.last.request.headers["X-Env"] == "test"
    assert token_calls(router) == 1  # the view shares the token cache


def test_per_call_org_id(router: respx.Router, make_client: ClientFactory) -> None:
    route = router.get("/organizations/org-other/statementjobs/job-1").respond(200, json=job_body())
    client = make_client()
    assert client.statements.statement_jobs is client.statement_jobs
    assert client.statements.statement_jobs.retrieve("job-1", org_id="org-other").id == "job-1"
    assert route.call_count == 1


def test_base_url_may_be_an_httpx_url(router: respx.Router, make_client: ClientFactory) -> None:
    # The official SDK takes a str or an httpx.URL; client.base_url stays a str here (documented).
    route = router.get(BILL_PATH).respond(200, json=bill_body())
    client = make_client(base_url=httpx.URL(BASE_URL + "/"))
    assert client.base_url == BASE_URL
    assert client.bills.retrieve("bill-1").id == "bill-1"
    assert route.call_count == 1
    async_client = AsyncM3terBilling(
        base_url=httpx.URL(BASE_URL), org_id=ORG_ID, api_key=API_KEY, api_secret=API_SECRET
    )
    assert async_client.base_url == BASE_URL
    asyncio.run(async_client.close())


def test_an_empty_per_call_org_id_is_refused(router: respx.Router, make_client: ClientFactory) -> None:
    # "" is not "not given": it is refused, never replaced by the client's org id.
    client = make_client()
    calls: list[Callable[[], object]] = [
        lambda: client.bills.retrieve("bill-1", org_id=""),
        lambda: client.bills.with_raw_response.retrieve("bill-1", org_id=""),
        lambda: client.statement_jobs.retrieve("job-1", org_id=""),
        lambda: client.statement_jobs.with_raw_response.retrieve("job-1", org_id=""),
        lambda: client.statements.statement_jobs.retrieve("job-1", org_id=""),
        lambda: client.statements.with_raw_response.statement_jobs.retrieve("job-1", org_id=""),
        lambda: client.with_raw_response.bills.retrieve("bill-1", org_id=""),
        lambda: client.with_raw_response.statements.statement_jobs.retrieve("job-1", org_id=""),
        lambda: client.with_options(max_retries=0).bills.retrieve("bill-1", org_id=""),
    ]
    for call in calls:
        with pytest.raises(InvalidParameterError, match="non-empty"):
            call()
    assert router.calls.call_count == 0


async def test_an_empty_per_call_org_id_is_refused_async(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    client = make_async_client()
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: client.bills.retrieve("bill-1", org_id=""),
        lambda: client.bills.with_raw_response.retrieve("bill-1", org_id=""),
        lambda: client.statement_jobs.retrieve("job-1", org_id=""),
        lambda: client.statement_jobs.with_raw_response.retrieve("job-1", org_id=""),
        lambda: client.statements.statement_jobs.retrieve("job-1", org_id=""),
        lambda: client.with_raw_response.bills.retrieve("bill-1", org_id=""),
        lambda: client.with_raw_response.statements.statement_jobs.retrieve("job-1", org_id=""),
    ]
    for call in calls:
        with pytest.raises(InvalidParameterError, match="non-empty"):
            await call()
    assert router.calls.call_count == 0


async def test_async_extras_and_raw_parse(router: respx.Router, make_async_client: AsyncClientFactory) -> None:
    route = router.get(JOB_PATH).respond(200, json=job_body())
    client = make_async_client(default_query={"a": "1"})
    raw = await client.with_raw_response.statements.statement_jobs.retrieve("job-1", extra_headers={"X-A": "b"})
    assert (await raw.parse()).id == "job-1"
    assert raw.parsed.id == "job-1"
    assert raw.http_request is not None
    assert raw.http_request.headers["X-A"] == "b"
    assert route.calls.last.request.url.params["a"] == "1"


def test_defaults_are_not_sent_to_presigned_urls(router: respx.Router, make_client: ClientFactory) -> None:
    url = "https://statements.s3.amazonaws.com/org/job-1.json?X-Amz-Expires=900&X-Amz-Signature=aaaa1111"
    router.get(JOB_PATH).respond(200, json=job_body(presignedJsonStatementUrl=url, jsonStatementStatus="LATEST"))
    download = router.get(url).respond(200, json={"ok": True})
    client = make_client(default_query={"trace": "1"}, default_headers={"X-Team": "t"})
    assert client.statements.statement_jobs.download("job-1").json == {"ok": True}
    sent = download.calls.last.request
    assert "trace" not in sent.url.params
    assert "X-Team" not in sent.headers


# What a caller's http_client carries, and a cookie the API host sets: for the API, never for the
# presigned statement host (a third party; here on the base_url's own origin, where a cookie would match).
CALLER_HEADERS = {"X-Gateway-Key": "gateway-secret-do-not-leak", "Authorization": "Basic dXNlcjpwYXNzd29yZA=="}
STATEMENT_URL = f"{BASE_URL}/statements/job-1.json?X-Amz-Expires=900&X-Amz-Signature=aaaa1111"
OWN_HEADERS = {"host", "user-agent", "accept", "accept-encoding"}


def _statement_routes(router: respx.Router) -> tuple[respx.Route, respx.Route]:
    job = job_body(presignedJsonStatementUrl=STATEMENT_URL, jsonStatementStatus="LATEST")
    cookie = {"Set-Cookie": "session=api-session-do-not-leak; Path=/"}
    job_route = router.get(JOB_PATH).respond(200, json=job, headers=cookie)
    planted = {"Set-Cookie": "planted=by-the-statement-host; Path=/"}  # would match the API host: kept out
    return job_route, router.get(STATEMENT_URL).respond(200, json={"ok": True}, headers=planted)


def _check_statement_and_api_requests(job_route: respx.Route, download: respx.Route) -> None:
    sent = download.calls.last.request
    assert set(sent.headers.keys()) == OWN_HEADERS, dict(sent.headers)
    assert sent.headers["User-Agent"].startswith("m3ter-billing/")
    # API calls keep the caller's headers (under the bearer token) and the API host's cookies.
    first, second = (call.request for call in job_route.calls)
    assert first.headers["X-Gateway-Key"] == second.headers["X-Gateway-Key"] == CALLER_HEADERS["X-Gateway-Key"]
    assert second.headers["Authorization"] == f"Bearer {TOKEN}"
    assert second.headers["Cookie"] == "session=api-session-do-not-leak"


def test_http_client_headers_and_cookies_are_not_sent_to_presigned_urls(
    router: respx.Router, make_client: ClientFactory
) -> None:
    job_route, download = _statement_routes(router)
    caller = httpx.Client(transport=httpx.MockTransport(router.handler), headers=CALLER_HEADERS)
    client = make_client(transport=None, http_client=caller, default_headers={"X-Team": "t"})
    assert client.statement_jobs.download("job-1").json == {"ok": True}
    client.statement_jobs.retrieve("job-1")
    _check_statement_and_api_requests(job_route, download)


def test_cookies_a_statement_host_sets_are_not_kept(router: respx.Router, make_client: ClientFactory) -> None:
    job_route, download = _statement_routes(router)
    client = make_client()
    client.statement_jobs.download("job-1")
    client.statement_jobs.download("job-1")
    client.statement_jobs.retrieve("job-1")
    assert "Cookie" not in download.calls.last.request.headers
    assert job_route.calls.last.request.headers["Cookie"] == "session=api-session-do-not-leak"


async def test_async_http_client_headers_and_cookies_are_not_sent_to_presigned_urls(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    job_route, download = _statement_routes(router)
    caller = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler), headers=CALLER_HEADERS)
    client = make_async_client(transport=None, http_client=caller, default_headers={"X-Team": "t"})
    assert (await client.statement_jobs.download("job-1")).json == {"ok": True}
    await client.statement_jobs.retrieve("job-1")
    _check_statement_and_api_requests(job_route, download)


def test_error_layers_carry_the_response_and_body(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(BILL_PATH).respond(502, text="bad gateway")
    with pytest.raises(APIStatusError) as info:
        make_client(max_retries=0).bills.retrieve("bill-1")
    error = info.value
    assert isinstance(error, InternalServerError)
    assert isinstance(error, APIError)
    assert error.response is not None
    assert error.response.status_code == 502
    assert error.body == "bad gateway"
    router.get(BILL_PATH).respond(404, json={"message": "Not found", "code": 7})
    with pytest.raises(APIStatusError) as info:
        make_client().bills.retrieve("bill-1")
    assert info.value.body == {"message": "Not found", "code": 7}


def test_http_client_is_layered_on(router: respx.Router) -> None:
    seen: list[str] = []
    caller = httpx.Client(
        transport=httpx.MockTransport(router.handler),
        headers={"X-Caller": "yes"},
        event_hooks={"request": [lambda request: seen.append(request.url.path)]},
    )
    route = router.get(BILL_PATH).respond(200, json=bill_body())
    with M3terBilling(
        base_url=BASE_URL, org_id=ORG_ID, api_key=API_KEY, api_secret=API_SECRET, http_client=caller
    ) as c:
        c.bills.retrieve("bill-1")
    request = route.calls.last.request
    assert request.headers["X-Caller"] == "yes"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["User-Agent"].startswith("m3ter-billing/")
    assert BILL_PATH in seen


@pytest.mark.parametrize(
    ("caller_timeout", "given", "expected"),
    [
        (httpx.Timeout(2.0, connect=1.0), None, httpx.Timeout(2.0, connect=1.0)),  # the caller's: adopted
        (0.5, None, httpx.Timeout(0.5)),
        # An unbounded phase is not adopted: it would also take away the total deadline derived from it.
        (None, None, httpx.Timeout(60.0, connect=5.0)),
        (httpx.Timeout(None, connect=5.0), None, httpx.Timeout(60.0, connect=5.0)),
        (httpx.USE_CLIENT_DEFAULT, None, httpx.Timeout(60.0, connect=5.0)),  # httpx's default: ours
        (0.5, 7.0, httpx.Timeout(7.0)),  # timeout= given: it wins
    ],
    ids=["timeout", "seconds", "none", "unbounded read", "httpx default", "timeout given"],
)
def test_an_http_client_timeout_is_adopted_when_no_timeout_is_given(
    router: respx.Router, caller_timeout: object, given: float | None, expected: httpx.Timeout
) -> None:
    route = router.get(BILL_PATH).respond(200, json=bill_body())
    options: dict[str, object] = {} if caller_timeout is httpx.USE_CLIENT_DEFAULT else {"timeout": caller_timeout}
    caller = httpx.Client(transport=httpx.MockTransport(router.handler), **options)  # type: ignore[arg-type]
    extra: dict[str, Any] = {} if given is None else {"timeout": given}  # None here: no timeout= given
    with M3terBilling(
        base_url=BASE_URL, org_id=ORG_ID, api_key=API_KEY, api_secret=API_SECRET, http_client=caller, **extra
    ) as client:
        assert client.timeout == expected
        assert client.total_timeout is not None
        client.bills.retrieve("bill-1")
    assert route.calls.last.request.extensions["timeout"] == expected.as_dict()
    async_caller = httpx.AsyncClient(**options)  # type: ignore[arg-type]
    async_client = AsyncM3terBilling(
        base_url=BASE_URL, org_id=ORG_ID, api_key=API_KEY, api_secret=API_SECRET, http_client=async_caller, **extra
    )
    assert async_client.timeout == expected
    asyncio.run(async_client.close())


def test_an_http_client_that_cannot_be_layered_on_is_refused() -> None:
    sync = functools.partial(M3terBilling, base_url=BASE_URL, org_id=ORG_ID, api_key=API_KEY, api_secret=API_SECRET)
    with httpx.Client(auth=("u", "p")) as own_auth, pytest.raises(ConfigurationError, match="its own auth"):
        sync(http_client=own_auth)
    with httpx.Client(proxy="http://127.0.0.1:9") as proxied, pytest.raises(ConfigurationError, match="proxy"):
        sync(http_client=proxied)
    with httpx.Client() as sync_client, pytest.raises(ConfigurationError, match="AsyncClient"):
        AsyncM3terBilling(
            base_url=BASE_URL,
            org_id=ORG_ID,
            api_key=API_KEY,
            api_secret=API_SECRET,
            http_client=sync_client,  # type: ignore[arg-type]
        )
    with httpx.Client() as plain, pytest.raises(ConfigurationError, match="not both"):
        sync(http_client=plain, transport=httpx.MockTransport(lambda r: httpx.Response(200)))


@pytest.mark.parametrize(("value", "level"), [("debug", "DEBUG"), ("info", "INFO"), ("", "WARNING")])
def test_m3ter_log_switches_logging_on(value: str, level: str) -> None:
    code = (
        "import logging, m3ter_billing;"
        "print(logging.getLevelName(logging.getLogger('m3ter_billing').getEffectiveLevel()))"
    )
    env = {"M3TER_LOG": value, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=Path(__file__).parent
    )
    assert result.stdout.strip() == level


def test_m3ter_log_output_is_redacted(
    router: respx.Router, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    router.get(BILL_PATH).respond(200, json=bill_body())
    with caplog.at_level(logging.DEBUG):
        make_client().bills.retrieve("bill-1")
    assert caplog.records
    assert TOKEN not in caplog.text
    assert API_SECRET not in caplog.text


def test_raw_response_has_the_official_accessors(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(BILL_PATH).respond(200, json=bill_body())
    raw = make_client().with_raw_response.bills.retrieve("bill-1")
    assert raw.parse() is raw.parsed
    assert raw.method == "GET"
    assert raw.url is not None
    assert raw.url.path == BILL_PATH
    assert raw.json()["id"] == "bill-1"
    assert '"bill-1"' in raw.text
    assert raw.http_response is not None
    assert raw.http_response.status_code == 200
    bare = Response(status_code=200, content=b"{}", headers={}, parsed=None)
    assert (bare.http_request, bare.url, bare.method) == (None, None, None)
    unsent = Response(status_code=200, content=b"", headers={}, parsed=None, http_response=httpx.Response(200))
    assert unsent.http_request is None


def test_setup_logging_sets_the_levels(monkeypatch: pytest.MonkeyPatch) -> None:
    from m3ter_billing._settings import setup_logging

    for name in ("m3ter_billing", "httpx"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.getLogger(name).level)
    monkeypatch.setattr(logging.root, "handlers", list(logging.root.handlers))
    setup_logging({"M3TER_LOG": "nonsense"})
    setup_logging({"M3TER_LOG": " Debug "})
    assert logging.getLogger("m3ter_billing").level == logging.DEBUG
    assert logging.getLogger("httpx").level == logging.DEBUG


def test_a_closed_http_client_is_refused() -> None:
    closed = httpx.Client()
    closed.close()
    with pytest.raises(ConfigurationError, match="closed"):
        M3terBilling(base_url=BASE_URL, org_id=ORG_ID, api_key=API_KEY, api_secret=API_SECRET, http_client=closed)
