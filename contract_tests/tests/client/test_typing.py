"""What a type checker sees of the public surface: ``assert_type`` is checked by mypy (the ``types`` step of
scripts/check.py runs it over the tests) and, at run time, returns its value. An ``Any`` anywhere on these
paths makes mypy fail here: it would erase the types of everything downstream in a caller's code."""

from __future__ import annotations

from typing import assert_type

import httpx
import pytest
import respx
from m3ter_billing import (
    APIStatusError,
    AsyncResponse,
    AuthenticationError,
    BillResponse,
    NotFoundError,
    PermissionDeniedError,
    Response,
    StatementJobResponse,
)

from .support import ORG_ID, AsyncClientFactory, ClientFactory, bill_body, job_body

BILL_PATH = f"/organizations/{ORG_ID}/bills/bill-1"
JOB_PATH = f"/organizations/{ORG_ID}/statementjobs/job-1"


def test_every_raw_response_path_is_typed(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(BILL_PATH).respond(200, json=bill_body())
    router.get(JOB_PATH).respond(200, json=job_body())
    client = make_client()
    raws = [
        assert_type(
            client.with_raw_response.statements.statement_jobs.retrieve("job-1"), Response[StatementJobResponse]
        ),
        assert_type(
            client.statements.with_raw_response.statement_jobs.retrieve("job-1"), Response[StatementJobResponse]
        ),
        assert_type(
            client.statements.statement_jobs.with_raw_response.retrieve("job-1"), Response[StatementJobResponse]
        ),
        assert_type(client.statement_jobs.with_raw_response.retrieve("job-1"), Response[StatementJobResponse]),
        assert_type(client.with_raw_response.statement_jobs.retrieve("job-1"), Response[StatementJobResponse]),
    ]
    for raw in raws:
        assert assert_type(raw.parse(), StatementJobResponse).id == "job-1"
    bill = assert_type(client.with_raw_response.bills.retrieve("bill-1"), Response[BillResponse])
    assert assert_type(bill.parsed, BillResponse).id == "bill-1"


async def test_every_async_raw_response_path_is_typed(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    router.get(JOB_PATH).respond(200, json=job_body())
    client = make_async_client()
    raws = [
        assert_type(
            await client.with_raw_response.statements.statement_jobs.retrieve("job-1"),
            AsyncResponse[StatementJobResponse],
        ),
        assert_type(
            await client.statements.with_raw_response.statement_jobs.retrieve("job-1"),
            AsyncResponse[StatementJobResponse],
        ),
        assert_type(
            await client.with_raw_response.statement_jobs.retrieve("job-1"), AsyncResponse[StatementJobResponse]
        ),
    ]
    for raw in raws:
        assert assert_type(await raw.parse(), StatementJobResponse).id == "job-1"


def test_a_status_errors_response_is_never_none(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(BILL_PATH).respond(404, json={"message": "no such bill"}, headers={"X-Request-Id": "r1"})
    with pytest.raises(APIStatusError) as info:
        make_client(max_retries=0).bills.retrieve("bill-1")
    response = assert_type(info.value.response, httpx.Response)
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "r1"


def test_a_status_error_built_by_hand_has_a_response() -> None:
    # With status_code= alone: a stand-in response with that status and those headers, no request.
    built = NotFoundError("gone", status_code=404, headers={"X-Id": "1"})
    stand_in = assert_type(built.response, httpx.Response)
    assert (stand_in.status_code, stand_in.headers["x-id"], stand_in.content) == (404, "1", b"")
    assert built.headers == {"X-Id": "1"}
    odd = PermissionDeniedError("no", status_code=403, headers={"X-Note": "café"})  # not ASCII: kept on .headers
    assert (odd.response.status_code, odd.headers["X-Note"]) == (403, "café")
    # As the official SDK builds it: status and headers are the response's.
    response = httpx.Response(401, headers={"X-Id": "2"}, json={"message": "bad key"})
    official = AuthenticationError("bad key", response=response, body={"message": "bad key"})
    assert official.response is response
    assert (official.status_code, official.headers["x-id"], official.body) == (401, "2", {"message": "bad key"})
    assert (official.method, official.url) == ("", "")  # that response has no request
    # With a request on the response: its method and URL, the URL scrubbed of a presigned signature.
    signed = "https://statements.example/s.json?X-Amz-Expires=900&X-Amz-Signature=abc123secret"
    sent = httpx.Response(404, request=httpx.Request("GET", signed))
    missing = NotFoundError("gone", response=sent, body=None)
    assert missing.method == "GET"
    assert missing.url.startswith("https://statements.example/s.json?")
    assert "abc123secret" not in missing.url
    assert "abc123secret" not in str(missing)
    assert str(missing).startswith("404 Not Found (GET https://statements.example/s.json")
    with pytest.raises(TypeError, match="response= or status_code="):
        APIStatusError("neither")
