"""The runner: read-only on the wire (a recording transport proves it), rate limited, backing off on 429,
and remembering across runs through SQLite."""

from __future__ import annotations

import asyncio
import bisect
import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from m3ter_contract.conformance.embedded import check_sandbox
from m3ter_contract.conformance.runner import Options
from m3ter_contract.conformance.state import State
from m3ter_contract.conformance.transport import GuardedTransport, ReadOnlyViolation, RequestPacer
from m3ter_contract.sandbox import Sandbox


class Recording(httpx.AsyncBaseTransport):
    """Records every request that reaches the wire, then hands it to the sandbox."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.seen: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path))
        return await self.inner.handle_async_request(request)


async def test_a_run_sends_only_gets_and_the_token_post(sandbox: Sandbox) -> None:
    recording = Recording(httpx.ASGITransport(app=sandbox.asgi_app()))
    sandbox.faults.rate_limited(count=2, retry_after=0, operation="GetBill")  # retries go through the recorder too
    options = Options(observe=3, interval=1.0, watch=True, watch_interval=1.0, rate=100_000)
    result = await check_sandbox(sandbox, options, transport=recording)
    assert result.exit_code == 0
    methods = {(method, path if method == "POST" else "") for method, path in recording.seen}
    assert methods == {("GET", ""), ("POST", "/oauth/token")}
    assert sum(1 for method, _ in recording.seen if method == "POST") == 1
    # API reads, and the statements behind the presigned URLs the API returned (no other GET)
    assert all(
        path.startswith((f"/organizations/{sandbox.org_id}/", f"/_statements/{sandbox.org_id}/"))
        for method, path in recording.seen
        if method == "GET"
    )
    assert result.requests["GET statement"] == result.statements > 0
    assert len(recording.seen) == sum(result.requests.values())


async def test_the_rate_holds_on_the_wire(sandbox: Sandbox) -> None:
    """--rate 30 on the sandbox's manual clock: the run's sleeps move it, so no second of it ever holds more
    than 30 requests reaching the wire, and 35 requests take at least a second of it."""
    seen: list[float] = []

    class Stamping(httpx.AsyncBaseTransport):
        def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
            self.inner = inner

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(sandbox.clock.now())
            return await self.inner.handle_async_request(request)

    options = Options(observe=16, interval=0.0, rate=30)
    result = await check_sandbox(
        sandbox,
        options,
        transport=Stamping(httpx.ASGITransport(app=sandbox.asgi_app())),
        bill_ids=[sandbox.seeded.bills["monthly"]],
        statement_job_ids=[sandbox.seeded.jobs["complete_csv"]],
    )
    assert result.exit_code == 0
    assert len(seen) == 35  # 32 reads, the token and the job's two statements (JSON and CSV)
    assert seen[-1] - seen[0] >= 1.0
    assert max(bisect.bisect_left(seen, t + 1.0) - i for i, t in enumerate(seen)) <= 30


@pytest.mark.parametrize(("method", "path"), [("POST", "/organizations/o/bills/b"), ("PUT", "/x"), ("DELETE", "/x")])
async def test_the_guard_refuses_anything_else_before_sending(method: str, path: str) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    guard = GuardedTransport(
        httpx.MockTransport(handler), RequestPacer(1000), token_url="http://h/oauth/token", base_url="http://h"
    )
    with pytest.raises(ReadOnlyViolation):
        await guard.handle_async_request(httpx.Request(method, f"http://h{path}"))
    assert sent == []
    response = await guard.handle_async_request(httpx.Request("POST", "http://h/oauth/token"))
    assert response.status_code == 200
    assert len(sent) == 1


async def test_429_is_retried_and_slows_the_rate_down(sandbox: Sandbox) -> None:
    sandbox.faults.rate_limited(count=3, retry_after=0, operation="GetStatementJob")
    result = await check_sandbox(sandbox, Options(rate=1000, max_retries=4))
    assert result.problems == []
    assert result.exit_code == 0
    entities = len(sandbox.bill_ids) + len(sandbox.statement_job_ids)
    assert result.requests["GET"] == entities + 3


async def test_429_that_does_not_stop_is_a_problem_with_advice(sandbox: Sandbox) -> None:
    bill_id = sandbox.seeded.bills["monthly"]
    sandbox.faults.rate_limited(count=None, retry_after=0, entity_id=bill_id)
    result = await check_sandbox(sandbox, Options(rate=1000, max_retries=1), bill_ids=[bill_id])
    assert result.exit_code == 2
    assert [p.kind for p in result.problems] == ["rate-limit"]
    assert "lower --rate" in result.problems[0].message


async def test_the_rate_limiter_keeps_to_its_rate() -> None:
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RequestPacer(10.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(21):
        await limiter.acquire()
    assert now[0] == pytest.approx(2.0)
    limiter.back_off(3.0)
    assert limiter.rate == 5.0
    await limiter.acquire()
    assert now[0] >= 5.0


async def test_a_version_that_goes_back_between_runs_is_caught(sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    bill_id = sandbox.seeded.bills["weekly"]  # version 3
    first = await check_sandbox(sandbox, Options(rate=100_000), bill_ids=[bill_id])
    assert first.findings == []
    state = State(path, "http://sandbox.invalid", sandbox.org_id)
    assert state.save(first.last.values()) == 1
    state.close()

    def older(body: dict[str, Any]) -> dict[str, Any]:
        body["version"] = 2
        return body

    sandbox.mutate_responses(bill_id, older)
    state = State(path, "http://sandbox.invalid", sandbox.org_id)
    remembered = state.remembered()
    state.close()
    second = await check_sandbox(sandbox, Options(rate=100_000), bill_ids=[bill_id], remembered=remembered)
    assert [(f.rule, f.path) for f in second.findings] == [("version.no-decrease", "$.version")]
    assert "a previous run" in second.findings[0].message
    # a different organization or base URL does not share the memory
    elsewhere = State(path, "http://elsewhere.invalid", sandbox.org_id)
    assert elsewhere.remembered() == {}
    elsewhere.close()


async def test_state_never_stores_presigned_urls(sandbox: Sandbox, tmp_path: Path) -> None:
    job_id = sandbox.seeded.jobs["complete_csv"]
    result = await check_sandbox(sandbox, Options(rate=100_000), statement_job_ids=[job_id])
    url = result.last[("statement_job", job_id)].obj["presignedJsonStatementUrl"]
    state = State(tmp_path / "s.sqlite", "http://sandbox.invalid", sandbox.org_id)
    state.save(result.last.values())
    state.close()
    raw = (tmp_path / "s.sqlite").read_bytes()
    assert url.encode() not in raw
    assert b"X-Amz-Signature" not in raw


def test_hundred_bills_and_jobs_on_the_embedded_sandbox_are_clean() -> None:
    """100 bills + 100 jobs in-process at 200 requests/s: clean, every entity read once."""
    from m3ter_contract.conformance.embedded import build_sandbox

    sandbox = build_sandbox(extra_bills=91, extra_jobs=94)
    assert (len(sandbox.bill_ids), len(sandbox.statement_job_ids)) == (100, 100)
    result = asyncio.run(check_sandbox(sandbox, Options(rate=200)))
    assert result.exit_code == 0, [*result.findings, *result.problems]
    assert result.observations == 200


class ResetsStatementsOnce(httpx.AsyncBaseTransport):
    """The statement store drops the first connection of every statement GET (a stale keep-alive, a reset)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.reset: set[str] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/_statements/") and str(request.url) not in self.reset:
            self.reset.add(str(request.url))
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        return await self.inner.handle_async_request(request)


