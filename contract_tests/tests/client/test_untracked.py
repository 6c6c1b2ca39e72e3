"""Models stay out of the cyclic garbage collector's way (``gc=False``), on every decoding path, and are
still freed as soon as the last reference goes (a decoded tree holds no reference cycle)."""

from __future__ import annotations

import gc
import json
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from m3ter_billing import BillResponse, M3terModel, StatementJobResponse, _learned

from .support import REQUIRED_LINE_ITEM

ITEM = {
    **REQUIRED_LINE_ITEM,
    "usagePerPricingBand": [{"bandQuantity": 1, "unitPrice": 0.5}],
    "segment": {"region": "eu"},
    "additional": {"nested": [1, {"x": 2}]},
}
BODY = {"id": "bill-1", "lineItems": [ITEM, ITEM], "currencyConversions": [{"from": "GBP", "to": "USD"}]}
DRIFT = {**BODY, "brandNew": {"k": [1]}, "lineItems": [{**ITEM, "taxCode": "VAT"}]}


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    M3terModel.forget_learned_fields()
    yield
    M3terModel.forget_learned_fields()


def _models(obj: Any) -> Iterator[M3terModel]:
    if isinstance(obj, M3terModel):
        yield obj
        for name in obj.__struct_fields__:
            yield from _models(getattr(obj, name))
    elif isinstance(obj, list):
        for item in obj:
            yield from _models(item)


def _lenient(body: dict[str, Any]) -> BillResponse:
    saved = _learned.MAX_LEARNED
    _learned.MAX_LEARNED = 0
    try:
        return BillResponse.from_json(json.dumps(body))
    finally:
        _learned.MAX_LEARNED = saved


PATHS: dict[str, Callable[[], BillResponse]] = {
    "fast": lambda: BillResponse.from_json(json.dumps(BODY)),
    "learned": lambda: BillResponse.from_json(json.dumps(DRIFT)),
    "learned-again": lambda: (BillResponse.from_json(json.dumps(DRIFT)), BillResponse.from_json(json.dumps(DRIFT)))[1],
    "lenient": lambda: _lenient(DRIFT),
    "from_dict": lambda: BillResponse.from_dict(DRIFT),
    "constructed": lambda: BillResponse(id="x"),
}


@pytest.mark.parametrize("make", PATHS.values(), ids=list(PATHS))
def test_no_model_is_tracked_by_the_cyclic_collector(make: Callable[[], BillResponse]) -> None:
    bill = make()
    models = list(_models(bill))
    assert len(models) >= 1
    assert not any(gc.is_tracked(model) for model in models)
    assert bill.to_dict()["id"] in ("bill-1", "x")


def test_statement_jobs_are_untracked_too() -> None:
    job = StatementJobResponse.from_json(b'{"id": "j", "filters": {"meterIds": ["m"]}, "new": 1}')
    assert not gc.is_tracked(job)
    assert not gc.is_tracked(job.filters)


@pytest.mark.parametrize("make", PATHS.values(), ids=list(PATHS))
def test_decoded_bills_are_freed_without_the_collector(make: Callable[[], BillResponse]) -> None:
    """With the collector off, 200 decode-and-drop rounds leave no memory behind: nothing waits for a cycle
    collection, so nothing was in a cycle."""
    make()  # warm up: learned classes, decoders
    was_enabled = gc.isenabled()
    gc.disable()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            bill = make()
            del bill
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        if was_enabled:
            gc.enable()
    assert grown < 20_000  # one bill is about 4 KB; 200 kept would be 800 KB
