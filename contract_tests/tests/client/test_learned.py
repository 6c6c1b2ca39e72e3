"""Fields the spec does not know: learned once, then decoded at full speed, never lost."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Iterator

import pytest
from m3ter_billing import BillLineItem, BillResponse, _learned

BODY = {
    "id": "bill-1",
    "brandNew": {"nested": [1, 2]},
    "lineItems": [
        {
            "description": "d",
            "quantity": 1,
            "units": 1,
            "unit": "u",
            "subtotal": 1,
            "currency": "USD",
            "conversionRate": 1,
            "convertedSubtotal": 1,
            "averageUnitPrice": 1,
            "lineItemType": "USAGE",
            "taxCode": "VAT-20",
            "usagePerPricingBand": [{"bandQuantity": 1, "bandTier": "gold"}],
        }
    ],
}


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    _learned.forget()
    yield
    _learned.forget()


def test_unknown_fields_at_every_level_are_kept_and_round_trip() -> None:
    bill = BillResponse.from_json(json.dumps(BODY))
    assert isinstance(bill, BillResponse)
    assert isinstance(bill.line_items[0], BillLineItem)
    assert bill.additional_properties == {"brandNew": {"nested": [1, 2]}}
    assert bill.line_items[0].additional_properties == {"taxCode": "VAT-20"}
    assert bill.line_items[0].usage_per_pricing_band[0].additional_properties == {"bandTier": "gold"}
    assert bill.to_dict() == json.loads(json.dumps(BODY)) | {"lineItems": bill.to_dict()["lineItems"]}
    assert bill.to_dict()["lineItems"][0]["taxCode"] == "VAT-20"
    assert json.loads(bill.to_json()) == bill.to_dict()


def test_a_learned_field_is_absent_from_bodies_that_do_not_carry_it() -> None:
    BillResponse.from_json(json.dumps(BODY))
    plain = BillResponse.from_json(b'{"id": "bill-2", "lineItems": []}')
    assert plain.additional_properties == {}
    assert plain.to_dict() == {"id": "bill-2", "lineItems": []}
    assert "brandNew" not in repr(plain)


def test_from_json_and_from_dict_agree() -> None:
    assert BillResponse.from_json(json.dumps(BODY)) == BillResponse.from_dict(BODY)
    assert BillResponse.from_dict(BODY).to_dict()["brandNew"] == {"nested": [1, 2]}


def test_copy_deepcopy_and_pickle_keep_learned_fields() -> None:
    bill = BillResponse.from_json(json.dumps(BODY))
    for clone in (copy.copy(bill), copy.deepcopy(bill), pickle.loads(pickle.dumps(bill))):  # noqa: S301
        assert clone.to_dict() == bill.to_dict()
        assert clone.line_items[0].additional_properties == {"taxCode": "VAT-20"}


def test_repr_names_unknown_fields_as_additional_properties() -> None:
    text = repr(BillResponse.from_json(json.dumps(BODY)))
    assert "additional_properties={'brandNew'" in text
    assert "_m3ter_extra_" not in text


def test_past_the_learning_limit_nothing_is_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_learned, "MAX_LEARNED", 0)
    bill = BillResponse.from_json(json.dumps(BODY))
    assert bill.additional_properties == {"brandNew": {"nested": [1, 2]}}
    assert bill.line_items[0].usage_per_pricing_band[0].additional_properties == {"bandTier": "gold"}
    assert bill.to_dict()["lineItems"][0]["taxCode"] == "VAT-20"


def test_a_server_inventing_keys_does_not_grow_the_registry_without_bound() -> None:
    for n in range(_learned.MAX_LEARNED + 20):
        bill = BillResponse.from_json(json.dumps({"id": "b", f"key{n}": n}))
        assert bill.additional_properties == {f"key{n}": n}
    assert len(_learned._names[BillResponse]) == _learned.MAX_LEARNED


def test_type_errors_still_name_their_path_after_learning() -> None:
    BillResponse.from_json(json.dumps(BODY))
    broken = json.loads(json.dumps(BODY))
    broken["lineItems"][0]["quantity"] = "many"
    from m3ter_billing import ResponseValidationError

    with pytest.raises(ResponseValidationError) as caught:
        BillResponse.from_json(json.dumps(broken))
    assert caught.value.path == "$.lineItems[0].quantity"
