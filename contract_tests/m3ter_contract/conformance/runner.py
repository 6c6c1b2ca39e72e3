"""The check itself: read every entity (N times, or until its job is terminal), judge each response.

A pool of ``--concurrency`` workers pulls reads from a schedule: entity ids are admitted lazily (at most
:data:`ADMITTED_PER_WORKER` per worker in flight, so memory does not grow with the number of ids), and an
entity waiting for its next read (``--interval``, ``--watch-interval``) waits in the schedule, not in a
worker. Rate limited and read-only through :class:`~.transport.GuardedTransport`. Fetching goes through the
generated client's raw-response calls, so auth, retries and typed errors are the client's own; the rules
judge the raw bytes it received. A COMPLETE statement job's presigned statements are downloaded (a plain
GET, no credentials, bounded) and judged too.

Nothing that goes wrong while judging one entity stops the others: it becomes a per-entity problem (exit 2).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from m3ter_billing import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncM3terBilling,
    AuthenticationError,
    InvalidParameterError,
    M3terError,
    M3terRetry,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseTooLargeError,
    ResponseValidationError,
    StatementURLRefusedError,
    check_statement_url,
)
from m3ter_billing.backends import async_network_transport, preferred_backend, statement_extensions
from m3ter_billing.paths import TOKEN_PATH, path_segment
from m3ter_billing.settings import ENV_API_KEY, ENV_API_SECRET, ENV_BASE_URL, ENV_ORG_ID

from ..rules import Context, EntityKind, Finding, Judge, Observation, Spec, wire
from ..rules.drift import DriftLog
from ..rules.registry import EntityKey
from ..rules.statement_jobs import COMPLETE, TERMINAL
from ..rules.statements import URL_FIELDS, Download, Format, judge_download, when
from .redact import clean
from .transport import STATEMENT, GuardedTransport, ReadOnlyViolation, RequestPacer

DEFAULT_RATE = 20.0
DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_RETRIES = 4
ADMITTED_PER_WORKER = 16
"""Entities in flight (being read, or waiting for their next read) per worker: the run's memory bound."""
STATEMENT_MAX_BYTES = 32 * 1024 * 1024
STATEMENT_TIMEOUT = 60.0
"""Seconds one statement download may take in all: every attempt, its body and the waits between them."""
FAILED_CONNECTIONS_TO_STOP = 3
"""Reads in a row (no answer between them) whose connection failed after the retries that stop the run from
admitting more entities: one failed read is that entity's problem, three say the server is gone."""
MAX_URL_LENGTH = 8192
"""Longer request URLs are refused by common servers and proxies (414); such an id is a per-id problem."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where to look and what at. Credentials stay here and never reach a report."""

    base_url: str
    org_id: str
    api_key: str
    api_secret: str = field(repr=False)
    bill_ids: tuple[str, ...] = ()
    statement_job_ids: tuple[str, ...] = ()
    embedded: bool = False
    external_invoice_date: str | None = None
    """The organization's External invoice date setting when known (``--external-invoice-date``)."""
    credential_names: tuple[str, str, str] = (ENV_ORG_ID, ENV_API_KEY, ENV_API_SECRET)
    """The variables the org id, API key and API secret came from: a refused credential names them."""
    base_url_from: str = f"--base-url / {ENV_BASE_URL}"
    """Where the base URL came from: an unreachable server names it."""

    def entities(self) -> list[tuple[EntityKind, str]]:
        return list(self.iter_entities())

    def iter_entities(self) -> Iterator[tuple[EntityKind, str]]:
        """Every (kind, id) once, bills first, lazily."""
        for kind, ids in ((EntityKind.BILL, self.bill_ids), (EntityKind.STATEMENT_JOB, self.statement_job_ids)):
            seen: set[str] = set()
            for entity_id in ids:
                if entity_id not in seen:
                    seen.add(entity_id)
                    yield kind, entity_id

    def counts(self) -> dict[str, int]:
        return {
            str(EntityKind.BILL): len(set(self.bill_ids)),
            str(EntityKind.STATEMENT_JOB): len(set(self.statement_job_ids)),
        }


@dataclass(frozen=True, slots=True)
class Options:
    observe: int = 1
    interval: float = 1.0
    watch: bool = False
    watch_interval: float = 2.0
    watch_timeout: float = 300.0
    rate: float = DEFAULT_RATE
    concurrency: int = DEFAULT_CONCURRENCY
    max_retries: int = DEFAULT_MAX_RETRIES
    timeout: float = 30.0
    strict_inferred: bool = False
    statement_downloads: bool = True
    allow_private_statement_hosts: bool = False
    statement_max_bytes: int = STATEMENT_MAX_BYTES
    statement_timeout: float = STATEMENT_TIMEOUT


