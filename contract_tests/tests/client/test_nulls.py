"""Nulls: ``null`` in an optional field parses to None (distinct from UNSET, absent), round-trips through
``to_dict()`` on the fast path, at every nesting level; ``null`` in a required field is a
``ResponseValidationError`` naming its JSON path."""

from __future__ import annotations

import json
from typing import Any

import httpx
import msgspec
import pytest
from m3ter_billing import (
    UNSET,
    BillLineItem,
    BillResponse,
    M3terBilling,
    ResponseValidationError,
    StatementJobResponse,
)
from m3ter_billing.models import (
    BearerAccessTokenResponse,
    BillLineItemPricingBandUsage,
    CurrencyConversion,
    StatementJobFilters,
)

from .support import REQUIRED_LINE_ITEM, token_body

MODELS = [
    BillResponse,
    BillLineItem,
    BillLineItemPricingBandUsage,
    CurrencyConversion,
    StatementJobResponse,
    StatementJobFilters,
    BearerAccessTokenResponse,
]


def _minimal(model: type[Any]) -> dict[str, Any]:
    """A body with only the required fields of ``model`` (values of the right JSON type)."""
    samples = {
        BillResponse: {"id": "bill-1"},
        BillLineItem: dict(REQUIRED_LINE_ITEM),
        CurrencyConversion: {"from": "GBP", "to": "USD"},
        StatementJobResponse: {"id": "job-1"},
        BearerAccessTokenResponse: {"access_token": "t" * 12, "expires_in": 60},
    }
    return dict(samples.get(model, {}))


def _optional_fields(model: type[Any]) -> list[msgspec.structs.FieldInfo]:
    return [field for field in msgspec.structs.fields(model) if not field.required]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_optional_field_accepts_null_as_none_and_round_trips(model: type[Any]) -> None:
    body = _minimal(model)
    for field in _optional_fields(model):
        body[field.encode_name] = None
    obj = model.from_json(json.dumps(body))
    for field in _optional_fields(model):
        assert getattr(obj, field.name) is None, field.name
    assert obj.to_dict() == body  # null comes back as null, absent stays absent
    assert model.from_dict(obj.to_dict()) == obj
    assert model.from_json(obj.to_json()) == obj


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_null_is_distinguishable_from_absent(model: type[Any]) -> None:
    absent = model.from_json(json.dumps(_minimal(model)))
    for field in _optional_fields(model):
        assert getattr(absent, field.name) is UNSET
        assert field.encode_name not in absent.to_dict()


def test_nulls_nested_in_line_items_bands_and_conversions() -> None:
    item = {
        **REQUIRED_LINE_ITEM,
        "accountingProductId": None,
        "additional": None,
        "segment": None,
        "group": None,
        "usagePerPricingBand": [{"bandQuantity": None, "unitPrice": 0.01, "pricingBandId": None}],
    }
    body = {
        "id": "bill-1",
        "status": None,
        "billingFrequency": None,
        "lineItems": [item, {**REQUIRED_LINE_ITEM, "usagePerPricingBand": None}],
        "currencyConversions": [{"from": "GBP", "to": "USD", "multiplier": None}],
    }
    bill = BillResponse.from_json(json.dumps(body))
    assert bill.status is None
    assert bill.billing_frequency is None
    assert bill.line_items[0].segment is None
    assert bill.line_items[0].additional is None
    assert bill.line_items[0].usage_per_pricing_band[0].band_quantity is None
    assert bill.line_items[1].usage_per_pricing_band is None
    assert bill.currency_conversions[0].multiplier is None
    assert bill.additional_properties == {}  # nulls are not drift: the fast path took them
    assert bill.to_dict()["lineItems"][0] == {key: value for key, value in item.items()} | {
        "quantity": 1.0,
        "units": 1.0,
        "subtotal": 1.0,
        "conversionRate": 1.0,
        "convertedSubtotal": 1.0,
        "averageUnitPrice": 1.0,
        "usagePerPricingBand": [{"bandQuantity": None, "unitPrice": 0.01, "pricingBandId": None}],
    }
    assert BillResponse.from_dict(bill.to_dict()) == bill


def test_null_with_unknown_fields_round_trips_on_the_learned_and_lenient_paths() -> None:
    body = {
        "id": "bill-1",
        "accountCode": None,
        "lineItems": [{**REQUIRED_LINE_ITEM, "usagePerPricingBand": None, "brandNewNullField": None}],
        "anotherNewField": None,
    }
    for _ in range(2):  # learning, then the derived class
        bill = BillResponse.from_json(json.dumps(body))
        assert bill.account_code is None
        assert bill.additional_properties == {"anotherNewField": None}
        assert bill.line_items[0].additional_properties == {"brandNewNullField": None}
        assert bill.to_dict()["lineItems"][0]["usagePerPricingBand"] is None
        assert bill.to_dict()["anotherNewField"] is None
    assert BillResponse.from_dict(body).to_dict() == BillResponse.from_json(json.dumps(body)).to_dict()


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"id": None}, "$.id"),
        ({"id": "b", "lineItems": [{**REQUIRED_LINE_ITEM, "description": None}]}, "$.lineItems[0].description"),
        (
            {"id": "b", "lineItems": [REQUIRED_LINE_ITEM, {**REQUIRED_LINE_ITEM, "quantity": None}]},
            "$.lineItems[1].quantity",
        ),
        ({"id": "b", "lineItems": [None]}, "$.lineItems[0]"),
        ({"id": "b", "lineItems": [{**REQUIRED_LINE_ITEM, "lineItemType": None}]}, "$.lineItems[0].lineItemType"),
    ],
)
def test_null_in_a_required_field_or_list_element_names_its_path(body: dict[str, Any], path: str) -> None:
    with pytest.raises(ResponseValidationError) as caught:
        BillResponse.from_json(json.dumps(body))
    assert caught.value.path == path
    with pytest.raises(ResponseValidationError) as converted:
        BillResponse.from_dict(body)
    assert converted.value.path == path


def test_token_response_with_null_required_field_is_refused() -> None:
    with pytest.raises(ResponseValidationError) as caught:
        BearerAccessTokenResponse.from_json(b'{"access_token": null, "expires_in": 60, "scope": null}')
    assert caught.value.path == "$.access_token"


def test_client_returns_bill_and_job_with_nulls() -> None:
    bill = {"id": "bill-1", "accountId": None, "lineItems": [{**REQUIRED_LINE_ITEM, "segment": None}]}
    job = {"id": "job-1", "billId": None, "presignedJsonStatementUrl": None, "filters": None}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json=token_body())
        return httpx.Response(200, json=bill if "/bills/" in request.url.path else job)

    with M3terBilling(
        base_url="https://api.m3ter.test",
        org_id="org-1",
        api_key="key-1",
        api_secret="secret-value-1",
        transport=httpx.MockTransport(handler),
    ) as client:
        got = client.bills.retrieve("bill-1")
        assert got.account_id is None
        assert got.line_items[0].segment is None
        assert got.to_dict() == {**bill, "lineItems": [BillLineItem.from_dict(bill["lineItems"][0]).to_dict()]}
        statement_job = client.statement_jobs.retrieve("job-1")
        assert statement_job.bill_id is None
        assert statement_job.filters is None
        assert statement_job.to_dict() == job
