"""The simulator core: seeded data, versioned lifecycles, documented rules, clock-driven jobs."""

from __future__ import annotations

from datetime import date

import pytest
from m3ter_contract.rules import Context, EntityKind, Observation, Spec, evaluate
from m3ter_contract.sandbox import (
    BILL_STATUSES,
    BILLING_FREQUENCIES,
    JOB_STATUSES,
    LINE_ITEM_TYPES,
    STATEMENT_STATUSES,
    ManualClock,
    Sandbox,
    SandboxError,
)
from m3ter_contract.sandbox.data import billing_period


def all_bills(sandbox: Sandbox) -> list[dict[str, object]]:
    return [sandbox.bill(bill_id) for bill_id in sandbox.state.bills]


def test_seed_is_deterministic() -> None:
    first = Sandbox(seed=7, clock=ManualClock(), large_bill_line_items=50)
    second = Sandbox(seed=7, clock=ManualClock(), large_bill_line_items=50)
    other = Sandbox(seed=8, clock=ManualClock(), large_bill_line_items=50)
    assert first.bill_ids == second.bill_ids
    assert first.statement_job_ids == second.statement_job_ids
    assert all_bills(first) == all_bills(second)
    assert first.credentials.api_key == second.credentials.api_key
    assert set(first.bill_ids).isdisjoint(other.bill_ids)


def test_seed_covers_every_frequency_and_line_item_type(sandbox: Sandbox) -> None:
    bills = all_bills(sandbox)
    assert {bill["billingFrequency"] for bill in bills} == set(BILLING_FREQUENCIES)
    types = {item["lineItemType"] for bill in bills for item in bill["lineItems"]}  # type: ignore[attr-defined]
    assert types == set(LINE_ITEM_TYPES)
    sizes = sorted(len(bill["lineItems"]) for bill in bills)  # type: ignore[arg-type]
    assert sizes[0] == 0
    assert sizes[-1] == 300
    assert {bill["status"] for bill in bills} == set(BILL_STATUSES)


def test_large_bill_has_thousands_of_line_items() -> None:
    sandbox = Sandbox(clock=ManualClock(), large_bill_line_items=5_000)
    large = sandbox.bill(sandbox.seeded.bills["large"])
    assert len(large["lineItems"]) == 5_000
    assert large["billTotal"] == pytest.approx(sum(item["subtotal"] for item in large["lineItems"]), abs=1e-6)


def test_bills_pass_the_rules(sandbox: Sandbox) -> None:
    """The documented rules (period, external invoice date, approval and lock audit, ...) as the rules state
    them: evaluate(), not this test's own copy of them."""
    spec = Spec.load()
    for bill_id, bill in sandbox.state.bills.items():
        org = sandbox.state.orgs[bill.org_id]
        context = Context(external_invoice_date=org.external_invoice_date)
        observation = Observation(EntityKind.BILL, bill_id, bill.org_id, sandbox.bill(bill_id))
        assert evaluate([observation], spec, context=context) == [], bill_id


def test_bills_are_internally_consistent(sandbox: Sandbox) -> None:
    for bill_id, bill in sandbox.state.bills.items():
        wire = bill.wire
        org = sandbox.state.orgs[bill.org_id]
        assert wire["version"] >= 1
        assert wire["billTotal"] == pytest.approx(sum(item["subtotal"] for item in wire["lineItems"]), abs=1e-6)
        start, end = date.fromisoformat(wire["startDate"]), date.fromisoformat(wire["endDate"])
        assert start < end
        assert wire["startDateTimeUTC"] == f"{start}T00:00:00Z"
        assert wire["endDateTimeUTC"] == f"{end}T00:00:00Z"
        assert wire["billDate"] == str(end)
        assert ("sequentialInvoiceNumber" in wire) == (org.bill_prefix is not None), bill_id
        assert wire["status"] in BILL_STATUSES
        for item in wire["lineItems"]:
            assert item["lineItemType"] in LINE_ITEM_TYPES
            for key in ("description", "quantity", "units", "unit", "subtotal", "currency"):
                assert key in item
            if "usagePerPricingBand" in item:
                bands = item["usagePerPricingBand"]
                assert sum(band["bandQuantity"] for band in bands) == item["quantity"]
                assert sum(band["bandSubtotal"] for band in bands) == pytest.approx(item["subtotal"], abs=1e-6)


def test_documented_external_invoice_date_example(sandbox: Sandbox) -> None:
    first_day = sandbox.bill(sandbox.seeded.bills["monthly"])
    arrears = sandbox.bill(sandbox.seeded.bills["arrears_monthly"])
    assert (first_day["startDate"], first_day["endDate"]) == ("2023-09-01", "2023-10-01")
    assert first_day["externalInvoiceDate"] == "2023-10-01"
    assert (arrears["startDate"], arrears["endDate"]) == ("2023-09-01", "2023-10-01")
    assert arrears["externalInvoiceDate"] == "2023-09-30"
    assert first_day["sequentialInvoiceNumber"].startswith("INV-")
    assert "sequentialInvoiceNumber" not in arrears


