"""Path parameters: a hostile id never changes the request's path or host; impossible ids are refused."""

from __future__ import annotations

from urllib.parse import quote, unquote

import httpx
import pytest
import respx
from hypothesis import given, settings
from hypothesis import strategies as st
from m3ter_billing import ConfigurationError, InvalidParameterError
from m3ter_billing._paths import path_segment

from .support import BASE_URL, ORG_ID, AsyncClientFactory, ClientFactory, api_calls, bill_body, job_body

HOST = httpx.URL(BASE_URL).host
HOSTILE = ["../x", "a/b", "?x", "#", "%2F", "../../oauth/token", "a b", "x?additional=evil", "//evil.example", "ü/€"]
LONE_SURROGATE = "bill-\ud800"  # what os.fsdecode makes of an undecodable byte in an environment variable
REFUSED = ["", ".", "..", "a\r\nX-Injected: 1", "a\nb", "a\rb", "\x00", "tab\there", LONE_SURROGATE]


@pytest.fixture
def catch_all(router: respx.Router) -> respx.Route:
    """Answer every GET with a bill, so the recorded request is what matters."""

    def answer(request: httpx.Request) -> httpx.Response:
        if "/statementjobs/" in request.url.path:
            return httpx.Response(200, json=job_body())
        return httpx.Response(200, json=bill_body())

    return router.route(method="GET").mock(side_effect=answer)


def _segments(request: httpx.Request) -> list[str]:
    return request.url.raw_path.decode("ascii").split("?", 1)[0].split("/")


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_bill_id_stays_one_path_segment(
    router: respx.Router, catch_all: respx.Route, make_client: ClientFactory, hostile: str
) -> None:
    make_client().bills.retrieve(hostile)
    (request,) = api_calls(router)
    assert request.url.host == HOST
    assert request.url.scheme == "https"
    segments = _segments(request)
    assert segments[:4] == ["", "organizations", ORG_ID, "bills"]
    assert len(segments) == 5
    assert unquote(segments[4]) == hostile
    assert request.url.query == b""
    assert request.url.fragment == ""


@pytest.mark.parametrize("hostile", HOSTILE)
async def test_hostile_statement_job_id_stays_one_path_segment(
    router: respx.Router, catch_all: respx.Route, make_async_client: AsyncClientFactory, hostile: str
) -> None:
    await make_async_client().statement_jobs.retrieve(hostile)
    (request,) = api_calls(router)
    assert request.url.host == HOST
    segments = _segments(request)
    assert segments[:4] == ["", "organizations", ORG_ID, "statementjobs"]
    assert len(segments) == 5
    assert unquote(segments[4]) == hostile


@pytest.mark.parametrize("hostile", ["../x", "a/b", "?x", "#"])
def test_hostile_org_id_stays_one_path_segment(
    router: respx.Router, catch_all: respx.Route, make_client: ClientFactory, hostile: str
) -> None:
    make_client(org_id=hostile).bills.retrieve("bill-1")
    (request,) = api_calls(router)
    assert request.url.host == HOST
    segments = _segments(request)
    assert len(segments) == 5
    assert unquote(segments[2]) == hostile
    assert segments[4] == "bill-1"


@pytest.mark.parametrize("bad", REFUSED)
def test_impossible_ids_are_refused_before_sending(
    router: respx.Router, catch_all: respx.Route, make_client: ClientFactory, bad: str
) -> None:
    client = make_client()
    with pytest.raises(InvalidParameterError):
        client.bills.retrieve(bad)
    with pytest.raises(InvalidParameterError):
        client.statement_jobs.retrieve(bad)
    assert len(router.calls) == 0


@pytest.mark.parametrize("bad", REFUSED)
async def test_async_impossible_ids_are_refused_before_sending(
    router: respx.Router, make_async_client: AsyncClientFactory, bad: str
) -> None:
    client = make_async_client()
    with pytest.raises(InvalidParameterError):
        await client.bills.retrieve(bad)
    with pytest.raises(InvalidParameterError):
        await client.statement_jobs.retrieve(bad)
    assert len(router.calls) == 0


