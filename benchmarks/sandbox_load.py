"""The HTTP sandbox under bounded load: throughput against Prism, and its memory under distinct Hosts, token
churn and a huge bill, side by side in one run (optionally against an earlier commit's sandbox too).

    .venv/bin/python benchmarks/sandbox_load.py [--requests 5000] [--hosts 200] [--tokens 50000]
        [--huge-items 20000] [--huge-connections 128] [--before REF] [--skip-prism]

Every server runs in its own process on 127.0.0.1 (``m3ter-sandbox serve --port 0 --json --rate-limit 0``; Prism
as in sandbox_vs_prism.py, whose minimal keep-alive HTTP/1.1 client this reuses). Scenarios:

- throughput: GetBill on the seeded DAILY bill (3 line items), 32 and 256 keep-alive connections, sandbox vs Prism;
- hosts: ``--hosts`` GetBill requests on the 2,000-item bill, each with a distinct ``Host`` header: RSS growth;
- tokens: ``--tokens`` token requests over 32 connections: RSS growth;
- huge: a sandbox whose large bill has ``--huge-items`` line items (18.8 MB for 20,000), read once by each of
  ``--huge-connections`` connections at once; the client discards the body as it arrives (it never holds a
  whole one): the server's peak RSS (``VmHWM``), socket errors, wall time.

RSS is the server's ``VmRSS`` (``/proc/<pid>/status``) after a warm-up of the same scenario, and again after it.
With ``--before REF`` the memory scenarios also run against REF's sandbox (``git worktree add`` into a temporary
directory, removed at the end) and the ratios are printed. Bounded in requests and time; not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import contextlib

from sandbox_vs_prism import find_prism, run_load, start_prism, stop

ROOT = Path(__file__).resolve().parents[1]
_LENGTH = re.compile(rb"(?i)\r\ncontent-length:\s*(\d+)")
_TIMEOUT = 120.0


@dataclass
class Server:
    process: subprocess.Popen[str]
    details: dict[str, object]

    @property
    def port(self) -> int:
        return int(str(self.details["url"]).rsplit(":", 1)[1])

    def status(self, field: str) -> float:
        """``VmRSS`` / ``VmHWM`` of the server process, MiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no {field} for {self.process.pid}")


