"""`Sandbox`: one stateful m3ter Organization world (seeded), its API handler, its faults, and the ways to
serve it (respx router in-process, ASGI app, HTTP server in a thread)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from functools import partial
from typing import Any

import msgspec
import respx

from .api import MAX_REQUEST_BODY, RequestRecord, SandboxAPI
from .asgi import SandboxASGI
from .clock import Clock, ManualClock, SystemClock
from .data import bill_wire, new_id
from .entities import JobOutcome, SandboxError
from .faults import FaultPresets, FaultRegistry
from .messages import DEFAULT_BASE_URL, Request, Response
from .respx_adapter import respx_router
from .seed import Credentials, Seeded, seed_state
from .server import SandboxServer
from .state import SandboxState


class Sandbox:
    """A stateful, seeded m3ter sandbox.

    - ``seed`` fixes every id and all bill content; ``clock`` (default the wall clock; tests pass a
      :class:`ManualClock`) drives job lifecycles, token and URL expiry and the rate-limit windows.
    - ``rate_limit``: requests per second per Organization before 429 (m3ter: 50); ``ip_rate_limit``:
      requests per rolling 5 minutes per source IP (m3ter: 20,000). ``rate_limit=None`` disables both; 0 is
      refused (``ValueError``: it would answer everything 429), as is any option out of range, by name.
    - ``url_lifetime``: seconds a presigned statement URL lives; reading a COMPLETE job whose URLs have
      expired renews them (a change, so its version goes up) unless ``refresh_expired_urls`` is False.
    - Memory stays bounded: expired tokens are forgotten and a service user holds at most
      ``max_tokens_per_user`` live tokens (issuing one more retires the oldest, which then gets 403);
      request bodies above ``max_request_body`` bytes get 413 (only the token call's body is ever read, and
      only with Basic credentials); encoded bodies are cached once per entity version.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        clock: Clock | None = None,
        rate_limit: int | None = 50,
        ip_rate_limit: int | None = 20_000,
        url_lifetime: float = 3600.0,
        token_lifetime: int = 18_000,
        refresh_expired_urls: bool = True,
        large_bill_line_items: int = 2_000,
        job_pending_seconds: float = 2.0,
        job_running_seconds: float = 5.0,
        api_secret: str | None = None,
        max_tokens_per_user: int = 100,
        max_request_body: int = MAX_REQUEST_BODY,
    ) -> None:
        _check_limit("rate_limit", rate_limit)
        _check_limit("ip_rate_limit", ip_rate_limit)
        _check_whole("token_lifetime", token_lifetime, 1)
        _check_whole("large_bill_line_items", large_bill_line_items, 0)
        _check_whole("max_request_body", max_request_body, 0)
        _check_seconds("url_lifetime", url_lifetime, 1)
        _check_seconds("job_pending_seconds", job_pending_seconds, 0)
        _check_seconds("job_running_seconds", job_running_seconds, 0)
        if clock is not None and not isinstance(clock, Clock):
            raise TypeError(
                f"clock must be a Clock, an object with a now() method returning epoch seconds (ManualClock(), "
                f"SystemClock()), not {clock!r}"
            )
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.seed = seed
        self.state = SandboxState(
            self.clock,
            url_lifetime=url_lifetime,
            token_lifetime=token_lifetime,
            refresh_expired_urls=refresh_expired_urls,
            max_tokens_per_user=max_tokens_per_user,
        )
        self._seed_state = partial(
            seed_state,
            seed=seed,
            large_bill_line_items=large_bill_line_items,
            job_pending_seconds=job_pending_seconds,
            job_running_seconds=job_running_seconds,
            api_secret=api_secret,
        )
        self.seeded: Seeded = self._seed_state(self.state)
        self._registry = FaultRegistry()
        self.faults = FaultPresets(self._registry, self.state)
        self.api = SandboxAPI(
            self.state,
            self._registry,
            rate_limit=rate_limit,
            ip_rate_limit=ip_rate_limit if rate_limit is not None else None,
            max_request_body=max_request_body,
        )
        self._id_counter = 0

    def __repr__(self) -> str:
        return f"Sandbox(seed={self.seed}, org_id={self.org_id!r}, clock={self.clock!r})"

    # ---- what was seeded ----------------------------------------------------------------------------------

    @property
    def org_id(self) -> str:
        """The primary Organization (FIRST_DAY_OF_NEXT_PERIOD, billPrefix ``INV-``)."""
        return self.seeded.org_id

    @property
    def credentials(self) -> Credentials:
        """The primary Organization's service user."""
        return self.seeded.credentials[0]

    @property
    def bill_ids(self) -> list[str]:
        """The primary Organization's bills."""
        with self.state.lock:
            return [bill.id for bill in self.state.org_bills(self.org_id)]

    @property
    def statement_job_ids(self) -> list[str]:
        """The primary Organization's statement jobs."""
        with self.state.lock:
            return [job.id for job in self.state.jobs.values() if job.org_id == self.org_id]

    @property
    def requests(self) -> list[RequestRecord]:
        """The last 1,000 requests the sandbox answered (no headers or bodies)."""
        return list(self.api.log)

    @property
    def rate_limit(self) -> int | None:
        return self.api.limiter.limit

    @rate_limit.setter
    def rate_limit(self, value: int | None) -> None:
        _check_limit("rate_limit", value)
        self.api.limiter.limit = value

    @property
    def ip_rate_limit(self) -> int | None:
        return self.api.ip_limiter.limit

    @ip_rate_limit.setter
    def ip_rate_limit(self, value: int | None) -> None:
        _check_limit("ip_rate_limit", value)
        self.api.ip_limiter.limit = value

    def summary(self) -> dict[str, Any]:
        """What ``m3ter-sandbox serve --json`` prints (minus the URL): ids and the primary credentials."""
        return {
            "org_id": self.org_id,
            "api_key": self.credentials.api_key,
            "api_secret": self.credentials.api_secret,
            "bill_ids": self.bill_ids,
            "statement_job_ids": self.statement_job_ids,
        }

    # ---- handling -----------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request (what both adapters call)."""
        return self.api.handle(request)

    @property
    def max_request_body(self) -> int:
        return self.api.max_request_body

    def wants_body(self, method: str, path: str, headers: Mapping[str, str]) -> bool:
        return self.api.wants_body(method, path, headers)

    def refuse(self, request: Request, status: int, message: str) -> Response:
        return self.api.refuse(request, status, message)

    def issue_token(self, org_id: str | None = None) -> str:
        """A fresh bearer token for an Organization's service user, without the token call."""
        org = org_id or self.org_id
        for creds in self.seeded.credentials:
            if creds.org_id == org:
                token = self.state.issue_token(creds.api_key, creds.api_secret)
                assert token is not None
                return token.value
        raise SandboxError(f"unknown organization {org!r}", status=404)

    def bill(self, bill_id: str) -> dict[str, Any]:
        """A copy of the bill as the API would serve it."""
        with self.state.lock:
            data: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(self.state.bill(bill_id).wire))
            return data

    def statement_job(self, job_id: str) -> dict[str, Any]:
        """A copy of the job's stored fields (after advancing it to now; URLs are not included)."""
        with self.state.lock:
            job = self.state.job(job_id)
            self.state.sync_job(job)
            data: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(job.wire))
            return data

    # ---- lifecycle ----------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the freshly seeded state: what a new ``Sandbox`` with the same seed and options, created now,
        would hold, for session-scoped servers shared by many tests.

        - Bills and statement jobs are seeded again: the same ids, content and states (a bill approved since is
          PENDING at version 1 again); those created since are gone, and ids created next repeat.
        - The clock is not moved: time never goes back (a ``ManualClock`` never does, m3ter's clock neither).
          As at construction, job timestamps are placed relative to now, so the ``pending`` job waits its
          ``job_pending_seconds`` again; bills carry their seeded dates.
        - Identities stay: the same Organizations, service users, credentials and signing key, so tokens already
          issued stay valid until they expire (an m3ter bearer token lives out its lifetime) and a client's
          cached token keeps working; so do presigned URLs (one of a job that is no longer COMPLETE answers
          404 NoSuchKey).
        - The rate limits go back to the constructor's values (a test's ``rate_limit = ...`` is undone), their
          counters empty; every fault and mutation is removed; ``requests`` is emptied.

        Safe while a server thread serves the sandbox: the world is re-seeded under the state's lock, so a
        request answered meanwhile sees the old world or the new one, never a mix; one in flight may still
        consume a fault queued before the reset, and be recorded in ``requests`` after it."""
        with self.state.lock:
            self._registry.clear()
            self.state.forget_entities()
            self.seeded = self._seed_state(self.state, keep=self.seeded.credentials)
            self._id_counter = 0
            self.api.reset()

    @property
    def manual_clock(self) -> ManualClock:
        """``clock`` typed as the :class:`ManualClock` it is (the fixtures' sandbox has one), so its ``advance`` and
        ``set`` pass ``mypy --strict``. (For the client's ``sleep=``, pass :meth:`advance`, which returns None.)
        A ``SandboxError`` when the sandbox runs on another clock."""
        if not isinstance(self.clock, ManualClock):
            raise SandboxError(f"this sandbox runs on {self.clock!r}, not a ManualClock")
        return self.clock

    def advance(self, seconds: float) -> None:
        """Move a ManualClock forward."""
        if not isinstance(self.clock, ManualClock):
            raise SandboxError("advance() needs a ManualClock")
        self.clock.advance(seconds)

    def approve_bill(self, bill_id: str, by: str | None = None) -> None:
        """Approve Bills: PENDING -> APPROVED (version + 1, dtApproved/approvedBy set). A locked or already
        approved bill is refused with :class:`SandboxError` (``status`` 400)."""
        self.state.approve_bill(bill_id, by or self.seeded.approver_id)

    def update_bill_status(self, bill_id: str, status: str, by: str | None = None) -> None:
        """Update Bill Status: ``"APPROVED"`` or back to ``"PENDING"`` (version + 1; going back keeps
        dtApproved/approvedBy). A locked bill is refused (``SandboxError``, ``status`` 400)."""
        self.state.update_bill_status(bill_id, status, by or self.seeded.approver_id)

    def lock_bill(self, bill_id: str, by: str | None = None) -> None:
        """Lock Bill (version + 1, dtLocked/lockedBy set). A PENDING bill is refused as m3ter refuses it (400,
        "You cannot lock a Bill whose current status is PENDING"), and so is a locked one; once locked, every
        change to the bill (approve, status, recalculate, invalidate statements) is refused."""
        self.state.lock_bill(bill_id, by or self.seeded.approver_id)

    def recalculate_bill(self, bill_id: str, by: str | None = None) -> None:
        self.state.recalculate_bill(bill_id, by or self._service_user(bill_id))

    def invalidate_statements(self, bill_id: str, by: str | None = None) -> None:
        self.state.invalidate_statements(bill_id, by or self._service_user(bill_id))

    def create_bill(
        self,
        *,
        frequency: str = "MONTHLY",
        anchor: date | None = None,
        line_items: int = 3,
        org_id: str | None = None,
        rng: random.Random | None = None,
    ) -> str:
        """A new PENDING bill (version 1) in ``org_id`` (default: the primary organization), for the billing
        period of ``frequency`` containing ``anchor``; its content is drawn from ``rng`` (deterministic)."""
        _check_whole("line_items", line_items, 0)
        org = self.state.orgs.get(org_id or self.org_id)
        if org is None:
            known = ", ".join(self.state.orgs)
            raise SandboxError(f"unknown organization {org_id!r}; the sandbox's organizations are: {known}", status=404)
        user = next(u for u in self.state.users.values() if u.org_id == org.id)
        self._id_counter += 1
        draw = rng or random.Random(f"{self.seed}:bill:{self._id_counter}")
        wire = bill_wire(draw, org, frequency=frequency, anchor=anchor or date(2023, 9, 15), line_item_count=line_items)
        return self.state.add_bill(org.id, wire, created_at=self.clock.now() - 86_400, created_by=user.id).id

    def create_statement_job(
        self,
        bill_id: str,
        *,
        include_csv: bool = False,
        meter_ids: Sequence[str] | None = None,
        pending_for: float | None = 2.0,
        running_for: float | None = 5.0,
        outcome: JobOutcome = "COMPLETE",
    ) -> str:
        """A new PENDING job for the bill; None for ``pending_for``/``running_for`` waits for explicit calls.
        ``outcome`` is how it ends: ``"COMPLETE"``, ``"FAILED"`` or ``"CANCELLED"``."""
        if outcome not in JOB_OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(JOB_OUTCOMES)}, not {outcome!r}")
        for name, seconds in (("pending_for", pending_for), ("running_for", running_for)):
            if seconds is not None:
                _check_seconds(name, seconds, 0)
        self._id_counter += 1
        job_id = new_id(random.Random(f"{self.seed}:job:{self._id_counter}"))
        job = self.state.create_statement_job(
            job_id,
            bill_id,
            self._service_user(bill_id),
            include_csv=include_csv,
            meter_ids=meter_ids,
            pending_for=pending_for,
            running_for=running_for,
            outcome=outcome,
        )
        return job.id

    def advance_job(self, job_id: str) -> str:
        """One lifecycle step now (PENDING → RUNNING → planned outcome); returns the new status."""
        return self.state.advance_job(job_id).status

    def start_job(self, job_id: str) -> None:
        self.state.start_job(job_id)

    def complete_job(self, job_id: str) -> None:
        self.state.finish_job(job_id, "COMPLETE")

    def fail_job(self, job_id: str) -> None:
        self.state.finish_job(job_id, "FAILED")

    def cancel_job(self, job_id: str) -> None:
        self.state.finish_job(job_id, "CANCELLED")

    def _service_user(self, bill_id: str) -> str:
        org_id = self.state.bill(bill_id).org_id
        user = next(user for user in self.state.users.values() if user.org_id == org_id)
        return user.id

    # ---- faults -------------------------------------------------------------------------------------------

    def mutate_responses(
        self, entity_id: str | None, fn: Callable[[dict[str, Any]], dict[str, Any]], *, count: int | None = None
    ) -> None:
        """Every later 200 JSON body served for ``entity_id`` (None: every bill and job) passes through
        ``fn`` (it gets a fresh copy it may change in place) — ``count`` responses, or forever when None.
        An ``entity_id`` that is no bill or job is refused (``SandboxError``, 404)."""
        if entity_id is not None and entity_id not in self.state.bills and entity_id not in self.state.jobs:
            raise SandboxError(f"unknown entity {entity_id!r}: no bill or statement job has that id", status=404)
        self._registry.add_mutation(entity_id, fn, count)

    def clear_faults(self) -> None:
        self._registry.clear()

    # ---- serving ------------------------------------------------------------------------------------------

    def asgi_app(self) -> SandboxASGI:
        return SandboxASGI(self)

    def respx_router(self, base_url: str = DEFAULT_BASE_URL) -> respx.MockRouter:
        return respx_router(self, base_url)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> SandboxServer[Sandbox]:
        """Start the HTTP sandbox in a background thread (stop it with ``.stop()`` or a ``with`` block)."""
        return SandboxServer(self, host=host, port=port).start()


JOB_OUTCOMES: tuple[JobOutcome, ...] = ("COMPLETE", "FAILED", "CANCELLED")


def _check_limit(name: str, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"{name} must be a whole number of requests of at least 1, or None for no limit (not {value!r}: "
            "0 would refuse every request; the CLI's --rate-limit 0 means None)"
        )


def _check_whole(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum}, not {value!r}")


def _check_seconds(name: str, value: float, minimum: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < minimum:
        raise ValueError(f"{name} must be a finite number of seconds of at least {minimum:g}, not {value!r}")


__all__ = ["DEFAULT_BASE_URL", "Sandbox"]
