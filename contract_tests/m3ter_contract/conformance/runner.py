"""The check itself: read every entity (N times, or until its job is terminal), judge each response.

Concurrent (one task per entity, a bounded number of requests in flight), rate limited and read-only
through :class:`~.transport.GuardedTransport`. Fetching goes through the generated client's raw-response
calls, so auth, retries and typed errors are the client's own; the rules judge the raw JSON it received.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from m3ter_billing import (
    APIConnectionError,
    APIStatusError,
    AsyncM3terBilling,
    AuthenticationError,
    InvalidParameterError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
)
from m3ter_billing._auth import TOKEN_PATH
from m3ter_billing._redact import scrub

from ..rules import Context, EntityKind, Finding, Judge, NotJSON, Observation, Spec
from ..rules.registry import EntityKey
from ..rules.statement_jobs import TERMINAL
from .transport import LAST_RESPONSE, GuardedTransport, RateLimiter, ReadOnlyViolation

DEFAULT_RATE = 20.0
DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_RETRIES = 4


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

    def entities(self) -> list[tuple[EntityKind, str]]:
        bills = [(EntityKind.BILL, i) for i in dict.fromkeys(self.bill_ids)]
        jobs = [(EntityKind.STATEMENT_JOB, i) for i in dict.fromkeys(self.statement_job_ids)]
        return bills + jobs


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


@dataclass(frozen=True, slots=True)
class Problem:
    """Something that kept the check from judging: exit code 2, with what to fix."""

    kind: str  # auth | connection | not-found | status | rate-limit | config
    message: str
    entity_id: str | None = None
    endpoint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "entity_id": self.entity_id, "endpoint": self.endpoint, "message": self.message}


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

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

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
    try:
        return json.loads(content)
    except ValueError as exc:
        return NotJSON(content[:200].decode("utf-8", "replace"), str(exc))


def _what_to_fix(exc: Exception, target: Target) -> Problem:
    if isinstance(exc, AuthenticationError | PermissionDeniedError):
        return Problem(
            "auth",
            f"the server refused the credentials ({exc.status_code}): check M3TER_API_KEY and M3TER_API_SECRET, "
            f"and that M3TER_ORG_ID ({target.org_id}) is the organization they belong to",
        )
    if isinstance(exc, APIConnectionError):
        return Problem(
            "connection",
            f"could not reach {target.base_url}: {scrub(exc)}; check --base-url / M3TER_BASE_URL and the network",
        )
    return Problem("config", scrub(exc))


class Runner:
    """One run against one target. ``transport`` replaces httpx's network transport (tests, the sandbox)."""

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
    ) -> None:
        self.target = target
        self.options = options
        self.judge = Judge(
            spec,
            remembered=remembered,
            context=Context(target.external_invoice_date, strict_inferred=options.strict_inferred),
        )
        self._progress = progress
        self._sleep = sleep
        self.limiter = RateLimiter(options.rate, sleep=sleep)
        self.guard = GuardedTransport(
            transport or httpx.AsyncHTTPTransport(),
            self.limiter,
            token_url=target.base_url.rstrip("/") + TOKEN_PATH,
            base_url=target.base_url,
        )
        self._slots = asyncio.Semaphore(max(1, options.concurrency))
        self._done = 0
        self._planned = 0
        self._problems: list[Problem] = []
        self._notes: list[str] = []
        self._seq: dict[EntityKey, int] = {}

    async def run(self) -> RunResult:
        started = time.perf_counter()
        entities = self.target.entities()
        self._planned = len(entities) * self.options.observe
        counts = {str(kind): sum(1 for k, _ in entities if k is kind) for kind in EntityKind}
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
        try:
            async with client, asyncio.TaskGroup() as group:
                for kind, entity_id in entities:
                    group.create_task(self._follow(client, kind, entity_id))
        except* _Fatal as fatal:
            first = fatal.exceptions[0]
            assert isinstance(first, _Fatal)
            self._problems.insert(0, first.problem)
        except* ReadOnlyViolation:
            raise
        fresh = self.judge.finish()
        if fresh and self._progress is not None:
            self._progress(self._done, max(self._planned, self._done), fresh)
        return RunResult(
            base_url=self.target.base_url,
            org_id=self.target.org_id,
            embedded=self.target.embedded,
            entities=counts,
            findings=sorted(self.judge.findings),
            problems=self._problems,
            notes=self._notes,
            observations=self.judge.observations,
            requests=dict(sorted(self.guard.sent.items())),
            duration=time.perf_counter() - started,
            last=self.judge.last(),
        )

    async def _follow(self, client: AsyncM3terBilling, kind: EntityKind, entity_id: str) -> None:
        """Read one entity ``observe`` times, then (``--watch``) until its statement job is terminal."""
        body: Any = None
        for index in range(self.options.observe):
            if index:
                await self._sleep(self.options.interval)
            body = await self._read(client, kind, entity_id)
            if body is None:
                return
        if not (self.options.watch and kind is EntityKind.STATEMENT_JOB):
            return
        waited = 0.0  # counted in the waits asked for, so an injected sleep (tests, a manual clock) works too
        while not (isinstance(body, dict) and body.get("statementJobStatus") in TERMINAL):
            if waited >= self.options.watch_timeout:
                status = body.get("statementJobStatus") if isinstance(body, dict) else None
                self._notes.append(
                    f"statement job {entity_id} still {status} after watching {self.options.watch_timeout:g}s"
                )
                return
            await self._sleep(self.options.watch_interval)
            waited += self.options.watch_interval
            self._planned += 1
            body = await self._read(client, kind, entity_id)
            if body is None:
                return

    async def _read(self, client: AsyncM3terBilling, kind: EntityKind, entity_id: str) -> Any:
        """One GET, judged; the decoded body, or None when the entity could not be read."""
        try:
            async with self._slots:
                content = await self._get(client, kind, entity_id)
        except (AuthenticationError, PermissionDeniedError, APIConnectionError, InvalidParameterError) as exc:
            if isinstance(exc, InvalidParameterError):
                self._problems.append(Problem("config", f"{kind} id {entity_id!r}: {scrub(exc)}", entity_id))
                return None
            raise _Fatal(_what_to_fix(exc, self.target)) from None
        except NotFoundError:
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
            self._problems.append(
                Problem(
                    "rate-limit",
                    f"still rate limited (429) after {self.options.max_retries} retries: lower --rate "
                    f"(now {self.limiter.rate:g}/s) or run when the organization is quieter",
                    entity_id,
                    kind.endpoint,
                )
            )
            return None
        except APIStatusError as exc:
            self._problems.append(Problem("status", f"the server answered {scrub(exc)}", entity_id, kind.endpoint))
            return None
        key = (str(kind), entity_id)
        seq = self._seq[key] = self._seq.get(key, 0) + 1
        body = decode(content)
        fresh = self.judge.observe(Observation(kind, entity_id, self.target.org_id, body, seq=seq))
        self._done += 1
        if self._progress is not None:
            self._progress(self._done, max(self._planned, self._done), fresh)
        return body

    async def _get(self, client: AsyncM3terBilling, kind: EntityKind, entity_id: str) -> bytes:
        try:
            if kind is EntityKind.BILL:
                return (await client.bills.with_raw_response.retrieve(entity_id)).content
            return (await client.statement_jobs.with_raw_response.retrieve(entity_id)).content
        except ResponseValidationError as exc:
            # The client refused a body. The entity's 200 body goes to the rules, which judge what was sent; the
            # token endpoint's (the auth flow raises the same error, with no body) is a problem, not a finding.
            if LAST_RESPONSE.get() == "token":
                raise _Fatal(
                    Problem(
                        "auth",
                        f"the token endpoint {self.target.base_url}{TOKEN_PATH} answered a body that is not a "
                        f"BearerAccessTokenResponse ({exc.message}): check --base-url / M3TER_BASE_URL points at "
                        "the m3ter API and not at a proxy or login page",
                        endpoint=f"POST {TOKEN_PATH}",
                    )
                ) from None
            if exc.status_code == 200:
                return exc.body
            raise


async def run(
    target: Target,
    options: Options,
    spec: Spec,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    remembered: Mapping[EntityKey, Observation] | None = None,
    progress: Progress | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> RunResult:
    runner = Runner(target, options, spec, transport=transport, remembered=remembered, progress=progress, sleep=sleep)
    return await runner.run()


__all__ = ["DEFAULT_RATE", "Options", "Problem", "RunResult", "Runner", "Target", "decode", "run"]
