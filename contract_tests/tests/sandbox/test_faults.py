"""Fault injection: transport faults, the generic mutation hook, and the rule-breaking presets."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from m3ter_contract.sandbox import DEFAULT_BASE_URL, Sandbox, SandboxError, respx_router


def bill_url(sandbox: Sandbox, name: str = "monthly") -> str:
    return f"/organizations/{sandbox.org_id}/bills/{sandbox.seeded.bills[name]}"


def job_url(sandbox: Sandbox, name: str) -> str:
    return f"/organizations/{sandbox.org_id}/statementjobs/{sandbox.seeded.jobs[name]}"


def test_mutate_responses_for_one_entity_with_count(api: httpx.Client, mocked: Sandbox) -> None:
    bill_id = mocked.seeded.bills["monthly"]
    seen: list[int] = []

    def fn(body: dict[str, Any]) -> dict[str, Any]:
        seen.append(body["version"])
        body["billTotal"] = -1
        return body

    mocked.mutate_responses(bill_id, fn, count=2)
    assert [api.get(bill_url(mocked)).json()["billTotal"] for _ in range(3)][:2] == [-1, -1]
    assert api.get(bill_url(mocked)).json()["billTotal"] != -1
    assert len(seen) == 2
    assert api.get(bill_url(mocked, "daily")).json()["billTotal"] != -1
    assert mocked.bill(bill_id)["billTotal"] != -1  # the state itself is untouched


def test_mutate_responses_for_all_entities_forever(api: httpx.Client, mocked: Sandbox) -> None:
    mocked.mutate_responses(None, lambda body: {**body, "x": 1})
    for _ in range(3):
        assert api.get(bill_url(mocked)).json()["x"] == 1
        assert api.get(job_url(mocked, "failed")).json()["x"] == 1
    assert "x" not in api.get(f"/organizations/{mocked.org_id}/bills/nope").json()
    mocked.clear_faults()
    assert "x" not in api.get(bill_url(mocked)).json()


def test_server_error_burst(api: httpx.Client, mocked: Sandbox) -> None:
    mocked.faults.server_errors(2, status=502)
    statuses = [api.get(bill_url(mocked)).status_code for _ in range(3)]
    assert statuses == [502, 502, 200]


def test_queued_status_faults_answer_one_at_a_time_in_order(api: httpx.Client, mocked: Sandbox) -> None:
    mocked.faults.server_errors(count=1)
    mocked.faults.rate_limited(count=1)
    assert [api.get(bill_url(mocked)).status_code for _ in range(3)] == [503, 429, 200]
    mocked.faults.server_errors(count=2, status=500)
    mocked.faults.server_errors(count=2, status=502)
    assert [api.get(bill_url(mocked)).status_code for _ in range(5)] == [500, 500, 502, 502, 200]


def test_queued_faults_of_one_kind_spoil_one_response_each(api: httpx.Client, mocked: Sandbox) -> None:
    mocked.faults.wrong_content_type(count=1, content_type="text/plain")
    mocked.faults.wrong_content_type(count=1, content_type="text/csv")
    labels = [api.get(bill_url(mocked)).headers["content-type"] for _ in range(3)]
    assert labels == ["text/plain", "text/csv", "application/json"]
    mocked.faults.truncated_body(count=1)
    mocked.faults.truncated_body(count=1)
    lengths = [len(api.get(bill_url(mocked)).content) for _ in range(3)]
    assert lengths[0] == lengths[1] == lengths[2] // 2  # each cut in half once, then the whole body


def test_rewrites_stack_on_one_response(api: httpx.Client, mocked: Sandbox) -> None:
    mocked.faults.rewrite_body(lambda body: b"<" + body, count=1)
    mocked.faults.rewrite_body(lambda body: body + b">", count=1)
    body = api.get(bill_url(mocked)).content
    assert body.startswith(b"<{")
    assert body.endswith(b"}>")
    assert api.get(bill_url(mocked)).content.startswith(b"{")


def test_faults_can_target_an_operation(api: httpx.Client, mocked: Sandbox) -> None:
    mocked.faults.server_errors(1, operation="GetStatementJob")
    assert api.get(bill_url(mocked)).status_code == 200
    assert api.get(job_url(mocked, "failed")).status_code == 503


@pytest.mark.parametrize(("retry_after", "header"), [(None, None), (2, "2"), (0.5, "0.5")])
def test_rate_limited_with_and_without_retry_after(
    api: httpx.Client, mocked: Sandbox, retry_after: float | None, header: str | None
) -> None:
    mocked.faults.rate_limited(1, retry_after=retry_after)
    response = api.get(bill_url(mocked))
    assert response.status_code == 429
    assert response.json() == {"message": "Too Many Requests"}
    assert response.headers.get("retry-after") == header
    assert api.get(bill_url(mocked)).status_code == 200


def test_slow_responses(sandbox: Sandbox) -> None:
    sandbox.faults.slow(0.05)
    slept: list[float] = []
    headers = {"Authorization": f"Bearer {sandbox.issue_token()}"}
    with (
        respx_router(sandbox, sleep=slept.append),
        httpx.Client(base_url=DEFAULT_BASE_URL, headers=headers) as api,
    ):
        assert api.get(bill_url(sandbox)).status_code == 200
        assert slept == [0.05]
        assert api.get(bill_url(sandbox)).status_code == 200  # count=1: the next one is not slow
    assert slept == [0.05]
    with pytest.raises(ValueError, match="at most"):
        sandbox.faults.slow(60)


async def test_a_slow_response_to_an_async_client_leaves_the_loop_running(sandbox: Sandbox) -> None:
    sandbox.faults.slow(0.3)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    headers = {"Authorization": f"Bearer {sandbox.issue_token()}"}
    with respx_router(sandbox, sleep=_no_sync_sleep):
        async with httpx.AsyncClient(base_url=DEFAULT_BASE_URL, headers=headers) as api:
            task = asyncio.create_task(ticker())
            response = await api.get(bill_url(sandbox))
            task.cancel()
    assert response.status_code == 200
    assert response.json()["id"] == sandbox.seeded.bills["monthly"]
    assert ticks >= 5  # a blocking sleep would have let the ticker run at most once


async def test_an_async_client_waits_in_the_async_sleep_it_is_given(sandbox: Sandbox) -> None:
    sandbox.faults.slow(2.0, count=2)
    waited: list[float] = []

    async def async_sleep(seconds: float) -> None:
        waited.append(seconds)

    headers = {"Authorization": f"Bearer {sandbox.issue_token()}"}
    with respx_router(sandbox, sleep=_no_sync_sleep, async_sleep=async_sleep):
        async with httpx.AsyncClient(base_url=DEFAULT_BASE_URL, headers=headers) as api:
            assert (await api.get(bill_url(sandbox))).status_code == 200
        with httpx.Client(base_url=DEFAULT_BASE_URL, headers=headers) as sync_api, pytest.raises(AssertionError):
            sync_api.get(bill_url(sandbox))  # the sync client sleeps in sleep=
    assert waited == [2.0]


def _no_sync_sleep(seconds: float) -> None:
    raise AssertionError(f"slept {seconds} s synchronously")


def test_truncated_non_json_and_wrong_content_type(api: httpx.Client, mocked: Sandbox) -> None:
    mocked.faults.truncated_body()
    truncated = api.get(bill_url(mocked))
    with pytest.raises(ValueError, match=r"JSON|Expecting|Unterminated"):
        truncated.json()
    mocked.faults.non_json_body()
    html = api.get(bill_url(mocked))
    assert html.status_code == 200
    assert html.headers["content-type"] == "text/html"
    assert html.text.startswith("<html>")
    mocked.faults.wrong_content_type(content_type="text/plain")
    relabelled = api.get(bill_url(mocked))
    assert relabelled.headers["content-type"] == "text/plain"
    assert relabelled.json()["id"] == mocked.seeded.bills["monthly"]
    assert api.get(bill_url(mocked)).headers["content-type"] == "application/json"


def test_unknown_enum_values_and_extra_fields(api: httpx.Client, mocked: Sandbox) -> None:
    mocked.faults.unknown_enum_values()
    mocked.faults.extra_fields()
    bill = api.get(bill_url(mocked)).json()
    assert bill["billingFrequency"] == "FORTNIGHTLY"
    assert {item["lineItemType"] for item in bill["lineItems"]} == {"FUTURE_CHARGE"}
    assert "futureField" in bill
    job = api.get(job_url(mocked, "complete_json")).json()
    assert job["statementJobStatus"] == "QUEUED"
    assert "accountIds" in job["filters"]


def test_null_fields(api: httpx.Client, mocked: Sandbox) -> None:
    mocked.faults.null_fields(mocked.seeded.bills["monthly"])
    assert api.get(bill_url(mocked)).json()["purchaseOrderNumber"] is None


def test_version_goes_back(api: httpx.Client, mocked: Sandbox) -> None:
    mocked.faults.version_goes_back(mocked.seeded.bills["monthly"])
    versions = [api.get(bill_url(mocked)).json()["version"] for _ in range(3)]
    assert versions[1] < versions[0]
    assert versions[2] == versions[1]


def test_version_zero(api: httpx.Client, mocked: Sandbox) -> None:
    mocked.faults.version_zero(mocked.seeded.jobs["failed"])
    assert api.get(job_url(mocked, "failed")).json()["version"] == 0


@pytest.mark.parametrize("name", ["monthly", "failed"])
def test_change_without_version_bump(api: httpx.Client, mocked: Sandbox, name: str) -> None:
    is_bill = name in mocked.seeded.bills
    entity_id = mocked.seeded.bills[name] if is_bill else mocked.seeded.jobs[name]
    url = bill_url(mocked, name) if is_bill else job_url(mocked, name)
    mocked.faults.change_without_version_bump(entity_id)
    first, second = api.get(url).json(), api.get(url).json()
    assert first["version"] == second["version"]
    assert first["dtLastModified"] == second["dtLastModified"]
    assert first != second


def test_change_without_timestamp(api: httpx.Client, mocked: Sandbox) -> None:
    mocked.faults.change_without_timestamp(mocked.seeded.bills["monthly"])
    first, second = api.get(bill_url(mocked)).json(), api.get(bill_url(mocked)).json()
    assert second["version"] == first["version"] + 1
    assert second["dtLastModified"] == first["dtLastModified"]


def test_terminal_job_moves(api: httpx.Client, mocked: Sandbox) -> None:
    mocked.faults.terminal_job_moves(mocked.seeded.jobs["running"])
    first, second = api.get(job_url(mocked, "running")).json(), api.get(job_url(mocked, "running")).json()
    assert first["statementJobStatus"] == "COMPLETE"
    assert second["statementJobStatus"] == "RUNNING"
    assert second["version"] == first["version"] + 1


def test_complete_job_without_urls(api: httpx.Client, mocked: Sandbox) -> None:
    mocked.faults.complete_job_without_url(mocked.seeded.jobs["pending"])
    job = api.get(job_url(mocked, "pending")).json()
    assert job["statementJobStatus"] == "COMPLETE"
    assert "presignedJsonStatementUrl" not in job
    mocked.faults.complete_job_without_csv_url(mocked.seeded.jobs["complete_csv"])
    job = api.get(job_url(mocked, "complete_csv")).json()
    assert "presignedJsonStatementUrl" in job
    assert "presignedCsvStatementUrl" not in job
    with pytest.raises(SandboxError):
        mocked.faults.complete_job_without_url(mocked.seeded.jobs["failed"])
    with pytest.raises(SandboxError):
        mocked.faults.complete_job_without_csv_url(mocked.seeded.jobs["complete_json"])


def test_url_while_pending(api: httpx.Client, mocked: Sandbox) -> None:
    mocked.faults.url_while_pending(mocked.seeded.jobs["pending"])
    job = api.get(job_url(mocked, "pending")).json()
    assert job["statementJobStatus"] == "PENDING"
    assert "presignedJsonStatementUrl" in job
    with pytest.raises(SandboxError):
        mocked.faults.url_while_pending(mocked.seeded.jobs["failed"])


def test_bill_rule_breakers(api: httpx.Client, mocked: Sandbox) -> None:
    monthly = mocked.seeded.bills["monthly"]
    honest = api.get(bill_url(mocked)).json()
    mocked.faults.bill_total_mismatch(monthly)
    mocked.faults.wrong_external_invoice_date(monthly)
    mocked.faults.approved_without_approval(monthly)
    mocked.faults.locked_without_lock_fields(monthly)
    mocked.faults.period_inconsistent(monthly)
    broken = api.get(bill_url(mocked)).json()
    assert broken["billTotal"] == pytest.approx(honest["billTotal"] + 10)
    assert broken["externalInvoiceDate"] == "2023-09-30"
    assert broken["status"] == "APPROVED"
    assert "dtApproved" not in broken
    assert broken["locked"] is True
    assert "dtLocked" not in broken
    assert broken["endDate"] == "2023-09-11"
    assert broken["version"] == honest["version"]


def test_invoice_number_without_prefix(api: httpx.Client, mocked: Sandbox) -> None:
    with pytest.raises(SandboxError):
        mocked.faults.invoice_number_without_prefix(mocked.seeded.bills["monthly"])
    bill_id = mocked.seeded.bills["arrears_monthly"]
    mocked.faults.invoice_number_without_prefix(bill_id)
    other = mocked.seeded.other_org_id
    headers = {"Authorization": f"Bearer {mocked.issue_token(other)}"}
    body = httpx.get(f"https://api.m3ter.com/organizations/{other}/bills/{bill_id}", headers=headers).json()
    assert body["sequentialInvoiceNumber"] == "000042"


def test_presets_reject_unknown_entities_and_bad_counts(mocked: Sandbox) -> None:
    with pytest.raises(SandboxError):
        mocked.faults.version_goes_back("nope")
    with pytest.raises(ValueError, match="count"):
        mocked.faults.server_errors(0)
    with pytest.raises(ValueError, match="count"):
        mocked.mutate_responses(None, lambda body: body, count=0)
    with pytest.raises(ValueError, match="5xx"):
        mocked.faults.server_errors(1, status=404)


def test_a_fault_aimed_at_an_unknown_operation_or_entity_is_refused(mocked: Sandbox) -> None:
    with pytest.raises(ValueError, match="operation must be one of GenerateToken, GetBill, GetStatementJob"):
        mocked.faults.server_errors(operation="GetBills")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="operation must be one of"):
        mocked.faults.rate_limited(operation="getbill")  # type: ignore[arg-type]
    for aim in (mocked.faults.server_errors, mocked.faults.truncated_body, mocked.faults.slow):
        with pytest.raises(SandboxError, match="unknown entity 'nope'") as refused:
            aim(entity_id="nope")
        assert refused.value.status == 404
    with pytest.raises(SandboxError, match="unknown entity 'nope'"):
        mocked.faults.unknown_enum_values("nope")
    with pytest.raises(SandboxError, match="unknown entity 'nope'"):
        mocked.mutate_responses("nope", lambda body: body)
    assert mocked.faults.unused() == []


def test_unused_lists_the_faults_that_never_acted(api: httpx.Client, mocked: Sandbox) -> None:
    job_id = mocked.seeded.jobs["failed"]
    mocked.faults.server_errors(count=1, operation="GetBill")
    mocked.faults.truncated_body(operation="GetStatementJob", entity_id=job_id)
    mocked.faults.extra_fields(job_id)
    assert mocked.faults.unused() == [
        "server_errors(operation='GetBill')",
        f"truncated_body(operation='GetStatementJob', entity_id='{job_id}')",
        f"mutation(entity_id='{job_id}')",
    ]
    assert api.get(bill_url(mocked)).status_code == 503
    assert mocked.faults.unused() == [
        f"truncated_body(operation='GetStatementJob', entity_id='{job_id}')",
        f"mutation(entity_id='{job_id}')",
    ]
    api.get(job_url(mocked, "failed"))
    assert mocked.faults.unused() == []


WIRE_FAULTS: dict[str, dict[str, Any]] = {
    "byte_order_mark": {},
    "duplicate_member": {"field": "statementJobStatus", "value": "PENDING"},
    "json_literal": {"field": "version"},
    "raw_number": {"field": "version", "text": "1e400"},
}


@pytest.mark.parametrize("preset", sorted(WIRE_FAULTS))
def test_a_wire_fault_aimed_at_a_job_breaks_its_read_not_its_statements(
    api: httpx.Client, mocked: Sandbox, preset: str
) -> None:
    # The statement downloads are keyed by the job's id too; the wire presets judge the API's response.
    before = api.get(job_url(mocked, "complete_csv"))
    documents = {
        key: httpx.get(before.json()[key]).content for key in ("presignedJsonStatementUrl", "presignedCsvStatementUrl")
    }
    getattr(mocked.faults, preset)(mocked.seeded.jobs["complete_csv"], **WIRE_FAULTS[preset])
    after = api.get(job_url(mocked, "complete_csv"))
    assert after.content != before.content
    for key, content in documents.items():
        assert httpx.get(before.json()[key]).content == content, key
