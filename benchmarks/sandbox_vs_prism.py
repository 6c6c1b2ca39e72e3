"""Throughput and latency of the HTTP sandbox against Prism's static mock, side by side.

    .venv/bin/python benchmarks/sandbox_vs_prism.py [--requests 10000] [--concurrency 32]

Starts `m3ter-sandbox serve` (rate limit disabled: m3ter's 50 requests/s per Organization would turn
almost every request into a 429) and, if it is installed, `prism mock spec/m3ter-billing.yaml`, each on
its own 127.0.0.1 port in its own process; drives both endpoints with the same bounded keep-alive load
from a minimal asyncio HTTP/1.1 client (so the client is not the bottleneck); prints requests/s, latency
percentiles, errors and ratios; stops everything it started. Prism is looked up in $PRISM, on PATH, and in
/tmp/prism (`npm install --prefix /tmp/prism @stoplight/prism-cli`); without it the Prism half is skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "spec" / "m3ter-billing.yaml"
_LENGTH = re.compile(rb"(?i)\r\ncontent-length:\s*(\d+)")
_CHUNKED = re.compile(rb"(?i)\r\ntransfer-encoding:\s*chunked")


@dataclass
class Result:
    server: str
    endpoint: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    body_bytes: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    match = _LENGTH.search(head)
    if match is not None:
        body = await reader.readexactly(int(match.group(1)))
        return status, len(body)
    if _CHUNKED.search(head):
        size_total = 0
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            size_total += size
            if size == 0:
                return status, size_total
    raise RuntimeError("response without Content-Length or chunked encoding")


async def _load(port: int, request: bytes, total: int, concurrency: int) -> tuple[int, float, list[float], int]:
    remaining = total
    latencies: list[float] = []
    errors = 0
    size = 0

    async def worker() -> None:
        nonlocal remaining, errors, size
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                writer.write(request)
                status, size = await _read_response(reader)
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    errors += 1
        finally:
            writer.close()
            await writer.wait_closed()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return errors, time.perf_counter() - started, latencies, size


def run_load(server: str, endpoint: str, port: int, path: str, token: str, total: int, concurrency: int) -> Result:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: application/json\r\n\r\n"
    ).encode()
    asyncio.run(_load(port, request, min(500, total), concurrency))  # warm-up
    errors, seconds, latencies, size = asyncio.run(_load(port, request, total, concurrency))
    return Result(server, endpoint, total, errors, seconds, latencies, size)


def _has_httptools() -> bool:
    extra = os.environ.get("PYTHONPATH", "")
    code = "import importlib.util,sys; sys.exit(importlib.util.find_spec('httptools') is None)"
    env = {**os.environ, "PYTHONPATH": extra}
    return subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_sandbox() -> tuple[subprocess.Popen[str], dict[str, object]]:
    command = [
        sys.executable,
        "-m",
        "m3ter_contract.sandbox.cli",
        "serve",
        "--port",
        "0",
        "--json",
        "--rate-limit",
        "0",
    ]
    extra = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "contract_tests"), extra]))}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    details: dict[str, object] = json.loads(process.stdout.readline())
    return process, details


def sandbox_token(details: dict[str, object]) -> str:
    basic = base64.b64encode(f"{details['api_key']}:{details['api_secret']}".encode()).decode()
    request = urllib.request.Request(
        f"{details['url']}/oauth/token",
        data=b"grant_type=client_credentials",
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        token: str = json.load(response)["access_token"]
        return token


def find_prism() -> str | None:
    for candidate in (os.environ.get("PRISM"), shutil.which("prism"), "/tmp/prism/node_modules/.bin/prism"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def start_prism(binary: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [binary, "mock", str(SPEC), "-h", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, port
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("prism did not start within 60 s")


def stop(process: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000, help="requests per endpoint per server")
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive connections")
    args = parser.parse_args()

    results: list[Result] = []
    print("m3ter sandbox vs Prism: bounded loopback load, 127.0.0.1 only")
    print(f"{args.requests} requests per endpoint and server, {args.concurrency} keep-alive connections")
    print("sandbox: stateful (tokens checked, jobs advanced on read, versions tracked);")
    print("         per-Organization rate limit DISABLED (--rate-limit 0) for this benchmark")
    parser_name = "httptools" if _has_httptools() else "h11 (pure Python; install httptools for uvicorn's fast parser)"
    print(f"         uvicorn HTTP parser: {parser_name}")

    sandbox, details = start_sandbox()
    try:
        port = int(str(details["url"]).rsplit(":", 1)[1])
        token = sandbox_token(details)
        org = details["org_id"]
        bill_id = details["bill_ids"][1]  # type: ignore[index]  # the seeded DAILY bill (3 line items)
        job_id = details["statement_job_ids"][0]  # type: ignore[index]  # a COMPLETE job with JSON and CSV URLs
        paths = {
            "GetBill": f"/organizations/{org}/bills/{bill_id}",
            "GetStatementJob": f"/organizations/{org}/statementjobs/{job_id}",
        }
        for endpoint, path in paths.items():
            results.append(run_load("sandbox", endpoint, port, path, token, args.requests, args.concurrency))
    finally:
        stop(sandbox)

    prism = find_prism()
    if prism is None:
        print("\nPrism is not installed: skipping it (npm install --prefix /tmp/prism @stoplight/prism-cli)")
    else:
        process, port = start_prism(prism)
        try:
            paths = {
                "GetBill": "/organizations/org-1/bills/bill-1",
                "GetStatementJob": "/organizations/org-1/statementjobs/job-1",
            }
            for endpoint, path in paths.items():
                results.append(run_load("prism", endpoint, port, path, "prism-token", args.requests, args.concurrency))
        finally:
            stop(process)

    print(f"\n{'server':8} {'endpoint':16} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'body B':>7}")
    for result in results:
        print(
            f"{result.server:8} {result.endpoint:16} {result.rps:9.0f} {result.percentile(0.5):8.2f} "
            f"{result.percentile(0.99):8.2f} {result.errors:7d} {result.body_bytes:7d}"
        )
    by_key = {(r.server, r.endpoint): r for r in results}
    for endpoint in ("GetBill", "GetStatementJob"):
        ours, theirs = by_key.get(("sandbox", endpoint)), by_key.get(("prism", endpoint))
        if ours and theirs:
            print(
                f"{endpoint}: sandbox/prism throughput {ours.rps / theirs.rps:.2f}x, "
                f"p50 latency {ours.percentile(0.5) / theirs.percentile(0.5):.2f}x"
            )
    return 1 if any(r.errors for r in results if r.server == "sandbox") else 0


if __name__ == "__main__":
    sys.exit(main())
