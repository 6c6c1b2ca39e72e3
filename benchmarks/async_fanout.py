"""Async fan-out of Retrieve Bill against the sandbox over loopback HTTP (127.0.0.1, rate limit off): our
async client on its default backend (httpx) and on the aiohttp extra, bare ``httpx.AsyncClient`` +
msgspec, ``aiohttp`` + ``msgspec.json.decode``, and the official SDK's async client, side by side in one run.

    .venv/bin/python benchmarks/async_fanout.py [--tasks 32,256] [--requests 2000] [--max-seconds 20] [--rounds 1]

Not a test: for each body (the seeded 3-item bill and the 2,000-item bill) and each number of concurrent
tasks it prints requests per second (successful calls), client CPU per request (``time.process_time`` of
this process; the sandbox runs in its own), TCP connections the client opened (counted at
``loop.create_connection``, which httpcore and aiohttp both go through), the calls that failed (by
exception) and ratios. Each cell is bounded in requests and in seconds. With ``--rounds N`` every contender
runs N times per cell, in an order that alternates from round to round; the table shows each contender's
medians and the ratio line the median and the range of the N paired rounds (the machine's load moves single
runs a lot: bare aiohttp + msgspec ranged 4,589-6,933 req/s in four runs of one session). Targets (issue
10): the aiohttp extra at 32 tasks on small bills at least 0.6x aiohttp + msgspec and at least 5x the
default async client of before.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec

ROOT = Path(__file__).resolve().parent.parent
Call = Callable[[str], Awaitable[Any]]


@dataclass
class Sandbox:
    url: str
    org_id: str
    api_key: str
    api_secret: str
    token: str
    small: str
    large: str


@dataclass
class Cell:
    name: str
    done: int
    seconds: float
    cpu: float
    connections: int
    errors: dict[str, int]

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu / self.done if self.done else float("nan")


# -- connections opened ----------------------------------------------------------------------------------

OPENED = 0


def count_connections() -> None:
    original = asyncio.base_events.BaseEventLoop.create_connection

    async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        global OPENED
        OPENED += 1
        return await original(self, *args, **kwargs)

    asyncio.base_events.BaseEventLoop.create_connection = counted  # type: ignore[method-assign]


# -- the sandbox -----------------------------------------------------------------------------------------


def start_sandbox() -> tuple[subprocess.Popen[str], Sandbox]:
    command = [sys.executable, "-m", "m3ter_contract.sandbox.cli", "serve", "--port", "0", "--json"]
    command += ["--rate-limit", "0"]
    extra = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "contract_tests"), extra]))}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    details = json.loads(process.stdout.readline())
    basic = base64.b64encode(f"{details['api_key']}:{details['api_secret']}".encode()).decode()
    request = urllib.request.Request(
        f"{details['url']}/oauth/token",
        data=b"grant_type=client_credentials",
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        token = json.load(response)["access_token"]
    sizes: dict[str, int] = {}
    for bill_id in details["bill_ids"]:
        request = urllib.request.Request(
            f"{details['url']}/organizations/{details['org_id']}/bills/{bill_id}",
            headers={"Authorization": f"Bearer {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                sizes[bill_id] = len(json.load(response).get("lineItems") or [])
        except urllib.error.HTTPError:
            continue  # a bill of the other Organization
    small = min((b for b, n in sizes.items() if n > 0), key=lambda b: sizes[b])
    large = max(sizes, key=lambda b: sizes[b])
    print(f"sandbox {details['url']}: small bill {sizes[small]} line items, large bill {sizes[large]} line items")
    sandbox = Sandbox(details["url"], details["org_id"], details["api_key"], details["api_secret"], token, small, large)
    return process, sandbox


# -- the contenders --------------------------------------------------------------------------------------


async def ours(sandbox: Sandbox, backend: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    from m3ter_billing import AsyncM3terBilling

    # The keyword only when it is not the default: an older checkout (PYTHONPATH=<old>/generated, to compare
    # with the client before this change) does not know it.
    choice: dict[str, Any] = {} if backend == "httpx" else {"http_backend": backend}
    client = AsyncM3terBilling(
        base_url=sandbox.url,
        org_id=sandbox.org_id,
        api_key=sandbox.api_key,
        api_secret=sandbox.api_secret,
        trust_env=False,
        **choice,
    )
    return client.bills.retrieve, client.close


async def bare_httpx(sandbox: Sandbox) -> tuple[Call, Callable[[], Awaitable[None]]]:
    client = httpx.AsyncClient(headers={"Authorization": f"Bearer {sandbox.token}"}, trust_env=False)
    base = f"{sandbox.url}/organizations/{sandbox.org_id}/bills/"

    async def call(bill_id: str) -> Any:
        response = await client.get(base + bill_id)
        response.raise_for_status()
        return msgspec.json.decode(response.content)

    return call, client.aclose


async def bare_aiohttp(sandbox: Sandbox) -> tuple[Call, Callable[[], Awaitable[None]]]:
    import aiohttp

    session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {sandbox.token}"})
    base = f"{sandbox.url}/organizations/{sandbox.org_id}/bills/"

    async def call(bill_id: str) -> Any:
        async with session.get(base + bill_id) as response:
            response.raise_for_status()
            return msgspec.json.decode(await response.read())

    return call, session.close


async def official_sdk(sandbox: Sandbox) -> tuple[Call, Callable[[], Awaitable[None]]]:
    from m3ter import AsyncM3ter

    # The SDK's async client never fetches a token itself: it is given the one fetched up front.
    client = AsyncM3ter(
        api_key=sandbox.api_key,
        api_secret=sandbox.api_secret,
        token=sandbox.token,
        org_id=sandbox.org_id,
        base_url=sandbox.url,
    )

    async def call(bill_id: str) -> Any:
        return await client.bills.retrieve(bill_id)

    return call, client.close


CONTENDERS: dict[str, Callable[[Sandbox], Awaitable[tuple[Call, Callable[[], Awaitable[None]]]]]] = {
    "ours (httpx, default)": lambda s: ours(s, "httpx"),
    "ours (aiohttp extra)": lambda s: ours(s, "aiohttp"),
    "httpx.AsyncClient + msgspec": bare_httpx,
    "aiohttp + msgspec": bare_aiohttp,
    "official SDK async": official_sdk,
}


async def run_cell(name: str, sandbox: Sandbox, bill_id: str, tasks: int, requests: int, limit: float) -> Cell:
    call, close = await CONTENDERS[name](sandbox)
    errors: dict[str, int] = {}

    async def counted() -> bool:
        # A contender that fails a call (bare httpx's pool timeout at 256 tasks on large bills, say) is
        # reported with its errors, not allowed to end the run.
        try:
            await call(bill_id)
        except Exception as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            return False
        return True

    try:
        # Warm-up, bounded like the cell: the token, and the connections a burst of `tasks` calls needs.
        warm_until = time.monotonic() + limit / 2
        for _ in range(3):
            await asyncio.gather(*(counted() for _ in range(tasks)))
            if time.monotonic() > warm_until:
                break
        errors.clear()
        opened = OPENED
        issued = 0
        done = 0
        stop_at = time.monotonic() + limit

        async def worker() -> None:
            nonlocal issued, done
            while issued < requests and time.monotonic() < stop_at:
                issued += 1
                # Not `done += await counted()`: that reads `done` before the await, so the other tasks'
                # increments made meanwhile were lost (the counts, and every rate, came out too low).
                ok = await counted()
                done += ok

        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(tasks)))
        return Cell(name, done, time.perf_counter() - wall, time.process_time() - cpu, OPENED - opened, errors)
    finally:
        await close()


def _median_cell(runs: list[Cell]) -> Cell:
    """One contender's runs of a cell as one row: the median rate and CPU per call, the most connections
    opened, every error counted."""
    if len(runs) == 1:
        return runs[0]
    middle = sorted(runs, key=lambda c: c.rate)[len(runs) // 2]
    errors: dict[str, int] = {}
    for run in runs:
        for kind, n in run.errors.items():
            errors[kind] = errors.get(kind, 0) + n
    cpu_ms = statistics.median(c.cpu_ms for c in runs)
    return Cell(
        middle.name,
        middle.done,
        middle.seconds,
        cpu_ms * middle.done / 1000,
        max(c.connections for c in runs),
        errors,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="32,256", help="concurrent tasks, comma separated")
    parser.add_argument("--requests", type=int, default=2000, help="requests per cell (small bills)")
    parser.add_argument("--large-requests", type=int, default=400, help="requests per cell (2,000-item bill)")
    parser.add_argument("--max-seconds", type=float, default=20.0, help="time bound per cell")
    parser.add_argument("--bills", default="small,large", help="which bills: small, large or both (comma separated)")
    parser.add_argument("--only", default="", help="comma separated contender names to run (default all)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="runs of every contender per cell, in alternating order; medians and ranges are printed",
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    names = [n for n in CONTENDERS if not args.only or any(part in n for part in args.only.split(","))]
    count_connections()
    process, sandbox = start_sandbox()
    import m3ter_billing

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; the sandbox runs in its own process")
    print(f"m3ter_billing from {Path(m3ter_billing.__file__).parent}")
    try:
        bills = (
            ("small", "small bill", sandbox.small, args.requests),
            ("large", "2,000-item bill", sandbox.large, args.large_requests),
        )
        for _, label, bill_id, requests in (bill for bill in bills if bill[0] in args.bills.split(",")):
            for tasks in (int(t) for t in args.tasks.split(",")):
                print(f"\n{label}, {tasks} tasks (at most {requests} requests, {args.max_seconds:.0f} s per cell)")
                print(f"  {'client':30} {'req/s':>8} {'CPU ms/req':>10} {'TCP opened':>10} {'vs default':>10}  errors")
                rounds = [
                    {
                        n: asyncio.run(run_cell(n, sandbox, bill_id, tasks, requests, args.max_seconds))
                        for n in (names if r % 2 == 0 else names[::-1])  # alternating: a drifting machine evens out
                    }
                    for r in range(args.rounds)
                ]
                cells = [_median_cell([each[n] for each in rounds]) for n in names]
                base = next((c.rate for c in cells if c.name.startswith("ours (httpx")), 0.0)
                for c in cells:
                    ratio = f"{c.rate / base:.2f}x" if base else "-"
                    failed = ", ".join(f"{n} {kind}" for kind, n in sorted(c.errors.items())) or "0"
                    print(f"  {c.name:30} {c.rate:8.0f} {c.cpu_ms:10.3f} {c.connections:10d} {ratio:>10}  {failed}")
                fast, floor = "ours (aiohttp extra)", "aiohttp + msgspec"
                ratios = [
                    each[fast].rate / each[floor].rate
                    for each in rounds
                    if fast in each and floor in each and each[floor].rate
                ]
                if len(ratios) == 1:
                    print(f"  aiohttp extra / aiohttp + msgspec: {ratios[0]:.2f}x req/s")
                elif ratios:
                    spread = f"{min(ratios):.2f}-{max(ratios):.2f}x"
                    print(
                        f"  aiohttp extra / aiohttp + msgspec: median {statistics.median(ratios):.2f}x req/s "
                        f"over {len(ratios)} paired rounds ({spread})"
                    )
    finally:
        process.terminate()
        process.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
