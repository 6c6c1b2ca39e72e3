"""Seeded, deterministic generation of bill content in wire form: periods per billing frequency, the
external invoice date per Organization setting, and line items of all 19 types whose subtotals add up to
the bill total. Amounts are computed in integer cents so the totals are exact."""

from __future__ import annotations

import random
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from .clock import iso_date_start
from .entities import LINE_ITEM_TYPES, ExternalInvoiceDateSetting, Organization

# Types whose subtotal is a credit (negative).
_CREDITS = frozenset(
    {
        "COUNTER_ADJUSTMENT_CREDIT",
        "USAGE_CREDIT",
        "MINIMUM_SPEND_REFUND",
        "CREDIT_DEDUCTION",
        "CREDIT_MEMO",
        "COMMITMENT_CONSUMED",
        "BALANCE_CONSUMED",
    }
)
_USAGE_LIKE = frozenset({"USAGE", "OVERAGE_USAGE", "USAGE_CREDIT"})
USAGE_LINE_ITEM_TYPES = _USAGE_LIKE
"""The line item types that carry usage (a meter or a compound aggregation, pricing bands)."""
_UNITS = ("call", "GB", "request", "event", "minute", "seat")
_PRODUCTS = (("Platform", "platform"), ("Analytics", "analytics"), ("Storage", "storage"), ("Support", "support"))
_REGIONS = ("eu-west-1", "us-east-1", "ap-southeast-2")
# Line item types that book revenue to an accounting product (the general-ledger mapping m3ter exports).
_ACCOUNTED = frozenset({"STANDING_CHARGE", "USAGE", "OVERAGE_USAGE", "MINIMUM_SPEND", "COMMITMENT_FEE", "AD_HOC"})
_CHILD_ACCOUNTS = (("ACME-EU", 1), ("ACME-US", 2), ("ACME-APAC", 3))


def new_id(rng: random.Random) -> str:
    """A UUID4 string drawn from ``rng`` (deterministic for a given seed)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def billing_period(frequency: str, anchor: date, interval: int = 1, *, ad_hoc_days: int = 17) -> tuple[date, date]:
    """``(startDate, endDate)`` with an exclusive end, for the period of ``frequency`` containing ``anchor``:
    DAILY a day, WEEKLY Monday to Monday, MONTHLY/MIXED calendar months, ANNUALLY calendar years, AD_HOC a
    custom stretch starting at ``anchor``. ``interval`` multiplies the period."""
    if frequency == "DAILY":
        return anchor, anchor + timedelta(days=interval)
    if frequency == "WEEKLY":
        start = anchor - timedelta(days=anchor.weekday())
        return start, start + timedelta(weeks=interval)
    if frequency in ("MONTHLY", "MIXED"):
        start = anchor.replace(day=1)
        return start, _add_months(start, interval)
    if frequency == "ANNUALLY":
        start = date(anchor.year, 1, 1)
        return start, date(anchor.year + interval, 1, 1)
    if frequency == "AD_HOC":
        return anchor, anchor + timedelta(days=ad_hoc_days)
    raise ValueError(f"unknown billing frequency {frequency!r}")


def external_invoice_date(setting: ExternalInvoiceDateSetting, end: date) -> date:
    """FIRST_DAY_OF_NEXT_PERIOD: the (exclusive) end date; LAST_DAY_OF_ARREARS: the period's last day."""
    return end if setting == "FIRST_DAY_OF_NEXT_PERIOD" else end - timedelta(days=1)


def _money(cents: int) -> float:
    return cents / 100


