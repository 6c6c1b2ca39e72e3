"""Retrieve Bill, end to end through an in-memory transport: m3ter-billing vs the official ``m3ter`` SDK vs
``orjson.loads`` of the same body.

    .venv/bin/python benchmarks/bench_retrieve_bill.py [--runs 10] [--sizes 1000,10000] [--no-memory]

Not a test: it prints timings (best of N, ``time.perf_counter``), ratios, and the peak memory growth of one
10,000-line retrieve for each client, each measured in a fresh subprocess (tracemalloc) so neither pays
for the other's caches. Targets (issue 2): at least 3x faster than the official SDK, within 2x of
``orjson.loads``, no more peak memory than the official SDK.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BASE_URL = "https://api.m3ter.bench"
ORG_ID = "8a5b6c1e-0f6a-4b7e-9f3c-3d0d3c7a2b11"
BILL_ID = "5b1d0a9e-7c55-4f0c-8e77-1c2b3a4d5e6f"
TOKEN_BODY = b'{"token_type":"Bearer","access_token":"bench-token-0123456789","expires_in":18000,"scope":null}'
LINE_ITEM_TYPES = ["USAGE", "STANDING_CHARGE", "MINIMUM_SPEND", "COMMITMENT_FEE", "OVERAGE_USAGE"]


def _uuid(n: int, salt: int) -> str:
    return str(uuid.UUID(int=(n * 1_000_003 + salt) * 0x9E3779B97F4A7C15 % (1 << 128)))


def line_item(n: int) -> dict[str, Any]:
    """A line item with 25 fields (10 required, 13 ids and codes, the service period) and two pricing bands."""
    quantity = 1000 + n % 977
    return {
        "id": _uuid(n, 1),
        "description": f"API calls - product {n % 40} - meter {n % 13}",
        "lineItemType": LINE_ITEM_TYPES[n % len(LINE_ITEM_TYPES)],
        "quantity": quantity,
        "units": float(quantity),
        "unit": "calls",
        "subtotal": round(quantity * 0.0125, 4),
        "currency": "USD",
        "conversionRate": 1.0,
        "convertedSubtotal": round(quantity * 0.0125, 4),
        "averageUnitPrice": 0.0125,
        "accountingProductId": _uuid(n, 2),
        "aggregationId": _uuid(n, 3),
        "chargeId": _uuid(n, 4),
        "contractId": _uuid(n, 5),
        "meterId": _uuid(n, 6),
        "planId": _uuid(n, 7),
        "planGroupId": _uuid(n, 8),
        "pricingId": _uuid(n, 9),
        "productId": _uuid(n, 10),
        "productCode": f"product_{n % 40}",
        "productName": f"Product {n % 40}",
        "sequenceNumber": n,
        "servicePeriodStartDate": "2024-09-01T00:00:00Z",
        "servicePeriodEndDate": "2024-10-01T00:00:00Z",
        "usagePerPricingBand": [
            {
                "pricingBandId": _uuid(n, 11),
                "lowerLimit": 0.0,
                "bandQuantity": 1000.0,
                "bandUnits": 1000.0,
                "unitPrice": 0.01,
                "bandSubtotal": 10.0,
                "convertedBandSubtotal": 10.0,
                "fixedPrice": 0.0,
            },
            {
                "pricingBandId": _uuid(n, 12),
                "lowerLimit": 1000.0,
                "bandQuantity": float(quantity - 1000),
                "bandUnits": float(quantity - 1000),
                "unitPrice": 0.02,
                "bandSubtotal": round((quantity - 1000) * 0.02, 4),
                "convertedBandSubtotal": round((quantity - 1000) * 0.02, 4),
                "fixedPrice": 0.0,
            },
        ],
    }


def bill_body(items: int, *, drift: bool = False) -> bytes:
    """The Bill body; with ``drift``, as m3ter might send it after adding fields the spec does not know yet
    (one at the top level and one in every line item), which sends our client down its lenient path."""
    bill: dict[str, Any] = {
        "id": BILL_ID,
        "version": 3,
        "accountId": _uuid(0, 100),
        "accountCode": "acme-corp",
        "billDate": "2024-10-01",
        "billFrequencyInterval": 1,
        "billingFrequency": "MONTHLY",
        "billJobId": _uuid(0, 101),
        "billTotal": 123456.78,
        "currency": "USD",
        "startDate": "2024-09-01",
        "endDate": "2024-10-01",
        "startDateTimeUTC": "2024-09-01T00:00:00Z",
        "endDateTimeUTC": "2024-10-01T00:00:00Z",
        "dueDate": "2024-10-31",
        "externalInvoiceDate": "2024-10-01",
        "createdDate": "2024-10-01T01:02:03.456Z",
        "dtCreated": "2024-10-01T01:02:03.456Z",
        "dtLastModified": "2024-10-02T04:05:06.789Z",
        "lastCalculatedDate": "2024-10-02T04:05:06.789Z",
        "status": "PENDING",
        "locked": False,
        "timezone": "UTC",
        "jsonStatementGenerated": True,
        "csvStatementGenerated": False,
        "statementStale": False,
        "currencyConversions": [{"from": "GBP", "to": "USD", "multiplier": 1.27}],
        "lineItems": [line_item(n) for n in range(items)],
    }
    if drift:
        bill["billNotes"] = "a field m3ter added after the spec was written"
        for item in bill["lineItems"]:
            item["taxCode"] = "VAT-20"
    return json.dumps(bill, separators=(",", ":")).encode()


def transport_for(body: bytes) -> httpx.MockTransport:
    """Serves the token route and the bill, as an in-memory server would."""
    headers = {"Content-Type": "application/json"}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, content=TOKEN_BODY, headers=headers)
        return httpx.Response(200, content=body, headers=headers)

    return httpx.MockTransport(handler)


def ours(body: bytes) -> tuple[Callable[[], object], Callable[[], None]]:
    from m3ter_billing import M3terBilling

    client = M3terBilling(
        base_url=BASE_URL, org_id=ORG_ID, api_key="key", api_secret="secret-value", transport=transport_for(body)
    )
    return (lambda: client.bills.retrieve(BILL_ID)), client.close


def official(body: bytes) -> tuple[Callable[[], object], Callable[[], None]]:
    import m3ter

    http = httpx.Client(transport=transport_for(body))
    client = m3ter.M3ter(api_key="key", api_secret="secret-value", org_id=ORG_ID, base_url=BASE_URL, http_client=http)
    return (lambda: client.bills.retrieve(BILL_ID)), client.close


def orjson_loads(body: bytes) -> tuple[Callable[[], object], Callable[[], None]]:
    import orjson

    return (lambda: orjson.loads(body)), (lambda: None)


CONTENDERS = {"m3ter-billing": ours, "official m3ter SDK": official, "orjson.loads": orjson_loads}


def best_of(func: Callable[[], object], runs: int) -> float:
    func()  # warm up: token, decoders, imports
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        result = func()
        elapsed = time.perf_counter() - start
        del result
        best = min(best, elapsed)
    return best


def check_same_bill(body: bytes, *, drift: bool = False) -> None:
    """Both clients must see the same bill (a benchmark of a wrong answer is worthless)."""
    ours_call, ours_close = ours(body)
    official_call, official_close = official(body)
    mine: Any = ours_call()
    theirs: Any = official_call()
    assert mine.id == theirs.id == BILL_ID
    assert len(mine.line_items) == len(theirs.line_items)
    assert (
        mine.line_items[-1].usage_per_pricing_band[1].unit_price
        == theirs.line_items[-1].usage_per_pricing_band[1].unit_price
    )
    if drift:
        assert mine.additional_properties == {"billNotes": "a field m3ter added after the spec was written"}
        assert mine.line_items[-1].additional_properties == {"taxCode": "VAT-20"}
    else:
        assert mine.additional_properties == {}, "the benchmark body should take the fast path"
    ours_close()
    official_close()


# -- memory (each in a fresh subprocess) --------------------------------------------------------------------

_MEMORY_CHILD = """
import gc, sys, tracemalloc
sys.path.insert(0, {bench_dir!r})
import bench_retrieve_bill as bench
body = bench.bill_body({items}, drift={drift})
call, close = bench.CONTENDERS[{name!r}](body)
call()  # warm up outside the measurement: token, decoder, lazy imports
gc.collect()
tracemalloc.start()
base = tracemalloc.get_traced_memory()[0]
result = call()
current, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
print(peak - base, current - base)
"""


def run_child(code: str, what: str) -> str:
    """Run ``code`` in a fresh interpreter and return its output; exit with the child's own error (its last
    lines, not a traceback of this process quoting the child's code) when it fails."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-3:])
        hint = " (the peers: python3 scripts/bootstrap.py --bench)" if "ModuleNotFoundError" in tail else ""
        raise SystemExit(f"{what}: the child process failed{hint}:\n{tail}")
    return done.stdout


