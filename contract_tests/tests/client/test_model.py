"""Models: strict fast decoding, unknown fields kept at every level, dates, errors naming the JSON path."""

from __future__ import annotations

import copy
import datetime
import json
import pickle
from typing import Any

import msgspec
import pytest
from m3ter_billing import (
    UNSET,
    BillLineItem,
    BillLineItemPricingBandUsage,
    BillResponse,
    CurrencyConversion,
    ResponseValidationError,
    StatementJobResponse,
)
from m3ter_billing.models import BearerAccessTokenResponse

LINE_ITEM: dict[str, Any] = {
    "description": "API calls",
    "quantity": 1200,
    "units": 1200.0,
    "unit": "calls",
    "subtotal": 12.5,
    "currency": "USD",
    "conversionRate": 1,
    "convertedSubtotal": 12.5,
    "averageUnitPrice": 0.0104,
    "lineItemType": "USAGE",
    "usagePerPricingBand": [{"bandQuantity": 1000, "unitPrice": 0.01}, {"bandQuantity": 200, "unitPrice": 0.0125}],
    "segment": {"region": "eu"},
    "group": {"tier": "gold"},
    "additional": {"anything": [1, {"nested": True}]},
}


def full_bill(**extra: Any) -> dict[str, Any]:
    return {
        "id": "bill-1",
        "version": 3,
        "status": "APPROVED",
        "billingFrequency": "MONTHLY",
        "startDate": "2023-09-01",
        "endDate": "2023-10-01",
        "externalInvoiceDate": "2023-10-01",
        "startDateTimeUTC": "2023-09-01T00:00:00Z",
        "endDateTimeUTC": "2023-10-01T00:00:00.000Z",
        "dtCreated": "2023-10-02T08:15:30.123456+02:00",
        "currencyConversions": [{"from": "GBP", "to": "USD", "multiplier": 1.27}],
        "lineItems": [LINE_ITEM],
        "timezone": "UTC",
        **extra,
    }


def test_known_body_decodes_with_snake_case_names() -> None:
    bill = BillResponse.from_json(json.dumps(full_bill()).encode())
    assert bill.id == "bill-1"
    assert bill.version == 3
    assert bill.start_date == datetime.date(2023, 9, 1)
    assert bill.external_invoice_date == datetime.date(2023, 10, 1)
    assert bill.currency_conversions != UNSET
    assert isinstance(bill.currency_conversions, list)
    assert bill.currency_conversions[0].from_ == "GBP"
    assert isinstance(bill.line_items, list)
    item = bill.line_items[0]
    assert isinstance(item, BillLineItem)
    assert item.quantity == 1200.0
    assert item.segment == {"region": "eu"}
    assert isinstance(item.usage_per_pricing_band, list)
    assert isinstance(item.usage_per_pricing_band[1], BillLineItemPricingBandUsage)
    assert item.usage_per_pricing_band[1].unit_price == 0.0125
    assert bill.additional_properties == {}


def test_absent_fields_are_unset_and_stay_absent_in_to_dict() -> None:
    bill = BillResponse.from_json(b'{"id": "b"}')
    assert bill.line_items is UNSET
    assert bill.status is UNSET
    assert bill.to_dict() == {"id": "b"}


def test_to_dict_round_trips_a_full_body() -> None:
    body = full_bill()
    bill = BillResponse.from_json(json.dumps(body))
    again = BillResponse.from_dict(bill.to_dict())
    assert again == bill
    assert again.to_dict() == bill.to_dict()
    assert BillResponse.from_json(bill.to_json()) == bill


def test_str_input_is_accepted() -> None:
    assert StatementJobResponse.from_json('{"id": "j"}').id == "j"


# -- unknown fields -----------------------------------------------------------------------------------


def test_unknown_fields_are_kept_at_every_nesting_level_and_round_trip() -> None:
    item = {
        **LINE_ITEM,
        "newItemField": {"x": 1},
        "usagePerPricingBand": [{"bandQuantity": 1, "newBandField": "band"}, {"bandQuantity": 2}],
    }
    body = full_bill(
        newTopField=[1, 2, 3],
        lineItems=[item],
        currencyConversions=[{"from": "GBP", "to": "USD", "newConversionField": None}],
    )
    bill = BillResponse.from_json(json.dumps(body).encode())

    assert bill.additional_properties == {"newTopField": [1, 2, 3]}
    assert isinstance(bill.line_items, list)
    line = bill.line_items[0]
    assert line.additional_properties == {"newItemField": {"x": 1}}
    assert isinstance(line.usage_per_pricing_band, list)
    assert line.usage_per_pricing_band[0].additional_properties == {"newBandField": "band"}
    assert line.usage_per_pricing_band[1].additional_properties == {}
    assert isinstance(bill.currency_conversions, list)
    assert bill.currency_conversions[0].additional_properties == {"newConversionField": None}

    out = bill.to_dict()
    assert out["newTopField"] == [1, 2, 3]
    assert out["lineItems"][0]["newItemField"] == {"x": 1}
    assert out["lineItems"][0]["usagePerPricingBand"][0]["newBandField"] == "band"
    assert out["currencyConversions"][0]["newConversionField"] is None
    # Every key the server sent comes back.
    assert set(out) == set(body)
    assert set(out["lineItems"][0]) == set(item)
    # And once more through JSON and the lenient path.
    assert BillResponse.from_json(bill.to_json()).to_dict() == out