@dataclass(frozen=True, slots=True)
class Problem:
    """Something that kept the check from judging: exit code 2, with what to fix."""

    kind: str
    """auth | connection | not-found | status | rate-limit | too-large | config | bad-id | statement | internal"""
    message: str
    entity_id: str | None = None
    endpoint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "entity_id": self.entity_id, "endpoint": self.endpoint, "message": self.message}


FindingKey = tuple[str, str, str]
"""(entity id, rule, path): how a baseline names a finding, redacted as the reports write them."""


def finding_key(finding: Finding) -> FindingKey:
    """The finding's name in a baseline: its entity id and path redacted exactly as the reports redact them (a
    member name may hold a token or a signed URL), so the file written holds no secret, and a finding of a later
    run (with its own tokens) matches the entry written for it."""
    return (clean(finding.entity_id), finding.rule, clean(finding.path))


@dataclass(slots=True)
class RunResult:
    base_url: str
    org_id: str
    embedded: bool
    entities: dict[str, int]
    findings: list[Finding] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    observations: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    duration: float = 0.0
    last: Mapping[EntityKey, Observation] = field(default_factory=dict)
    baseline: frozenset[FindingKey] = frozenset()
    """Accepted findings (``--baseline``): reported as known, never failing the run."""
    statements: int = 0
    """Statement documents downloaded and judged."""
    drift: DriftLog = field(default_factory=DriftLog)
    """What the spec should learn (fields, enum values), merged over every read: ``--suggest-overlay``."""
    strict_inferred: bool = False
    """The run's ``--strict-inferred``: the findings of inferred rules were judged as errors."""
    external_invoice_date: str | None = None
    """The organization's External invoice date setting the run was given (``--external-invoice-date``)."""

    def is_known(self, finding: Finding) -> bool:
        return finding_key(finding) in self.baseline

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error" and not self.is_known(f))

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning" and not self.is_known(f))

    @property
    def known(self) -> int:
        return sum(1 for f in self.findings if self.is_known(f))

    @property
    def exit_code(self) -> int:
        if self.problems:
            return 2
        return 1 if self.errors else 0


