"""Bounded memory, measured: a child process reads a gzip bomb and an endless body from a raw server on
127.0.0.1 with ``max_response_bytes`` = 16 MiB, and reports how much its peak RSS grew. Unbounded, the
bomb alone would take the child past 1 GiB; the margin allowed here (64 MiB over the limit) is generous."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LIMIT = 16 * 1024 * 1024
MARGIN = 64 * 1024 * 1024

CHILD = """
import json, resource, sys
from client.hostile import RawServer, api, chunk, gzip_bomb
from m3ter_billing import M3terBilling, ResponseTooLargeError

def bomb(exchange):
    exchange.head(200, {"Content-Encoding": "gzip", "Transfer-Encoding": "chunked"})
    for data in gzip_bomb():
        if exchange.stopped or not exchange.send(chunk(data)):
            return

def endless(exchange):
    exchange.head(200, {"Transfer-Encoding": "chunked"})
    piece = chunk(b" " * 65536)
    while not exchange.stopped and exchange.send(piece):
        pass

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux

body = {"bomb": bomb, "endless": endless}[sys.argv[1]]
with RawServer(api()) as warm, M3terBilling(base_url=warm.url, org_id="o", api_key="k", api_secret="s-123456",
                                             trust_env=False) as client:
    client.bills.retrieve("bill-1")  # imports, pools and caches are warm before the baseline
before = peak()
with RawServer(api(body)) as server, M3terBilling(base_url=server.url, org_id="o", api_key="k",
        api_secret="s-123456", trust_env=False, max_response_bytes=int(sys.argv[2])) as client:
    try:
        client.bills.retrieve("bill-1")
        outcome = "read"
    except ResponseTooLargeError:
        outcome = "refused"
print(json.dumps({"outcome": outcome, "growth": peak() - before}))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux")
@pytest.mark.parametrize("body", ["bomb", "endless"])
def test_peak_memory_stays_near_max_response_bytes(body: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, body, str(LIMIT)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["outcome"] == "refused"
    assert report["growth"] < LIMIT + MARGIN, report