def test_unknown_fields_on_statement_job_and_its_filters() -> None:
    body = {"id": "j", "filters": {"meterIds": ["m1"], "newFilter": 1}, "newJobField": "x"}
    job = StatementJobResponse.from_json(json.dumps(body))
    assert job.additional_properties == {"newJobField": "x"}
    assert job.filters is not UNSET
    assert job.filters is not None
    assert job.filters.additional_properties == {"newFilter": 1}
    assert job.to_dict() == body


def test_from_dict_keeps_unknown_fields() -> None:
    conv = CurrencyConversion.from_dict({"from": "GBP", "to": "USD", "extra": 1})
    assert conv.from_ == "GBP"
    assert conv.additional_properties == {"extra": 1}
    assert conv.to_dict() == {"from": "GBP", "to": "USD", "extra": 1}


def test_token_response_accepts_null_scope() -> None:
    token = BearerAccessTokenResponse.from_json(b'{"access_token": "t", "expires_in": 10, "scope": null}')
    assert token.scope is None
    assert token.expires_in == 10


# -- dates and date-times -------------------------------------------------------------------------------

UTC = datetime.UTC


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("2023-09-01T00:00:00Z", datetime.datetime(2023, 9, 1, tzinfo=UTC)),
        ("2023-09-01T00:00:00z", datetime.datetime(2023, 9, 1, tzinfo=UTC)),
        ("2023-09-01T00:00:00+00:00", datetime.datetime(2023, 9, 1, tzinfo=UTC)),
        ("2023-09-01T02:00:00+02:00", datetime.datetime(2023, 9, 1, tzinfo=UTC)),
        ("2023-08-31T19:00:00-05:00", datetime.datetime(2023, 9, 1, tzinfo=UTC)),
        ("2023-09-01T00:00:00.5Z", datetime.datetime(2023, 9, 1, 0, 0, 0, 500_000, tzinfo=UTC)),
        ("2023-09-01T00:00:00.123Z", datetime.datetime(2023, 9, 1, 0, 0, 0, 123_000, tzinfo=UTC)),
        ("2023-09-01T00:00:00.123456Z", datetime.datetime(2023, 9, 1, 0, 0, 0, 123_456, tzinfo=UTC)),
        ("2023-09-01T05:30:00.25+05:30", datetime.datetime(2023, 9, 1, 0, 0, 0, 250_000, tzinfo=UTC)),
    ],
)
@pytest.mark.parametrize("lenient", [False, True], ids=["fast", "lenient"])
def test_date_times_with_zulu_offsets_and_fractions(wire: str, expected: datetime.datetime, lenient: bool) -> None:
    body: dict[str, Any] = {"id": "b", "dtCreated": wire, "startDateTimeUTC": wire}
    if lenient:
        body["unknownField"] = True  # forces the slow path
    bill = BillResponse.from_json(json.dumps(body))
    assert bill.dt_created == expected
    assert bill.start_date_time_utc == expected
    assert isinstance(bill.dt_created, datetime.datetime)
    assert bill.dt_created.utcoffset() is not None
    again = BillResponse.from_dict(bill.to_dict())
    assert again.dt_created == expected


@pytest.mark.parametrize("lenient", [False, True], ids=["fast", "lenient"])
def test_dates(lenient: bool) -> None:
    body: dict[str, Any] = {"id": "b", "billDate": "2024-02-29", "dueDate": "2024-03-31"}
    if lenient:
        body["unknownField"] = 1
    bill = BillResponse.from_json(json.dumps(body))
    assert bill.bill_date == datetime.date(2024, 2, 29)
    assert bill.due_date == datetime.date(2024, 3, 31)
    assert bill.to_dict()["billDate"] == "2024-02-29"


