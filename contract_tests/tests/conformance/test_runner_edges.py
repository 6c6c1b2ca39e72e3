"""The runner at its edges: where a statement download may connect and for how long, what a busy statement
store or token endpoint is (a problem of the run, said once, not a finding about the API), and our own rate
limit, which is never the server's fault.

Every server here listens on 127.0.0.1; a connection to any other address is refused before it is made.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import httpcore
import httpx
import pytest
from m3ter_contract.conformance.embedded import add_bills, check_sandbox, target_for
from m3ter_contract.conformance.runner import Options, run
from m3ter_contract.conformance.transport import Call, GuardedTransport, RequestPacer
from m3ter_contract.rules import Spec
from m3ter_contract.sandbox import ManualClock, Sandbox, SandboxServer

PUBLIC = "93.184.216.34"
REBINDING_HOST = "rebind.test"
SIGNATURE = "X-Amz-Signature=0123456789abcdef"


class Answering(httpx.AsyncBaseTransport):
    """Hands every request to the sandbox, except those ``answer`` answers itself (it returns a response)."""

    def __init__(self, sandbox: Sandbox, answer: Callable[[httpx.Request], httpx.Response | None]) -> None:
        self.inner = httpx.ASGITransport(app=sandbox.asgi_app())
        self.answer = answer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = self.answer(request)
        if response is not None:
            return response
        return await self.inner.handle_async_request(request)


def _is_statement(request: httpx.Request) -> bool:
    return request.url.path.startswith("/_statements/")


def _is_token(request: httpx.Request) -> bool:
    return request.method == "POST" and request.url.path == "/oauth/token"


# -- a statement download connects only to the addresses that were vetted ------------------------------------


class Rebinding:
    """A hostile DNS for one name: ``first`` when it is asked the first time (nothing, or a public address),
    loopback every time after that."""

    def __init__(self, first: list[str]) -> None:
        self.first = first
        self.asked = 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked += 1
        return self.first if self.asked == 1 else ["127.0.0.1"]


@pytest.mark.parametrize("first", [[], [PUBLIC]], ids=["does-not-resolve", "public"])
async def test_a_statement_host_that_rebinds_to_loopback_is_never_connected_to(
    sandbox: Sandbox, server: SandboxServer[Sandbox], monkeypatch: pytest.MonkeyPatch, first: list[str]
) -> None:
    """The name is vetted with an injected resolver, then asked of the system again (``socket.getaddrinfo``,
    patched: the same DNS, answering loopback the second time). The canary on 127.0.0.1 must see nothing."""
    canary: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        canary.append(await reader.read(64))
        writer.close()

    listener = await asyncio.start_server(record, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    dns = Rebinding(first)
    system_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name == REBINDING_HOST:
            return system_getaddrinfo(dns(name, args[0])[0], *args, **kwargs)
        return system_getaddrinfo(host, *args, **kwargs)

    # Never leave 127.0.0.1: a connection to any other address literal fails before it is attempted.
    dialled: list[tuple[str, int]] = []
    connect_tcp = httpcore.AnyIOBackend.connect_tcp

    async def loopback_only(self: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return await connect_tcp(self, host, port, *args, **kwargs)  # a name: the system resolves it
        dialled.append((host, port))
        if not address.is_loopback:
            raise httpcore.ConnectError(f"test network: {host} is not 127.0.0.1")
        return await connect_tcp(self, host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", loopback_only)
    job = sandbox.seeded.jobs["complete_csv"]
    url = f"https://{REBINDING_HOST}:{port}/statement.json?{SIGNATURE}"
    sandbox.mutate_responses(job, lambda body: {**body, "presignedJsonStatementUrl": url})
    target = replace(target_for(sandbox, server.url), bill_ids=(), statement_job_ids=(job,))
    try:
        result = await run(target, Options(rate=100_000, max_retries=0), Spec.load(), resolve_host=dns)
    finally:
        listener.close()
        await listener.wait_closed()
    assert canary == []
    assert dns.asked == 1  # resolved once, to vet it, never again to connect
    assert dialled == [(address, port) for address in first]  # the vetted address, or nothing at all
    problems = [problem for problem in result.problems if problem.kind == "statement"]
    assert len(problems) == 1
    assert "could not download the JSON statement" in problems[0].message
    if not first:
        assert "did not resolve when it was vetted" in problems[0].message
    assert SIGNATURE not in str([problem.message for problem in result.problems])
    assert not [finding for finding in result.findings if finding.rule == "statement.download"]


# -- a statement download ends at its total timeout ----------------------------------------------------------


class Dripping(httpx.AsyncByteStream):
    """A body that never ends: one byte every 50 ms, so no socket timeout would ever fire."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"["
        while True:
            await asyncio.sleep(0.05)
            yield b" "


async def test_a_statement_that_drips_forever_ends_at_the_download_timeout(sandbox: Sandbox) -> None:
    def drip(request: httpx.Request) -> httpx.Response | None:
        if not _is_statement(request):
            return None
        return httpx.Response(200, headers={"Content-Type": "application/json"}, stream=Dripping())

    job = sandbox.seeded.jobs["complete_csv"]
    options = Options(rate=100_000, max_retries=1, statement_timeout=0.2)
    async with asyncio.timeout(10):  # a safety net only: without the fix the run never ends
        result = await check_sandbox(
            sandbox, options, transport=Answering(sandbox, drip), bill_ids=[], statement_job_ids=[job]
        )
    assert result.exit_code == 2
    assert sorted(problem.kind for problem in result.problems) == ["statement", "statement"]  # JSON and CSV
    for problem in result.problems:
        assert "did not finish within 0.2s" in problem.message
        assert "every attempt and wait included" in problem.message
    assert not [finding for finding in result.findings if finding.rule.startswith("statement.")]


# -- a busy statement store is retried; one that stays busy is a problem of the run, not a finding -----------


@pytest.mark.parametrize("busy", ["503", "429"])
async def test_one_busy_answer_of_the_statement_store_is_retried(sandbox: Sandbox, busy: str) -> None:
    if busy == "503":
        sandbox.faults.server_errors(1, status=503, operation="GetStatement")
    else:
        sandbox.faults.rate_limited(1, retry_after=2, operation="GetStatement")
    job = sandbox.seeded.jobs["complete_csv"]
    started = sandbox.clock.now()
    result = await check_sandbox(sandbox, Options(rate=100_000, max_retries=1), bill_ids=[], statement_job_ids=[job])
    assert result.problems == []
    assert result.findings == []
    assert result.exit_code == 0
    assert result.statements == 2
    assert result.requests["GET statement"] == 3  # the busy answer, then both statements
    if busy == "429":
        assert sandbox.clock.now() - started >= 2.0  # the Retry-After was honoured (on the manual clock)


@pytest.mark.parametrize("status", [503, 429])
async def test_a_statement_store_that_stays_busy_is_a_problem_of_the_run(sandbox: Sandbox, status: int) -> None:
    if status == 503:
        sandbox.faults.server_errors(None, status=status, operation="GetStatement")
    else:
        sandbox.faults.rate_limited(None, operation="GetStatement")
    job = sandbox.seeded.jobs["complete_csv"]
    result = await check_sandbox(sandbox, Options(rate=100_000, max_retries=2), bill_ids=[], statement_job_ids=[job])
    assert result.exit_code == 2
    assert result.requests["GET statement"] == 6  # two URLs, three attempts each
    assert [problem.kind for problem in result.problems] == ["statement", "statement"]
    for problem in result.problems:
        assert f"still answered {status} after 2 retries" in problem.message
    assert not [finding for finding in result.findings if finding.rule.startswith("statement.")]


async def test_a_statement_url_that_is_refused_is_still_a_finding(sandbox: Sandbox) -> None:
    """403 (an expired or wrong signature) is not retried, and it is the URL m3ter handed out that fails."""
    job = sandbox.seeded.jobs["complete_csv"]
    sandbox.faults.broken_statement(job, status=403)
    result = await check_sandbox(sandbox, Options(rate=100_000, max_retries=2), bill_ids=[], statement_job_ids=[job])
    assert result.requests["GET statement"] == 2
    assert sorted(finding.rule for finding in result.findings) == ["statement.download", "statement.download"]
    assert result.problems == []


# -- a 429 never raises the rate -----------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "halved"), [(10.0, 5.0), (1.5, 1.0), (1.0, 1.0), (0.5, 0.5), (0.1, 0.1)])
def test_backing_off_never_raises_the_rate(rate: float, halved: float) -> None:
    pacer = RequestPacer(rate)
    pacer.back_off(0.0)
    assert pacer.rate == halved
    pacer.back_off(0.0)
    assert pacer.rate <= halved


# -- our own pacer is not the server -------------------------------------------------------------------------


async def test_queueing_for_our_own_rate_is_not_counted_as_the_servers_time() -> None:
    """Sixteen workers, a rate of 4/s and a total timeout of 2 s per call: the last of them would wait 3.75 s
    for the pacer. Calls take their turn at the pacer before their timeout starts, so the healthy sandbox is
    read whole (real time: the client's timeouts run on the loop's clock; each call's own part, one request
    to the in-process sandbox, needs a small fraction of its 2 s even on a loaded machine)."""
    sandbox = Sandbox(rate_limit=None)
    bills = [*sandbox.bill_ids, *add_bills(sandbox, 7, seed=1)]
    options = Options(rate=4, concurrency=16, timeout=2.0, max_retries=0)
    result = await check_sandbox(sandbox, options, bill_ids=bills, statement_job_ids=[])
    assert result.problems == []
    assert result.observations == len(bills) == 16


async def test_a_calls_first_request_never_waits_behind_the_requests_in_flight() -> None:
    """Eight requests of calls already running (retries, reads after a token) queue in the pacer; a call
    that starts then takes the grant of its first request in its turn, so that request does not wait inside
    the call's time (a fake clock: nothing here depends on the machine's speed)."""
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds
        await asyncio.sleep(0)

    pacer = RequestPacer(10, clock=lambda: now[0], sleep=sleep)
    in_flight = [asyncio.create_task(pacer.acquire()) for _ in range(8)]
    await asyncio.sleep(0)
    async with pacer.turn():
        before = len(slept)
        await pacer.acquire()  # the call's first request
        assert len(slept) == before
    await asyncio.gather(*in_flight)
    assert len(pacer._granted) <= pacer.per_window  # the rate still holds


@pytest.mark.parametrize(("pause", "starved"), [(True, False), (False, True)], ids=["server's pause", "our spacing"])
async def test_a_call_out_of_time_is_starved_only_by_our_own_spacing(pause: bool, starved: bool) -> None:
    """A call whose time runs out while its second request waits: for our own spacing, that is a matter of
    --rate (starved); in the pause a 429's Retry-After asked for, it is the server's time (not starved)."""
    pacer = RequestPacer(10, clock=lambda: 0.0)  # a clock that stands still: the wait never ends by itself
    calls: list[Call] = []

    async def two_requests() -> None:
        async with pacer.turn() as call:
            calls.append(call)
            await pacer.acquire()  # the first: granted by the turn
            if pause:
                pacer.back_off(60.0)  # its answer was a 429 with Retry-After: 60
            await pacer.acquire()  # the second: waits

    task = asyncio.create_task(two_requests())
    while pacer.waited == 0:
        await asyncio.sleep(0)
    task.cancel()  # the call's total timeout
    with pytest.raises(asyncio.CancelledError):
        await task
    assert calls[0].starved is starved


async def test_a_call_queued_behind_a_request_sleeping_through_the_servers_pause_is_throttled_not_starved() -> None:
    """Call B's second request queues behind call A's, which sleeps (holding the queue) through the pause a 429's
    Retry-After asked for: when B's time runs out there, it ran out in the server's time, not in our --rate."""
    now = [0.0]

    async def sleep(seconds: float) -> None:
        if seconds > 1:  # the server's pause: lasts longer than any call's time here
            await asyncio.Event().wait()
        now[0] += seconds
        await asyncio.sleep(0)

    pacer = RequestPacer(10, clock=lambda: now[0], sleep=sleep)
    calls: dict[str, Call] = {}
    b_ready = asyncio.Event()

    async def a() -> None:
        async with pacer.turn() as call:
            calls["a"] = call
            await pacer.acquire()
            await b_ready.wait()
            pacer.back_off(60.0)  # its answer was a 429 with Retry-After: 60
            await pacer.acquire()  # sleeps through the pause, holding the queue

    async def b() -> None:
        async with pacer.turn() as call:
            calls["b"] = call
            await pacer.acquire()
            b_ready.set()
            await asyncio.sleep(0)
            await pacer.acquire()  # queues behind a's request

    tasks = [asyncio.create_task(a()), asyncio.create_task(b())]
    while not (b_ready.is_set() and pacer._lock.locked() and len(pacer._lock._waiters or ())):
        await asyncio.sleep(0)
    for task in reversed(tasks):
        task.cancel()  # the calls' total timeouts
    for task in tasks:
        with pytest.raises(asyncio.CancelledError):
            await task
    assert [(calls[name].throttled, calls[name].starved) for name in "ab"] == [(True, False), (True, False)]


@pytest.mark.parametrize(
    ("bills", "workers"), [(1, 1), (3, 1), (3, 2)], ids=["one bill", "three bills", "three bills, two workers"]
)
async def test_a_server_pause_longer_than_a_calls_timeout_is_a_rate_limit_problem(bills: int, workers: int) -> None:
    """Every read is answered 429 with Retry-After: 100 (a 60 s pause of the pacer, longer than the call's
    total timeout of 2.5 s): the run stops with a rate-limit problem that says the server asked to wait and
    names the entities not read (a read in flight is given up too: it would wait out the same pauses), not an
    unreachable server nor a --rate too low (real time: the pause outlasts the timeout by a minute)."""
    sandbox = Sandbox(rate_limit=None)

    def throttle(request: httpx.Request) -> httpx.Response | None:
        if _is_token(request):
            return None
        return httpx.Response(429, json={"message": "Too Many Requests"}, headers={"Retry-After": "100"})

    options = Options(rate=100_000, timeout=1.0, max_retries=1, concurrency=workers)
    ids = [*sandbox.bill_ids, *add_bills(sandbox, 3, seed=2)][:bills]
    result = await check_sandbox(
        sandbox, options, transport=Answering(sandbox, throttle), bill_ids=ids, statement_job_ids=[]
    )
    assert [(problem.kind, problem.entity_id) for problem in result.problems] == [("rate-limit", ids[0])]
    unread = "" if bills == 1 else "; stopped reading: 2 more entities not read"
    assert result.problems[0].message == (
        "rate limited (429): the server asked the check to wait (Retry-After) until the call's total timeout "
        f"(2.5s) ran out{unread}: lower --rate (now 50000/s) or run when the organization is quieter"
    )


async def test_a_rate_too_low_for_one_call_is_said_to_be_ours_not_the_servers() -> None:
    """At 0.1 requests/s the read after the token request waits 10 s in our pacer, longer than the call's
    total timeout (2 s): a problem with our settings, not an unreachable server."""
    sandbox = Sandbox(rate_limit=None)
    options = Options(rate=0.1, timeout=2.0, max_retries=0)
    result = await check_sandbox(sandbox, options, bill_ids=sandbox.bill_ids[:1], statement_job_ids=[])
    assert [problem.kind for problem in result.problems] == ["config"]
    message = result.problems[0].message
    assert "total timeout (2s) ran out while a request waited for the check's own rate limit" in message
    assert "(0.1 requests/s: one every 10s), not for the server" in message
    assert "raise --rate" in message
    assert "could not reach" not in message


# -- the token endpoint's failure is one problem of the run --------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (httpx.Response(404, json={"message": "no such route"}), "answered 404 (no such route)"),
        (httpx.Response(429, json={"message": "slow down"}), "still answered 429 (rate limited) with --max-retries 0"),
        (httpx.Response(500, json={"message": "boom"}), "still answered 500 (boom) with --max-retries 0"),
        (
            httpx.Response(200, headers={"Content-Length": str(2**40)}, stream=httpx.ByteStream(b"{}")),
            "a body larger than the client's limit (max_response_bytes, 268435456 bytes)",
        ),
    ],
    ids=["404", "429", "500", "too-large"],
)
async def test_a_failing_token_endpoint_is_one_problem_not_one_per_entity(
    sandbox: Sandbox, answer: httpx.Response, says: str
) -> None:
    def token(request: httpx.Request) -> httpx.Response | None:
        return answer if _is_token(request) else None

    result = await check_sandbox(
        sandbox,
        Options(rate=100_000, max_retries=0),
        transport=Answering(sandbox, token),
        bill_ids=sandbox.bill_ids[:2],
        statement_job_ids=sandbox.statement_job_ids[:1],
    )
    assert result.exit_code == 2
    assert [(problem.kind, problem.entity_id, problem.endpoint) for problem in result.problems] == [
        ("auth", None, "POST /oauth/token")
    ]
    message = result.problems[0].message
    assert message.startswith("the token endpoint http://sandbox.invalid/oauth/token ")
    assert says in message
    assert "does not exist" not in message


