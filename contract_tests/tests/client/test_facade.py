"""The facades: sync and async surfaces match; settings come from arguments or the environment."""

from __future__ import annotations

import inspect
from typing import Any

import httpx
import m3ter_billing
import pytest
import respx
from m3ter_billing import AsyncM3terBilling, ConfigurationError, M3terBilling, Response

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
    token_body,
)

BILL_PATH = f"/organizations/{ORG_ID}/bills/bill-1"
JOB_PATH = f"/organizations/{ORG_ID}/statementjobs/job-1"
ENV = ("M3TER_BASE_URL", "M3TER_ORG_ID", "M3TER_API_KEY", "M3TER_API_SECRET")


def _public(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in dir(obj) if not name.startswith("_")}


def _shape(func: Any) -> list[tuple[str, Any, Any]]:
    """Parameter names, kinds and defaults (annotations differ by design: sync vs async transports)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(func).parameters.values()]


def _resource_pairs(sync: M3terBilling, asyn: AsyncM3terBilling) -> list[tuple[Any, Any]]:
    return [
        (sync, asyn),
        (sync.bills, asyn.bills),
        (sync.bills.with_raw_response, asyn.bills.with_raw_response),
        (sync.statement_jobs, asyn.statement_jobs),
        (sync.statement_jobs.with_raw_response, asyn.statement_jobs.with_raw_response),
    ]


async def test_sync_and_async_surfaces_match(make_client: ClientFactory, make_async_client: AsyncClientFactory) -> None:
    sync, asyn = make_client(), make_async_client()
    sync_init = [p for p in _shape(M3terBilling.__init__)]
    async_init = [p for p in _shape(AsyncM3terBilling.__init__)]
    # http_backend is the async client's alone: it chooses between httpcore and aiohttp.
    assert [p[0] for p in sync_init] == [p[0] for p in async_init if p[0] != "http_backend"]
    for sync_obj, async_obj in _resource_pairs(sync, asyn):
        sync_api, async_api = _public(sync_obj), _public(async_obj)
        assert sorted(sync_api) == sorted(async_api), type(sync_obj).__name__
        for name, member in sync_api.items():
            if not callable(member) or isinstance(member, type):
                continue
            other = async_api[name]
            assert _shape(member) == _shape(other), f"{type(sync_obj).__name__}.{name}"
            if name not in ("http", "with_options"):  # with_options builds a view: no I/O
                assert inspect.iscoroutinefunction(other), f"{type(async_obj).__name__}.{name} should be async"
                assert not inspect.iscoroutinefunction(member)


def test_context_managers_close_the_http_client(make_client: ClientFactory) -> None:
    with make_client() as client:
        assert not client.http.is_closed
    assert client.http.is_closed


async def test_async_context_manager(make_async_client: AsyncClientFactory) -> None:
    async with make_async_client() as client:
        assert not client.http.is_closed
    assert client.http.is_closed


def test_retrieve_bill_end_to_end(router: respx.Router, make_client: ClientFactory) -> None:
    route = router.get(BILL_PATH).respond(200, json=bill_body(billTotal=12.5))
    bill = make_client().bills.retrieve("bill-1")
    assert bill.id == "bill-1"
    assert bill.bill_total == 12.5
    request = route.calls.last.request
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"].startswith("m3ter-billing/")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_raw_response_gives_status_headers_and_content(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(JOB_PATH).respond(200, json=job_body(), headers={"X-Request-Id": "abc"})
    raw = make_client().statement_jobs.with_raw_response.retrieve("job-1")
    assert isinstance(raw, Response)
    assert raw.status_code == 200
    assert raw.headers["x-request-id"] == "abc"
    assert raw.parsed.id == "job-1"
    assert b'"job-1"' in raw.content


async def test_async_raw_response(router: respx.Router, make_async_client: AsyncClientFactory) -> None:
    router.get(BILL_PATH).respond(200, json=bill_body())
    raw = await make_async_client().bills.with_raw_response.retrieve("bill-1", additional=["x"])
    assert raw.status_code == 200
    assert raw.parsed.id == "bill-1"


def test_redirects_are_not_followed(router: respx.Router, make_client: ClientFactory) -> None:
    from m3ter_billing import UnexpectedStatusError

    router.get(BILL_PATH).respond(302, headers={"Location": "https://evil.example/steal"})
    with pytest.raises(UnexpectedStatusError) as info:
        make_client().bills.retrieve("bill-1")
    assert info.value.status_code == 302
    assert all(call.request.url.host != "evil.example" for call in router.calls)


# -- configuration ----------------------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _env_router() -> respx.Router:
    router = respx.Router(base_url="https://env.m3ter.test", assert_all_mocked=True)
    router.post("/oauth/token").respond(200, json=token_body())
    router.get("/organizations/env-org/bills/bill-1").respond(200, json=bill_body())
    return router


def test_settings_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("M3TER_BASE_URL", "https://env.m3ter.test/")
    clean_env.setenv("M3TER_ORG_ID", "env-org")
    clean_env.setenv("M3TER_API_KEY", "env-key")
    clean_env.setenv("M3TER_API_SECRET", "env-secret-value")
    router = _env_router()
    with M3terBilling(transport=httpx.MockTransport(router.handler)) as client:
        assert client.org_id == "env-org"
        assert client.base_url == "https://env.m3ter.test"
        assert client.bills.retrieve("bill-1").id == "bill-1"
    token_request = router.calls[0].request
    assert token_request.url == "https://env.m3ter.test/oauth/token"
    assert token_request.headers["Authorization"] == httpx.BasicAuth("env-key", "env-secret-value")._auth_header


async def test_async_settings_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("M3TER_BASE_URL", "https://env.m3ter.test")
    clean_env.setenv("M3TER_ORG_ID", "env-org")
    clean_env.setenv("M3TER_API_KEY", "env-key")
    clean_env.setenv("M3TER_API_SECRET", "env-secret-value")
    router = _env_router()
    async with AsyncM3terBilling(transport=httpx.MockTransport(router.async_handler)) as client:
        assert (await client.bills.retrieve("bill-1")).id == "bill-1"


def test_arguments_win_over_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("M3TER_ORG_ID", "env-org")
    clean_env.setenv("M3TER_API_KEY", "env-key")
    clean_env.setenv("M3TER_API_SECRET", "env-secret-value")
    with M3terBilling(org_id="arg-org", base_url=BASE_URL) as client:
        assert client.org_id == "arg-org"
        assert client.base_url == BASE_URL


def test_default_base_url(clean_env: pytest.MonkeyPatch) -> None:
    with M3terBilling(org_id=ORG_ID, api_key=API_KEY, api_secret=API_SECRET) as client:
        assert client.base_url == "https://api.m3ter.com"


@pytest.mark.parametrize("missing", ["M3TER_ORG_ID", "M3TER_API_KEY", "M3TER_API_SECRET"])
@pytest.mark.parametrize("cls", [M3terBilling, AsyncM3terBilling])
def test_missing_setting_raises_configuration_error_naming_it(
    clean_env: pytest.MonkeyPatch, missing: str, cls: type[Any]
) -> None:
    values = {"M3TER_ORG_ID": "o", "M3TER_API_KEY": "k", "M3TER_API_SECRET": "secret-xyz"}
    for name, value in values.items():
        if name != missing:
            clean_env.setenv(name, value)
    with pytest.raises(ConfigurationError, match=missing) as info:
        cls()
    for name in values:
        if name != missing:
            assert name not in str(info.value)
    assert "secret-xyz" not in str(info.value)


def test_all_missing_are_named(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError) as info:
        M3terBilling()
    for name in ("M3TER_ORG_ID", "M3TER_API_KEY", "M3TER_API_SECRET"):
        assert name in str(info.value)


def test_empty_environment_value_counts_as_missing(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("M3TER_ORG_ID", "")
    with pytest.raises(ConfigurationError, match="M3TER_ORG_ID"):
        M3terBilling(api_key="k", api_secret="s")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://api.m3ter.com",
        "not a url",
        "https://",
        "http://127.0.0.1:65536",
        "http://127.0.0.1:0",
        "https://h:99999999999",
    ],
)
def test_bad_base_url_is_a_configuration_error(clean_env: pytest.MonkeyPatch, url: str) -> None:
    with pytest.raises(ConfigurationError, match="base_url"):
        M3terBilling(base_url=url, org_id="o", api_key="k", api_secret="s")


def test_version_is_exposed() -> None:
    assert isinstance(m3ter_billing.__version__, str)
    assert m3ter_billing.__version__[0].isdigit()


def test_a_call_after_close_is_an_api_connection_error(router: respx.Router, make_client: ClientFactory) -> None:
    from m3ter_billing import APIConnectionError

    router.get(BILL_PATH).respond(200, json=bill_body())
    client = make_client()
    client.close()
    with pytest.raises(APIConnectionError, match="the client has been closed"):
        client.bills.retrieve("bill-1")
    assert len(router.calls) == 0


async def test_async_call_after_close_is_an_api_connection_error(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    from m3ter_billing import APIConnectionError

    client = make_async_client()
    await client.close()
    with pytest.raises(APIConnectionError, match="the client has been closed"):
        await client.statement_jobs.retrieve("job-1")
    assert len(router.calls) == 0


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pa55word-secret@api.m3ter.test",
        "https://api.m3ter.test/?tenant=1",
        "https://api.m3ter.test/base?",
        "https://api.m3ter.test/#frag",
        "https://api.m3ter.test/?api_key=pa55word-secret",
        "https://api.m3ter.test/#token=pa55word-secret",
        "api.m3ter.test?pa55word-secret",
    ],
)
def test_base_url_with_credentials_query_or_fragment_is_refused(clean_env: pytest.MonkeyPatch, url: str) -> None:
    with pytest.raises(ConfigurationError, match="base_url") as info:
        M3terBilling(base_url=url, org_id="o", api_key="k", api_secret="s")
    # The URL is shown up to its query or fragment, where a key or token put into it would be.
    assert "pa55word-secret" not in str(info.value)
    assert "tenant" not in str(info.value)
