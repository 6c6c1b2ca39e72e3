"""The embedded sandbox: what ``m3ter-conformance`` checks when it is given no base URL.

It starts :class:`m3ter_contract.sandbox.Sandbox` behind its HTTP server on 127.0.0.1 (a free port, a
background thread) and targets the primary organization's bills and statement jobs, optionally with more
generated ones (``--extra-bills`` / ``--extra-statement-jobs``, for load and timing).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date

import httpx

from ..rules import Observation, Spec
from ..rules.registry import EntityKey
from ..sandbox import ManualClock, Sandbox
from .runner import Options, RunResult, Target, run

IN_PROCESS_URL = "http://sandbox.invalid"

_FREQUENCIES = ("MONTHLY", "WEEKLY", "DAILY", "ANNUALLY", "AD_HOC", "MIXED")


def add_bills(sandbox: Sandbox, count: int, *, seed: int) -> list[str]:
    """``count`` more PENDING bills in the primary organization (deterministic for ``seed``)."""
    rng = random.Random(f"conformance:{seed}")
    return [
        sandbox.create_bill(
            frequency=_FREQUENCIES[index % len(_FREQUENCIES)],
            anchor=date.fromordinal(date(2023, 1, 1).toordinal() + rng.randint(0, 600)),
            line_items=rng.randint(0, 8),
            rng=rng,
        )
        for index in range(count)
    ]


def add_statement_jobs(sandbox: Sandbox, count: int, bill_ids: list[str]) -> list[str]:
    """``count`` more statement jobs, on the given bills in turn, half of them with CSV."""
    return [
        sandbox.create_statement_job(bill_ids[index % len(bill_ids)], include_csv=index % 2 == 0)
        for index in range(count)
    ]


def build_sandbox(*, seed: int = 0, extra_bills: int = 0, extra_jobs: int = 0) -> Sandbox:
    sandbox = Sandbox(seed=seed)
    new_bills = add_bills(sandbox, extra_bills, seed=seed)
    add_statement_jobs(sandbox, extra_jobs, new_bills or sandbox.bill_ids)
    return sandbox


@contextmanager
def start_embedded(*, seed: int = 0, extra_bills: int = 0, extra_jobs: int = 0) -> Iterator[Target]:
    """Serve a fresh sandbox on loopback for the duration of the block; yield the target to check."""
    sandbox = build_sandbox(seed=seed, extra_bills=extra_bills, extra_jobs=extra_jobs)
    server = sandbox.serve(host="127.0.0.1", port=0)
    try:
        yield target_for(sandbox, server.url)
    finally:
        server.stop()


def target_for(sandbox: Sandbox, base_url: str) -> Target:
    credentials = sandbox.credentials
    return Target(
        base_url=base_url.rstrip("/"),
        org_id=sandbox.org_id,
        api_key=credentials.api_key,
        api_secret=credentials.api_secret,
        bill_ids=tuple(sandbox.bill_ids),
        statement_job_ids=tuple(sandbox.statement_job_ids),
        embedded=True,
        external_invoice_date=sandbox.state.orgs[sandbox.org_id].external_invoice_date,
    )


async def check_sandbox(
    sandbox: Sandbox,
    options: Options | None = None,
    *,
    spec: Spec | None = None,
    remembered: Mapping[EntityKey, Observation] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    bill_ids: Sequence[str] | None = None,
    statement_job_ids: Sequence[str] | None = None,
) -> RunResult:
    """Run the conformance check in-process against ``sandbox`` (its ASGI app, no socket).

    With a :class:`ManualClock` every wait of the check (intervals, watch polls, back-off) moves the
    sandbox's clock instead of sleeping, so lifecycles play out instantly (every task's waits move the one
    clock). ``bill_ids`` / ``statement_job_ids`` narrow the check (default: all of the primary organization's).
    This is the sandbox's self-check.
    """
    clock = sandbox.clock
    target = target_for(sandbox, IN_PROCESS_URL)
    if bill_ids is not None or statement_job_ids is not None:
        target = replace(target, bill_ids=tuple(bill_ids or ()), statement_job_ids=tuple(statement_job_ids or ()))

    async def sleep(seconds: float) -> None:
        if isinstance(clock, ManualClock):
            clock.advance(max(seconds, 0.0))

    return await run(
        target,
        options or Options(),
        spec or Spec.load(),
        transport=transport or httpx.ASGITransport(app=sandbox.asgi_app()),
        remembered=remembered,
        sleep=sleep if isinstance(clock, ManualClock) else _real_sleep,
        clock=clock.now,
    )


async def _real_sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


__all__ = [
    "IN_PROCESS_URL",
    "add_bills",
    "add_statement_jobs",
    "build_sandbox",
    "check_sandbox",
    "start_embedded",
    "target_for",
]