# -- a body past the client's limit is a problem of the run, named, and never read whole ---------------------


async def test_a_body_over_max_response_bytes_is_a_problem_naming_the_limit(sandbox: Sandbox) -> None:
    bill_id = sandbox.bill_ids[0]

    def huge(request: httpx.Request) -> httpx.Response | None:
        if not request.url.path.endswith(f"/bills/{bill_id}"):
            return None
        headers = {"Content-Type": "application/json", "Content-Length": str(2**40)}
        return httpx.Response(200, headers=headers, stream=httpx.ByteStream(b"{}"))

    result = await check_sandbox(
        sandbox,
        Options(rate=100_000, max_retries=0),
        transport=Answering(sandbox, huge),
        bill_ids=sandbox.bill_ids[:2],
        statement_job_ids=[],
    )
    assert [(problem.kind, problem.entity_id) for problem in result.problems] == [("too-large", bill_id)]
    message = result.problems[0].message
    assert "larger than the client's limit (max_response_bytes, 268435456 bytes)" in message
    assert "bug of the check" not in message
    assert result.findings == []
    assert result.observations == 1  # the other bill is judged


class Watched(httpx.AsyncByteStream):
    """A body that notes whether anyone read it."""

    def __init__(self) -> None:
        self.read = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.read = True
        yield b"\x1f\x8b"


