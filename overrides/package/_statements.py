"""Statement helpers as plans: the polling and download policy is written once, as generators that yield
what they need done (retrieve a job, GET a URL, sleep) and receive the result. The sync and async
facades each run the same plans with their own I/O."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, TypeVar

import httpx
import msgspec

from ._collector import decode_paused
from ._deadline import MAX_SECONDS
from ._exceptions import (
    APITimeoutError,
    InvalidParameterError,
    ResponseValidationError,
    StatementDownloadError,
    StatementJobTimeoutError,
    StatementNotReadyError,
    with_response,
)
from ._redact import scrub
from .api.statement_job.get_statement_job import SUCCESS_STATUS
from .models.statement_job_response import StatementJobResponse
from .models.statement_job_status import StatementJobStatus
from .types import UNSET

logger = logging.getLogger("m3ter_billing.statements")

TERMINAL_STATUSES = frozenset({StatementJobStatus.COMPLETE, StatementJobStatus.FAILED, StatementJobStatus.CANCELLED})
# What an object store answers for a presigned URL past its lifetime (S3: 403 "Request has expired").
_EXPIRED_URL_STATUSES = frozenset({400, 401, 403, 404, 410})

Format = Literal["json", "csv"]


@dataclass(frozen=True, slots=True)
class Retrieve:
    """Get the job; ``within``: the call must also be done within so many seconds (on top of the client's
    own total timeout), None: the client's limits alone."""

    job_id: str
    within: float | None = None


@dataclass(frozen=True, slots=True)
class Fetch:
    url: str


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


Action = Retrieve | Fetch | Sleep

POLL_GRACE = 10.0
"""The least time a poll that ``wait()`` sends before its timeout has passed gets to be answered (or the
client's total timeout, when that is shorter): a wait ends at most this long after its timeout, however
slow the server, and ``timeout=0`` still checks the job once."""
_T = TypeVar("_T")
Plan: TypeAlias = Generator[Action, Any, _T]
"""A plan that returns a ``_T``: it yields actions and is sent each one's result (the job for
:class:`Retrieve`, the ``httpx.Response`` for :class:`Fetch`, None for :class:`Sleep`)."""


@dataclass(frozen=True, slots=True)
class Statement:
    """The documents of a COMPLETE statement job: the decoded JSON statement and, when the job has
    ``includeCsvFormat``, the CSV text. ``job`` is the job as last fetched (its URLs may be fresher)."""

    job: StatementJobResponse
    json: Any
    csv: str | None

    def __repr__(self) -> str:
        csv = "None" if self.csv is None else f"<{len(self.csv)} characters>"
        return f"Statement(job_id={self.job.id!r}, json=<{type(self.json).__name__}>, csv={csv})"


def is_terminal(job: StatementJobResponse) -> bool:
    return job.statement_job_status in TERMINAL_STATUSES


def _the_job(job_id: str, job: StatementJobResponse) -> StatementJobResponse:
    """``job``, the answer to a read of the job ``job_id``; a :class:`ResponseValidationError` at ``$.id``
    when it is another job (ids are UUIDs: compared in any letter case). A plain ``retrieve()`` returns
    what the server sent; the helpers act on the job they were asked about, or not at all."""
    if job.id.lower() == job_id.lower():
        return job
    shown = job.id if len(job.id) <= 100 else job.id[:100] + "..."
    raise ResponseValidationError(
        f"asked for statement job {job_id!r}, the answer is job {shown!r}",
        path="$.id",
        status_code=SUCCESS_STATUS,
        body=job.to_json(),
    )


def wait_plan(
    job_id: str,
    *,
    timeout: float,
    poll_interval: float,
    max_poll_interval: float,
    clock: Callable[[], float],
) -> Plan[StatementJobResponse]:
    """Poll the job until it is COMPLETE, FAILED or CANCELLED; back off from ``poll_interval`` doubling up to
    ``max_poll_interval``; raise :class:`StatementJobTimeoutError` after ``timeout`` seconds. Each poll must
    also be done within the time the wait has left, or :data:`POLL_GRACE` when that is longer (a bound on top of
    the client's own total timeout of a call). A poll that times out (``APITimeoutError`` thrown in here) ends
    the wait the same way past the timeout, and before it when the wait's bound was the tighter one and ran out
    (a ``Retry-After`` longer than the time left fails the poll at once); a poll that times out on the client's
    own limits with time left raises its ``APITimeoutError``.

    Refuses, before the first request, a ``timeout`` that is not a finite number >= 0, a ``poll_interval``
    that is not finite and > 0, and a ``max_poll_interval`` that is not finite and >= ``poll_interval``
    (NaN would make the deadline never pass; 0 would poll in a busy loop)."""
    _check_seconds("timeout", timeout, above=0.0, inclusive=True)
    _check_seconds("poll_interval", poll_interval, above=0.0, inclusive=False)
    _check_seconds("max_poll_interval", max_poll_interval, above=poll_interval, inclusive=True)
    deadline = clock() + timeout
    interval = poll_interval
    status = "not answered yet"  # what the last poll said
    while True:
        within = max(deadline - clock(), POLL_GRACE)
        try:
            answer: StatementJobResponse = yield Retrieve(job_id, within=within)
        except APITimeoutError as exc:
            if clock() >= deadline:
                raise StatementJobTimeoutError(
                    f"statement job {job_id!r} is still {status} after {timeout:g}s "
                    "(the last poll got no answer in time)"
                ) from exc
            # The poll's total timeout is ``within`` exactly when the wait's bound was the tighter one
            # (``_Options.within``); a socket timeout has none, the client's own total another.
            if exc.total_timeout == within:
                raise StatementJobTimeoutError(
                    f"statement job {job_id!r} is still {status}: the last poll could not finish within the "
                    f"wait's {timeout:g}s ({exc})"
                ) from exc
            raise  # the client's own limits ran out (a socket timeout, its total timeout), with time left to wait
        job = _the_job(job_id, answer)
        if is_terminal(job):
            return job
        status = str(job.statement_job_status)
        remaining = deadline - clock()
        if remaining <= 0:
            raise StatementJobTimeoutError(f"statement job {job_id!r} is still {status} after {timeout:g}s")
        logger.debug("statement job %s is %s; polling again in %.2fs", job_id, job.statement_job_status, interval)
        yield Sleep(min(interval, remaining))
        interval = min(interval * 2, max_poll_interval)


