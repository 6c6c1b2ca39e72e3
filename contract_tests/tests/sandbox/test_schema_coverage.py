"""The seeded sandbox exercises the whole schema: every property of every schema m3ter's published document
reaches from the Retrieve Bill, Get StatementJob and token responses is served at least once, so the client and
the rules meet each of them end to end."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
from m3ter_contract.rules import Spec
from m3ter_contract.sandbox import DEFAULT_BASE_URL, ManualClock, Sandbox, mock_m3ter
from m3ter_contract.spec_facts import UPSTREAM_SPEC

ROOTS = {
    "GET /organizations/{orgId}/bills/{id}": "BillResponse",
    "GET /organizations/{orgId}/statementjobs/{id}": "StatementJobResponse",
    "POST /oauth/token": "BearerAccessTokenResponse",
}


@pytest.fixture(scope="module")
def spec() -> Spec:
    return Spec.load(UPSTREAM_SPEC)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def declared(spec: Spec, schema: Mapping[str, Any], path: str) -> Iterator[str]:
    """``path.property`` for every property the schema declares, descending into objects and arrays."""
    shape = spec.shape(schema)
    for name, sub in shape.properties.items():
        yield f"{path}.{name}"
        yield from declared(spec, sub, f"{path}.{name}")
    if isinstance(shape.items, Mapping):
        yield from declared(spec, shape.items, f"{path}[]")


def served(spec: Spec, schema: Mapping[str, Any], value: Any, path: str) -> Iterator[str]:
    shape = spec.shape(schema)
    if isinstance(value, dict):
        for name, item in value.items():
            if name in shape.properties:
                yield f"{path}.{name}"
                yield from served(spec, shape.properties[name], item, f"{path}.{name}")
    elif isinstance(value, list) and isinstance(shape.items, Mapping):
        for item in value:
            yield from served(spec, shape.items, item, f"{path}[]")


def _bodies(sandbox: Sandbox) -> Iterator[tuple[str, Any]]:
    """Every bill and job of every organization, and a token response, read through the API."""
    with mock_m3ter(sandbox):
        for creds in sandbox.seeded.credentials:
            with httpx.Client(base_url=DEFAULT_BASE_URL) as client:
                token = client.post(
                    "/oauth/token", auth=(creds.api_key, creds.api_secret), data={"grant_type": "client_credentials"}
                )
                yield "BearerAccessTokenResponse", token.json()
                client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
                org = creds.org_id
                for bill in sandbox.state.org_bills(org):
                    yield "BillResponse", client.get(f"/organizations/{org}/bills/{bill.id}").json()
                for job in [job for job in sandbox.state.jobs.values() if job.org_id == org]:
                    yield "StatementJobResponse", client.get(f"/organizations/{org}/statementjobs/{job.id}").json()


def test_every_upstream_property_is_served_at_least_once(spec: Spec) -> None:
    sandbox = Sandbox(clock=ManualClock(), rate_limit=None, large_bill_line_items=50)
    sandbox.advance(30)  # the seeded jobs still moving have finished
    seen: set[str] = set()
    for name, body in _bodies(sandbox):
        seen.update(served(spec, _ref(name), body, name))
    wanted = {prop for name in ROOTS.values() for prop in declared(spec, _ref(name), name)}
    assert len(wanted) > 100  # the walk is not vacuous: BillResponse alone has 37 properties
    assert sorted(wanted - seen) == []


@pytest.mark.parametrize(
    "prop",
    [
        "accountingProductCode",
        "accountingProductId",
        "accountingProductName",
        "chargeId",
        "childAccountCode",
        "childAccountId",
        "compoundAggregationId",
        "planGroupId",
        "sequenceNumber",
    ],
)
def test_the_line_item_references_look_like_m3ters(prop: str) -> None:
    sandbox = Sandbox(clock=ManualClock(), rate_limit=None, large_bill_line_items=50)
    values = [item[prop] for bill in sandbox.state.bills.values() for item in bill.wire["lineItems"] if prop in item]
    assert values, prop
    if prop.endswith("Id"):
        assert all(len(value) == 36 and value.count("-") == 4 for value in values)  # UUIDs, as m3ter's
    elif prop == "sequenceNumber":
        assert all(isinstance(value, int) and value >= 1 for value in values)
    else:
        assert all(isinstance(value, str) and value.strip() for value in values)


def test_credit_bands_carry_their_credit_type() -> None:
    sandbox = Sandbox(clock=ManualClock(), rate_limit=None, large_bill_line_items=50)
    credits = [
        item
        for bill in sandbox.state.bills.values()
        for item in bill.wire["lineItems"]
        if item["lineItemType"] == "USAGE_CREDIT"
    ]
    assert credits
    for item in credits:
        assert len({band.get("creditTypeId") for band in item["usagePerPricingBand"]} - {None}) == 1
        assert all("creditTypeId" in band for band in item["usagePerPricingBand"])


def test_a_sequentially_numbered_bill_numbers_its_items_even_after_recalculation() -> None:
    sandbox = Sandbox(clock=ManualClock(), rate_limit=None, large_bill_line_items=50)
    bill_id = sandbox.seeded.bills["monthly"]  # the primary organization has a billPrefix
    number = int(sandbox.bill(bill_id)["sequentialInvoiceNumber"].removeprefix("INV-"))
    sandbox.recalculate_bill(bill_id)
    assert {item["sequenceNumber"] for item in sandbox.bill(bill_id)["lineItems"]} == {number}
    other = sandbox.seeded.bills["arrears_monthly"]  # no billPrefix: no numbers
    assert all("sequenceNumber" not in item for item in sandbox.bill(other)["lineItems"])