async def test_the_guard_leaves_every_body_to_the_bounded_reader_above_it() -> None:
    """Read by the guard, a gzip body was inflated whole (a 400 MB bomb: 819 MiB peak RSS) before the client's
    ``max_response_bytes`` could stop it; the client's reader above the guard stops at the limit."""
    bodies: list[Watched] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(Watched())
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=bodies[-1])

    guard = GuardedTransport(
        httpx.MockTransport(handler), RequestPacer(1000), token_url="http://h/oauth/token", base_url="http://h"
    )
    await guard.handle_async_request(httpx.Request("GET", "http://h/organizations/o/bills/b"))
    await guard.handle_async_request(httpx.Request("POST", "http://h/oauth/token"))
    assert len(bodies) == 2
    assert not [body for body in bodies if body.read]


# -- a URL that expires while the check's own pacing holds its download back ---------------------------------


async def test_a_url_that_expires_while_the_check_paces_its_download_is_a_problem_not_a_finding() -> None:
    sandbox = Sandbox(clock=ManualClock(), rate_limit=None, url_lifetime=3, api_secret="sandbox-secret-0001")
    job = sandbox.seeded.jobs["complete_csv"]
    result = await check_sandbox(sandbox, Options(rate=0.2, max_retries=0), bill_ids=[], statement_job_ids=[job])
    assert result.requests["GET statement"] == 2
    assert not [finding for finding in result.findings if finding.rule.startswith("statement.")]
    assert [problem.kind for problem in result.problems] == ["statement", "statement"]  # JSON and CSV
    for problem in result.problems:
        assert problem.entity_id == job
        assert "the URL expired before the check downloaded it" in problem.message
        assert "raise --rate" in problem.message
    assert result.exit_code == 2


