"""The sandbox's enum values: it never invents a value the spec does not list, and it serves every value
m3ter's published document lists. A value the spec learned since (from the live API, ahead of the
published document) needs no sandbox change: the spec flows through untouched."""

from __future__ import annotations

import pytest
from m3ter_contract.sandbox import (
    BILL_STATUSES,
    BILLING_FREQUENCIES,
    JOB_STATUSES,
    LINE_ITEM_TYPES,
    STATEMENT_STATUSES,
)
from m3ter_contract.spec_facts import CURATED_SPEC, UPSTREAM_SPEC, load

SPEC_ENUMS = load(CURATED_SPEC)["components"]["schemas"]
PUBLISHED_ENUMS = load(UPSTREAM_SPEC)["components"]["schemas"]


@pytest.mark.parametrize(
    ("component", "values"),
    [
        ("BillStatus", BILL_STATUSES),
        ("BillingFrequency", BILLING_FREQUENCIES),
        ("LineItemType", LINE_ITEM_TYPES),
        ("StatementJobStatus", JOB_STATUSES),
        ("StatementStatus", STATEMENT_STATUSES),
    ],
)
def test_sandbox_enum_is_within_the_spec_and_covers_the_published_document(
    component: str, values: tuple[str, ...]
) -> None:
    assert set(values) <= set(SPEC_ENUMS[component]["enum"]), "the sandbox invents a value"
    assert set(values) >= set(PUBLISHED_ENUMS[component]["enum"]), "the sandbox lags behind m3ter's document"
    assert len(set(values)) == len(values)
