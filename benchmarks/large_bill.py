"""Huge bills: 10k, 50k and 100k line items through m3ter-billing, bare httpx + ``orjson.loads``, and the
official ``m3ter`` SDK, side by side in one run: time per line item, how it grows with the bill, and the
peak RSS growth of one retrieve.

    .venv/bin/python benchmarks/large_bill.py [--sizes 10000,50000,100000] [--runs 3] [--rounds 1] [--skip-sdk]

Not a test. Every contender runs in a fresh subprocess per size (so neither pays for the other's heap or
caches), over the same in-memory ``httpx.MockTransport``, with the body read from a file (built by this
process, so building it does not count in the child's peak RSS). Each child warms up on a 1-item bill,
measures the peak RSS growth of one retrieve (Linux: the peak ``VmHWM`` is reset through
``/proc/self/clear_refs`` first, so earlier peaks do not hide it), then the best of ``--runs`` retrieves with
``time.perf_counter`` and with ``time.process_time`` (CPU), counting the cyclic collector's full passes
(generation 2) during each. Targets (issue 10): per-item cost at 100k within 1.15x of 10k; at most 0.7x the time
of httpx + orjson.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_retrieve_bill as bench  # same body, transport and contenders

_CHILD = r"""
import gc, json, resource, sys, time
sys.path.insert(0, {bench_dir!r})
import httpx
import bench_retrieve_bill as bench

body = open({path!r}, "rb").read()
small = bench.bill_body(1)
current = {{"body": small}}


def transport():
    def handler(request):
        if request.url.path == "/oauth/token":
            return httpx.Response(200, content=bench.TOKEN_BODY, headers={{"Content-Type": "application/json"}})
        return httpx.Response(200, content=current["body"], headers={{"Content-Type": "application/json"}})
    return httpx.MockTransport(handler)


name = {name!r}
if name == "m3ter-billing":
    from m3ter_billing import M3terBilling
    client = M3terBilling(base_url=bench.BASE_URL, org_id=bench.ORG_ID, api_key="key", api_secret="secret-value",
                          transport=transport())
    call = lambda: client.bills.retrieve(bench.BILL_ID)
    count = lambda bill: len(bill.line_items)
elif name == "httpx + orjson":
    import orjson
    http = httpx.Client(transport=transport(), base_url=bench.BASE_URL)
    url = f"/organizations/{{bench.ORG_ID}}/bills/{{bench.BILL_ID}}"
    call = lambda: orjson.loads(http.get(url, headers={{"Authorization": "Bearer bench-token"}}).content)
    count = lambda bill: len(bill["lineItems"])
else:
    import m3ter
    http = httpx.Client(transport=transport())
    client = m3ter.M3ter(api_key="key", api_secret="secret-value", org_id=bench.ORG_ID, base_url=bench.BASE_URL,
                         http_client=http)
    call = lambda: client.bills.retrieve(bench.BILL_ID)
    count = lambda bill: len(bill.line_items)

def status_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


call()  # warm up on a 1-item bill: token, imports, decoders
current["body"] = body
gc.collect()
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")  # reset the peak (VmHWM) to the current RSS
before = status_kib("VmRSS")
result = call()
peak = status_kib("VmHWM") - before
items = count(result)
del result
full = [0]
gc.callbacks.append(lambda phase, info: full.__setitem__(0, full[0] + (phase == "start" and info["generation"] == 2)))
best = cpu = user = system = faults = float("inf")
for _ in range({runs}):
    usage = resource.getrusage(resource.RUSAGE_SELF)
    start, start_cpu = time.perf_counter(), time.process_time()
    result = call()
    best = min(best, time.perf_counter() - start)
    spent = time.process_time() - start_cpu
    after = resource.getrusage(resource.RUSAGE_SELF)
    if spent < cpu:  # the split of the best run in CPU time (getrusage ticks are coarse: read it roughly)
        cpu, user, system = spent, after.ru_utime - usage.ru_utime, after.ru_stime - usage.ru_stime
        faults = after.ru_minflt - usage.ru_minflt
    del result