async def test_a_refused_url_that_had_time_left_is_still_a_finding_at_a_slow_rate() -> None:
    sandbox = Sandbox(clock=ManualClock(), rate_limit=None, url_lifetime=60, api_secret="sandbox-secret-0001")
    job = sandbox.seeded.jobs["complete_csv"]
    sandbox.faults.broken_statement(job, status=403)
    result = await check_sandbox(sandbox, Options(rate=0.2, max_retries=0), bill_ids=[], statement_job_ids=[job])
    assert sorted(finding.rule for finding in result.findings) == ["statement.download", "statement.download"]
    assert result.problems == []


# -- a read whose connection fails is that entity's problem; the server gone stops the run --------------------


class Resetting(httpx.AsyncBaseTransport):
    """Hands every request to the sandbox but the reads of ``dropped`` ids, whose connection is reset."""

    def __init__(self, sandbox: Sandbox, dropped: Callable[[str], bool]) -> None:
        self.inner = httpx.ASGITransport(app=sandbox.asgi_app())
        self.dropped = dropped

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and self.dropped(request.url.path.rsplit("/", 1)[-1]):
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
        return await self.inner.handle_async_request(request)


async def test_a_read_whose_connection_fails_is_a_problem_of_that_entity_only(sandbox: Sandbox) -> None:
    broken = sandbox.seeded.bills["monthly"]
    bills = [broken, sandbox.seeded.bills["weekly"], sandbox.seeded.bills["daily"]]
    result = await check_sandbox(
        sandbox,
        Options(rate=100_000, max_retries=1, concurrency=1),
        transport=Resetting(sandbox, lambda entity: entity == broken),
        bill_ids=bills,
        statement_job_ids=[],
    )
    assert [(problem.kind, problem.entity_id) for problem in result.problems] == [("connection", broken)]
    (problem,) = result.problems
    assert f"bill {broken} was not read" in problem.message
    assert "failed after 1 retry (connection failed: RemoteProtocolError" in problem.message
    assert "not read:" not in problem.message.split("was not read")[1]  # the run read on
    assert result.observations == 2  # the other bills were read and judged
    assert result.exit_code == 2


async def test_reads_failing_to_connect_in_a_row_stop_the_run_and_count_the_rest(sandbox: Sandbox) -> None:
    bills = list(sandbox.seeded.bills.values())
    jobs = list(sandbox.seeded.jobs.values())
    result = await check_sandbox(
        sandbox,
        Options(rate=100_000, max_retries=0, concurrency=1),
        transport=Resetting(sandbox, lambda entity: True),
        bill_ids=bills,
        statement_job_ids=jobs,
    )
    assert [problem.kind for problem in result.problems] == ["connection"] * 3
    assert [problem.entity_id for problem in result.problems] == bills[:3]
    left = len(bills) + len(jobs) - 3
    assert f"stopped reading after 3 reads in a row failed so: {left} more entities not read" in (
        result.problems[2].message
    )
    assert result.observations == 0
    assert result.exit_code == 2
