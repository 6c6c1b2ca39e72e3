"""Every rule: inject its violation into the sandbox, run the check, see exactly that rule's finding.

And a clean sandbox, read repeatedly and watched to the end of every job, yields no finding at all.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from m3ter_contract.conformance.embedded import check_sandbox
from m3ter_contract.conformance.runner import Options
from m3ter_contract.rules import RULES, Spec
from m3ter_contract.sandbox import Sandbox

Body = dict[str, Any]
LATER = "2025-01-15T13:00:00.000Z"  # after every seeded dtLastModified
FAST = Options(observe=2, interval=1.0, rate=100_000, concurrency=4)


def on_read(n: int, change: Callable[[Body], None]) -> Callable[[Body], Body]:
    """A mutation that changes only the n-th body served (1-based), so pair rules see a before and after."""
    seen = 0

    def fn(body: Body) -> Body:
        nonlocal seen
        seen += 1
        if seen == n:
            change(body)
        return body

    return fn


def always(change: Callable[[Body], None]) -> Callable[[Body], Body]:
    def fn(body: Body) -> Body:
        change(body)
        return body

    return fn


def set_(**values: Any) -> Callable[[Body], None]:
    return lambda body: body.update(values)


def drop(*keys: str) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        for key in keys:
            body.pop(key, None)

    return change


def line_item(**values: Any) -> Callable[[Body], None]:
    return lambda body: body["lineItems"][0].update(values)


def version_delta(delta: int) -> Callable[[Body], None]:
    return lambda body: body.update(version=body["version"] + delta)


@dataclass(frozen=True)
class Case:
    rule: str
    kind: str  # "bill" | "job"
    name: str  # the seeded entity (sandbox.seeded.bills / .jobs key)
    mutate: Callable[[], Callable[[Body], Body]] | None = None
    path: str = "$"
    fault: str | None = None  # a FaultPresets method instead of a mutation
    spec_edit: Callable[[dict[str, Any]], None] | None = None  # judge by an edited copy of the curated spec


def _max_length(document: dict[str, Any]) -> None:
    document["components"]["schemas"]["BillResponse"]["properties"]["accountCode"]["maxLength"] = 4


CASES = [
    Case("response.json", "bill", "monthly", fault="non_json_body"),
    Case("schema.type", "bill", "monthly", lambda: always(set_(billTotal="12.50")), "$.billTotal"),
    Case("schema.null", "bill", "monthly", lambda: always(set_(purchaseOrderNumber=None)), "$.purchaseOrderNumber"),
    Case("schema.format", "bill", "monthly", lambda: always(set_(billDate="2023-02-30")), "$.billDate"),
    Case(
        "schema.required",
        "bill",
        "monthly",
        lambda: always(lambda b: b["lineItems"][1].pop("unit")),
        "$.lineItems[*].unit",
    ),
    Case(
        "schema.enum",
        "bill",
        "monthly",
        lambda: always(line_item(lineItemType="FUTURE_CHARGE")),
        "$.lineItems[*].lineItemType",
    ),
    Case("schema.min-length", "bill", "monthly", lambda: always(line_item(currency="")), "$.lineItems[*].currency"),
    Case(
        "schema.max-items",
        "job",
        "complete_json",
        lambda: always(set_(filters={"meterIds": [f"m{i}" for i in range(11)]})),
        "$.filters.meterIds",
    ),
    Case(
        "schema.exclusive-minimum",
        "bill",
        "ad_hoc",
        lambda: always(lambda b: b["currencyConversions"][0].update(multiplier=0)),
        "$.currencyConversions[*].multiplier",
    ),
    Case("schema.constraint", "bill", "monthly", None, "$.accountCode", spec_edit=_max_length),
    Case(
        "drift.unknown-field", "bill", "monthly", lambda: always(line_item(taxCode="VAT20")), "$.lineItems[*].taxCode"
    ),
    Case("version.minimum", "bill", "monthly", lambda: always(set_(version=0)), "$.version"),
    Case(
        "version.dt-order",
        "bill",
        "monthly",
        lambda: always(set_(dtLastModified="2020-01-01T00:00:00Z")),
        "$.dtLastModified",
    ),
    Case("version.no-decrease", "bill", "daily", lambda: on_read(2, version_delta(-1)), "$.version"),
    Case(
        "version.bump-on-change",
        "bill",
        "monthly",
        lambda: on_read(2, set_(purchaseOrderNumber="PO-CHANGED")),
        "$.purchaseOrderNumber",
    ),
    Case(
        "version.dt-last-modified",
        "bill",
        "daily",
        lambda: on_read(2, lambda b: b.update(version=b["version"] + 1, dtLastModified=b["dtCreated"])),
        "$.dtLastModified",
    ),
    Case("entity.id", "bill", "monthly", lambda: always(set_(id="someone-else")), "$.id"),
    Case("entity.org-id", "job", "complete_csv", lambda: always(set_(orgId="another-org")), "$.orgId"),
    Case(
        "entity.immutable",
        "job",
        "complete_csv",
        lambda: on_read(2, set_(dtCreated="2025-01-15T11:50:01.000Z", version=9, dtLastModified=LATER)),
        "$.dtCreated",
    ),
    Case(
        "entity.fixed-references",
        "job",
        "complete_csv",
        lambda: on_read(2, set_(billId="another-bill", version=9, dtLastModified=LATER)),
        "$.billId",
    ),
    Case(
        "statement-job.no-url-while-pending",
        "job",
        "pending",
        lambda: always(set_(presignedJsonStatementUrl="https://bucket.example/s.json")),
        "$.presignedJsonStatementUrl",
    ),
    Case(
        "statement-job.json-url-on-complete",
        "job",
        "complete_json",
        lambda: always(drop("presignedJsonStatementUrl", "jsonStatementStatus")),
        "$.presignedJsonStatementUrl",
    ),
    Case(
        "statement-job.csv-url",
        "job",
        "complete_csv",
        lambda: always(drop("presignedCsvStatementUrl", "csvStatementStatus")),
        "$.presignedCsvStatementUrl",
    ),
    Case(
        "statement-job.statement-status",
        "job",
        "failed",
        lambda: always(set_(jsonStatementStatus="LATEST")),
        "$.jsonStatementStatus",
    ),
    Case(
        "statement-job.transition",
        "job",
        "running",
        lambda: on_read(2, set_(statementJobStatus="PENDING", version=5, dtLastModified=LATER)),
        "$.statementJobStatus",
    ),
    Case(
        "statement-job.terminal-final",
        "job",
        "failed",
        lambda: on_read(2, set_(statementJobStatus="RUNNING", version=5, dtLastModified=LATER)),
        "$.statementJobStatus",
    ),
    Case(
        "bill.external-invoice-date",
        "bill",
        "monthly",
        lambda: always(set_(externalInvoiceDate="2023-10-05")),
        "$.externalInvoiceDate",
    ),
    Case(
        "bill.total",
        "bill",
        "monthly",
        lambda: always(lambda b: b.update(billTotal=b["billTotal"] + 10)),
        "$.billTotal",
    ),
    Case(
        "bill.period",
        "bill",
        "monthly",
        lambda: always(
            set_(endDate="2023-09-11", endDateTimeUTC="2023-09-11T00:00:00Z", externalInvoiceDate="2023-09-11")
        ),
        "$.endDate",
    ),
    Case("bill.approval-audit", "bill", "daily", lambda: always(drop("approvedBy")), "$.approvedBy"),
    Case("bill.lock-audit", "bill", "weekly", lambda: always(drop("dtLocked")), "$.dtLocked"),
    Case("bill.locked-approved", "bill", "weekly", lambda: always(set_(status="PENDING")), "$.status"),
    Case(
        "bill.locked-unchanged",
        "bill",
        "weekly",
        lambda: on_read(2, lambda b: b.update(billTotal=1.0, version=b["version"] + 1, dtLastModified=LATER)),
        "$.billTotal",
    ),
]


# Violations that necessarily break a second rule too: a locked bill's total no longer adds up; the HTML page
# says text/html.
ALSO: dict[str, tuple[str, ...]] = {
    "bill.locked-unchanged": ("bill.total",),
    "response.json": ("response.media-type",),
}


def test_every_rule_has_a_violation_case() -> None:
    # the wire and statement download rules have theirs in test_wire_and_statement_rules.py
    from .test_wire_and_statement_rules import CASES as WIRE_CASES

    cases = {case.rule for case in CASES} | {case.rule for case in WIRE_CASES}
    assert sorted(case.rule for case in CASES) == sorted({case.rule for case in CASES})
    assert cases == {rule.name for rule in RULES}


def _entity(sandbox: Sandbox, case: Case) -> str:
    return (sandbox.seeded.bills if case.kind == "bill" else sandbox.seeded.jobs)[case.name]


@pytest.mark.parametrize("case", CASES, ids=[case.rule for case in CASES])
async def test_violation_is_found(case: Case, sandbox: Sandbox, spec: Spec) -> None:
    entity_id = _entity(sandbox, case)
    if case.fault is not None:
        getattr(sandbox.faults, case.fault)(count=None, entity_id=entity_id)
    elif case.mutate is not None:
        sandbox.mutate_responses(entity_id, case.mutate())
    if case.spec_edit is not None:
        document = copy.deepcopy(dict(spec.document))
        case.spec_edit(document)
        spec = Spec(document)
    bills, jobs = ([entity_id], []) if case.kind == "bill" else ([], [entity_id])
    result = await check_sandbox(sandbox, FAST, spec=spec, bill_ids=bills, statement_job_ids=jobs)
    rule = next(r for r in RULES if r.name == case.rule)
    assert result.problems == []
    found = [f for f in result.findings if f.rule == case.rule]
    assert found, f"{case.rule} not reported; got {[(f.rule, f.path) for f in result.findings]}"
    assert {f.rule for f in result.findings} <= {case.rule, *ALSO.get(case.rule, ())}, "no other rule fires"
    assert found[0].path == case.path
    assert found[0].severity == rule.severity
    assert result.exit_code == (1 if rule.severity == "error" else 0)


async def test_clean_sandbox_yields_no_finding(sandbox: Sandbox, spec: Spec) -> None:
    options = Options(observe=3, interval=2.0, watch=True, watch_interval=1.0, rate=100_000)
    result = await check_sandbox(sandbox, options, spec=spec)
    assert result.findings == []
    assert result.problems == []
    assert result.exit_code == 0
    # the watched jobs really moved to the end of their lifecycle on the manual clock
    statuses = {obs.obj.get("statementJobStatus") for obs in result.last.values() if obs.kind == "statement_job"}
    assert statuses <= {"COMPLETE", "FAILED", "CANCELLED"}
    assert result.observations >= 3 * (len(sandbox.bill_ids) + len(sandbox.statement_job_ids))


async def test_clean_sandbox_through_its_lifecycle_operations(sandbox: Sandbox, spec: Spec) -> None:
    """Approving, locking, recalculating and new jobs between runs are legal changes: still no finding."""
    first = await check_sandbox(sandbox, Options(observe=1, rate=100_000), spec=spec)
    bills = sandbox.seeded.bills
    sandbox.advance(60)
    sandbox.recalculate_bill(bills["monthly"])
    sandbox.approve_bill(bills["monthly"])
    sandbox.invalidate_statements(bills["monthly"])
    sandbox.lock_bill(bills["monthly"])
    sandbox.create_statement_job(bills["monthly"], include_csv=True)  # a statement of a locked bill
    sandbox.update_bill_status(bills["daily"], "PENDING")  # APPROVED -> PENDING keeps dtApproved/approvedBy
    sandbox.create_statement_job(bills["mixed"], include_csv=True)
    second = await check_sandbox(
        sandbox, Options(observe=2, watch=True, watch_interval=1.0, rate=100_000), spec=spec, remembered=first.last
    )
    assert second.findings == []
    sandbox.advance(60)
    sandbox.update_bill_status(bills["daily"], "APPROVED")  # and back: the round trip
    third = await check_sandbox(sandbox, Options(observe=2, rate=100_000), spec=spec, remembered=second.last)
    assert third.findings == []
    assert [obs.obj["status"] for key, obs in third.last.items() if key[1] == bills["daily"]] == ["APPROVED"]


async def test_nulls_are_judged_from_the_raw_json_whatever_the_client_makes_of_them(
    sandbox: Sandbox, spec: Spec
) -> None:
    """Optional fields sent as null: schema.null warnings, no problem (exit 2) even if the client refuses them."""
    bill_id = sandbox.seeded.bills["monthly"]
    sandbox.mutate_responses(bill_id, always(set_(purchaseOrderNumber=None, externalInvoiceReference=None)))
    result = await check_sandbox(sandbox, FAST, spec=spec, bill_ids=[bill_id], statement_job_ids=[])
    assert result.problems == []
    assert sorted((f.rule, f.severity, f.path) for f in result.findings) == [
        ("schema.null", "warning", "$.externalInvoiceReference"),
        ("schema.null", "warning", "$.purchaseOrderNumber"),
    ]
    assert result.exit_code == 0