print(json.dumps({{"items": items, "seconds": best, "cpu": cpu, "user": user, "system": system, "faults": faults,
                  "peak_kib": peak, "full_gc": full[0] / {runs}}}))
"""

CONTENDERS = ("m3ter-billing", "httpx + orjson", "official m3ter SDK")


def run_child(name: str, path: Path, runs: int) -> dict[str, float]:
    code = _CHILD.format(bench_dir=str(Path(__file__).resolve().parent), path=str(path), name=name, runs=runs)
    out = bench.run_child(code, f"{name}, {path.name}")
    return dict(json.loads(out.strip().splitlines()[-1]))


_RATIOS = (("seconds", "wall"), ("cpu", "CPU"), ("user", "user"), ("system", "system"), ("faults", "faults"))


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,50000,100000")
    parser.add_argument("--runs", type=int, default=3, help="retrieves per child process (the best one counts)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="child processes per contender and size; the table shows medians"
    )
    parser.add_argument("--skip-sdk", action="store_true", help="leave out the official SDK (slow at 100k)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    names = [n for n in CONTENDERS if not (args.skip_sdk and n == "official m3ter SDK")]

    print(
        f"Python {sys.version.split()[0]}, best of {args.runs} per process, {args.rounds} round(s) of fresh processes,"
        " in-memory transport"
    )
    rounds: dict[tuple[str, int], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for items in sizes:
            paths[items] = Path(tmp) / f"bill-{items}.json"
            paths[items].write_bytes(bench.bill_body(items))
        for round_ in range(args.rounds):  # sizes and contenders alternate, so a slow spell hits them alike
            order = [(items, name) for items in sizes for name in names]
            for items, name in order if round_ % 2 == 0 else reversed(order):
                got = run_child(name, paths[items], args.runs)
                assert got["items"] == items, (name, got)
                rounds.setdefault((name, items), []).append(got)
        for items in sizes:
            print(f"\n{items:,} line items ({paths[items].stat().st_size / 1e6:.1f} MB)")
            results = {name: _median(rounds[(name, items)]) for name in names}
            for name, got in results.items():
                print(
                    f"  {name:<20} {got['seconds'] * 1e3:9.1f} ms  {got['seconds'] / items * 1e6:6.2f} us/item  "
                    f"CPU {got['cpu'] / items * 1e6:6.2f} us/item  peak RSS +{got['peak_kib'] / 1024:7.1f} MiB  "
                    f"full GC passes per call {got['full_gc']:.1f}"
                )
                print(
                    f"  {'':<20} {'':>9}     of which user {got['user'] / items * 1e6:6.2f} us/item, "
                    f"system {got['system'] / items * 1e6:5.2f} us/item, "
                    f"page faults {got['faults'] / items:5.2f} per item"
                )
            ours = results["m3ter-billing"]
            for name in names[1:]:
                other = results[name]
                print(
                    f"  m3ter-billing / {name:<19} time {ours['seconds'] / other['seconds']:5.2f}x   "
                    f"peak RSS {ours['peak_kib'] / max(other['peak_kib'], 1):5.2f}x"
                )
    first, last = sizes[0], sizes[-1]
    print(
        f"\nper-item cost at {last:,} / at {first:,} (target for m3ter-billing <= 1.15x): wall time, CPU time, the"
        " CPU time's user and system parts (system: mostly the kernel's page faults), and page faults per item;"
        f" median of {args.rounds} round(s), with the range"
    )
    for name in names:
        parts = []
        for key, label in _RATIOS:
            ratios = [
                (big[key] / last) / max(small[key] / first, 1e-12)
                for small, big in zip(rounds[(name, first)], rounds[(name, last)], strict=True)
            ]
            spread = f" ({min(ratios):.2f}-{max(ratios):.2f})" if len(ratios) > 1 else ""
            parts.append(f"{label} {statistics.median(ratios):.2f}x{spread}")
        print(f"  {name:<20} " + "   ".join(parts))


if __name__ == "__main__":
    main()