@pytest.mark.parametrize(
    ("frequency", "anchor", "interval", "expected"),
    [
        ("DAILY", date(2024, 2, 29), 1, (date(2024, 2, 29), date(2024, 3, 1))),
        ("WEEKLY", date(2024, 5, 8), 1, (date(2024, 5, 6), date(2024, 5, 13))),
        ("MONTHLY", date(2023, 12, 15), 1, (date(2023, 12, 1), date(2024, 1, 1))),
        ("MONTHLY", date(2024, 1, 1), 3, (date(2024, 1, 1), date(2024, 4, 1))),
        ("ANNUALLY", date(2023, 6, 1), 1, (date(2023, 1, 1), date(2024, 1, 1))),
        ("MIXED", date(2024, 7, 9), 1, (date(2024, 7, 1), date(2024, 8, 1))),
    ],
)
def test_billing_periods(frequency: str, anchor: date, interval: int, expected: tuple[date, date]) -> None:
    assert billing_period(frequency, anchor, interval) == expected


def test_every_change_bumps_version_by_one(sandbox: Sandbox, clock: ManualClock) -> None:
    bill_id = sandbox.seeded.bills["mixed"]
    before = sandbox.bill(bill_id)
    clock.advance(10)
    sandbox.recalculate_bill(bill_id)
    recalculated = sandbox.bill(bill_id)
    assert recalculated["version"] == before["version"] + 1
    assert recalculated["dtLastModified"] > before["dtLastModified"]
    assert recalculated["lineItems"] != before["lineItems"]
    assert recalculated["billTotal"] == pytest.approx(sum(i["subtotal"] for i in recalculated["lineItems"]), abs=1e-6)
    clock.advance(10)
    sandbox.approve_bill(bill_id, by="approver-1")
    approved = sandbox.bill(bill_id)
    assert approved["version"] == recalculated["version"] + 1
    assert approved["status"] == "APPROVED"
    assert approved["approvedBy"] == approved["lastModifiedBy"] == "approver-1"
    assert approved["dtApproved"] == approved["dtLastModified"] > recalculated["dtLastModified"]
    clock.advance(10)
    sandbox.lock_bill(bill_id, by="locker-1")
    locked = sandbox.bill(bill_id)
    assert locked["version"] == approved["version"] + 1
    assert locked["locked"] is True
    assert locked["lockedBy"] == "locker-1"
    assert locked["dtLocked"] == locked["dtLastModified"]
    with pytest.raises(SandboxError):
        sandbox.approve_bill(bill_id)
    with pytest.raises(SandboxError):
        sandbox.recalculate_bill(bill_id)
    assert sandbox.bill(bill_id)["version"] == locked["version"]


def test_dt_last_modified_moves_even_when_the_clock_does_not(sandbox: Sandbox) -> None:
    bill_id = sandbox.seeded.bills["ad_hoc"]
    job_id = sandbox.create_statement_job(bill_id, pending_for=None)
    first = sandbox.statement_job(job_id)
    sandbox.start_job(job_id)
    second = sandbox.statement_job(job_id)
    assert second["version"] == first["version"] + 1
    assert second["dtLastModified"] > first["dtLastModified"]


def test_job_advances_with_the_clock(sandbox: Sandbox, clock: ManualClock) -> None:
    job_id = sandbox.create_statement_job(sandbox.seeded.bills["monthly"], include_csv=True)
    assert sandbox.statement_job(job_id)["statementJobStatus"] == "PENDING"
    assert sandbox.statement_job(job_id)["version"] == 1
    clock.advance(1.9)
    assert sandbox.statement_job(job_id)["statementJobStatus"] == "PENDING"
    clock.advance(0.1)
    running = sandbox.statement_job(job_id)
    assert (running["statementJobStatus"], running["version"]) == ("RUNNING", 2)
    clock.advance(5)
    complete = sandbox.statement_job(job_id)
    assert (complete["statementJobStatus"], complete["version"]) == ("COMPLETE", 3)
    assert complete["jsonStatementStatus"] == complete["csvStatementStatus"] == "LATEST"
    job = sandbox.state.job(job_id)
    assert job.json_url is not None
    assert job.csv_url is not None


def test_a_long_jump_stamps_each_change_when_it_happened(sandbox: Sandbox, clock: ManualClock) -> None:
    job_id = sandbox.create_statement_job(sandbox.seeded.bills["monthly"], pending_for=2, running_for=3)
    created = sandbox.statement_job(job_id)["dtCreated"]
    clock.advance(100)
    job = sandbox.statement_job(job_id)
    assert job["version"] == 3
    assert job["dtLastModified"] > created
    assert job["dtLastModified"].endswith("12:00:05.000Z")


