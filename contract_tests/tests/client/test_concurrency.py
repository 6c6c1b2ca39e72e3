"""Many callers on one client over real HTTP (the sandbox on 127.0.0.1, a pool of 100 connections): at token
expiry exactly one token request is sent and every call completes; with a wrong org id every caller gets
PermissionDeniedError for at most two token requests. Before the fix, callers holding unread 403 responses
starved the token request of a connection and the process hung (pytest's faulthandler timeout catches it).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from m3ter_billing import AsyncM3terBilling, M3terBilling, PermissionDeniedError, StatementJobResponse
from m3ter_contract.sandbox import Sandbox, SandboxServer

from .sandbox_support import sandbox_fixture, sandbox_options  # noqa: F401 - fixtures
from .support import API_KEY, API_SECRET, ORG_ID, FakeClock

THREADS = 500
TASKS = 2_000
WRONG_ORG = "0c0ffee0-0000-4000-8000-000000000000"


@pytest.fixture
def server(sandbox: Sandbox) -> Iterator[SandboxServer[Sandbox]]:
    with SandboxServer(sandbox) as running:
        yield running


def options(sandbox: Sandbox, server: SandboxServer[Sandbox], **extra: Any) -> dict[str, Any]:
    return sandbox_options(sandbox, server.url, trust_env=False, **extra)


def in_threads(count: int, call: Any) -> list[Any]:
    """Run ``call`` in ``count`` threads released together; results or exceptions, in order."""
    barrier = threading.Barrier(count)

    def run() -> Any:
        barrier.wait(timeout=60)
        try:
            return call()
        except Exception as exc:  # collected, asserted by the caller
            return exc

    with ThreadPoolExecutor(count) as pool:
        return [future.result() for future in [pool.submit(run) for _ in range(count)]]


class TokenServer:
    """``token_server.py`` in a child process (see there); stopped on exit."""

    def __init__(self, *, wrong_org: bool = False) -> None:
        args = [sys.executable, "-m", "client.token_server", *(["--wrong-org"] if wrong_org else [])]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
        self._process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert self._process.stdout is not None
        assert self._process.stdin is not None
        self._stdin, self._stdout = self._process.stdin, self._process.stdout
        self.url = self._stdout.readline().strip()

    def _ask(self, command: str) -> str:
        self._stdin.write(command + "\n")
        self._stdin.flush()
        return self._stdout.readline().strip()

    def expire(self) -> None:
        assert self._ask("expire") == "ok"

    def issued(self) -> int:
        return int(self._ask("issued"))

    def __enter__(self) -> TokenServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stdin.close()
        self._process.terminate()
        self._process.wait(timeout=10)
        self._stdout.close()


def raw_options(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "base_url": url,
        "org_id": ORG_ID,
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "trust_env": False,
        **extra,
    }


def test_500_threads_at_token_expiry_send_one_token_request() -> None:
    with TokenServer() as m3ter, M3terBilling(**raw_options(m3ter.url)) as client:
        client.statement_jobs.retrieve("job-1")
        m3ter.expire()  # the server now answers 403 for the cached token
        results = in_threads(THREADS, lambda: client.statement_jobs.retrieve("job-1"))
        # isinstance: a class with fields learned earlier in the process is a subclass (see _learned.py)
        assert len(results) == THREADS
        assert all(isinstance(r, StatementJobResponse) for r in results)
        assert m3ter.issued() == 2  # the first token, and one refresh for all 500


def test_500_threads_at_client_side_expiry_send_one_token_request() -> None:
    clock = FakeClock()
    with TokenServer() as m3ter, M3terBilling(**raw_options(m3ter.url, clock=clock)) as client:
        client.statement_jobs.retrieve("job-1")
        clock.advance(18_000)  # past expires_in: every caller finds the cached token expired
        results = in_threads(THREADS, lambda: client.statement_jobs.retrieve("job-1"))
        # isinstance: a class with fields learned earlier in the process is a subclass (see _learned.py)
        assert len(results) == THREADS
        assert all(isinstance(r, StatementJobResponse) for r in results)
        assert m3ter.issued() == 2


async def _gather(client: AsyncM3terBilling, count: int) -> list[Any]:
    return await asyncio.gather(
        *(client.statement_jobs.retrieve("job-1") for _ in range(count)), return_exceptions=True
    )


def test_2000_tasks_at_client_side_expiry_send_one_token_request() -> None:
    clock = FakeClock()

    async def go(url: str) -> list[Any]:
        async with AsyncM3terBilling(**raw_options(url, clock=clock)) as client:
            await client.statement_jobs.retrieve("job-1")
            clock.advance(18_000)
            return await _gather(client, TASKS)

    with TokenServer() as m3ter:
        results = asyncio.run(go(m3ter.url))
        assert len(results) == TASKS
        assert all(isinstance(r, StatementJobResponse) for r in results)
        assert m3ter.issued() == 2  # the first token, and one refresh for all 2,000


def test_500_tasks_at_token_expiry_send_one_token_request() -> None:
    """Every task gets a 403 for the expired token at once (five times the pool): one refresh for all."""

    async def go(url: str, expire: Any) -> list[Any]:
        async with AsyncM3terBilling(**raw_options(url)) as client:
            await client.statement_jobs.retrieve("job-1")
            expire()
            return await _gather(client, THREADS)

    with TokenServer() as m3ter:
        results = asyncio.run(go(m3ter.url, m3ter.expire))
        # isinstance: a class with fields learned earlier in the process is a subclass (see _learned.py)
        assert len(results) == THREADS
        assert all(isinstance(r, StatementJobResponse) for r in results)
        assert m3ter.issued() == 2


def test_wrong_org_id_with_500_threads() -> None:
    with TokenServer(wrong_org=True) as m3ter, M3terBilling(**raw_options(m3ter.url)) as client:
        results = in_threads(THREADS, lambda: client.statement_jobs.retrieve("job-1"))
        assert [type(r) for r in results] == [PermissionDeniedError] * THREADS
        assert m3ter.issued() <= 2


def test_wrong_org_id_with_500_tasks() -> None:
    async def go(url: str) -> list[Any]:
        async with AsyncM3terBilling(**raw_options(url)) as client:
            return await _gather(client, THREADS)

    with TokenServer(wrong_org=True) as m3ter:
        results = asyncio.run(go(m3ter.url))
        assert [type(r) for r in results] == [PermissionDeniedError] * THREADS
        assert m3ter.issued() <= 2


def test_wrong_org_id_with_500_threads_on_the_sandbox(sandbox: Sandbox, server: SandboxServer[Sandbox]) -> None:
    """The same against the sandbox's own 403 for an org the credentials do not belong to."""
    job_id = sandbox.seeded.jobs["complete_json"]
    with M3terBilling(**options(sandbox, server, org_id=WRONG_ORG)) as client:
        results = in_threads(THREADS, lambda: client.statement_jobs.retrieve(job_id))
        assert [type(r) for r in results] == [PermissionDeniedError] * THREADS
        assert client.auth.token_requests <= 2