class _Fatal(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


Progress = Callable[[int, int, list[Finding]], None]
"""Called after each read: (reads done, reads planned, the findings that read added)."""


def decode(content: bytes) -> Any:
    """The body as the rules judge it (a :class:`~m3ter_contract.rules.NotJSON` when it is not JSON)."""
    return wire.decode(content)[0]


def _what_to_fix(exc: Exception, target: Target) -> Problem:
    if isinstance(exc, AuthenticationError | PermissionDeniedError):
        org_id, api_key, api_secret = target.credential_names
        return Problem(
            "auth",
            f"the server refused the credentials ({exc.status_code}): check {api_key} and {api_secret}, "
            f"and that {org_id} ({target.org_id}) is the organization they belong to",
        )
    if isinstance(exc, APIConnectionError):
        return Problem(
            "connection",
            f"could not reach {clean(target.base_url)}: {clean(exc)}; check {target.base_url_from} and the network",
        )
    return Problem("config", clean(exc))


@dataclass(slots=True)
class _Follow:
    """One entity being read: how many reads so far, how long it has been watched, what was downloaded."""

    kind: EntityKind
    entity_id: str
    reads: int = 0
    waited: float = 0.0
    downloaded: bool = False


class _Schedule:
    """The reads to do, for a pool of workers: due reads first, then new entities (while fewer than ``cap``
    are in flight). One worker at a time sleeps until the next due read; the others wait for news."""

    def __init__(
        self,
        entities: Iterator[tuple[EntityKind, str]],
        cap: int,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._source = entities
        self._cap = cap
        self._clock = clock
        self._sleep = sleep
        self._heap: list[tuple[float, int, _Follow]] = []
        self._order = itertools.count()
        self._news = asyncio.Event()
        self._timer = False
        self.active = 0
        self.exhausted = False
        self.halted = False

    async def next(self) -> _Follow | None:
        while True:
            if self.halted:
                return None
            now = self._clock()
            if self._heap and self._heap[0][0] <= now:
                return heapq.heappop(self._heap)[2]
            if self.active < self._cap and not self.exhausted:
                item = next(self._source, None)
                if item is not None:
                    self.active += 1
                    return _Follow(*item)
                self.exhausted = True
            if self.exhausted and self.active == 0:
                self._news.set()
                return None
            if self._heap and not self._timer:
                self._timer = True
                try:
                    await self._sleep(max(0.0, self._heap[0][0] - now))
                finally:
                    self._timer = False
                self._news.set()
                continue
            self._news.clear()
            await self._news.wait()

    def later(self, follow: _Follow, delay: float) -> None:
        heapq.heappush(self._heap, (self._clock() + delay, next(self._order), follow))
        self._news.set()

    def done(self) -> None:
        self.active -= 1
        self._news.set()

    def halt(self) -> int:
        """Stop handing out reads; how many admitted or waiting entities are left unfinished."""
        self.halted = True
        self._news.set()
        return sum(1 for _ in self._source) + len(self._heap)

    def abandon(self) -> int:
        """Stop handing out reads, and give up the reads in flight too (the run stops as a whole): how many
        entities are left unfinished, but the caller's own."""
        in_flight = self.active - len(self._heap) - 1
        return self.halt() + max(0, in_flight)


class Runner:
    """One run against one target. ``transport`` replaces httpx's network transport (tests, the sandbox);
    ``clock`` is seconds since the epoch (the presigned URLs' expiry is judged against it)."""

    def __init__(
        self,
        target: Target,
        options: Options,
        spec: Spec,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        remembered: Mapping[EntityKey, Observation] | None = None,
        progress: Progress | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        resolve_host: Callable[[str, int], Iterable[str]] | None = None,
    ) -> None:
        self.target = target
        self.options = options
        # Statement hosts are resolved (to refuse private addresses) only on the real network: a custom
        # transport (the embedded sandbox, a test) decides where names go, as in the client.
        self._resolve: dict[str, Any] = {} if transport is None else {"resolve": None}
        if resolve_host is not None:
            self._resolve = {"resolve": resolve_host}
        self.judge = Judge(
            spec,
            remembered=remembered,
            context=Context(target.external_invoice_date, strict_inferred=options.strict_inferred),
        )
        self._progress = progress
        self._sleep = sleep
        self._clock = clock
        # The pacer runs on the injected clock when there is one (a sandbox's manual clock moves with the
        # injected sleep), else on the monotonic clock: the wall clock may jump.
        self.limiter = RequestPacer(options.rate, sleep=sleep, clock=time.monotonic if clock is time.time else clock)
        # The guard wraps the network transport itself, whichever backend it is (aiohttp when the client's
        # extra is installed): every request of the run, API call or download, still passes through it.
        self.guard = GuardedTransport(
            transport or async_network_transport(preferred_backend(), trust_env=False),
            self.limiter,
            token_url=target.base_url.rstrip("/") + TOKEN_PATH,
            base_url=target.base_url,
        )
        self._workers = max(1, options.concurrency)
        self.finished: Counter[str] = Counter()
        """Entities finished so far (read to the end, or given up with a problem), per kind: for progress."""
        self._done = 0
        self._planned = 0
        self._problems: list[Problem] = []
        self._notes: list[str] = []
        self._failed_connections = 0
        """Reads in a row whose connection failed (any answer of the server resets it)."""
        self._seq: dict[EntityKey, int] = {}
        self._statements = 0
        self._schedule = _Schedule(
            target.iter_entities(), self._workers * ADMITTED_PER_WORKER, clock=clock, sleep=sleep
        )
        self._started: float | None = None
        self.result: RunResult | None = None
        """The run's result once it has finished (None while it runs, or when it was interrupted)."""

    def partial(self) -> RunResult:
        """What this run has observed so far (a run interrupted by Ctrl-C): every read judged until then, its
        findings and problems. The rules over the whole run are not judged: they need every read."""
        if self.result is not None:
            return self.result
        started = time.perf_counter() if self._started is None else self._started
        return self._result(started, self.target.counts())

    async def run(self) -> RunResult:
        self._started = started = time.perf_counter()
        counts = self.target.counts()
        self._planned = sum(counts.values()) * self.options.observe
        try:
            client = AsyncM3terBilling(
                base_url=self.target.base_url,
                org_id=self.target.org_id,
                api_key=self.target.api_key,
                api_secret=self.target.api_secret,
                transport=self.guard,
                timeout=self.options.timeout,
                max_retries=self.options.max_retries,
                sleep=self._sleep,
            )
        except M3terError as exc:
            self._problems.append(Problem("config", f"the client refused the settings: {clean(exc)}"))
            self.result = self._result(started, counts)
            return self.result
        downloads = httpx.AsyncClient(
            transport=self.guard, timeout=self.options.statement_timeout, follow_redirects=False
        )
        try:
            async with client, downloads, asyncio.TaskGroup() as group:
                for _ in range(self._workers):
                    group.create_task(self._worker(client, downloads))
        except* _Fatal as fatal:
            first = fatal.exceptions[0]
            assert isinstance(first, _Fatal)
            self._problems.insert(0, first.problem)
        except* ReadOnlyViolation:
            raise
        try:
            fresh = self.judge.finish()
        except Exception as exc:  # an internal failure of a rule over the whole run: say so, keep the rest
            fresh = []
            self._problems.append(_internal("judging the run as a whole", exc))
        if fresh and self._progress is not None:
            self._progress(self._done, max(self._planned, self._done), fresh)
        self.result = self._result(started, counts)
        return self.result

    def _result(self, started: float, counts: dict[str, int]) -> RunResult:
        return RunResult(
            base_url=self.target.base_url,
            org_id=self.target.org_id,
            embedded=self.target.embedded,
            entities=counts,
            findings=sorted(self.judge.findings),
            problems=list(self._problems),
            notes=list(self._notes),
            observations=self.judge.observations,
            requests=dict(sorted(self.guard.sent.items())),
            duration=time.perf_counter() - started,
            last=self.judge.last(),
            statements=self._statements,
            drift=self.judge.drift,
            strict_inferred=self.options.strict_inferred,
            external_invoice_date=self.target.external_invoice_date,
        )

    async def _worker(self, client: AsyncM3terBilling, downloads: httpx.AsyncClient) -> None:
        while (follow := await self._schedule.next()) is not None:
            try:
                delay = await self._step(client, downloads, follow)
            except (_Fatal, ReadOnlyViolation):
                _stop_if_cancelled()
                raise
            except Exception as exc:  # a bug of the check, not a finding about the API: this entity only
                _stop_if_cancelled()  # a cancellation a library turned into an error is not a bug of the check
                self._problems.append(_internal(f"{follow.kind} {follow.entity_id}", exc, follow))
                delay = None
            _stop_if_cancelled()
            if delay is None:
                self._schedule.done()
                self.finished[str(follow.kind)] += 1
            else:
                self._schedule.later(follow, delay)

    async def _step(self, client: AsyncM3terBilling, downloads: httpx.AsyncClient, follow: _Follow) -> float | None:
        """One read of ``follow``; the seconds until its next read, or None when it is finished."""
        if follow.reads >= self.options.observe:
            self._planned += 1
        read = await self._read(client, follow.kind, follow.entity_id)
        follow.reads += 1
        if read is None:
            return None
        body, headers = read
        status = body.get("statementJobStatus") if isinstance(body, dict) else None
        if not isinstance(status, str):  # a list or an object is the schema rules' finding, and watched as unknown
            status = None
        if status == COMPLETE and self.options.statement_downloads and not follow.downloaded:
            follow.downloaded = True
            await self._download_statements(downloads, follow.entity_id, body, self._read_at(headers), self._clock())
        if follow.reads < self.options.observe:
            return self.options.interval
        if not (self.options.watch and follow.kind is EntityKind.STATEMENT_JOB) or status in TERMINAL:
            return None
        # counted in the waits asked for, so an injected sleep (tests, a manual clock) works too
        if follow.waited >= self.options.watch_timeout:
            still = "without a statementJobStatus" if status is None else status  # a body that is no object too
            self._notes.append(
                f"statement job {follow.entity_id} still {still} after watching {self.options.watch_timeout:g}s"
            )
            return None
        follow.waited += self.options.watch_interval
        return self.options.watch_interval

    def _id_problem(self, kind: EntityKind, entity_id: str) -> str | None:
        """Why ``entity_id`` cannot be part of a request URL, or None."""
        try:
            segment = path_segment("id", entity_id)
        except InvalidParameterError as exc:
            return clean(exc)
        collection = "bills" if kind is EntityKind.BILL else "statementjobs"
        url = f"{self.target.base_url}/organizations/{path_segment('orgId', self.target.org_id)}/{collection}/{segment}"
        if len(url) > MAX_URL_LENGTH:
            return f"the request URL would be {len(url)} characters long, more than servers accept ({MAX_URL_LENGTH})"
        try:
            httpx.URL(url)
        except httpx.InvalidURL as exc:
            return f"it cannot form a URL ({exc})"
        return None

    def _bad_id(self, kind: EntityKind, entity_id: str, why: str) -> None:
        option = "--bill-id" if kind is EntityKind.BILL else "--statement-job-id"
        self._problems.append(
            Problem("bad-id", f"{kind} id {entity_id!r} was not read: {why}; check {option}", entity_id, kind.endpoint)
        )

    async def _read(
        self, client: AsyncM3terBilling, kind: EntityKind, entity_id: str
    ) -> tuple[Any, Mapping[str, str]] | None:
        """One GET, judged; the decoded body and the response headers, or None when the entity could not be read."""
        why = self._id_problem(kind, entity_id)
        if why is not None:
            self._bad_id(kind, entity_id, why)
            return None
        try:
            content, headers = await self._get(client, kind, entity_id)
        except InvalidParameterError as exc:
            self._bad_id(kind, entity_id, clean(exc))
            return None
        except APIConnectionError as exc:
            if str(exc).startswith("invalid URL"):
                self._bad_id(kind, entity_id, clean(exc))
                return None
            if _from_token_request(exc):  # no read can be made: one problem of the run
                raise _Fatal(_what_to_fix(exc, self.target)) from None
            self._problems.append(self._connection_failed(kind, entity_id, exc))
            return None
        except (AuthenticationError, PermissionDeniedError) as exc:
            raise _Fatal(_what_to_fix(exc, self.target)) from None
        except NotFoundError:
            self._failed_connections = 0  # an answer
            option = "--bill-id" if kind is EntityKind.BILL else "--statement-job-id"
            self._problems.append(
                Problem(
                    "not-found",
                    f"{kind} {entity_id} does not exist in organization {self.target.org_id}: check {option}",
                    entity_id,
                    kind.endpoint,
                )
            )
            return None
        except RateLimitError:
            why = f"still rate limited (429) after {self.options.max_retries} retries"
            self._problems.append(self._rate_limited(kind, entity_id, why, self._schedule.halt()))
            return None
        except APIStatusError as exc:
            self._failed_connections = 0  # an answer
            self._problems.append(Problem("status", f"the server answered {clean(exc)}", entity_id, kind.endpoint))
            return None
        except ResponseTooLargeError as exc:
            # A limit of the check's client, not a rule of the API (and not a bug of the check): nothing of the
            # body was judged.
            self._problems.append(
                Problem(
                    "too-large",
                    f"{kind} {entity_id} was not judged: the server answered a body larger than the client's limit "
                    f"(max_response_bytes, {exc.limit} bytes); the rest was not read",
                    entity_id,
                    kind.endpoint,
                )
            )
            return None
        self._failed_connections = 0
        key = (str(kind), entity_id)
        seq = self._seq[key] = self._seq.get(key, 0) + 1
        body, issues = wire.decode(content)
        media = wire.media_type_issue(headers.get("content-type"))
        obs = Observation(kind, entity_id, self.target.org_id, body, seq=seq)
        fresh = self.judge.observe(obs, content)
        fresh += self.judge.report(wire.wire_findings(obs, [*issues, *([media] if media else [])]))
        self._done += 1
        if self._progress is not None:
            self._progress(self._done, max(self._planned, self._done), fresh)
        return body, headers

    def _connection_failed(self, kind: EntityKind, entity_id: str, exc: APIConnectionError) -> Problem:
        """The read of one entity got no answer (a reset, a body cut short, a timeout) after the client's retries:
        that entity's problem, and the run reads on, as other reads and the token endpoint answered. After
        :data:`FAILED_CONNECTIONS_TO_STOP` such reads in a row the server is taken for gone: the run admits no
        more entities (the reads in flight finish), and the problem counts those left unread."""
        self._failed_connections += 1
        stopped = ""
        if self._failed_connections == FAILED_CONNECTIONS_TO_STOP and not self._schedule.halted:  # said once
            left = self._schedule.halt()
            stopped = (
                f"; stopped reading after {FAILED_CONNECTIONS_TO_STOP} reads in a row failed so: {left} more "
                f"entit{'y' if left == 1 else 'ies'} not read"
            )
        return Problem(
            "connection",
            f"{kind} {entity_id} was not read: the connection to {clean(self.target.base_url)} failed "
            f"{self._after_retries} ({clean(exc)}){stopped}; check "
            f"{self.target.base_url_from} and the network, and run the check again",
            entity_id,
            kind.endpoint,
        )

    def _rate_limited(self, kind: EntityKind, entity_id: str, why: str, left: int) -> Problem:
        """The server's rate limit stopped a read, and the reading (the rest would be refused too): ``left``
        entities were not read."""
        unread = f"; stopped reading: {left} more entit{'y' if left == 1 else 'ies'} not read" if left else ""
        return Problem(
            "rate-limit",
            f"{why}{unread}: lower --rate (now {self.limiter.rate:g}/s) or run when the organization is quieter",
            entity_id,
            kind.endpoint,
        )

    async def _get(
        self, client: AsyncM3terBilling, kind: EntityKind, entity_id: str
    ) -> tuple[bytes, Mapping[str, str]]:
        # The call queues for its turn at our own pacer before its total timeout starts (see RequestPacer.turn).
        async with self.limiter.turn() as call:
            try:
                if kind is EntityKind.BILL:
                    bill = await client.bills.with_raw_response.retrieve(entity_id)
                    return bill.content, bill.headers
                job = await client.statement_jobs.with_raw_response.retrieve(entity_id)
                return job.content, job.headers
            except (AuthenticationError, PermissionDeniedError):
                raise  # refused credentials, from the token request or the read: _what_to_fix says which to check
            except (APIStatusError, ResponseValidationError, ResponseTooLargeError) as exc:
                # The client sends the token request inside the first read that needs it, and raises its failure
                # from that read: it is one problem of the run (no read can be made), not one per entity.
                if _from_token_request(exc):
                    raise _Fatal(self._token_problem(exc)) from None
                # The client refused a body. The entity's 200 body goes to the rules, which judge what was sent.
                if isinstance(exc, ResponseValidationError) and exc.status_code == 200 and exc.response is not None:
                    return exc.response.content, exc.headers
                raise
            except APITimeoutError:
                if call.throttled:  # the server's time (its 429s and the pause they asked for), not ours
                    limit = "" if client.total_timeout is None else f" ({client.total_timeout:g}s)"
                    why = (
                        "rate limited (429): the server asked the check to wait (Retry-After) until the call's total "
                        f"timeout{limit} ran out"
                    )
                    # Every other call would wait out the same pauses: the run stops here, as a whole.
                    raise _Fatal(self._rate_limited(kind, entity_id, why, self._schedule.abandon())) from None
                if call.starved:
                    raise _Fatal(self._starved(client.total_timeout)) from None
                raise

    def _token_problem(self, exc: APIStatusError | ResponseValidationError | ResponseTooLargeError) -> Problem:
        """Why the token request failed, when it was not a refusal of the credentials."""
        check = f"check {self.target.base_url_from} points at the m3ter API and not at a proxy or login page"
        if isinstance(exc, ResponseValidationError):
            why = f"answered a body that is not a BearerAccessTokenResponse ({clean(exc.message)}): {check}"
        elif isinstance(exc, ResponseTooLargeError):
            why = f"answered a body larger than the client's limit (max_response_bytes, {exc.limit} bytes): {check}"
        elif isinstance(exc, RateLimitError):
            why = (
                f"still answered 429 (rate limited) {self._after_retries}, so nothing could be read: lower --rate or "
                "run when the organization is quieter"
            )
        elif exc.status_code >= 500:
            why = (
                f"still answered {exc.status_code} ({clean(exc.message)}) {self._after_retries}, so nothing could "
                "be read: the server could not issue a token; run the check again later"
            )
        else:
            why = f"answered {exc.status_code} ({clean(exc.message)}), so nothing could be read: {check}"
        return Problem(
            "auth", f"the token endpoint {clean(self.target.base_url)}{TOKEN_PATH} {why}", endpoint=f"POST {TOKEN_PATH}"
        )

    def _starved(self, total: float | None) -> Problem:
        """A call's total timeout ran out while one of its requests waited for our own pacer, not the server."""
        limit = "" if total is None else f" ({total:g}s)"
        return Problem(
            "config",
            f"a call's total timeout{limit} ran out while a request waited for the check's own rate limit "
            f"({self.limiter.rate:g} requests/s: one every {1 / self.limiter.rate:g}s), not for the server: at "
            "this rate the requests of one call (the token request, the read, a retry) do not fit in its "
            "timeout; raise --rate",
        )

    @property
    def _after_retries(self) -> str:
        retries = self.options.max_retries
        return "with --max-retries 0" if retries == 0 else f"after {retries} retr{'y' if retries == 1 else 'ies'}"

    def _read_at(self, headers: Mapping[str, str]) -> float:
        """When a read happened: the ``Date`` of its response (the server's clock signs and expires the URLs),
        else our clock."""
        stamp = headers.get("date")
        if stamp:
            try:
                return parsedate_to_datetime(stamp).timestamp()
            except (TypeError, ValueError, OverflowError, IndexError):
                pass
        return self._clock()

    async def _download_statements(
        self, downloads: httpx.AsyncClient, job_id: str, body: dict[str, Any], read_at: float, read_local: float
    ) -> None:
        """Download and judge the statements of a COMPLETE job read at ``read_at`` (its ``Date``), which was
        ``read_local`` on the check's clock."""
        formats: tuple[Format, ...] = ("json", "csv")
        for fmt in formats:
            url = body.get(URL_FIELDS[fmt])
            if not isinstance(url, str) or not url:
                continue
            download = await self._download(downloads, job_id, fmt, url, read_at, read_local)
            if download is None:
                continue
            judged = judge_download(download)
            if judged.not_judged is not None:
                self._notes.append(
                    f"the {fmt.upper()} statement of job {job_id} {judged.not_judged}: its content was not judged"
                )
            if judged.expired is not None:
                self._problems.append(self._expired_first(download, judged.expired))
            fresh = self.judge.report(judged.findings)
            if self._progress is not None and fresh:
                self._progress(self._done, max(self._planned, self._done), fresh)

    def _expired_first(self, download: Download, expiry: float) -> Problem:
        """The problem of a statement URL that expired between the read of its job and the check's GET."""
        assert download.answered_at is not None
        return Problem(
            "statement",
            f"could not judge the {download.format.upper()} statement of job {download.job_id}: the URL expired "
            f"before the check downloaded it (it expired at {when(expiry)}, {expiry - download.read_at:.0f}s after "
            f"the job was read at {when(download.read_at)}; the GET was answered {download.status} "
            f"{download.answered_at - download.read_at:.0f}s after the read): the "
            f"check's own pacing came too late, not a finding about the API; raise --rate (now "
            f"{self.limiter.rate:g} requests/s) or check fewer entities at once so statements are fetched sooner",
            download.job_id,
            EntityKind.STATEMENT_JOB.endpoint,
        )

    async def _download(
        self, downloads: httpx.AsyncClient, job_id: str, fmt: Format, url: str, read_at: float, read_local: float
    ) -> Download | None:
        """GET one presigned URL (no credentials, only from the addresses it was vetted with, at most
        ``statement_max_bytes`` and ``statement_timeout``); None when it could not be judged (a problem or a
        note says why)."""
        field_name = URL_FIELDS[fmt]
        endpoint = EntityKind.STATEMENT_JOB.endpoint
        try:
            request = downloads.build_request("GET", url, extensions={STATEMENT: True})
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError, TypeError) as exc:
            self._problems.append(
                Problem(
                    "statement",
                    f"{field_name} of job {job_id} is not a URL that can be fetched: {clean(exc)}",
                    job_id,
                    endpoint,
                )
            )
            return None
        if request.url.scheme not in ("http", "https"):
            self._problems.append(
                Problem("statement", f"{field_name} of job {job_id} is not an http(s) URL", job_id, endpoint)
            )
            return None
        try:
            # The client's own policy, written once: https (or exactly the API's scheme and host), never a
            # loopback, link-local, private or unspecified address unless the user opts in, no credentials.
            addresses = await asyncio.to_thread(
                check_statement_url,
                url,
                base_url=self.target.base_url,
                allow_private=self.options.allow_private_statement_hosts,
                **self._resolve,
            )
        except StatementURLRefusedError as exc:
            self._problems.append(
                Problem(
                    "statement",
                    # The URL and the reason redacted apart: redacting the whole message read the ':' after a
                    # redacted signature as part of its value.
                    f"{field_name} of job {job_id} was not fetched: refused to download a statement from "
                    f"{clean(exc.url)}: {clean(exc.reason)} (--allow-private-statement-hosts lets the check fetch "
                    "statements from a private network)",
                    job_id,
                    endpoint,
                )
            )
            return None
        # Connect to exactly the addresses that were vetted, as the client's own download() does: resolved again
        # when connecting, the name could answer a private address this time (DNS rebinding), and a name that
        # did not resolve is not connected to at all. (Nothing was vetted by address for the API's own origin or
        # with --allow-private-statement-hosts; a custom transport decides itself where names go.)
        request.extensions.update(statement_extensions(request.url, addresses))
        self.guard.allow(request.url)
        fetched = await self._fetch_in_time(downloads, request, job_id, fmt)
        if isinstance(fetched, Problem):
            self._problems.append(fetched)
            return None
        response, chunks, too_large, answered = fetched
        if too_large:
            self._notes.append(
                f"the {fmt.upper()} statement of job {job_id} is larger than "
                f"{self.options.statement_max_bytes} bytes: its content was not judged"
            )
            return Download(job_id, self.target.org_id, fmt, url, read_at, status=None)
        self._statements += 1
        return Download(
            job_id,
            self.target.org_id,
            fmt,
            url,
            read_at,
            status=response.status_code,
            content_type=response.headers.get("content-type"),
            body=b"".join(chunks),
            answered_at=read_at + (answered - read_local),
        )

    async def _fetch_in_time(
        self, downloads: httpx.AsyncClient, request: httpx.Request, job_id: str, fmt: Format
    ) -> tuple[httpx.Response, list[bytes], bool, float] | Problem:
        """Send ``request`` (:meth:`_fetch`), retried by the client's own policy as the API reads are (its budget
        and backoff, ``Retry-After``, its retryable errors and statuses: a reset or a stale keep-alive
        connection, 429, 5xx), all of it within ``statement_timeout``; the problem of the run when no answer
        can be judged.

        httpx's timeout bounds each socket operation only: a store dripping a byte every few seconds kept a
        download going for ever. A store still unavailable or rate limiting after the retries, like one that
        cannot be reached, is a problem of the run: it says nothing about the URL m3ter handed out, which
        ``statement.download`` judges."""

        def failed(why: str) -> Problem:
            what = f"could not download the {fmt.upper()} statement of job {job_id}"
            return Problem("statement", f"{what}: {why}", job_id, EntityKind.STATEMENT_JOB.endpoint)

        retry = M3terRetry(self.options.max_retries, async_sleep=self._sleep)
        last = ""
        # The total timeout starts once the download's turn at our own pacer has come (see RequestPacer.turn).
        async with self.limiter.turn() as call:
            deadline = asyncio.timeout(self.options.statement_timeout)
            try:
                async with deadline:
                    while True:
                        try:
                            response, chunks, too_large = await self._fetch(downloads, request)
                            answered = self._clock()  # (the store judged the URL between the GET and its answer)
                        except httpx.HTTPError as exc:
                            if not retry.is_retryable_exception(exc) or retry.is_exhausted():
                                return failed(
                                    f"{type(exc).__name__}: {clean(exc)}; check the network path to the statement store"
                                )
                            last = f"; the last attempt failed with {type(exc).__name__}"
                            retry = retry.increment()
                            await retry.asleep(exc)
                            continue
                        status = response.status_code
                        if too_large or not retry.is_retryable_status_code(status):
                            return response, chunks, too_large, answered
                        if retry.is_exhausted():
                            return failed(
                                f"the statement store still answered {status} {self._after_retries} (it is "
                                "unavailable or rate limiting the check: not judged, not a finding about the API); run "
                                "the check again later"
                            )
                        last = f"; the statement store last answered {status}"
                        retry = retry.increment()
                        await retry.asleep(response)
            except TimeoutError:
                if not deadline.expired():
                    raise
                if call.throttled:
                    return failed(
                        f"it did not finish within {self.options.statement_timeout:g}s, waiting in the pause the API "
                        "asked for when it rate limited the check (429, Retry-After); run the check again later"
                    )
                if call.starved:
                    return self._starved(self.options.statement_timeout)
                return failed(
                    f"it did not finish within {self.options.statement_timeout:g}s (the limit of one statement "
                    f"download, every attempt and wait included){last}; check the network path to the statement store"
                )

    async def _fetch(
        self, downloads: httpx.AsyncClient, request: httpx.Request
    ) -> tuple[httpx.Response, list[bytes], bool]:
        """Send ``request`` and read at most ``statement_max_bytes`` of its body: (response, chunks, too large)."""
        response = await downloads.send(request, stream=True)
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.options.statement_max_bytes:
                    return response, [], True
                chunks.append(chunk)
        finally:
            await response.aclose()
        return response, chunks, False


def _from_token_request(
    exc: APIStatusError | APIConnectionError | ResponseValidationError | ResponseTooLargeError,
) -> bool:
    """Whether ``exc`` answers the token request the client sent on the read's behalf (its method and URL)."""
    return exc.method == "POST" and httpx.URL(exc.url).path.endswith(TOKEN_PATH)


def _stop_if_cancelled() -> None:
    """In a worker: raise ``CancelledError`` when its task is being cancelled (Ctrl-C, or the task group
    stopping), also when a library on the way swallowed the cancellation: ``asyncio.wait_for`` on Python 3.11
    returns the result instead when what it waits for completes at the same moment (the client's token lock),
    and the run would then wait on. (Not in the task of :meth:`Runner.run`: on 3.11 a task group leaves it
    marked as cancelling after a worker fails.)"""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _internal(what: str, exc: BaseException, follow: _Follow | None = None) -> Problem:
    return Problem(
        "internal",
        f"m3ter-conformance could not judge {what}: {type(exc).__name__}: {clean(exc)} (a bug of the check, not a "
        "finding about the API; please report it)",
        follow.entity_id if follow else None,
        follow.kind.endpoint if follow else None,
    )


async def run(
    target: Target,
    options: Options,
    spec: Spec,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    remembered: Mapping[EntityKey, Observation] | None = None,
    progress: Progress | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.time,
    resolve_host: Callable[[str, int], Iterable[str]] | None = None,
) -> RunResult:
    runner = Runner(
        target,
        options,
        spec,
        transport=transport,
        remembered=remembered,
        progress=progress,
        sleep=sleep,
        clock=clock,
        resolve_host=resolve_host,
    )
    return await runner.run()


__all__ = [
    "ADMITTED_PER_WORKER",
    "DEFAULT_RATE",
    "FindingKey",
    "Options",
    "Problem",
    "RunResult",
    "Runner",
    "Target",
    "decode",
    "finding_key",
    "run",
]
