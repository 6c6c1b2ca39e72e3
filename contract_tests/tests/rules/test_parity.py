"""What the rules know is known the same way elsewhere: the sandbox's period and external invoice date
arithmetic, the terminal statement job statuses of the rules, the sandbox and the client, and the spec's
``x-m3ter-rule`` delegations. Each side is written on its own (the sandbox may not import the rules), so these
tests compare them."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import pytest
from m3ter_billing._statements import TERMINAL_STATUSES
from m3ter_contract.rules import RULES_BY_NAME, Context, EntityKind, Observation, Spec, evaluate
from m3ter_contract.rules import bills as bill_rules
from m3ter_contract.rules.schema import DELEGATED
from m3ter_contract.rules.statement_jobs import TERMINAL
from m3ter_contract.rules.versioning import DERIVED_FIELDS
from m3ter_contract.rules.vocabulary import EXTERNAL_INVOICE_DATE_SETTINGS
from m3ter_contract.sandbox import TERMINAL_JOB_STATUSES
from m3ter_contract.sandbox.data import billing_period, external_invoice_date

FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "ANNUALLY")
ANCHORS = [date(2023, 1, 31), date(2024, 2, 29), date(2023, 9, 15), date(2024, 12, 31), date(2025, 6, 2)]


def _bill(frequency: str, start: date, end: date, interval: int, invoice: date) -> dict[str, Any]:
    return {
        "id": "b1",
        "billingFrequency": frequency,
        "billFrequencyInterval": interval,
        "startDate": str(start),
        "endDate": str(end),
        "externalInvoiceDate": str(invoice),
    }


@pytest.mark.parametrize("frequency", FREQUENCIES)
@pytest.mark.parametrize("interval", [1, 2, 3, 12])
@pytest.mark.parametrize("setting", EXTERNAL_INVOICE_DATE_SETTINGS)
def test_the_sandbox_bills_the_periods_and_invoice_dates_the_rules_expect(
    frequency: str, interval: int, setting: Any, spec: Spec
) -> None:
    for anchor in ANCHORS:
        start, end = billing_period(frequency, anchor, interval)
        body = _bill(frequency, start, end, interval, external_invoice_date(setting, end))
        found = evaluate([Observation(EntityKind.BILL, "b1", "o1", body)], spec, context=Context(setting))
        assert [f for f in found if f.rule.startswith("bill.")] == [], (frequency, anchor, interval, setting)


@pytest.mark.parametrize("frequency", FREQUENCIES)
def test_a_period_one_day_off_the_sandbox_is_one_the_rules_report(frequency: str, spec: Spec) -> None:
    start, end = billing_period(frequency, date(2024, 5, 15))
    body = _bill(frequency, start, end + timedelta(days=1), 1, end + timedelta(days=1))
    found = evaluate([Observation(EntityKind.BILL, "b1", "o1", body)], spec)
    assert ("bill.period", "$.endDate") in {(f.rule, f.path) for f in found}


def test_the_rules_the_sandbox_and_the_client_agree_on_the_final_job_statuses() -> None:
    assert TERMINAL == TERMINAL_JOB_STATUSES == {str(status) for status in TERMINAL_STATUSES}


def test_locked_bills_and_versions_share_one_list_of_derived_fields() -> None:
    """bill.locked-unchanged is lenient exactly where version.bump-on-change is (versioning.DERIVED_FIELDS)."""
    assert not hasattr(bill_rules, "_STATEMENT_FLAGS")
    assert {"jsonStatementGenerated", "csvStatementGenerated", "statementStale"} <= DERIVED_FIELDS


def _rule_names(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["x-m3ter-rule"]] if "x-m3ter-rule" in node else []
        return found + [name for value in node.values() for name in _rule_names(value)]
    if isinstance(node, list):
        return [name for item in node for name in _rule_names(item)]
    return []


def test_every_x_m3ter_rule_of_the_spec_names_a_rule(spec: Spec) -> None:
    names = _rule_names(spec.document)
    assert names, "the curated spec delegates version's minimum"
    assert set(names) <= set(RULES_BY_NAME)
    assert all(name in RULES_BY_NAME for delegates in DELEGATED.values() for name in delegates)


@pytest.mark.parametrize(("value", "delegated"), [("version.minimum", True), ("version", False), ("nope", False)])
def test_only_a_real_rule_name_takes_over_a_keyword(value: str, delegated: bool, spec: Spec) -> None:
    document = copy.deepcopy(dict(spec.document))
    version = document["components"]["schemas"]["BillResponse"]["properties"]["version"]
    version["x-m3ter-rule"] = value
    found = evaluate([Observation(EntityKind.BILL, "b1", "o1", {"id": "b1", "version": 0})], Spec(document))
    rules = {f.rule for f in found}
    assert "version.minimum" in rules
    assert ("schema.constraint" in rules) is not delegated
