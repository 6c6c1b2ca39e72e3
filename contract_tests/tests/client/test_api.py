"""The generated endpoint functions, used directly with the LowLevelClient."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from m3ter_billing import (
    APIConnectionError,
    APITimeoutError,
    BillResponse,
    LowLevelClient,
    NotFoundError,
    StatementJobResponse,
)
from m3ter_billing.api.auth import generate_token
from m3ter_billing.api.bill import get_bill
from m3ter_billing.api.statement_job import get_statement_job
from m3ter_billing.models import BearerAccessTokenRequest, GrantType

from .support import BASE_URL, ORG_ID, TOKEN, bill_body, job_body


@pytest.fixture
def low_level(router: respx.Router) -> Iterator[LowLevelClient]:
    with httpx.Client(base_url=BASE_URL, transport=httpx.MockTransport(router.handler)) as sync:
        yield LowLevelClient(httpx_client=sync)


def test_generate_token_sends_one_form_encoded_body(router: respx.Router, low_level: LowLevelClient) -> None:
    body = BearerAccessTokenRequest(grant_type=GrantType.CLIENT_CREDENTIALS)
    token = generate_token.sync(client=low_level, body=body)
    assert token.access_token == TOKEN
    request = router.routes["token"].calls.last.request
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.content.decode()) == {"grant_type": ["client_credentials"]}


def test_get_bill_and_statement_job(router: respx.Router, low_level: LowLevelClient) -> None:
    router.get(f"/organizations/{ORG_ID}/bills/b1").respond(200, json=bill_body("b1"))
    router.get(f"/organizations/{ORG_ID}/statementjobs/j1").respond(200, json=job_body("j1"))
    bill = get_bill.sync(ORG_ID, "b1", client=low_level, additional=["a", "b"])
    assert isinstance(bill, BillResponse)
    assert router.calls.last.request.url.query == b"additional=a%2Cb"
    job = get_statement_job.sync(ORG_ID, "j1", client=low_level)
    assert isinstance(job, StatementJobResponse)
    detailed = get_statement_job.sync_detailed(ORG_ID, "j1", client=low_level)
    assert detailed.status_code == 200
    assert detailed.parsed == job


def test_endpoint_errors_are_typed(router: respx.Router, low_level: LowLevelClient) -> None:
    router.get(f"/organizations/{ORG_ID}/bills/missing").respond(404, json={"message": "Not found"})
    with pytest.raises(NotFoundError, match="Not found"):
        get_bill.sync(ORG_ID, "missing", client=low_level)


def test_transport_failures_are_typed(router: respx.Router, low_level: LowLevelClient) -> None:
    router.get(f"/organizations/{ORG_ID}/bills/reset").mock(side_effect=httpx.ReadError("reset by peer"))
    router.get(f"/organizations/{ORG_ID}/bills/slow").mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(APIConnectionError, match="reset by peer") as info:
        get_bill.sync(ORG_ID, "reset", client=low_level)
    assert info.value.url.endswith("/bills/reset")
    with pytest.raises(APITimeoutError):
        get_bill.sync_detailed(ORG_ID, "slow", client=low_level)


async def test_async_transport_failures_are_typed(router: respx.Router) -> None:
    router.get(f"/organizations/{ORG_ID}/statementjobs/j1").mock(side_effect=httpx.ConnectError("refused"))
    async with httpx.AsyncClient(base_url=BASE_URL, transport=httpx.MockTransport(router.async_handler)) as http:
        with pytest.raises(APIConnectionError, match="refused"):
            await get_statement_job.asyncio(ORG_ID, "j1", client=LowLevelClient(async_httpx_client=http))


async def test_async_endpoints(router: respx.Router) -> None:
    router.get(f"/organizations/{ORG_ID}/bills/b1").respond(200, json=bill_body("b1"))
    async with httpx.AsyncClient(base_url=BASE_URL, transport=httpx.MockTransport(router.async_handler)) as http:
        client = LowLevelClient(async_httpx_client=http)
        bill = await get_bill.asyncio(ORG_ID, "b1", client=client)
        assert bill.id == "b1"
        token = await generate_token.asyncio(
            client=client, body=BearerAccessTokenRequest(grant_type=GrantType.CLIENT_CREDENTIALS)
        )
        assert token.expires_in == 18_000


def test_client_needs_an_httpx_client() -> None:
    with pytest.raises(ValueError, match="httpx"):
        LowLevelClient()
    with httpx.Client() as http:
        client = LowLevelClient(httpx_client=http)
        with pytest.raises(RuntimeError):
            client.get_async_httpx_client()
