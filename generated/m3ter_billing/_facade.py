"""The entry points: ``M3terBilling`` and ``AsyncM3terBilling``, the same surface sync and async.

    client = M3terBilling()                      # or M3terBilling(org_id=..., api_key=..., api_secret=...)
    bill = client.bills.retrieve("bill-id", additional=["lineItems"])
    job = client.statement_jobs.wait("job-id")
    statement = client.statement_jobs.download(job)

Both build an httpx client with OAuth2 client credentials (``_auth``), default timeouts (60 s, 5 s to
connect) and retries (``_retry``), and call the generated endpoint functions in ``api/``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any

import httpx
from httpx_retries import Retry

from . import __version__
from ._auth import TOKEN_PATH, ClientCredentialsAuth
from ._exceptions import InvalidParameterError, translated_transport_errors
from ._redact import install_log_redaction
from ._retry import DEFAULT_MAX_RETRIES, M3terRetry, retrying_transport
from ._settings import DEFAULT_TIMEOUT, Settings
from ._statements import Fetch, Plan, Retrieve, Sleep, Statement, statement_plan, wait_plan
from .api.bill import get_bill
from .api.statement_job import get_statement_job
from .client import Client
from .models.bill_response import BillResponse
from .models.statement_job_response import StatementJobResponse
from .types import UNSET, Response, Unset

DEFAULT_WAIT_TIMEOUT = 600.0
DEFAULT_POLL_INTERVAL = 1.0
DEFAULT_MAX_POLL_INTERVAL = 30.0


def _additional(additional: Sequence[str] | str | None) -> list[str] | Unset:
    if additional is None:
        return UNSET
    values = [additional] if isinstance(additional, str) else list(additional)
    for value in values:
        if not isinstance(value, str):
            raise InvalidParameterError(f"additional must hold strings, got {type(value).__name__}")
    return values


class _Base:
    """What both facades share: settings, auth and the httpx client options."""

    def __init__(
        self,
        *,
        base_url: str | None,
        org_id: str | None,
        api_key: str | None,
        api_secret: str | None,
        timeout: httpx.Timeout | float | None,
        clock: Callable[[], float],
        policy: Retry,
    ) -> None:
        install_log_redaction()
        self._settings = Settings.resolve(base_url=base_url, org_id=org_id, api_key=api_key, api_secret=api_secret)
        self._clock = clock
        self.auth = ClientCredentialsAuth(
            token_url=self._settings.base_url + TOKEN_PATH,
            api_key=self._settings.api_key,
            api_secret=self._settings.api_secret.reveal(),
            clock=clock,
            # Asking for a client-credentials token again is harmless, so its POST is retried like a GET.
            token_retry=policy.copy_with(allowed_methods=["POST"]) if isinstance(policy, Retry) else None,
        )
        self._client_options: dict[str, Any] = {
            "base_url": self._settings.base_url,
            "auth": self.auth,
            "timeout": timeout,
            "headers": {"User-Agent": f"m3ter-billing/{__version__}", "Accept": "application/json"},
            "follow_redirects": False,
        }

    @property
    def org_id(self) -> str:
        return self._settings.org_id

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, org_id={self.org_id!r})"


class M3terBilling(_Base):
    """The m3ter billing client (sync). Thread-safe; close it, or use it as a context manager.

    Arguments not given are read from ``M3TER_BASE_URL`` (default ``https://api.m3ter.com``),
    ``M3TER_ORG_ID``, ``M3TER_API_KEY`` and ``M3TER_API_SECRET``. ``transport`` replaces httpx's network
    transport (a respx mock, the sandbox, ``httpx.MockTransport``); retries wrap it. ``retry`` replaces the
    retry policy (an ``httpx_retries.Retry``; default :class:`M3terRetry` with ``max_retries``).
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        org_id: str | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry: Retry | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        policy = retry if retry is not None else M3terRetry(max_retries, sleep=sleep)
        super().__init__(
            base_url=base_url,
            org_id=org_id,
            api_key=api_key,
            api_secret=api_secret,
            timeout=timeout,
            clock=clock,
            policy=policy,
        )
        self._sleep = sleep
        self.http = httpx.Client(
            transport=retrying_transport(transport, policy, is_async=False), **self._client_options
        )
        self._client = Client(httpx_client=self.http)
        self.bills = Bills(self)
        self.statement_jobs = StatementJobs(self)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> M3terBilling:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _run(self, plan: Plan) -> Any:
        """Carry out a statement plan with blocking I/O."""
        result: Any = None
        try:
            while True:
                action = plan.send(result)
                if isinstance(action, Retrieve):
                    result = self.statement_jobs.retrieve(action.job_id)
                elif isinstance(action, Fetch):
                    with translated_transport_errors():
                        result = self.http.get(action.url, auth=None)
                elif isinstance(action, Sleep):
                    self._sleep(action.seconds)
                    result = None
        except StopIteration as stop:
            return stop.value


class AsyncM3terBilling(_Base):
    """The m3ter billing client (asyncio): the same surface as :class:`M3terBilling`, awaited."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        org_id: str | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry: Retry | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        policy = retry if retry is not None else M3terRetry(max_retries, async_sleep=sleep)
        super().__init__(
            base_url=base_url,
            org_id=org_id,
            api_key=api_key,
            api_secret=api_secret,
            timeout=timeout,
            clock=clock,
            policy=policy,
        )
        self._sleep = sleep
        self.http = httpx.AsyncClient(
            transport=retrying_transport(transport, policy, is_async=True), **self._client_options
        )
        self._client = Client(async_httpx_client=self.http)
        self.bills = AsyncBills(self)
        self.statement_jobs = AsyncStatementJobs(self)

    async def close(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> AsyncM3terBilling:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _run(self, plan: Plan) -> Any:
        """Carry out a statement plan with asyncio I/O."""
        result: Any = None
        try:
            while True:
                action = plan.send(result)
                if isinstance(action, Retrieve):
                    result = await self.statement_jobs.retrieve(action.job_id)
                elif isinstance(action, Fetch):
                    with translated_transport_errors():
                        result = await self.http.get(action.url, auth=None)
                elif isinstance(action, Sleep):
                    await self._sleep(action.seconds)
                    result = None
        except StopIteration as stop:
            return stop.value


# -- bills ----------------------------------------------------------------------------------------------


class BillsWithRawResponse:
    """``client.bills.with_raw_response``: the same calls, returning :class:`Response` (status, headers)."""

    def __init__(self, owner: M3terBilling) -> None:
        self._owner = owner

    def retrieve(self, id: str, *, additional: Sequence[str] | str | None = None) -> Response[BillResponse]:
        with translated_transport_errors():
            return get_bill.sync_detailed(
                org_id=self._owner.org_id, id=id, client=self._owner._client, additional=_additional(additional)
            )


class Bills:
    """``client.bills``: Retrieve Bill."""

    def __init__(self, owner: M3terBilling) -> None:
        self.with_raw_response = BillsWithRawResponse(owner)

    def retrieve(self, id: str, *, additional: Sequence[str] | str | None = None) -> BillResponse:
        """Retrieve the Bill ``id`` (GET /organizations/{orgId}/bills/{id}).

        ``additional`` names additional fields to include; it is sent as one comma-joined value.
        """
        return self.with_raw_response.retrieve(id, additional=additional).parsed


class AsyncBillsWithRawResponse:
    def __init__(self, owner: AsyncM3terBilling) -> None:
        self._owner = owner

    async def retrieve(self, id: str, *, additional: Sequence[str] | str | None = None) -> Response[BillResponse]:
        with translated_transport_errors():
            return await get_bill.asyncio_detailed(
                org_id=self._owner.org_id, id=id, client=self._owner._client, additional=_additional(additional)
            )


class AsyncBills:
    """``client.bills`` (async): Retrieve Bill."""

    def __init__(self, owner: AsyncM3terBilling) -> None:
        self.with_raw_response = AsyncBillsWithRawResponse(owner)

    async def retrieve(self, id: str, *, additional: Sequence[str] | str | None = None) -> BillResponse:
        """Retrieve the Bill ``id``; see :meth:`Bills.retrieve`."""
        return (await self.with_raw_response.retrieve(id, additional=additional)).parsed


# -- statement jobs ---------------------------------------------------------------------------------------


class StatementJobsWithRawResponse:
    def __init__(self, owner: M3terBilling) -> None:
        self._owner = owner

    def retrieve(self, id: str) -> Response[StatementJobResponse]:
        with translated_transport_errors():
            return get_statement_job.sync_detailed(org_id=self._owner.org_id, id=id, client=self._owner._client)


class StatementJobs:
    """``client.statement_jobs``: Get StatementJob, waiting for a job, downloading its statement."""

    def __init__(self, owner: M3terBilling) -> None:
        self._owner = owner
        self.with_raw_response = StatementJobsWithRawResponse(owner)

    def retrieve(self, id: str) -> StatementJobResponse:
        """Get the StatementJob ``id`` (GET /organizations/{orgId}/statementjobs/{id})."""
        return self.with_raw_response.retrieve(id).parsed

    def wait(
        self,
        id: str,
        *,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
    ) -> StatementJobResponse:
        """Poll until the job is COMPLETE, FAILED or CANCELLED and return it.

        Raises:
            StatementJobTimeoutError: still PENDING or RUNNING after ``timeout`` seconds.
        """
        plan = wait_plan(
            id,
            timeout=timeout,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            clock=self._owner._clock,
        )
        job: StatementJobResponse = self._owner._run(plan)
        return job

    def download(self, job: StatementJobResponse | str) -> Statement:
        """Download a COMPLETE job's JSON statement and, with ``includeCsvFormat``, its CSV statement.

        A presigned URL that has expired makes the helper re-fetch the job once for fresh URLs.

        Raises:
            StatementNotReadyError: the job is not COMPLETE or has no URL for a format.
            StatementDownloadError: the download failed even with fresh URLs.
        """
        resolved = self.retrieve(job) if isinstance(job, str) else job
        statement: Statement = self._owner._run(statement_plan(resolved))
        return statement


class AsyncStatementJobsWithRawResponse:
    def __init__(self, owner: AsyncM3terBilling) -> None:
        self._owner = owner

    async def retrieve(self, id: str) -> Response[StatementJobResponse]:
        with translated_transport_errors():
            return await get_statement_job.asyncio_detailed(
                org_id=self._owner.org_id, id=id, client=self._owner._client
            )


class AsyncStatementJobs:
    """``client.statement_jobs`` (async): the same calls as :class:`StatementJobs`, awaited."""

    def __init__(self, owner: AsyncM3terBilling) -> None:
        self._owner = owner
        self.with_raw_response = AsyncStatementJobsWithRawResponse(owner)

    async def retrieve(self, id: str) -> StatementJobResponse:
        """Get the StatementJob ``id``; see :meth:`StatementJobs.retrieve`."""
        return (await self.with_raw_response.retrieve(id)).parsed

    async def wait(
        self,
        id: str,
        *,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
    ) -> StatementJobResponse:
        """Poll until the job is terminal; see :meth:`StatementJobs.wait`."""
        plan = wait_plan(
            id,
            timeout=timeout,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            clock=self._owner._clock,
        )
        job: StatementJobResponse = await self._owner._run(plan)
        return job

    async def download(self, job: StatementJobResponse | str) -> Statement:
        """Download the job's statements; see :meth:`StatementJobs.download`."""
        resolved = await self.retrieve(job) if isinstance(job, str) else job
        statement: Statement = await self._owner._run(statement_plan(resolved))
        return statement


__all__ = ["AsyncM3terBilling", "M3terBilling"]