def _line_item(
    rng: random.Random, item_type: str, *, currency: str, rate: float, start: date, end: date
) -> tuple[dict[str, Any], int]:
    product_name, product_code = rng.choice(_PRODUCTS)
    item: dict[str, Any] = {
        "id": new_id(rng),
        "lineItemType": item_type,
        "currency": currency,
        "conversionRate": rate,
        "productId": new_id(rng),
        "productName": product_name,
        "productCode": product_code,
        "servicePeriodStartDate": iso_date_start(start),
        "servicePeriodEndDate": iso_date_start(end),
    }
    sign = -1 if item_type in _CREDITS else 1
    if item_type in _USAGE_LIKE:
        unit = rng.choice(_UNITS[:5])
        bands: list[dict[str, Any]] = []
        lower = 0
        quantity = 0
        cents = 0
        for _ in range(rng.randint(1, 3)):
            band_quantity = rng.randint(1, 50_000)
            unit_price_micro = rng.randint(10, 20_000)  # millionths of a currency unit
            band_cents = round(band_quantity * unit_price_micro / 10_000)
            bands.append(
                {
                    "pricingBandId": new_id(rng),
                    "lowerLimit": float(lower),
                    "bandQuantity": band_quantity,
                    "bandUnits": band_quantity,
                    "unitPrice": unit_price_micro / 1_000_000,
                    "bandSubtotal": _money(sign * band_cents),
                    "unitSubtotal": _money(sign * band_cents),
                    "fixedPrice": 0,
                    "convertedBandSubtotal": round(_money(sign * band_cents) * rate, 2),
                }
            )
            lower += band_quantity
            quantity += band_quantity
            cents += band_cents
        item.update(
            {
                "description": f"{product_name} {unit}s" + (" credit" if sign < 0 else ""),
                "quantity": quantity,
                "units": quantity,
                "unit": unit,
                "meterId": new_id(rng),
                "aggregationId": new_id(rng),
                "pricingId": new_id(rng),
                "planId": new_id(rng),
                "usagePerPricingBand": bands,
            }
        )
        if rng.random() < 0.3:
            item["segment"] = {"region": rng.choice(_REGIONS)}
        if rng.random() < 0.2:
            item["group"] = {"team": f"team-{rng.randint(1, 9)}"}
    else:
        if item_type.startswith("COUNTER"):
            quantity = rng.randint(1, 200)
            unit = "seat"
            item["counterId"] = new_id(rng)
        else:
            quantity = 1
            unit = "period"
        cents = rng.randint(100, 500_000)
        item.update(
            {
                "description": item_type.replace("_", " ").capitalize(),
                "quantity": quantity,
                "units": quantity,
                "unit": unit,
            }
        )
        if item_type.startswith("COMMITMENT"):
            item["commitmentId"] = new_id(rng)
        elif item_type.startswith("BALANCE"):
            item["balanceId"] = new_id(rng)
        elif item_type in ("CREDIT_DEDUCTION", "MANUAL_ADJUSTMENT"):
            item["creditTypeId"] = new_id(rng)
            item["reasonId"] = new_id(rng)
        elif item_type in ("CREDIT_MEMO", "DEBIT_MEMO"):
            item["referencedBillId"] = new_id(rng)
            item["referencedLineItemId"] = new_id(rng)
        elif item_type == "STANDING_CHARGE":
            item["planId"] = new_id(rng)
            item["pricingId"] = new_id(rng)
        if rng.random() < 0.1:
            item["additional"] = {"note": "seeded", "weight": rng.randint(1, 5)}
    _references(item, product_name, product_code)
    signed = sign * cents
    item["subtotal"] = _money(signed)
    item["convertedSubtotal"] = round(_money(signed) * rate, 2)
    item["averageUnitPrice"] = round(_money(signed) / item["units"], 6) if item["units"] else 0.0
    if rng.random() < 0.15:
        item["contractId"] = new_id(rng)
    return item, signed


