"""``Sandbox.reset()``: back to what a new sandbox with the same seed and options, created at that moment,
holds; identities (credentials, tokens) and the clock stay; safe while a server thread serves it."""

from __future__ import annotations

import threading
from typing import Any

import httpx
from m3ter_contract.sandbox import ManualClock, Request, Sandbox, SandboxServer

OPTIONS: dict[str, Any] = {"rate_limit": None, "large_bill_line_items": 5, "api_secret": "s" * 30}


def _get(sandbox: Sandbox, path: str, token: str) -> int:
    return sandbox.handle(Request("GET", path, headers={"authorization": f"Bearer {token}"})).status


def _everything_changed(sandbox: Sandbox) -> None:
    bills, jobs = sandbox.seeded.bills, sandbox.seeded.jobs
    sandbox.approve_bill(bills["empty"])
    sandbox.lock_bill(bills["annually"])
    sandbox.recalculate_bill(bills["mixed"])
    sandbox.cancel_job(jobs["pending"])
    sandbox.create_statement_job(sandbox.create_bill(), pending_for=None)
    sandbox.advance(3600)
    sandbox.faults.server_errors(operation="GetBill")
    sandbox.faults.version_zero(bills["daily"])
    sandbox.mutate_responses(None, lambda body: body)
    assert _get(sandbox, f"/organizations/{sandbox.org_id}/bills/{bills['daily']}", sandbox.issue_token()) == 503


def test_a_reset_sandbox_is_a_fresh_one_created_now() -> None:
    clock = ManualClock()
    sandbox = Sandbox(clock=clock, **OPTIONS)
    _everything_changed(sandbox)
    sandbox.reset()
    fresh = Sandbox(clock=ManualClock(clock.now()), **OPTIONS)
    assert sandbox.summary() == fresh.summary()
    assert sandbox.seeded == fresh.seeded
    assert sandbox.state.bills.keys() == fresh.state.bills.keys()
    assert sandbox.state.jobs.keys() == fresh.state.jobs.keys()
    assert all(sandbox.bill(bill) == fresh.bill(bill) for bill in fresh.state.bills)
    assert all(sandbox.statement_job(job) == fresh.statement_job(job) for job in fresh.state.jobs)
    empty = sandbox.bill(sandbox.seeded.bills["empty"])
    assert (empty["status"], empty["version"]) == ("PENDING", 1)
    assert sandbox.faults.unused() == []
    assert sandbox.requests == []
    assert sandbox.create_bill() == fresh.create_bill()  # ids created next repeat
    assert sandbox.create_statement_job(sandbox.bill_ids[0]) == fresh.create_statement_job(fresh.bill_ids[0])


def test_the_clock_stays_and_jobs_move_again_from_now() -> None:
    clock = ManualClock()
    sandbox = Sandbox(clock=clock, **OPTIONS)
    pending = sandbox.seeded.jobs["pending"]
    sandbox.advance(60)
    assert sandbox.statement_job(pending)["statementJobStatus"] == "COMPLETE"
    moved = clock.now()
    sandbox.reset()
    assert clock.now() == moved
    assert sandbox.statement_job(pending)["statementJobStatus"] == "PENDING"
    sandbox.advance(60)
    assert sandbox.statement_job(pending)["statementJobStatus"] == "COMPLETE"


def test_credentials_and_issued_tokens_stay_valid() -> None:
    sandbox = Sandbox(clock=ManualClock(), rate_limit=None, large_bill_line_items=5)  # random secrets
    credentials = sandbox.seeded.credentials
    token = sandbox.issue_token()
    sandbox.reset()
    assert sandbox.seeded.credentials == credentials
    assert _get(sandbox, f"/organizations/{sandbox.org_id}/bills/{sandbox.bill_ids[0]}", token) == 200
    sandbox.advance(sandbox.state.token_lifetime)
    assert _get(sandbox, f"/organizations/{sandbox.org_id}/bills/{sandbox.bill_ids[0]}", token) == 403


def test_rate_limits_and_their_counters_are_restored() -> None:
    sandbox = Sandbox(clock=ManualClock(), rate_limit=1, large_bill_line_items=5)
    token = sandbox.issue_token()
    path = f"/organizations/{sandbox.org_id}/bills/{sandbox.bill_ids[0]}"
    assert [_get(sandbox, path, token) for _ in range(2)] == [200, 429]
    sandbox.reset()
    assert _get(sandbox, path, token) == 200  # the counter of this second is gone
    sandbox.rate_limit = 5
    sandbox.ip_rate_limit = 7
    sandbox.reset()
    assert (sandbox.rate_limit, sandbox.ip_rate_limit) == (1, 20_000)


def test_reset_while_a_server_thread_serves_the_sandbox() -> None:
    """Clients reading every seeded bill and job while the sandbox is reset again and again only ever see
    them (a torn reset would answer 404 for an entity between clearing and seeding)."""
    sandbox = Sandbox(clock=ManualClock(), **OPTIONS)
    token = sandbox.issue_token()
    paths = [f"/organizations/{sandbox.org_id}/bills/{bill}" for bill in sandbox.bill_ids]
    paths += [f"/organizations/{sandbox.org_id}/statementjobs/{job}" for job in sandbox.statement_job_ids]
    done = threading.Event()
    started = threading.Barrier(4)
    statuses: list[int] = []
    answered = threading.Event()  # a reader got an answer since the last reset began

    def read(url: str) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
            started.wait(timeout=10)
            while not done.is_set():
                for path in paths:
                    statuses.append(client.get(path).status_code)
                    answered.set()

    with SandboxServer(sandbox) as server:
        readers = [threading.Thread(target=read, args=(server.url,)) for _ in range(3)]
        for reader in readers:
            reader.start()
        started.wait(timeout=10)
        try:
            # Each reset waits for an answer given after it began (a back-to-back reset holds the state's
            # lock and would starve the readers): 20 resets, each overlapped or followed by reads.
            for _ in range(20):
                answered.clear()
                sandbox.reset()
                assert answered.wait(timeout=30), "no reader was answered after a reset"
        finally:
            done.set()
            for reader in readers:
                reader.join(timeout=10)
    assert len(statuses) >= 20
    assert set(statuses) == {200}