async def test_a_statement_download_that_is_reset_once_is_retried(sandbox: Sandbox) -> None:
    transport = ResetsStatementsOnce(httpx.ASGITransport(app=sandbox.asgi_app()))
    options = Options(observe=1, watch=True, watch_interval=1.0, rate=100_000)
    result = await check_sandbox(sandbox, options, transport=transport)
    assert transport.reset  # the fault happened
    assert result.exit_code == 0, result.problems
    assert result.statements > 0


@pytest.mark.parametrize("body", [b"[]", b"{}"], ids=["an array", "no status"])
async def test_a_watched_job_without_a_status_is_said_to_be_so(sandbox: Sandbox, body: bytes) -> None:
    job = sandbox.seeded.jobs["running"]
    sandbox.faults.rewrite_body(lambda _: body, entity_id=job)
    options = Options(observe=1, watch=True, watch_interval=1.0, watch_timeout=2.0, rate=100_000)
    result = await check_sandbox(sandbox, options, bill_ids=[], statement_job_ids=[job])
    assert result.notes == [f"statement job {job} still without a statementJobStatus after watching 2s"]


async def test_a_statement_store_that_always_resets_is_a_problem_not_a_finding(sandbox: Sandbox) -> None:
    attempts: Counter[str] = Counter()

    class AlwaysResets(ResetsStatementsOnce):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.startswith("/_statements/"):
                attempts[str(request.url)] += 1
                raise httpx.ReadError("connection reset by peer", request=request)
            return await self.inner.handle_async_request(request)

    options = Options(observe=1, watch=True, watch_interval=1.0, rate=100_000, max_retries=1)
    result = await check_sandbox(sandbox, options, transport=AlwaysResets(httpx.ASGITransport(app=sandbox.asgi_app())))
    assert attempts
    assert set(attempts.values()) == {2}  # the client's retry budget: max_retries + 1 attempts each
    assert result.exit_code == 2
    assert {problem.kind for problem in result.problems} == {"statement"}
    assert not [finding for finding in result.findings if finding.rule.startswith("statement.")]