def memory_of(name: str, items: int, drift: bool = False) -> tuple[int, int]:
    code = _MEMORY_CHILD.format(bench_dir=str(Path(__file__).parent), items=items, name=name, drift=drift)
    out = run_child(code, f"{name}, {items} items").split()
    return int(out[0]), int(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument(
        "--drift", action="store_true", help="bodies carry fields the spec does not know (the lenient path)"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    drift = " , bodies with unknown fields (lenient path)" if args.drift else ""
    print(f"Python {sys.version.split()[0]}, best of {args.runs}, in-memory transport{drift}")
    for items in sizes:
        body = bill_body(items, drift=args.drift)
        check_same_bill(body, drift=args.drift)
        times: dict[str, float] = {}
        for name, make in CONTENDERS.items():
            call, close = make(body)
            times[name] = best_of(call, args.runs)
            close()
        ours_t, sdk_t, orjson_t = times["m3ter-billing"], times["official m3ter SDK"], times["orjson.loads"]
        print(f"\n{items:,} line items ({len(body) / 1e6:.1f} MB)")
        for name, seconds in times.items():
            print(f"  {name:<20} {seconds * 1e3:9.2f} ms")
        verdict_sdk = "ok" if sdk_t / ours_t >= 3 else "MISSED"
        verdict_orjson = "ok" if ours_t / orjson_t <= 2 else "MISSED"
        print(f"  official SDK / m3ter-billing = {sdk_t / ours_t:5.2f}x  (target >= 3x: {verdict_sdk})")
        print(f"  m3ter-billing / orjson.loads = {ours_t / orjson_t:5.2f}x  (target <= 2x: {verdict_orjson})")

    if not args.no_memory:
        items = max(sizes)
        print(f"\npeak memory growth of one {items:,}-line retrieve (tracemalloc, fresh subprocess each)")
        peaks = {}
        for name in ("m3ter-billing", "official m3ter SDK", "orjson.loads"):
            peak, kept = memory_of(name, items, args.drift)
            peaks[name] = peak
            print(f"  {name:<20} peak {peak / 2**20:7.1f} MiB, result keeps {kept / 2**20:7.1f} MiB")
        ok = peaks["m3ter-billing"] <= peaks["official m3ter SDK"]
        print(
            f"  m3ter-billing / official SDK = {peaks['m3ter-billing'] / peaks['official m3ter SDK']:.2f}x "
            f"(target <= 1x: {'ok' if ok else 'MISSED'})"
        )


if __name__ == "__main__":
    main()
