"""Rule edge cases a real org produces: date-times compared as instants, version edge cases, derived fields, the
external invoice date by frequency and setting, terminal jobs, CSV without includeCsvFormat, grouping."""

from __future__ import annotations

import json
from typing import Any

import pytest
from m3ter_contract.conformance.embedded import check_sandbox
from m3ter_contract.conformance.runner import Options
from m3ter_contract.rules import RULES_BY_NAME, Context, EntityKind, Finding, Observation, SourceKind, Spec, evaluate
from m3ter_contract.rules.versioning import DERIVED_CHANGE
from m3ter_contract.sandbox import Sandbox

B, J = EntityKind.BILL, EntityKind.STATEMENT_JOB
BASE = {"id": "e1", "version": 1, "dtCreated": "2024-01-01T00:00:00.000Z", "dtLastModified": "2024-01-01T00:00:00.000Z"}


def _findings(kind: EntityKind, *bodies: Any, spec: Spec, context: Context | None = None) -> list[Finding]:
    observations = [Observation(kind, "e1", "o1", body, seq=n) for n, body in enumerate(bodies, 1)]
    return evaluate(observations, spec, context=context)


def _rules(kind: EntityKind, *bodies: Any, spec: Spec, context: Context | None = None) -> list[tuple[str, str, str]]:
    return [(f.rule, str(f.severity), f.path) for f in _findings(kind, *bodies, spec=spec, context=context)]


def _bill(**values: Any) -> dict[str, Any]:
    return {**BASE, **values}


def test_the_same_instant_spelled_differently_is_no_change(spec: Spec) -> None:
    respelled = _bill(dtCreated="2024-01-01T01:00:00+01:00", dtLastModified="2024-01-01T00:00:00Z")
    assert _rules(B, _bill(), respelled, spec=spec) == []
    moved = _bill(dtCreated="2024-01-01T00:00:01Z")
    assert ("entity.immutable", "error", "$.dtCreated") in _rules(B, _bill(), moved, spec=spec)


def test_dt_last_modified_is_inferred_equal_stays_a_warning_earlier_is_strict(spec: Spec) -> None:
    later = _bill(version=2, dtLastModified="2024-01-02T00:00:00Z")
    same = _bill(version=3, dtLastModified="2024-01-02T00:00:00.000Z")
    earlier = _bill(version=4, dtLastModified="2024-01-01T12:00:00Z")
    observations = [_bill(), later, same, earlier]
    # one warning per rule and path: the same instant and going back read alike by default
    assert _rules(B, *observations, spec=spec) == [("version.dt-last-modified", "warning", "$.dtLastModified")]
    strict = _rules(B, *observations, spec=spec, context=Context(strict_inferred=True))
    # the coupling is inferred: going back is an error only with --strict-inferred; the same instant never is
    assert strict == [
        ("version.dt-last-modified", "warning", "$.dtLastModified"),
        ("version.dt-last-modified", "error", "$.dtLastModified"),
    ]


def test_dt_last_modified_and_bump_on_change_judge_a_derived_change_alike(spec: Spec) -> None:
    """The same event (a statement flag and dtLastModified changed at one version) is a warning of both rules,
    even with --strict-inferred, both standing on the same inference."""
    before = _bill(version=3, jsonStatementGenerated=False)
    after = _bill(version=3, jsonStatementGenerated=True, dtLastModified="2024-01-03T00:00:00Z")
    for context in (Context(), Context(strict_inferred=True)):
        found = _findings(B, before, after, spec=spec, context=context)
        assert sorted((f.rule, str(f.severity)) for f in found) == [
            ("version.bump-on-change", "warning"),
            ("version.dt-last-modified", "warning"),
        ]
        assert {f.evidence for f in found} == {DERIVED_CHANGE}
    # a change of the entity's own content at one version: bump-on-change's documented error; dtLastModified
    # moving with it is the inferred rule's warning (an error only when strict)
    own = _bill(version=3, currency="EUR", dtLastModified="2024-01-03T00:00:00Z")
    assert sorted(_rules(B, _bill(version=3), own, spec=spec)) == [
        ("version.bump-on-change", "error", "$.currency"),
        ("version.dt-last-modified", "warning", "$.dtLastModified"),
    ]


