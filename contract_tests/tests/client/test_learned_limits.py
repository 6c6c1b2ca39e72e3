"""Learned field names are bounded in length and count per class, and can be released (public API)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from m3ter_billing import BillLineItem, BillResponse, M3terModel, StatementJobResponse, _learned

from .support import REQUIRED_LINE_ITEM


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    M3terModel.forget_learned_fields()
    yield
    M3terModel.forget_learned_fields()


def _bill(**top: object) -> bytes:
    return json.dumps({"id": "b", **top, "lineItems": [{**REQUIRED_LINE_ITEM, "taxCode": "VAT"}]}).encode()


def test_a_name_longer_than_the_limit_is_kept_but_not_learned() -> None:
    long_name = "k" * (_learned.MAX_NAME_LENGTH + 1)
    fitting = "f" * _learned.MAX_NAME_LENGTH
    for _ in range(2):
        bill = BillResponse.from_json(_bill(**{fitting: 2}))
        assert bill.additional_properties == {fitting: 2}
        bill = BillResponse.from_json(_bill(**{long_name: 1, fitting: 2}))
        assert bill.additional_properties == {long_name: 1, fitting: 2}
        assert bill.to_dict()[long_name] == 1
    assert M3terModel.learned_fields() == {"BillResponse": (fitting,), "BillLineItem": ("taxCode",)}


def test_a_megabyte_key_is_not_learned() -> None:
    huge = "x" * 1_000_000
    bill = BillResponse.from_json(_bill(**{huge: None}))
    assert bill.additional_properties == {huge: None}
    assert huge not in M3terModel.learned_fields().get("BillResponse", ())


def test_count_per_class_is_bounded_and_later_names_still_kept() -> None:
    for n in range(_learned.MAX_LEARNED + 10):
        bill = BillResponse.from_json(_bill(**{f"key{n}": n}))
        assert bill.additional_properties == {f"key{n}": n}
        assert bill.line_items[0].additional_properties == {"taxCode": "VAT"}
    learned = M3terModel.learned_fields()
    assert len(learned["BillResponse"]) == _learned.MAX_LEARNED
    assert learned["BillLineItem"] == ("taxCode",)  # the limit is per class


def test_forget_learned_fields_releases_every_name_and_decoding_learns_again() -> None:
    BillResponse.from_json(_bill(brandNew=1))
    StatementJobResponse.from_json(b'{"id": "j", "jobNew": 2}')
    assert M3terModel.learned_fields() == {
        "BillResponse": ("brandNew",),
        "BillLineItem": ("taxCode",),
        "StatementJobResponse": ("jobNew",),
    }
    before = BillResponse.from_json(_bill(brandNew=1))
    assert M3terModel.forget_learned_fields() == 3
    assert M3terModel.learned_fields() == {}
    assert _learned._classes == {}
    assert _learned._decoders == {}
    assert before.additional_properties == {"brandNew": 1}  # objects decoded before are unchanged
    after = BillResponse.from_json(_bill(brandNew=1))
    assert after == before
    assert after.to_dict() == before.to_dict()
    assert M3terModel.learned_fields()["BillResponse"] == ("brandNew",)


def test_forget_on_one_model_releases_its_tree_only() -> None:
    BillResponse.from_json(_bill(brandNew=1))
    StatementJobResponse.from_json(b'{"id": "j", "jobNew": 2}')
    assert BillResponse.learned_fields() == {"BillResponse": ("brandNew",), "BillLineItem": ("taxCode",)}
    assert BillLineItem.forget_learned_fields() == 1
    assert M3terModel.learned_fields() == {"BillResponse": ("brandNew",), "StatementJobResponse": ("jobNew",)}
    assert BillResponse.forget_learned_fields() == 1
    assert M3terModel.learned_fields() == {"StatementJobResponse": ("jobNew",)}
    bill = BillResponse.from_json(_bill(brandNew=1))
    assert bill.line_items[0].additional_properties == {"taxCode": "VAT"}