def test_terminal_jobs_never_change(sandbox: Sandbox, clock: ManualClock) -> None:
    for name in ("complete_csv", "failed", "cancelled"):
        job_id = sandbox.seeded.jobs[name]
        before = sandbox.statement_job(job_id)
        for operation in (sandbox.advance_job, sandbox.complete_job, sandbox.fail_job, sandbox.cancel_job):
            with pytest.raises(SandboxError):
                operation(job_id)
        clock.advance(60)
        assert sandbox.statement_job(job_id) == before


@pytest.mark.parametrize("outcome", ["FAILED", "CANCELLED"])
def test_failed_and_cancelled_jobs_carry_no_url(sandbox: Sandbox, outcome: str) -> None:
    job_id = sandbox.create_statement_job(sandbox.seeded.bills["daily"], include_csv=True, pending_for=None)
    assert sandbox.advance_job(job_id) == "RUNNING"
    (sandbox.fail_job if outcome == "FAILED" else sandbox.cancel_job)(job_id)
    job = sandbox.state.job(job_id)
    assert job.status == outcome
    assert job.json_url is None
    assert job.csv_url is None
    assert "jsonStatementStatus" not in job.wire


def test_pending_and_running_jobs_carry_no_url(sandbox: Sandbox) -> None:
    for name in ("pending", "running"):
        job = sandbox.state.job(sandbox.seeded.jobs[name])
        assert job.status == name.upper()
        assert job.json_url is None


def test_statement_generation_and_staleness(sandbox: Sandbox, clock: ManualClock) -> None:
    bill_id = sandbox.seeded.bills["mixed"]
    assert sandbox.bill(bill_id)["jsonStatementGenerated"] is False
    job_id = sandbox.create_statement_job(bill_id, include_csv=True, pending_for=None)
    sandbox.complete_job(job_id)
    bill = sandbox.bill(bill_id)
    assert bill["jsonStatementGenerated"] is True
    assert bill["csvStatementGenerated"] is True
    assert bill["statementStale"] is False
    job_version = sandbox.statement_job(job_id)["version"]
    clock.advance(5)
    sandbox.recalculate_bill(bill_id)
    assert sandbox.bill(bill_id)["statementStale"] is True
    stale = sandbox.statement_job(job_id)
    assert stale["statementJobStatus"] == "COMPLETE"
    assert stale["jsonStatementStatus"] == stale["csvStatementStatus"] == "STALE"
    assert stale["version"] == job_version + 1
    sandbox.invalidate_statements(bill_id)
    assert sandbox.statement_job(job_id)["jsonStatementStatus"] == "INVALIDATED"
    fresh = sandbox.create_statement_job(bill_id, pending_for=None)
    sandbox.complete_job(fresh)
    assert sandbox.bill(bill_id)["statementStale"] is False


def test_enum_fields_hold_documented_values(sandbox: Sandbox, clock: ManualClock) -> None:
    for _ in range(4):
        for job_id in sandbox.state.jobs:
            job = sandbox.statement_job(job_id)
            assert job["statementJobStatus"] in JOB_STATUSES
            for key in ("jsonStatementStatus", "csvStatementStatus"):
                assert job.get(key, "LATEST") in STATEMENT_STATUSES
        clock.advance(3)


def test_meter_filter_is_bounded(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError):
        sandbox.create_statement_job(sandbox.seeded.bills["monthly"], meter_ids=[str(n) for n in range(11)])


def test_token_expiry(sandbox: Sandbox, clock: ManualClock) -> None:
    token = sandbox.issue_token()
    assert sandbox.state.valid_token(token) is not None
    clock.advance(17_999)
    assert sandbox.state.valid_token(token) is not None
    clock.advance(1)
    assert sandbox.state.valid_token(token) is None


def test_manual_clock_never_goes_back(clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(clock.now() - 1)


def test_secrets_stay_out_of_reprs(sandbox: Sandbox) -> None:
    token = sandbox.issue_token()
    assert sandbox.credentials.api_secret not in repr(sandbox.credentials)
    assert sandbox.credentials.api_secret not in repr(sandbox)
    assert token not in repr(sandbox.state.tokens[token])


def test_create_bill_adds_a_consistent_pending_bill() -> None:
    from m3ter_contract.sandbox import ManualClock, Sandbox

    sandbox = Sandbox(clock=ManualClock(), rate_limit=None)
    bill_id = sandbox.create_bill(frequency="WEEKLY", line_items=4)
    bill = sandbox.bill(bill_id)
    assert bill_id in sandbox.bill_ids
    assert (bill["version"], bill["status"], bill["billingFrequency"]) == (1, "PENDING", "WEEKLY")
    assert len(bill["lineItems"]) == 4
    assert round(sum(item["subtotal"] for item in bill["lineItems"]), 6) == round(bill["billTotal"], 6)
    assert sandbox.create_bill(line_items=0) != bill_id