def _references(item: dict[str, Any], product_name: str, product_code: str) -> None:
    """The references a line item carries besides its product: the accounting product it books to, the
    ad-hoc charge, the plan group of a minimum spend, the child account of a parent/child hierarchy, a
    compound aggregation instead of a meter, the credit type of a credit's bands. Drawn from the item's own id
    so adding them left every other seeded value as it was."""
    draw = random.Random(item["id"])
    item_type = item["lineItemType"]
    if item_type in _ACCOUNTED:
        item["accountingProductId"] = str(uuid.UUID(int=draw.getrandbits(128), version=4))
        item["accountingProductCode"] = f"GL-4{_PRODUCTS.index((product_name, product_code)) + 1:03d}"
        item["accountingProductName"] = f"{product_name} revenue"
    if item_type == "AD_HOC":
        item["chargeId"] = str(uuid.UUID(int=draw.getrandbits(128), version=4))
    elif item_type in ("MINIMUM_SPEND", "MINIMUM_SPEND_REFUND"):
        item["planGroupId"] = str(uuid.UUID(int=draw.getrandbits(128), version=4))
    if item_type in _USAGE_LIKE and draw.random() < 0.3:
        code, number = draw.choice(_CHILD_ACCOUNTS)
        item["childAccountCode"] = code
        item["childAccountId"] = str(uuid.UUID(int=number * 7919 + 0xC0FFEE, version=4))
    if item_type in ("USAGE", "OVERAGE_USAGE") and draw.random() < 0.2:
        # priced from a compound aggregation (a calculation over other aggregations): no meter of its own
        del item["aggregationId"], item["meterId"]
        item["compoundAggregationId"] = str(uuid.UUID(int=draw.getrandbits(128), version=4))
    if item_type == "USAGE_CREDIT":
        credit_type = str(uuid.UUID(int=draw.getrandbits(128), version=4))
        for band in item["usagePerPricingBand"]:
            band["creditTypeId"] = credit_type


# Drawing line items costs about 60 us each: the seeded 2,000-item bill was 130 ms of every Sandbox() (so of
# every test using the sandbox fixtures). A draw is a pure function of the generator's state and the
# arguments, so draws of 100 to 10,000 items are remembered, per process, by exactly those; a repeat hands
# out a copy and moves the generator on as the draw would have. Small draws are cheaper than the key; at
# most 10,000 items are kept in all (about 24 MiB), the least recently drawn going first, so the CLI's
# 100,000-item bill or many seeds never pin memory.
_REMEMBERED_ITEMS = range(100, 10_001)
_REMEMBERED_TOTAL = 10_000
_remembered: OrderedDict[tuple[Any, ...], tuple[list[dict[str, Any]], int, Any]] = OrderedDict()
_remembered_lock = threading.Lock()


def _copy(value: Any) -> Any:
    """A copy of wire data (dicts and lists of JSON values) sharing only its immutable leaves."""
    if type(value) is dict:
        return {key: _copy(item) for key, item in value.items()}
    if type(value) is list:
        return [_copy(item) for item in value]
    return value


def line_items(
    rng: random.Random,
    count: int,
    *,
    currency: str,
    rate: float,
    start: date,
    end: date,
    types: Sequence[str] = LINE_ITEM_TYPES,
) -> tuple[list[dict[str, Any]], int]:
    """``count`` line items and their total in cents. The first items cycle through ``types`` (all 19 in a
    bill of 19 or more), the rest are mostly usage."""
    if count not in _REMEMBERED_ITEMS or type(rng) is not random.Random:
        return _draw_line_items(rng, count, currency=currency, rate=rate, start=start, end=end, types=types)
    key = (rng.getstate(), count, currency, rate, start, end, tuple(types))
    with _remembered_lock:
        drawn = _remembered.get(key)
        if drawn is not None:
            _remembered.move_to_end(key)
    if drawn is not None:
        items, total, after = drawn
        rng.setstate(after)
        return _copy(items), total
    items, total = _draw_line_items(rng, count, currency=currency, rate=rate, start=start, end=end, types=types)
    with _remembered_lock:
        _remembered[key] = (_copy(items), total, rng.getstate())
        while sum(len(kept) for kept, _, _ in _remembered.values()) > _REMEMBERED_TOTAL:
            _remembered.popitem(last=False)
    return items, total