class Counting(Recording):
    """Records every request, and answers any statement URL on a foreign host itself (never the network)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, str(request.url)))
        if request.url.host != "sandbox.invalid":  # the embedded check's in-process base URL
            return httpx.Response(200, json={"lines": []}, headers={"Content-Type": "application/json"})
        return await self.inner.handle_async_request(request)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data?X-Amz-Signature=abc",  # plain http on another host
        "https://169.254.169.254/latest/meta-data?X-Amz-Signature=abc",  # link-local metadata address
        "https://10.0.0.7/statement.json?X-Amz-Signature=abc",  # private range
        "https://[::1]/statement.json",  # loopback on another port than the API's
        "https://user:pw@statements.example/statement.json",  # credentials in the URL
        "https://internal.example/statement.json",  # a name resolving to a private address
    ],
)
async def test_a_statement_url_into_a_private_network_is_never_fetched(sandbox: Sandbox, url: str) -> None:
    job = sandbox.seeded.jobs["complete_csv"]
    sandbox.mutate_responses(job, lambda body: {**body, "presignedJsonStatementUrl": url})
    transport = Counting(httpx.ASGITransport(app=sandbox.asgi_app()))
    options = Options(observe=1, rate=100_000)
    result = await check_sandbox_with_resolver(sandbox, options, transport, {"internal.example": ["10.1.2.3"]}, job)
    assert not [seen for seen in transport.seen if "statement.json" in seen[1] or "meta-data" in seen[1]]
    problems = [problem for problem in result.problems if problem.kind == "statement"]
    assert len(problems) == 1
    assert "was not fetched" in problems[0].message
    assert "X-Amz-Signature=abc" not in problems[0].message
    assert "pw@" not in problems[0].message
    assert result.exit_code == 2


async def test_a_refused_statement_url_is_named_redacted_and_the_reason_follows_it(sandbox: Sandbox) -> None:
    job = sandbox.seeded.jobs["complete_csv"]
    url = "http://169.254.169.254/latest/meta-data?X-Amz-Signature=abc"
    sandbox.mutate_responses(job, lambda body: {**body, "presignedJsonStatementUrl": url})
    transport = Counting(httpx.ASGITransport(app=sandbox.asgi_app()))
    result = await check_sandbox_with_resolver(sandbox, Options(observe=1, rate=100_000), transport, {}, job)
    assert [problem.message for problem in result.problems] == [
        f"presignedJsonStatementUrl of job {job} was not fetched: refused to download a statement from "
        "http://169.254.169.254/latest/meta-data?X-Amz-Signature=[REDACTED]: not https (a http URL on another "
        "host than base_url) (--allow-private-statement-hosts lets the check fetch statements from a private "
        "network)"
    ]


async def test_allow_private_statement_hosts_lets_the_check_fetch_them(sandbox: Sandbox) -> None:
    job = sandbox.seeded.jobs["complete_csv"]
    url = "https://10.0.0.7/statement.json"
    sandbox.mutate_responses(job, lambda body: {**body, "presignedJsonStatementUrl": url})
    transport = Counting(httpx.ASGITransport(app=sandbox.asgi_app()))
    options = Options(observe=1, rate=100_000, allow_private_statement_hosts=True)
    result = await check_sandbox_with_resolver(sandbox, options, transport, {}, job)
    assert ("GET", url) in transport.seen  # answered by the mock transport above, never the network
    assert not [problem for problem in result.problems if "was not fetched" in problem.message]


async def check_sandbox_with_resolver(
    sandbox: Sandbox, options: Options, transport: httpx.AsyncBaseTransport, names: dict[str, list[str]], job: str
) -> Any:
    """Run the check on one job with an injected resolver (a name never reaches DNS)."""

    def resolve(host: str, port: int) -> list[str]:
        return names.get(host, ["93.184.216.34"])

    return await check_sandbox(
        sandbox, options, transport=transport, bill_ids=[], statement_job_ids=[job], resolve_host=resolve
    )


class JobStatusAs(httpx.AsyncBaseTransport):
    """The sandbox, with every statement job's ``statementJobStatus`` replaced by ``status``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, status: Any) -> None:
        self.inner = inner
        self.status = status

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if "/statementjobs/" not in request.url.path or response.status_code != 200:
            return response
        body = json.loads(await response.aread())
        body["statementJobStatus"] = self.status
        return httpx.Response(200, json=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("status", [["COMPLETE"], {"value": "RUNNING"}, 7])
async def test_a_watched_job_with_a_status_that_is_not_a_string_is_a_finding(sandbox: Sandbox, status: Any) -> None:
    # The status is the schema rules' finding; the watch goes on as for a status it does not know (no
    # problem of the check, which a list once caused: it cannot be looked up in a set).
    options = Options(observe=1, watch=True, watch_interval=1.0, watch_timeout=3.0, rate=100_000)
    transport = JobStatusAs(httpx.ASGITransport(app=sandbox.asgi_app()), status)
    job = sandbox.seeded.jobs["complete_json"]
    result = await check_sandbox(sandbox, options, transport=transport, bill_ids=[], statement_job_ids=[job])
    assert result.problems == []
    assert result.exit_code == 1
    assert {(f.rule, f.path) for f in result.findings if f.severity.value == "error"} >= {
        ("schema.type", "$.statementJobStatus")
    }
    assert result.requests["GET"] == 4  # the read, then the watch's three until its timeout
