"""Headers and query values a caller adds are checked before anything is sent, alike on every backend:
``InvalidParameterError``, never a raw ``ValueError`` or ``UnicodeEncodeError``, and never a malformed
header on the wire (``_arguments``)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from m3ter_billing import APIConnectionError, AsyncM3terBilling, InvalidParameterError, M3terBilling

from .hostile import WARM_UP, Exchange, RawServer, api
from .support import API_KEY, API_SECRET, ASYNC_BACKENDS, ORG_ID, bill_body

BILL = f"/organizations/{ORG_ID}/bills/bill-1"
BACKENDS = ["sync", *ASYNC_BACKENDS]


def _call(server: RawServer, backend: str, client_options: dict[str, Any], call_options: dict[str, Any]) -> Any:
    options = {
        "base_url": server.url,
        "org_id": ORG_ID,
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "trust_env": False,
        **client_options,
    }
    if backend == "sync":
        with M3terBilling(**options) as client:
            return client.bills.retrieve(**{"id": "bill-1", **call_options})

    async def go() -> Any:
        async with AsyncM3terBilling(http_backend=backend, **options) as client:  # type: ignore[arg-type]
            await client.bills.retrieve(WARM_UP)  # the token cached: the aiohttp backend's quick lane is next
            return await client.bills.retrieve(**{"id": "bill-1", **call_options})

    return asyncio.run(go())


def _bill(exchange: Exchange) -> None:
    exchange.json(200, bill_body())


BAD_CALLS = {
    "CRLF in a value": {"extra_headers": {"X-Note": "a\r\nAuthorization: Bearer evil"}},
    "LF in a value": {"extra_headers": {"X-Note": "a\nb"}},
    "NUL in a value": {"extra_headers": {"X-Note": "a\x00b"}},
    "non-ASCII value": {"extra_headers": {"X-Note": "café"}},
    "space in a name": {"extra_headers": {"X Note": "1"}},
    "colon in a name": {"extra_headers": {"authorization:bearer": "x"}},
    "empty name": {"extra_headers": {"": "1"}},
    "not a string": {"extra_headers": {"X-Count": 3}},
    "leading space": {"extra_headers": {"X-Note": " padded"}},
    "trailing space": {"extra_headers": {"X-Note": "trailing "}},
    "only a tab": {"extra_headers": {"X-Note": "\t"}},
    "lone surrogate in additional": {"additional": ["lineItems", "\ud800"]},
    "lone surrogate in extra_query": {"extra_query": {"q": "\udcff"}},
    "lone surrogate in an extra_query list": {"extra_query": {"q": ["a", "\ud800"]}},
    "lone surrogate in an extra_query key": {"extra_query": {"\ud800": "1"}},
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("options", list(BAD_CALLS.values()), ids=list(BAD_CALLS))
def test_bad_per_call_headers_and_query_are_refused_before_sending(backend: str, options: dict[str, Any]) -> None:
    with RawServer(api(_bill)) as server:
        with pytest.raises(InvalidParameterError) as info:
            _call(server, backend, {}, options)
        assert server.count("GET", BILL) == 0
    assert "evil" not in str(info.value)  # header values are never quoted (one could be a secret)
    assert "café" not in str(info.value)


@pytest.mark.parametrize(
    "options",
    [
        {"default_headers": {"X-Note": "a\r\nb"}},
        {"default_headers": {"X Note": "1"}},
        {"default_query": {"q": "\ud800"}},
    ],
    ids=["CRLF default header", "space in a default header name", "lone surrogate default query"],
)
def test_bad_default_headers_and_query_are_refused_by_the_constructors(options: dict[str, Any]) -> None:
    common: dict[str, Any] = {"org_id": ORG_ID, "api_key": API_KEY, "api_secret": API_SECRET}
    with pytest.raises(InvalidParameterError):
        M3terBilling(**common, **options)
    with pytest.raises(InvalidParameterError):
        AsyncM3terBilling(**common, **options)
    with M3terBilling(**common) as client, pytest.raises(InvalidParameterError):
        client.with_options(**options)


@pytest.mark.parametrize("backend", BACKENDS)
def test_headers_and_query_that_are_valid_go_out_as_given(backend: str) -> None:
    seen: list[tuple[str, dict[str, str]]] = []

    def record(exchange: Exchange) -> None:
        seen.append((exchange.target, exchange.headers))
        exchange.json(200, bill_body())

    call = {"extra_headers": {"X-Note": "a b\tc ~!", "X-Empty": ""}, "extra_query": {"q": "é ü", "n": ["1", "2"]}}
    with RawServer(api(record)) as server:
        assert _call(server, backend, {"default_headers": {"X-Team": "billing"}}, call).id == "bill-1"
    target, headers = seen[-1]
    assert headers["x-note"] == "a b\tc ~!"
    assert headers["x-empty"] == ""
    assert headers["x-team"] == "billing"
    # httpx 0.27 quotes the space as %20, 0.28 as "+": the same query either way
    assert parse_qs(urlsplit(target).query) == {"q": ["é ü"], "n": ["1", "2"]}


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_id_too_long_for_a_url_is_refused_before_sending(backend: str) -> None:
    # httpx refuses a URL over 64 KiB; the aiohttp backend, which joins URLs itself, refuses it alike.
    with RawServer(api(_bill)) as server:
        with pytest.raises(APIConnectionError, match="URL too long"):
            _call(server, backend, {}, {"id": "b" * 1_000_000})
        assert server.count("GET", "b" * 64) == 0
