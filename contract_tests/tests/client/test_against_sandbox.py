"""The client end to end against the sandbox, over respx and over real HTTP on loopback, sync and async.

MockTransport tests hand the client responses whose bodies are already read; a real server and respx
stream them. These tests pin that the whole flow (token, retrieve, wait, download) works on both.
"""

from __future__ import annotations

import pytest
from m3ter_billing import (
    AsyncM3terBilling,
    BillStatus,
    M3terBilling,
    NotFoundError,
    PermissionDeniedError,
    StatementJobStatus,
)
from m3ter_contract.sandbox import Sandbox

from .sandbox_support import sandbox_fixture, sandbox_url_fixture  # noqa: F401 - fixtures
from .sandbox_support import sandbox_options as client_options


def test_sync_flow(sandbox: Sandbox, sandbox_url: str) -> None:
    sleeps: list[float] = []
    with M3terBilling(**client_options(sandbox, sandbox_url), sleep=sleeps.append) as client:
        bill_id = sandbox.seeded.bills["monthly"]
        before = client.bills.retrieve(bill_id, additional=["lineItems"])
        sandbox.approve_bill(bill_id)
        after = client.bills.retrieve(bill_id)
        assert isinstance(before.version, int)
        assert after.version == before.version + 1
        assert after.status is BillStatus.APPROVED

        pending = sandbox.seeded.jobs["pending"]
        assert client.statement_jobs.retrieve(pending).statement_job_status is StatementJobStatus.PENDING
        sandbox.advance(60)
        job = client.statement_jobs.wait(pending, timeout=5, poll_interval=0.01)
        assert job.statement_job_status is StatementJobStatus.COMPLETE

        statement = client.statement_jobs.download(sandbox.seeded.jobs["complete_csv"])
        assert isinstance(statement.json, dict)
        assert statement.csv is not None
        assert statement.csv.splitlines()[0].startswith("lineItemId")

        with pytest.raises(NotFoundError):
            client.bills.retrieve("no-such-bill")
    assert client.auth.token_requests == 1


async def test_async_flow(sandbox: Sandbox, sandbox_url: str) -> None:
    async with AsyncM3terBilling(**client_options(sandbox, sandbox_url)) as client:
        bill = await client.bills.retrieve(sandbox.seeded.bills["large"])
        assert bill.line_items
        assert len(bill.line_items) >= 1000
        raw = await client.statement_jobs.with_raw_response.retrieve(sandbox.seeded.jobs["complete_json"])
        assert raw.status_code == 200
        assert raw.headers["content-type"].startswith("application/json")
        statement = await client.statement_jobs.download(raw.parsed)
        assert statement.csv is None
    assert client.auth.token_requests == 1


def test_wrong_org_is_refused_after_one_refresh(sandbox: Sandbox, sandbox_url: str) -> None:
    options = client_options(sandbox, sandbox_url) | {"org_id": "not-my-org"}
    with M3terBilling(**options) as client:
        with pytest.raises(PermissionDeniedError) as caught:
            client.bills.retrieve(sandbox.seeded.bills["monthly"])
        assert caught.value.status_code == 403
        assert client.auth.token_requests == 2
        # The token fetched because of the 403 got a 403 too: later calls do not fetch another one.
        for _ in range(3):
            with pytest.raises(PermissionDeniedError):
                client.bills.retrieve(sandbox.seeded.bills["monthly"])
        assert client.auth.token_requests == 2