def start(tree: Path, *extra: str) -> Server:
    command = [sys.executable, "-m", "m3ter_contract.sandbox.cli", "serve", "--port", "0", "--json"]
    command += ["--rate-limit", "0", *extra]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree / "contract_tests"), str(tree / "generated")])}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=tree)
    assert process.stdout is not None
    return Server(process, json.loads(process.stdout.readline()))


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, int]:
    """One request on a keep-alive connection; the body is read and dropped 64 KiB at a time."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    match = _LENGTH.search(head)
    if match is None:
        raise RuntimeError("response without Content-Length")
    left = size = int(match.group(1))
    while left:
        chunk = await reader.read(min(left, 65536))
        if not chunk:
            raise asyncio.IncompleteReadError(b"", left)
        left -= len(chunk)
    return int(head[9:12]), size


async def _drive(port: int, requests: list[bytes], connections: int) -> tuple[int, int, int]:
    """Send ``requests`` over ``connections`` keep-alive connections: (non-200 answers, socket errors, bytes)."""
    queue = list(reversed(requests))
    bad = failed = received = 0

    async def worker() -> None:
        nonlocal bad, failed, received
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        except OSError:
            failed += 1
            return
        try:
            while queue:
                status, size = await _exchange(reader, writer, queue.pop())
                received += size
                bad += status != 200
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            failed += 1
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(connections))), _TIMEOUT)
    return bad, failed, received


def _get(path: str, host: str, token: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()


def _token_request(server: Server) -> bytes:
    basic = base64.b64encode(f"{server.details['api_key']}:{server.details['api_secret']}".encode()).decode()
    body = b"grant_type=client_credentials"
    return (
        f"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAuthorization: Basic {basic}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _token(server: Server) -> str:
    async def one() -> str:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(_token_request(server))
        head = await reader.readuntil(b"\r\n\r\n")
        match = _LENGTH.search(head)
        assert match is not None
        body = await reader.readexactly(int(match.group(1)))
        writer.close()
        token: str = json.loads(body)["access_token"]
        return token

    return asyncio.run(one())


def _largest_bill(server: Server, token: str) -> str:
    org = server.details["org_id"]
    sizes: dict[str, int] = {}
    bill_ids: list[str] = server.details["bill_ids"]  # type: ignore[assignment]
    for bill_id in bill_ids:
        request = _get(f"/organizations/{org}/bills/{bill_id}", f"127.0.0.1:{server.port}", token)
        sizes[bill_id] = asyncio.run(_drive(server.port, [request], 1))[2]
    return max(sizes, key=lambda key: sizes[key])


def hosts_growth(tree: Path, hosts: int) -> tuple[float, int]:
    server = start(tree)
    try:
        token = _token(server)
        path = f"/organizations/{server.details['org_id']}/bills/{_largest_bill(server, token)}"
        warm = [_get(path, f"warm-{n}.example:{server.port}", token) for n in range(5)]
        asyncio.run(_drive(server.port, warm, 5))
        before = server.status("VmRSS")
        requests = [_get(path, f"host-{n}.example:{server.port}", token) for n in range(hosts)]
        bad, failed, _ = asyncio.run(_drive(server.port, requests, 32))
        return server.status("VmRSS") - before, bad + failed
    finally:
        stop(server.process)


def tokens_growth(tree: Path, tokens: int) -> tuple[float, int, float]:
    server = start(tree)
    try:
        request = _token_request(server)
        asyncio.run(_drive(server.port, [request] * 2_000, 32))
        before = server.status("VmRSS")
        started = time.perf_counter()
        bad, failed, _ = asyncio.run(_drive(server.port, [request] * tokens, 32))
        seconds = time.perf_counter() - started
        return server.status("VmRSS") - before, bad + failed, tokens / seconds
    finally:
        stop(server.process)


def huge_bill(tree: Path, items: int, connections: int) -> dict[str, float]:
    server = start(tree, "--large-bill-line-items", str(items))
    try:
        token = _token(server)
        path = f"/organizations/{server.details['org_id']}/bills/{_largest_bill(server, token)}"
        idle = server.status("VmRSS")
        started = time.perf_counter()
        requests = [_get(path, f"127.0.0.1:{server.port}", token) for _ in range(connections)]
        bad, failed, received = asyncio.run(_drive(server.port, requests, connections))
        seconds = time.perf_counter() - started
        return {
            "idle": idle,
            "peak": server.status("VmHWM"),
            "errors": bad + failed,
            "seconds": seconds,
            "body_mb": received / connections / 1e6 if connections else 0.0,
        }
    finally:
        stop(server.process)


def throughput(requests: int, skip_prism: bool) -> None:
    server = start(ROOT)
    rows = []
    try:
        token = _token(server)
        path = f"/organizations/{server.details['org_id']}/bills/{server.details['bill_ids'][1]}"  # type: ignore[index]
        for connections in (32, 256):
            rows.append(run_load("sandbox", f"GetBill/{connections}", server.port, path, token, requests, connections))
    finally:
        stop(server.process)
    prism = None if skip_prism else find_prism()
    if prism is not None:
        process, port = start_prism(prism)
        try:
            for connections in (32, 256):
                rows.append(
                    run_load(
                        "prism", f"GetBill/{connections}", port, "/organizations/o/bills/b", "t", requests, connections
                    )
                )
        finally:
            stop(process)
    print(f"\n{'server':8} {'load':13} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for row in rows:
        print(
            f"{row.server:8} {row.endpoint:13} {row.rps:8.0f} {row.percentile(0.5):8.2f} {row.percentile(0.99):8.2f} "
            f"{row.errors:7d}"
        )
    by = {(row.server, row.endpoint): row for row in rows}
    for connections in (32, 256):
        ours, theirs = by.get(("sandbox", f"GetBill/{connections}")), by.get(("prism", f"GetBill/{connections}"))
        if ours and theirs:
            print(f"small bill, {connections} connections: sandbox / Prism throughput {ours.rps / theirs.rps:.2f}x")
    if prism is None:
        print("Prism not run (--skip-prism, or not installed: npm install --prefix /tmp/prism @stoplight/prism-cli)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5_000, help="requests per throughput run")
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=50_000)
    parser.add_argument("--huge-items", type=int, default=20_000)
    parser.add_argument("--huge-connections", type=int, default=128)
    parser.add_argument("--before", default=None, help="also measure this git ref's sandbox (memory scenarios)")
    parser.add_argument("--skip-prism", action="store_true")
    args = parser.parse_args(argv)

    print("m3ter sandbox under bounded load, 127.0.0.1 only; per-Organization rate limit off (--rate-limit 0)")
    throughput(args.requests, args.skip_prism)

    with tempfile.TemporaryDirectory(prefix="sandbox-load-") as scratch:
        trees = {"after": ROOT}
        if args.before:
            old = Path(scratch) / "before"
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(old), args.before], cwd=ROOT, check=True, capture_output=True
            )
            trees = {"before": old, "after": ROOT}
        try:
            results: dict[str, dict[str, float]] = {}
            for label, tree in trees.items():
                growth, errors = hosts_growth(tree, args.hosts)
                token_growth, token_errors, token_rps = tokens_growth(tree, args.tokens)
                huge = huge_bill(tree, args.huge_items, args.huge_connections)
                results[label] = {
                    "hosts": growth,
                    "hosts_errors": errors,
                    "tokens": token_growth,
                    "token_errors": token_errors,
                    "token_rps": token_rps,
                    **{f"huge_{key}": value for key, value in huge.items()},
                }
        finally:
            if args.before:
                subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=False)

    print(
        f"\n{'sandbox':7} {'+RSS hosts':>11} {'+RSS tokens':>12} {'token/s':>8} {'huge body':>10} "
        f"{'peak RSS':>9} {'errors':>7} {'huge s':>7}"
    )
    for label, r in results.items():
        print(
            f"{label:7} {r['hosts']:8.1f} MiB {r['tokens']:9.1f} MiB {r['token_rps']:8.0f} {r['huge_body_mb']:7.1f} MB "
            f"{r['huge_peak']:5.0f} MiB {int(r['huge_errors'] + r['hosts_errors'] + r['token_errors']):7d} "
            f"{r['huge_seconds']:7.1f}"
        )
    after = results["after"]
    print(
        f"\ntargets: huge peak {after['huge_peak']:.0f} MiB (< 300, errors {int(after['huge_errors'])} = 0); "
        f"+{after['hosts']:.1f} MiB after {args.hosts} Hosts (< 20); +{after['tokens']:.1f} MiB after "
        f"{args.tokens} tokens (< 5)"
    )
    if "before" in results:
        before = results["before"]
        print(
            f"before / after: huge peak {before['huge_peak'] / after['huge_peak']:.1f}x, "
            f"huge wall time {before['huge_seconds'] / after['huge_seconds']:.1f}x, token req/s "
            f"{after['token_rps'] / before['token_rps']:.2f}x (after / before)"
        )
    ok = after["huge_peak"] < 300 and after["huge_errors"] == 0 and after["hosts"] < 20 and after["tokens"] < 5
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
