"""Per-call options in the official SDK's shape (``with_options``, ``timeout=`` on each method), the total
deadline, proxies from the environment, and an async client moved to another event loop."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import httpx
import pytest
import respx
from m3ter_billing import (
    APIConnectionError,
    APITimeoutError,
    AsyncM3terBilling,
    ConfigurationError,
    EventLoopMismatchError,
    InternalServerError,
    InvalidParameterError,
    M3terBilling,
    ResponseValidationError,
)

from .hostile import Exchange, RawServer, api
from .support import (
    API_KEY,
    API_SECRET,
    ASYNC_BACKENDS,
    ORG_ID,
    AsyncClientFactory,
    ClientFactory,
    SleepRecorder,
    bill_body,
    token_calls,
)

BILL_PATH = f"/organizations/{ORG_ID}/bills/bill-1"
PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
)


# -- with_options and timeout= ---------------------------------------------------------------------------


def test_with_options_shares_the_pool_and_the_token_cache(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(BILL_PATH).respond(200, json=bill_body())
    client = make_client()
    fast = client.with_options(timeout=5, max_retries=0, max_response_bytes=4096)
    client.bills.retrieve("bill-1")
    fast.bills.retrieve("bill-1")
    assert token_calls(router) == 1
    assert fast.http is client.http
    assert fast.auth is client.auth
    assert (fast.timeout.read, fast.max_retries, fast.max_response_bytes) == (5, 0, 4096)
    assert (client.timeout.read, client.max_retries) == (60, 2)  # the original is unchanged


def test_with_options_max_retries_applies_to_the_view_only(router: respx.Router, make_client: ClientFactory) -> None:
    route = router.get(BILL_PATH).respond(503, json={"message": "down"})
    client = make_client()
    with pytest.raises(InternalServerError):
        client.with_options(max_retries=0).bills.retrieve("bill-1")
    assert route.call_count == 1
    with pytest.raises(InternalServerError):
        client.bills.retrieve("bill-1")
    assert route.call_count == 4


def test_the_timeout_keyword_reaches_the_request(router: respx.Router, make_client: ClientFactory) -> None:
    route = router.get(BILL_PATH).respond(200, json=bill_body())
    make_client().bills.retrieve("bill-1", timeout=httpx.Timeout(7, connect=2))
    sent = route.calls.last.request.extensions["timeout"]
    assert (sent["connect"], sent["read"]) == (2, 7)


def test_default_total_timeout_is_derived_from_the_timeout(make_client: ClientFactory) -> None:
    client = make_client()
    assert client.total_timeout == 60 * 3 + 0.5 + 1.0  # a full timeout per attempt, and the backoff waits
    assert client.with_options(timeout=None).total_timeout is None
    assert client.with_options(total_timeout=20).total_timeout == 20


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": float("nan")},
        {"timeout": -1},
        {"total_timeout": 0},
        {"total_timeout": float("inf")},
        {"max_retries": -1},
        {"max_response_bytes": 0},
        {"max_response_bytes": True},
        {"total_timeout": 1e10},  # past what a sleep or a lock wait takes (about 9.2e9 s)
        {"timeout": 4e9},
        {"allow_private_statement_hosts": "false"},  # bool("false") is True
        {"allow_private_statement_hosts": 1},
    ],
    ids=str,
)
def test_impossible_options_are_refused(
    make_client: ClientFactory, make_async_client: AsyncClientFactory, options: dict[str, Any]
) -> None:
    with pytest.raises(InvalidParameterError):
        make_client().with_options(**options)
    with pytest.raises(InvalidParameterError):
        make_client(**options)
    with pytest.raises(InvalidParameterError):
        make_async_client(**options)


def test_the_most_retries_run_to_the_end(router: respx.Router, make_client: ClientFactory) -> None:
    # 1,000 retries (the most max_retries takes): every wait is computed (2.0**n stays in the float range)
    # and capped at 8 s, and the derived total timeout is finite.
    route = router.get(BILL_PATH).respond(503, json={"message": "down"})
    sleeps = SleepRecorder()
    client = make_client(max_retries=1000, sleep=sleeps, total_timeout=None)
    assert make_client(max_retries=1000).total_timeout == 60 * 1001 + 7.5 + 8 * 996
    with pytest.raises(InternalServerError):
        client.bills.retrieve("bill-1")
    assert route.call_count == 1001
    assert len(sleeps.calls) == 1000
    assert max(sleeps.calls) <= 8


@pytest.mark.parametrize("max_retries", [1001, 10**9, 10**400])
def test_more_retries_than_ever_meant_are_refused(make_client: ClientFactory, max_retries: int) -> None:
    with pytest.raises(InvalidParameterError, match="max_retries must be an int from 0 to 1000"):
        make_client(max_retries=max_retries)
    with pytest.raises(InvalidParameterError, match="max_retries"):
        make_client().with_options(max_retries=max_retries)


def test_the_longest_timeouts_still_make_calls(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(BILL_PATH).respond(200, json=bill_body())
    client = make_client(timeout=1e9, total_timeout=1e9, max_retries=5)
    assert client.bills.retrieve("bill-1").id == "bill-1"
    assert client.with_options(total_timeout=None).total_timeout is None


def test_every_method_takes_a_timeout_keyword(
    make_client: ClientFactory, make_async_client: AsyncClientFactory
) -> None:
    for client in (make_client(), make_async_client()):
        for method in (
            client.bills.retrieve,
            client.bills.with_raw_response.retrieve,
            client.statement_jobs.retrieve,
            client.statement_jobs.with_raw_response.retrieve,
            client.statement_jobs.download,
        ):
            assert "timeout" in inspect.signature(method).parameters


def test_the_deadline_cuts_a_retry_wait_short(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(BILL_PATH).respond(503, headers={"Retry-After": "30"}, json={"message": "down"})
    sleeps = SleepRecorder()
    with pytest.raises(APITimeoutError, match="total timeout"):
        make_client(sleep=sleeps, total_timeout=5).bills.retrieve("bill-1")
    assert sleeps.calls == []  # it did not sleep 30 s only to fail afterwards


async def test_async_deadline_cuts_a_retry_wait_short(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    router.get(BILL_PATH).respond(503, headers={"Retry-After": "30"}, json={"message": "down"})
    with pytest.raises(APITimeoutError):
        await make_async_client(total_timeout=5).bills.retrieve("bill-1")


def test_validation_error_keeps_a_bounded_prefix_of_a_huge_body(
    router: respx.Router, make_client: ClientFactory
) -> None:
    body = b'{"id": ' + b" " * 5_000_000 + b"1}"
    router.get(BILL_PATH).respond(200, content=body)
    with pytest.raises(ResponseValidationError) as info:
        make_client().bills.retrieve("bill-1")
    assert info.value.body == body[: 64 * 1024]
    assert info.value.body_length == len(body)


# -- proxies -------------------------------------------------------------------------------------------------


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def _proxy_answers(exchange: Exchange) -> None:
    """A forward proxy that answers for the API itself: it never connects anywhere."""
    assert exchange.target.startswith("http://m3ter.proxied.test/")
    api()(exchange)


def _client_options(base_url: str, **extra: Any) -> dict[str, Any]:
    return {"base_url": base_url, "org_id": ORG_ID, "api_key": API_KEY, "api_secret": API_SECRET, **extra}


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "ALL_PROXY", "http_proxy"])
def test_proxy_variables_are_honoured(no_proxy_env: pytest.MonkeyPatch, variable: str) -> None:
    with RawServer(_proxy_answers) as proxy:
        no_proxy_env.setenv(variable, proxy.url)
        with M3terBilling(**_client_options("http://m3ter.proxied.test")) as client:
            assert client.bills.retrieve("bill-1").id == "bill-1"
    assert [target for _, target in proxy.requests] == [
        "http://m3ter.proxied.test/oauth/token",
        f"http://m3ter.proxied.test{BILL_PATH}",
    ]


async def test_async_proxy_variables_are_honoured(no_proxy_env: pytest.MonkeyPatch) -> None:
    with RawServer(_proxy_answers) as proxy:
        no_proxy_env.setenv("HTTP_PROXY", proxy.url)
        async with AsyncM3terBilling(**_client_options("http://m3ter.proxied.test")) as client:
            assert (await client.bills.retrieve("bill-1")).id == "bill-1"
    assert len(proxy.requests) == 2


@pytest.mark.parametrize("bypass", ["NO_PROXY", "trust_env"])
def test_no_proxy_and_trust_env_false_bypass_the_proxy(no_proxy_env: pytest.MonkeyPatch, bypass: str) -> None:
    with RawServer(_proxy_answers) as proxy, RawServer(api()) as direct:
        no_proxy_env.setenv("HTTP_PROXY", proxy.url)
        extra: dict[str, Any] = {}
        if bypass == "NO_PROXY":
            no_proxy_env.setenv("NO_PROXY", "127.0.0.1")
        else:
            extra["trust_env"] = False
        with M3terBilling(**_client_options(direct.url, **extra)) as client:
            assert client.bills.retrieve("bill-1").id == "bill-1"
    assert proxy.requests == []
    assert len(direct.requests) == 2


# A caller's http_client= built while proxy variables are set: httpx gives it mounts from the environment
# (trust_env). Those are kept and routed as the caller's client routes them; its own proxy=/mounts= are not.


def test_an_http_client_built_under_no_proxy_is_layered_on(no_proxy_env: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    with RawServer(_proxy_answers) as proxy, RawServer(api()) as direct:
        no_proxy_env.setenv("HTTP_PROXY", proxy.url)
        no_proxy_env.setenv("NO_PROXY", "127.0.0.1")
        caller = httpx.Client(event_hooks={"request": [lambda request: seen.append(request.url.path)]})
        with M3terBilling(**_client_options(direct.url, http_client=caller)) as client:
            assert client.bills.retrieve("bill-1").id == "bill-1"
    assert proxy.requests == []
    assert len(direct.requests) == 2
    assert BILL_PATH in seen


@pytest.mark.parametrize("backend", ASYNC_BACKENDS)
async def test_an_async_http_client_built_under_no_proxy_is_layered_on(
    no_proxy_env: pytest.MonkeyPatch, backend: str
) -> None:
    with RawServer(_proxy_answers) as proxy, RawServer(api()) as direct:
        no_proxy_env.setenv("HTTPS_PROXY", proxy.url)
        no_proxy_env.setenv("no_proxy", "127.0.0.1,localhost")
        caller = httpx.AsyncClient()
        async with AsyncM3terBilling(**_client_options(direct.url, http_client=caller, http_backend=backend)) as client:
            assert (await client.bills.retrieve("bill-1")).id == "bill-1"
    assert proxy.requests == []
    assert len(direct.requests) == 2


def test_an_http_client_goes_through_the_proxies_of_the_environment(no_proxy_env: pytest.MonkeyPatch) -> None:
    with RawServer(_proxy_answers) as proxy:
        no_proxy_env.setenv("HTTP_PROXY", proxy.url)
        caller = httpx.Client()
        with M3terBilling(**_client_options("http://m3ter.proxied.test", http_client=caller)) as client:
            assert client.bills.retrieve("bill-1").id == "bill-1"
    assert [target for _, target in proxy.requests] == [
        "http://m3ter.proxied.test/oauth/token",
        f"http://m3ter.proxied.test{BILL_PATH}",
    ]


def test_trust_env_false_drops_the_proxies_of_an_http_client(no_proxy_env: pytest.MonkeyPatch) -> None:
    with RawServer(_proxy_answers) as proxy, RawServer(api()) as direct:
        no_proxy_env.setenv("HTTP_PROXY", proxy.url)
        caller = httpx.Client()
        with M3terBilling(**_client_options(direct.url, http_client=caller, trust_env=False)) as client:
            assert client.bills.retrieve("bill-1").id == "bill-1"
    assert proxy.requests == []
    assert len(direct.requests) == 2


def test_an_http_client_with_proxies_of_its_own_is_refused(no_proxy_env: pytest.MonkeyPatch) -> None:
    no_proxy_env.setenv("NO_PROXY", "127.0.0.1")
    no_proxy_env.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    own = [
        httpx.Client(proxy="http://127.0.0.1:9"),  # the environment's proxy, but for every URL
        httpx.Client(mounts={"all://127.0.0.1": httpx.HTTPTransport()}),
        httpx.Client(mounts={"http://": httpx.HTTPTransport(proxy="http://127.0.0.1:8")}),
        httpx.Client(trust_env=False, mounts={"all://127.0.0.1": None}),
    ]
    built_earlier = httpx.Client()
    no_proxy_env.setenv("HTTP_PROXY", "http://127.0.0.1:7")  # its mounts are no longer the environment's
    for caller in [*own, built_earlier]:
        with caller, pytest.raises(ConfigurationError, match="proxy or mounted transports"):
            M3terBilling(**_client_options("http://m3ter.proxied.test", http_client=caller))


# -- event loops ---------------------------------------------------------------------------------------------


def test_an_async_client_recovers_on_a_new_loop_after_the_first_closed() -> None:
    with RawServer(api()) as server:
        client = AsyncM3terBilling(**_client_options(server.url, trust_env=False))

        async def call() -> str:
            return (await client.bills.retrieve("bill-1")).id

        assert asyncio.run(call()) == "bill-1"
        assert asyncio.run(call()) == "bill-1"  # the first loop is closed: a fresh pool on this one

        async def close() -> None:
            await client.close()

        asyncio.run(close())
    # Each loop's connections were closed as it shut down: no unclosed socket is left to warn about.
    assert server.connections == 2


@pytest.mark.parametrize("backend", ASYNC_BACKENDS)
def test_an_async_client_closed_stays_closed_on_every_later_loop(backend: str) -> None:
    with RawServer(api()) as server:
        client = AsyncM3terBilling(**_client_options(server.url, trust_env=False), http_backend=backend)  # type: ignore[arg-type]

        async def call() -> str:
            return (await client.bills.retrieve("bill-1")).id

        async def close() -> None:
            await client.close()

        assert asyncio.run(call()) == "bill-1"
        asyncio.run(close())
        for _ in range(2):  # a new loop is not a new client
            with pytest.raises(APIConnectionError, match="closed"):
                asyncio.run(call())
        assert server.count("GET", "/bills/bill-1") == 1


def test_an_async_client_on_two_live_loops_raises_a_typed_error(router: respx.Router) -> None:
    router.get(BILL_PATH).respond(200, json=bill_body())
    client = AsyncM3terBilling(
        **_client_options("https://api.m3ter.test", transport=httpx.MockTransport(router.handler))
    )
    first = asyncio.new_event_loop()
    try:
        first.run_until_complete(client.bills.retrieve("bill-1"))
        with pytest.raises(EventLoopMismatchError, match="one client per event loop"):
            asyncio.run(client.bills.retrieve("bill-1"))
    finally:
        first.run_until_complete(client.close())
        first.close()