def test_non_string_id_is_refused(router: respx.Router, make_client: ClientFactory) -> None:
    with pytest.raises(InvalidParameterError):
        make_client().bills.retrieve(123)  # type: ignore[arg-type]
    assert len(router.calls) == 0


@pytest.mark.parametrize("value", ["abc", "a/b", "..x", "...", "%", "ü"])
def test_path_segment_round_trips(value: str) -> None:
    encoded = path_segment("id", value)
    assert "/" not in encoded
    assert "?" not in encoded
    assert "#" not in encoded
    assert unquote(encoded) == value


# -- the additional query parameter ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("additional", "raw_query"),
    [
        (["a", "b"], b"additional=a%2Cb"),
        (["lineItems"], b"additional=lineItems"),
        ([], b"additional="),
        ("single", b"additional=single"),
        (("x", "y", "z"), b"additional=x%2Cy%2Cz"),
        (None, b""),
    ],
)
def test_additional_is_one_comma_joined_value(
    router: respx.Router,
    catch_all: respx.Route,
    make_client: ClientFactory,
    additional: list[str] | str | None,
    raw_query: bytes,
) -> None:
    make_client().bills.retrieve("bill-1", additional=additional)
    (request,) = api_calls(router)
    assert request.url.query == raw_query
    assert request.url.path == f"/organizations/{ORG_ID}/bills/bill-1"


async def test_async_additional(
    router: respx.Router, catch_all: respx.Route, make_async_client: AsyncClientFactory
) -> None:
    await make_async_client().bills.retrieve("bill-1", additional=["a", "b"])
    (request,) = api_calls(router)
    assert request.url.query == b"additional=a%2Cb"


def test_additional_values_with_reserved_characters_are_encoded(
    router: respx.Router, catch_all: respx.Route, make_client: ClientFactory
) -> None:
    make_client().bills.retrieve("bill-1", additional=["a&b=c", "d#e"])
    (request,) = api_calls(router)
    assert list(request.url.params.multi_items()) == [("additional", "a&b=c,d#e")]
    assert request.url.fragment == ""


def test_additional_must_hold_strings(router: respx.Router, make_client: ClientFactory) -> None:
    with pytest.raises(InvalidParameterError):
        make_client().bills.retrieve("bill-1", additional=[1])  # type: ignore[list-item]
    assert len(router.calls) == 0


@pytest.mark.parametrize("bad", REFUSED)
def test_impossible_org_id_is_refused_when_the_client_is_built(make_client: ClientFactory, bad: str) -> None:
    with pytest.raises(ConfigurationError, match="M3TER_ORG_ID"):
        make_client(org_id=bad)


def test_undecodable_org_id_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from m3ter_billing import M3terBilling

    monkeypatch.setenv("M3TER_ORG_ID", os.fsdecode(b"org\xff"))
    with pytest.raises(ConfigurationError, match="M3TER_ORG_ID"):
        M3terBilling(base_url=BASE_URL, api_key="k", api_secret="secret")


@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1) | st.from_regex(r"[A-Za-z0-9_.~-]+", fullmatch=True))
@settings(max_examples=300)
def test_segment_is_the_percent_encoded_utf8_of_any_accepted_id(value: str) -> None:
    """Whatever path the value takes (ids of unreserved characters are returned as they are), the segment is
    ``quote(value.encode("utf-8"), safe="")``: every reserved and non-ASCII character encoded."""
    if value in ("", ".", "..") or any(ord(c) < 0x20 or c == "\x7f" for c in value):
        with pytest.raises(InvalidParameterError):
            path_segment("id", value)
    else:
        assert path_segment("id", value) == quote(value.encode("utf-8"), safe="")