def _draw_line_items(
    rng: random.Random,
    count: int,
    *,
    currency: str,
    rate: float,
    start: date,
    end: date,
    types: Sequence[str],
) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    total = 0
    for index in range(count):
        if index < len(types):
            item_type = types[index]
        else:
            item_type = "USAGE" if rng.random() < 0.6 else rng.choice(LINE_ITEM_TYPES)
        item, cents = _line_item(rng, item_type, currency=currency, rate=rate, start=start, end=end)
        items.append(item)
        total += cents
    return items, total


def bill_wire(
    rng: random.Random,
    org: Organization,
    *,
    frequency: str,
    anchor: date,
    line_item_count: int,
    interval: int = 1,
    currency: str | None = None,
) -> dict[str, Any]:
    """A freshly calculated PENDING bill in wire form (the version and audit fields are added by Entity)."""
    start, end = billing_period(frequency, anchor, interval)
    bill_currency = currency or org.currency
    rate = 1.0 if bill_currency == org.currency else round(rng.uniform(0.7, 1.4), 4)
    items, total = line_items(rng, line_item_count, currency=bill_currency, rate=rate, start=start, end=end)
    bill_date = end
    wire: dict[str, Any] = {
        "id": new_id(rng),
        "accountId": new_id(rng),
        "accountCode": f"ACME-{rng.randint(1, 999):03d}",
        "billDate": bill_date.isoformat(),
        "billFrequencyInterval": interval,
        "billJobId": new_id(rng),
        "billTotal": _money(total),
        "billingFrequency": frequency,
        "currency": bill_currency,
        "csvStatementGenerated": False,
        "jsonStatementGenerated": False,
        "statementStale": False,
        "dueDate": (bill_date + timedelta(days=30)).isoformat(),
        "startDate": start.isoformat(),
        "endDate": end.isoformat(),
        "startDateTimeUTC": iso_date_start(start),
        "endDateTimeUTC": iso_date_start(end),
        "externalInvoiceDate": external_invoice_date(org.external_invoice_date, end).isoformat(),
        "locked": False,
        "status": "PENDING",
        "timezone": "UTC",
        "lineItems": items,
    }
    if rate != 1.0:
        wire["currencyConversions"] = [{"from": bill_currency, "to": org.currency, "multiplier": rate}]
    if rng.random() < 0.5:
        wire["purchaseOrderNumber"] = f"PO-{rng.randint(1000, 9999)}"
    if rng.random() < 0.5:
        wire["externalInvoiceReference"] = f"EXT-{rng.randint(10000, 99999)}"
    invoice_number = org.take_invoice_number()
    if invoice_number is not None:
        wire["sequentialInvoiceNumber"] = invoice_number
        _number_items(items, invoice_number)
    return wire


def _number_items(items: list[dict[str, Any]], invoice_number: str) -> None:
    """Line items of a sequentially numbered bill carry the invoice's number (``sequenceNumber``)."""
    number = int("".join(ch for ch in invoice_number if ch.isdigit()))
    for item in items:
        item["sequenceNumber"] = number


def recalculated_items(bill: dict[str, Any], seed: str) -> tuple[list[dict[str, Any]], float]:
    """New line items (same count and types) for a recalculation, deterministic per ``seed``."""
    rng = random.Random(seed)
    old = bill.get("lineItems", [])
    types = [item["lineItemType"] for item in old]
    start = date.fromisoformat(bill["startDate"])
    end = date.fromisoformat(bill["endDate"])
    rate = old[0]["conversionRate"] if old else 1.0
    items, total = line_items(rng, len(types), currency=bill["currency"], rate=rate, start=start, end=end, types=types)
    if "sequentialInvoiceNumber" in bill:
        _number_items(items, bill["sequentialInvoiceNumber"])
    return items, _money(total)


__all__ = [
    "USAGE_LINE_ITEM_TYPES",
    "bill_wire",
    "billing_period",
    "external_invoice_date",
    "line_items",
    "new_id",
    "recalculated_items",
]