@pytest.mark.parametrize(
    ("created", "modified"),
    [
        ("2024-10-01T00:00:00Z", "0000-01-01T00:00:00Z"),  # year 0000: valid RFC 3339, before datetime's range
        ("2024-10-01T00:00:00Z", "0001-01-01T00:30:00+01:00"),  # year 0 in UTC
        ("2016-12-31T23:59:60Z", "2016-12-31T23:59:59.999Z"),  # a leap second, which datetime cannot read
        ("2024-01-01T00:00:00.5Z", "2024-01-01T00:00:00.25Z"),  # fractions compared digit by digit
    ],
)
def test_dt_order_holds_for_every_rfc_3339_instant(spec: Spec, created: str, modified: str) -> None:
    found = _rules(B, _bill(dtCreated=created, dtLastModified=modified), spec=spec)
    assert ("version.dt-order", "error", "$.dtLastModified") in found
    swapped = _rules(B, _bill(dtCreated=modified, dtLastModified=created), spec=spec)
    assert ("version.dt-order", "error", "$.dtLastModified") not in swapped


def test_dt_last_modified_going_back_to_year_0000_is_found(spec: Spec) -> None:
    back = _bill(version=2, dtLastModified="0000-01-01T00:00:00Z")
    assert ("version.dt-last-modified", "warning", "$.dtLastModified") in _rules(B, _bill(), back, spec=spec)
    strict = Context(strict_inferred=True)
    assert ("version.dt-last-modified", "error", "$.dtLastModified") in _rules(
        B, _bill(), back, spec=spec, context=strict
    )


def test_a_read_without_version_does_not_hide_a_version_that_went_back(spec: Spec) -> None:
    no_version = {k: v for k, v in BASE.items() if k != "version"}
    found = _rules(B, _bill(version=5), no_version, _bill(version=2), spec=spec)
    assert ("version.no-decrease", "error", "$.version") in found


def test_an_integral_float_is_a_version(spec: Spec) -> None:
    assert _rules(B, _bill(version=3), _bill(version=2.0), spec=spec) == [("version.no-decrease", "error", "$.version")]
    assert _rules(B, _bill(version=0.0), spec=spec) == [("version.minimum", "error", "$.version")]


def test_a_change_limited_to_derived_fields_is_a_warning(spec: Spec) -> None:
    found = _rules(B, _bill(statementStale=False), _bill(statementStale=True), spec=spec)
    assert found == [("version.bump-on-change", "warning", "$.statementStale")]
    both = _rules(B, _bill(statementStale=False), _bill(statementStale=True, purchaseOrderNumber="X"), spec=spec)
    assert both == [("version.bump-on-change", "error", "$.purchaseOrderNumber")]


def _job(**values: Any) -> dict[str, Any]:
    return {**BASE, "billId": "b1", "includeCsvFormat": True, "statementJobStatus": "COMPLETE", **values}


def test_a_terminal_job_moving_to_an_unknown_status_is_caught(spec: Spec) -> None:
    url = {"presignedJsonStatementUrl": "https://s3/x.json", "presignedCsvStatementUrl": "https://s3/x.csv"}
    queued = _job(statementJobStatus="QUEUED", version=2, dtLastModified="2024-01-02T00:00:00Z")
    found = _rules(J, _job(**url), queued, spec=spec)
    assert ("statement-job.terminal-final", "warning", "$.statementJobStatus") in found  # inferred
    strict = _rules(J, _job(**url), queued, spec=spec, context=Context(strict_inferred=True))
    assert ("statement-job.terminal-final", "error", "$.statementJobStatus") in strict


def test_csv_url_without_include_csv_format_is_no_finding(spec: Spec) -> None:
    body = _job(presignedJsonStatementUrl="https://s3/x.json", presignedCsvStatementUrl="https://s3/x.csv")
    del body["includeCsvFormat"]
    assert _rules(J, body, spec=spec) == []
    assert _rules(J, {**body, "includeCsvFormat": False}, spec=spec) == [
        ("statement-job.csv-url", "warning", "$.presignedCsvStatementUrl")
    ]


def test_statement_status_is_an_inferred_warning() -> None:
    rule = RULES_BY_NAME["statement-job.statement-status"]
    assert rule.severity == "warning"
    assert rule.source.kind == "inferred"


def _period(frequency: str, start: str, end: str, invoice: str) -> dict[str, Any]:
    return _bill(billingFrequency=frequency, startDate=start, endDate=end, externalInvoiceDate=invoice)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (_period("MONTHLY", "2023-09-01", "2023-10-01", "2023-10-05"), "warning"),  # the setting unknown
        (_period("WEEKLY", "2024-05-06", "2024-05-13", "2024-05-20"), "warning"),
        (_period("AD_HOC", "2024-01-05", "2024-01-22", "2024-02-01"), None),
        (_period("MIXED", "2024-07-01", "2024-08-01", "2024-09-01"), None),
    ],
)
def test_external_invoice_date_by_frequency(body: dict[str, Any], expected: str | None, spec: Spec) -> None:
    found = [f for f in _rules(B, body, spec=spec) if f[0] == "bill.external-invoice-date"]
    assert found == ([] if expected is None else [("bill.external-invoice-date", expected, "$.externalInvoiceDate")])