# -- garbage ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lenient", [False, True], ids=["fast", "lenient"])
@pytest.mark.parametrize(
    ("patch", "path"),
    [
        ({"dtCreated": "yesterday"}, "$.dtCreated"),
        ({"billDate": "2023-02-30"}, "$.billDate"),
        ({"startDate": "2023-09-01T00:00:00Z"}, "$.startDate"),
        ({"version": "three"}, "$.version"),
        ({"locked": "yes"}, "$.locked"),
        ({"lineItems": [LINE_ITEM, {**LINE_ITEM, "quantity": "many"}]}, "$.lineItems[1].quantity"),
        (
            {"lineItems": [{**LINE_ITEM, "usagePerPricingBand": [{"bandQuantity": "x"}]}]},
            "$.lineItems[0].usagePerPricingBand[0].bandQuantity",
        ),
        ({"lineItems": [{k: v for k, v in LINE_ITEM.items() if k != "unit"}]}, "$.lineItems[0]"),
        ({"currencyConversions": [{"from": "GBP", "to": 7}]}, "$.currencyConversions[0].to"),
        ({"lineItems": "not a list"}, "$.lineItems"),
    ],
)
def test_garbage_raises_response_validation_error_naming_the_path(
    patch: dict[str, Any], path: str, lenient: bool
) -> None:
    body = {"id": "b", **patch}
    if lenient:
        body["someNewField"] = 1
    with pytest.raises(ResponseValidationError) as info:
        BillResponse.from_json(json.dumps(body).encode(), status_code=200)
    err = info.value
    assert err.path == path
    assert err.status_code == 200
    assert path in str(err)


def test_missing_required_field_is_named() -> None:
    with pytest.raises(ResponseValidationError, match="id") as info:
        BillResponse.from_json(b'{"version": 1}')
    assert info.value.path == "$"
    assert "id" in info.value.message


@pytest.mark.parametrize("body", [b"", b"{", b"not json", b'{"id": "b",}'])
def test_invalid_json_raises_response_validation_error(body: bytes) -> None:
    with pytest.raises(ResponseValidationError) as info:
        BillResponse.from_json(body, status_code=200)
    assert info.value.path == "$"
    assert info.value.body == body


DEEP = 200_000


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('{"id": "caf\xe9"}'.encode("latin-1"), "not UTF-8"),
        (b'{"id": "b", "deeplyNested": ' + b"[" * DEEP + b"]" * DEEP + b"}", "nested too deeply"),
    ],
    ids=["not-utf8", "deep"],
)
def test_undecodable_bodies_raise_response_validation_error(body: bytes, says: str) -> None:
    with pytest.raises(ResponseValidationError, match=says) as info:
        BillResponse.from_json(body, status_code=200)
    assert info.value.status_code == 200
    assert info.value.body == body[: 64 * 1024]  # a bounded prefix
    assert info.value.body_length == len(body)


def test_from_dict_of_a_tree_nested_too_deeply_raises_response_validation_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from m3ter_billing import _learned

    monkeypatch.setattr(_learned, "MAX_LEARNED", 0)  # the lenient path copies the tree
    deep: list[Any] = []
    for _ in range(DEEP):
        deep = [deep]
    with pytest.raises(ResponseValidationError, match="nested too deeply"):
        BillResponse.from_dict({"id": "b", "deeplyNestedToo": deep})


@pytest.mark.parametrize("body", [b"null", b"[]", b'"bill"', b"42"])
def test_non_object_body_is_rejected(body: bytes) -> None:
    with pytest.raises(ResponseValidationError) as info:
        BillResponse.from_json(body)
    assert info.value.path == "$"


def test_from_dict_rejects_non_mapping() -> None:
    with pytest.raises(ResponseValidationError):
        BillResponse.from_dict([])  # type: ignore[arg-type]


def test_models_are_msgspec_structs_encoding_wire_names() -> None:
    bill = BillResponse.from_json(json.dumps(full_bill()))
    encoded = json.loads(msgspec.json.encode(bill))
    assert "lineItems" in encoded
    assert "line_items" not in encoded


def test_repr_shows_only_set_fields() -> None:
    job = StatementJobResponse.from_json(b'{"id": "j", "version": 2}')
    assert repr(job) == "StatementJobResponse(id='j', version=2)"


def _with_extras() -> BillResponse:
    body = full_bill(newTop={"a": [1]}, lineItems=[{**LINE_ITEM, "newItemField": 2, "lineItemType": "NEW_TYPE"}])
    return BillResponse.from_json(json.dumps(body))


@pytest.mark.parametrize(
    "duplicate",
    [copy.copy, copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))],  # noqa: S301
    ids=["copy", "deepcopy", "pickle"],
)
def test_copies_and_pickles_keep_unknown_fields(duplicate: Any) -> None:
    bill = _with_extras()
    again = duplicate(bill)
    assert isinstance(again, BillResponse)
    assert again.to_dict() == bill.to_dict()
    assert again.additional_properties == {"newTop": {"a": [1]}}
    assert isinstance(again.line_items, list)
    assert again.line_items[0].additional_properties == {"newItemField": 2}
    assert again.line_items[0].line_item_type.is_known is False


def test_deepcopy_does_not_share_unknown_values() -> None:
    bill = _with_extras()
    again = copy.deepcopy(bill)
    again.additional_properties["newTop"]["a"].append(2)
    assert bill.additional_properties == {"newTop": {"a": [1]}}