def _check_seconds(name: str, value: object, *, above: float, inclusive: bool) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok:
        try:
            seconds = float(value)  # type: ignore[arg-type]
        except OverflowError:
            seconds = math.inf
        ok = seconds <= MAX_SECONDS and (seconds >= above if inclusive else seconds > above)
    if not ok:
        bound = f">= {above:g}" if inclusive else f"> {above:g}"
        raise InvalidParameterError(
            f"{name} must be a number of seconds {bound} and at most {MAX_SECONDS:g}, got {value!r}"
        )


def _url_of(job: StatementJobResponse, fmt: Format) -> str:
    if job.statement_job_status != StatementJobStatus.COMPLETE:
        raise StatementNotReadyError(f"statement job {job.id!r} is {job.statement_job_status}, not COMPLETE")
    url = job.presigned_json_statement_url if fmt == "json" else job.presigned_csv_statement_url
    if url is UNSET or url is None:
        raise StatementNotReadyError(f"statement job {job.id!r} carries no {fmt.upper()} statement URL")
    return url


def download_plan(
    job: StatementJobResponse, fmt: Format, job_id: str
) -> Plan[tuple[StatementJobResponse, httpx.Response]]:
    """GET the job's presigned URL for ``fmt``; when the URL has expired, re-fetch the job ``job_id`` (the
    one the caller named) once for a fresh one. Returns ``(job, the 200 response)``, its body read."""
    for attempt in range(2):
        url = _url_of(job, fmt)
        response: httpx.Response = yield Fetch(url)
        if response.status_code == 200:
            return job, response
        if attempt == 0 and response.status_code in _EXPIRED_URL_STATUSES:
            logger.info("%s statement URL answered %s; re-fetching job %s once", fmt, response.status_code, job_id)
            job = _the_job(job_id, (yield Retrieve(job_id)))
            continue
        raise StatementDownloadError(
            f"downloading the {fmt.upper()} statement of job {job.id!r} failed: "
            f"{response.status_code} from {scrub(url)}",
            status_code=response.status_code,
            url=url,
        )
    raise AssertionError("unreachable")  # pragma: no cover


def _invalid(message: str, response: httpx.Response) -> ResponseValidationError:
    """The error for a downloaded statement that cannot be decoded, with the request and response it came
    from as an API call's error has them. The presigned URL is scrubbed everywhere it could show: the
    error's ``url`` and the ``response``'s request (its URL, hence ``response.url``) keep no signature or
    credential parameter; the response's headers and body are the object store's."""
    request = response.request
    # The fetched response is the plan's own: its request is replaced by one with the scrubbed URL.
    response.request = httpx.Request(request.method, scrub(request.url), headers=request.headers)
    error = ResponseValidationError(message, status_code=response.status_code, body=response.content)
    return with_response(error, response)


def statement_plan(job_or_id: object) -> Plan[Statement]:
    """Download the JSON statement and, when the job includes CSV, the CSV statement; a job given by its id
    is fetched first. Every job fetched must be the one named (the id given, or the job's own). Anything
    else than a job or an id is refused before anything is sent (as ``wait()`` refuses an id that is not
    a string), whatever the caller's type checker let through."""
    if isinstance(job_or_id, StatementJobResponse):
        job, job_id = job_or_id, job_or_id.id
    elif isinstance(job_or_id, str):
        job_id = job_or_id
        job = _the_job(job_id, (yield Retrieve(job_id)))
    else:
        given = type(job_or_id).__name__
        hint = " (StatementJobResponse.from_dict() makes one from a dict)" if isinstance(job_or_id, dict) else ""
        raise InvalidParameterError(f"job must be a StatementJobResponse or a job id string, not {given}{hint}")
    # Refuse a job that cannot give every document before downloading any of them.
    _url_of(job, "json")
    if job.include_csv_format is True:
        _url_of(job, "csv")
    job, json_response = yield from download_plan(job, "json", job_id)
    try:
        document = decode_paused(msgspec.json.decode, json_response.content)  # up to 32 MiB of dicts and lists
    except msgspec.DecodeError as exc:
        raise _invalid(f"the JSON statement is not JSON: {exc}", json_response) from None
    except UnicodeDecodeError:
        raise _invalid("the JSON statement is not UTF-8", json_response) from None
    except RecursionError:
        raise _invalid("the JSON statement is nested too deeply to decode", json_response) from None
    csv: str | None = None
    if job.include_csv_format is True:
        job, csv_response = yield from download_plan(job, "csv", job_id)
        try:
            csv = csv_response.content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _invalid(f"the CSV statement is not UTF-8 ({exc.reason} at byte {exc.start})", csv_response) from None
    return Statement(job=job, json=document, csv=csv)


__all__ = ["TERMINAL_STATUSES", "Statement", "download_plan", "is_terminal", "statement_plan", "wait_plan"]