def test_external_invoice_date_is_strict_with_the_setting(spec: Spec) -> None:
    arrears = _period("MONTHLY", "2023-09-01", "2023-10-01", "2023-09-30")
    assert _rules(B, arrears, spec=spec) == []  # either setting, as far as a lone bill can tell
    known = Context(external_invoice_date="FIRST_DAY_OF_NEXT_PERIOD")
    assert _rules(B, arrears, spec=spec, context=known) == [
        ("bill.external-invoice-date", "error", "$.externalInvoiceDate")
    ]
    assert _rules(B, arrears, spec=spec, context=Context("LAST_DAY_OF_ARREARS")) == []


@pytest.mark.parametrize(
    ("frequency", "start", "end", "invoice", "setting", "kind", "severity"),
    [
        # the documented example's case: MONTHLY, FIRST_DAY_OF_NEXT_PERIOD known
        ("MONTHLY", "2023-09-01", "2023-10-01", "2023-10-05", "FIRST_DAY_OF_NEXT_PERIOD", "documented", "error"),
        ("MONTHLY", "2023-09-01", "2023-10-01", "2023-09-30", "FIRST_DAY_OF_NEXT_PERIOD", "documented", "error"),
        # LAST_DAY_OF_ARREARS as endDate - 1 is our reading, and so are the other frequencies
        ("MONTHLY", "2023-09-01", "2023-10-01", "2023-10-01", "LAST_DAY_OF_ARREARS", "inferred", "warning"),
        ("MONTHLY", "2023-09-01", "2023-10-01", "2023-09-15", "LAST_DAY_OF_ARREARS", "inferred", "warning"),
        ("WEEKLY", "2024-05-06", "2024-05-13", "2024-05-20", "FIRST_DAY_OF_NEXT_PERIOD", "inferred", "warning"),
        ("MONTHLY", "2023-09-01", "2023-10-01", "2023-09-15", None, "inferred", "warning"),
    ],
)
def test_external_invoice_date_is_documented_only_for_the_example(
    frequency: str, start: str, end: str, invoice: str, setting: str | None, kind: str, severity: str, spec: Spec
) -> None:
    body = _period(frequency, start, end, invoice)
    [found] = _findings(B, body, spec=spec, context=Context(setting))
    assert (found.rule, str(found.severity)) == ("bill.external-invoice-date", severity)
    assert found.evidence is not None
    assert found.evidence.kind == kind
    strict = _findings(B, body, spec=spec, context=Context(setting, strict_inferred=True))
    assert [str(f.severity) for f in strict] == ["error"]


def test_a_locked_bill_is_judged_only_when_pending(spec: Spec) -> None:
    locked = {"locked": True, "dtLocked": "2024-01-02T00:00:00Z", "lockedBy": "u"}
    for status in ("APPROVED", "INVOICED", "SOME_FUTURE_STATUS"):  # m3ter's enums grow: not PENDING is enough
        found = _rules(B, _bill(status=status, **locked), spec=spec)
        assert ("bill.locked-approved", "error", "$.status") not in found, status
    assert ("bill.locked-approved", "error", "$.status") in _rules(B, _bill(status="PENDING", **locked), spec=spec)


def test_a_finite_number_out_of_binary64_range_is_a_standard_warning(spec: Spec) -> None:
    rule = RULES_BY_NAME["schema.finite-number"]
    assert (rule.severity, rule.source.kind) == ("warning", SourceKind.STANDARD)
    assert "binary64" in rule.source.text


def test_external_invoice_date_against_the_other_bills_of_the_run(spec: Spec) -> None:
    def obs(bill_id: str, body: dict[str, Any]) -> Observation:
        return Observation(B, bill_id, "o1", {**body, "id": bill_id})

    first = [obs(f"b{i}", _period("MONTHLY", "2023-09-01", "2023-10-01", "2023-10-01")) for i in range(2)]
    odd = obs("odd", _period("MONTHLY", "2023-09-01", "2023-10-01", "2023-09-30"))
    findings = evaluate([*first, odd], spec)
    assert [(f.entity_id, f.rule, str(f.severity)) for f in findings] == [
        ("odd", "bill.external-invoice-date", "warning")
    ]
    assert "inferred" in findings[0].message


async def test_the_wrong_external_invoice_date_preset_is_an_error_on_the_sandbox(sandbox: Sandbox, spec: Spec) -> None:
    bill_id = sandbox.seeded.bills["monthly"]
    sandbox.faults.wrong_external_invoice_date(bill_id)
    result = await check_sandbox(sandbox, Options(rate=100_000), spec=spec, bill_ids=[bill_id])
    assert [(f.rule, str(f.severity)) for f in result.findings] == [("bill.external-invoice-date", "error")]


