"""The sandbox's enum values are exactly the spec's: it can neither lag behind the spec nor invent values."""

from __future__ import annotations

import pytest
from m3ter_contract.sandbox import (
    BILL_STATUSES,
    BILLING_FREQUENCIES,
    JOB_STATUSES,
    LINE_ITEM_TYPES,
    STATEMENT_STATUSES,
)
from m3ter_contract.spec_facts import CURATED_SPEC, load

SPEC_ENUMS = load(CURATED_SPEC)["components"]["schemas"]


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
def test_sandbox_enum_matches_the_spec(component: str, values: tuple[str, ...]) -> None:
    assert sorted(values) == sorted(SPEC_ENUMS[component]["enum"])
    assert len(set(values)) == len(values)