@pytest.mark.parametrize(
    ("preset", "rule"),
    [("bill_total_mismatch", "bill.total"), ("period_inconsistent", "bill.period")],
)
async def test_the_bill_presets_name_rules_that_fire(preset: str, rule: str, sandbox: Sandbox, spec: Spec) -> None:
    bill_id = sandbox.seeded.bills["monthly"]
    getattr(sandbox.faults, preset)(bill_id)
    result = await check_sandbox(sandbox, Options(rate=100_000), spec=spec, bill_ids=[bill_id])
    assert rule in {f.rule for f in result.findings}
    assert f"`{rule}`" in (getattr(sandbox.faults, preset).__doc__ or "")


def test_presets_cite_only_rules_that_exist() -> None:
    import re

    from m3ter_contract.sandbox.faults import FaultPresets

    cited = {
        name
        for attr in vars(FaultPresets).values()
        for name in re.findall(r"Rule `([^`]+)`", getattr(attr, "__doc__", None) or "")
    }
    assert cited
    assert cited <= set(RULES_BY_NAME), cited - set(RULES_BY_NAME)


def test_one_finding_per_rule_and_schema_path_over_reads_and_items(spec: Spec) -> None:
    items = [{"lineItemType": "FUTURE"} for _ in range(5)]
    body = _bill(lineItems=items)
    found = evaluate([Observation(B, "e1", "o1", body, seq=n) for n in (1, 2, 3)], spec)
    enum = [f for f in found if f.rule == "schema.enum"]
    assert [f.path for f in enum] == ["$.lineItems[*].lineItemType"]
    assert "(first at $.lineItems[0].lineItemType)" in enum[0].message
    assert len(found) == len({(f.rule, f.path) for f in found})
    assert not any("read " in f.message for f in found)


@pytest.mark.parametrize("field", ["billTotal", "subtotal"])
def test_a_total_too_large_for_a_float_is_left_to_the_schema_rules(spec: Spec, field: str) -> None:
    # 10**400 is valid JSON but no double holds it: the sum is not judged (it used to raise OverflowError).
    huge = 10**400
    items = [{"subtotal": huge if field == "subtotal" else 1.0}]
    body = _bill(billTotal=huge if field == "billTotal" else 1.0, lineItems=items)
    assert not any(rule == "bill.total" for rule, _, _ in _rules(B, body, spec=spec))


def test_a_body_nested_past_the_limit_says_why_it_departs(spec: Spec) -> None:
    from m3ter_contract.rules import wire

    body = wire.decode(b'{"id": ' + b"[" * 70 + b"]" * 70 + b"}")[0]
    observation = Observation(B, "e1", "o1", body, seq=1)
    [finding] = [f for f in evaluate([observation], spec) if f.rule == "response.json"]
    assert (finding.path, finding.message) == (
        "$",
        "the 200 body is nested deeper than 64 levels: more than any body the spec's schemas describe (five), and "
        "more than this check parses (RFC 8259 section 9 lets a parser limit nesting)",
    )


@pytest.mark.parametrize(
    "value",
    [
        "COUNTER_ADJUSTMENT_DEBIT_FOR_PREPAYMENT_DRAWDOWN_WITH_ROLLOVER_AND_EXTRAS",  # 70 characters
        'QUOTED_"_AND_\\_AND_\x1b_' * 6,  # escapes around the cut
    ],
)
def test_an_unknown_enum_value_is_suggested_whole_and_shortened_well_formed(spec: Spec, value: str) -> None:
    found = evaluate([Observation(B, "e1", "o1", _bill(lineItems=[{"lineItemType": value}]))], spec)
    (enum,) = [f for f in found if f.rule == "schema.enum"]
    assert enum.suggestion == f"add {json.dumps(value, ensure_ascii=False)} to components.schemas.LineItemType.enum"
    shown = enum.message.split(" is not a value the spec lists")[0]
    assert shown.endswith('"...')  # the string closed, then the cut
    assert value.startswith(json.loads(shown.removesuffix("...")))
    assert len(shown) <= 60


@pytest.mark.parametrize(
    ("name", "written"),
    [("taxTotal", "taxTotal"), ("we|ird\nfield`", '"we|ird\\nfield`"'), ("a b: c", '"a b: c"')],
)
def test_an_unknown_field_is_suggested_under_a_name_that_reads_whole(spec: Spec, name: str, written: str) -> None:
    found = evaluate([Observation(B, "e1", "o1", _bill(**{name: 1}))], spec)
    (drift,) = [f for f in found if f.rule == "drift.unknown-field"]
    assert drift.suggestion == f"add `{written}: {{type: integer}}` to components.schemas.BillResponse.properties"
