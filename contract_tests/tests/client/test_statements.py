"""Statement helpers: wait() polls with backoff to a terminal state; download() fetches JSON and CSV."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx
from m3ter_billing import (
    APITimeoutError,
    InvalidParameterError,
    ResponseValidationError,
    Statement,
    StatementDownloadError,
    StatementJobResponse,
    StatementJobStatus,
    StatementJobTimeoutError,
    StatementNotReadyError,
)

from .support import (
    BASE_URL,
    ORG_ID,
    AsyncClientFactory,
    AsyncSleepRecorder,
    ClientFactory,
    FakeClock,
    SleepRecorder,
    job_body,
)

JOB_PATH = f"/organizations/{ORG_ID}/statementjobs/job-1"
S3 = "https://statements.s3.amazonaws.com/org"
JSON_URL = f"{S3}/job-1.json?X-Amz-Expires=900&X-Amz-Signature=aaaa1111"
CSV_URL = f"{S3}/job-1.csv?X-Amz-Expires=900&X-Amz-Signature=bbbb2222"
FRESH_JSON_URL = f"{S3}/job-1.json?X-Amz-Expires=900&X-Amz-Signature=cccc3333"
FRESH_CSV_URL = f"{S3}/job-1.csv?X-Amz-Expires=900&X-Amz-Signature=dddd4444"
DOCUMENT = {"bill": {"id": "bill-1"}, "lineItems": [{"description": "API calls", "amount": 12.5}]}
CSV_TEXT = "description,amount\nAPI calls,12.5\n"


def complete(**extra: Any) -> dict[str, Any]:
    return job_body(
        **{"status": "COMPLETE", "presignedJsonStatementUrl": JSON_URL, "jsonStatementStatus": "LATEST", **extra}
    )


def with_csv(json_url: str = JSON_URL, csv_url: str = CSV_URL) -> dict[str, Any]:
    return job_body(
        status="COMPLETE", includeCsvFormat=True, presignedJsonStatementUrl=json_url, presignedCsvStatementUrl=csv_url
    )


def _progress(*statuses: str, last: dict[str, Any] | None = None) -> list[httpx.Response]:
    responses = [httpx.Response(200, json=job_body(status=s)) for s in statuses]
    if last is not None:
        responses.append(httpx.Response(200, json=last))
    return responses


# -- wait ---------------------------------------------------------------------------------------------------


@pytest.fixture
def wait_client(make_client: ClientFactory, clock: FakeClock) -> Any:
    sleeps = SleepRecorder(clock)
    return make_client(clock=clock, sleep=sleeps), sleeps


def test_wait_polls_with_backoff_until_complete(router: respx.Router, wait_client: Any) -> None:
    client, sleeps = wait_client
    route = router.get(JOB_PATH).mock(
        side_effect=_progress("PENDING", "PENDING", "RUNNING", "RUNNING", last=complete())
    )
    job = client.statement_jobs.wait("job-1")
    assert job.statement_job_status == StatementJobStatus.COMPLETE
    assert route.call_count == 5
    assert sleeps.calls == [1.0, 2.0, 4.0, 8.0]


@pytest.mark.parametrize("terminal", ["FAILED", "CANCELLED"])
def test_wait_returns_failed_and_cancelled_jobs(router: respx.Router, wait_client: Any, terminal: str) -> None:
    client, _ = wait_client
    router.get(JOB_PATH).mock(side_effect=_progress("RUNNING", terminal))
    assert client.statement_jobs.wait("job-1").statement_job_status == terminal


def test_wait_backoff_is_capped(router: respx.Router, wait_client: Any) -> None:
    client, sleeps = wait_client
    router.get(JOB_PATH).mock(side_effect=_progress(*["RUNNING"] * 8, last=complete()))
    client.statement_jobs.wait("job-1", poll_interval=0.5, max_poll_interval=5.0)
    assert sleeps.calls == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0, 5.0]


def test_wait_times_out(router: respx.Router, wait_client: Any) -> None:
    client, sleeps = wait_client
    router.get(JOB_PATH).respond(200, json=job_body(status="RUNNING"))
    with pytest.raises(StatementJobTimeoutError, match="RUNNING"):
        client.statement_jobs.wait("job-1", timeout=30.0)
    assert sum(sleeps.calls) == pytest.approx(30.0)


def test_wait_on_an_already_complete_job_does_not_sleep(router: respx.Router, wait_client: Any) -> None:
    client, sleeps = wait_client
    router.get(JOB_PATH).respond(200, json=complete())
    client.statement_jobs.wait("job-1")
    assert sleeps.calls == []


def test_wait_keeps_polling_through_an_unknown_status(router: respx.Router, wait_client: Any) -> None:
    client, _ = wait_client
    router.get(JOB_PATH).mock(side_effect=_progress("QUEUED_SOMEWHERE_NEW", last=complete()))
    assert client.statement_jobs.wait("job-1").statement_job_status == "COMPLETE"


def _poll_timing_out(clock: FakeClock, advance: float) -> Any:
    def effect(request: httpx.Request) -> httpx.Response:
        clock.advance(advance)
        raise httpx.ReadTimeout("no answer", request=request)

    return effect


def test_a_poll_that_times_out_past_the_wait_ends_it(router: respx.Router, make_client: ClientFactory) -> None:
    clock = FakeClock()
    client = make_client(clock=clock, sleep=SleepRecorder(clock), max_retries=0)
    route = router.get(JOB_PATH)
    route.side_effect = [httpx.Response(200, json=job_body(status="RUNNING")), _poll_timing_out(clock, 100)]
    with pytest.raises(StatementJobTimeoutError) as caught:
        client.statement_jobs.wait("job-1", timeout=30.0)
    assert str(caught.value) == (
        "statement job 'job-1' is still RUNNING after 30s (the last poll got no answer in time)"
    )
    assert isinstance(caught.value.__cause__, APITimeoutError)
    assert route.call_count == 2


def test_a_poll_that_times_out_with_time_left_raises_its_own_error(
    router: respx.Router, make_client: ClientFactory
) -> None:
    clock = FakeClock()
    client = make_client(clock=clock, sleep=SleepRecorder(clock), max_retries=0)
    router.get(JOB_PATH).mock(side_effect=_poll_timing_out(clock, 1))
    with pytest.raises(APITimeoutError):
        client.statement_jobs.wait("job-1", timeout=30.0)


async def test_async_poll_that_times_out_past_the_wait_ends_it(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    clock = FakeClock()
    client = make_async_client(clock=clock, sleep=AsyncSleepRecorder(clock), max_retries=0)
    router.get(JOB_PATH).mock(side_effect=_poll_timing_out(clock, 100))
    with pytest.raises(StatementJobTimeoutError, match="still not answered yet after 5s") as caught:
        await client.statement_jobs.wait("job-1", timeout=5.0)
    assert isinstance(caught.value.__cause__, APITimeoutError)


async def test_async_poll_that_times_out_with_time_left_raises_its_own_error(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    clock = FakeClock()
    client = make_async_client(clock=clock, sleep=AsyncSleepRecorder(clock), max_retries=0)
    router.get(JOB_PATH).mock(side_effect=_poll_timing_out(clock, 1))
    with pytest.raises(APITimeoutError):
        await client.statement_jobs.wait("job-1", timeout=30.0)


# A 429 asking for a wait longer than the wait has left: the poll's bound is the wait's (the client's own
# total timeout is 60 s here), so the retry layer gives up at once and the wait ends, saying why.
RETRY_AFTER_30 = httpx.Response(429, json={"message": "slow down"}, headers={"Retry-After": "30"})
TOLD_TO_RETRY = (
    "statement job 'job-1' is still RUNNING: the last poll could not finish within the wait's 20s "
    "(the call's total timeout (19s) ran out waiting 30.00s to retry after 429)"
)


def test_a_poll_told_to_retry_after_the_wait_has_left_ends_it(router: respx.Router, wait_client: Any) -> None:
    client, sleeps = wait_client
    route = router.get(JOB_PATH).mock(
        side_effect=[httpx.Response(200, json=job_body(status="RUNNING")), RETRY_AFTER_30]
    )
    with pytest.raises(StatementJobTimeoutError) as caught:
        client.statement_jobs.wait("job-1", timeout=20.0)
    assert str(caught.value) == TOLD_TO_RETRY
    assert isinstance(caught.value.__cause__, APITimeoutError)
    assert caught.value.__cause__.total_timeout == 19.0
    assert route.call_count == 2
    assert sleeps.calls == [1.0]  # the poll interval only: no wait for the retry


async def test_async_poll_told_to_retry_after_the_wait_has_left_ends_it(
    router: respx.Router, make_async_client: AsyncClientFactory, clock: FakeClock
) -> None:
    sleeps = AsyncSleepRecorder(clock)
    client = make_async_client(clock=clock, sleep=sleeps)
    route = router.get(JOB_PATH).mock(
        side_effect=[httpx.Response(200, json=job_body(status="RUNNING")), RETRY_AFTER_30]
    )
    with pytest.raises(StatementJobTimeoutError) as caught:
        await client.statement_jobs.wait("job-1", timeout=20.0)
    assert str(caught.value) == TOLD_TO_RETRY
    assert isinstance(caught.value.__cause__, APITimeoutError)
    assert route.call_count == 2
    assert sleeps.calls == [1.0]


def test_a_poll_told_to_retry_after_the_client_total_raises_its_own_error(
    router: respx.Router, make_client: ClientFactory, clock: FakeClock
) -> None:
    # The client's own total timeout (15 s) is the tighter bound: its APITimeoutError, as for any call.
    client = make_client(clock=clock, sleep=SleepRecorder(clock), total_timeout=15)
    router.get(JOB_PATH).mock(return_value=RETRY_AFTER_30)
    with pytest.raises(APITimeoutError, match=r"total timeout \(15s\) ran out waiting 30.00s") as caught:
        client.statement_jobs.wait("job-1", timeout=20.0)
    assert caught.value.total_timeout == 15.0


async def test_async_poll_told_to_retry_after_the_client_total_raises_its_own_error(
    router: respx.Router, make_async_client: AsyncClientFactory, clock: FakeClock
) -> None:
    client = make_async_client(clock=clock, sleep=AsyncSleepRecorder(clock), total_timeout=15)
    router.get(JOB_PATH).mock(return_value=RETRY_AFTER_30)
    with pytest.raises(APITimeoutError, match=r"total timeout \(15s\) ran out waiting 30.00s"):
        await client.statement_jobs.wait("job-1", timeout=20.0)


def test_a_socket_timeout_names_no_total_timeout(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(JOB_PATH).mock(side_effect=httpx.ReadTimeout("no answer"))
    with pytest.raises(APITimeoutError) as caught:
        make_client(max_retries=0).statement_jobs.retrieve("job-1")
    assert caught.value.total_timeout is None


def test_a_zero_timeout_still_checks_the_job_once(router: respx.Router, wait_client: Any) -> None:
    client, sleeps = wait_client
    router.get(JOB_PATH).respond(200, json=complete())
    assert client.statement_jobs.wait("job-1", timeout=0).statement_job_status == "COMPLETE"
    assert sleeps.calls == []


async def test_async_wait(router: respx.Router, make_async_client: AsyncClientFactory, clock: FakeClock) -> None:
    sleeps = AsyncSleepRecorder(clock)
    client = make_async_client(clock=clock, sleep=sleeps)
    router.get(JOB_PATH).mock(side_effect=_progress("PENDING", "RUNNING", last=complete()))
    job = await client.statement_jobs.wait("job-1")
    assert job.statement_job_status == "COMPLETE"
    assert sleeps.calls == [1.0, 2.0]


async def test_async_wait_times_out(
    router: respx.Router, make_async_client: AsyncClientFactory, clock: FakeClock
) -> None:
    client = make_async_client(clock=clock, sleep=AsyncSleepRecorder(clock))
    router.get(JOB_PATH).respond(200, json=job_body(status="PENDING"))
    with pytest.raises(StatementJobTimeoutError):
        await client.statement_jobs.wait("job-1", timeout=10.0)


# -- download ---------------------------------------------------------------------------------------------


def _job(body: dict[str, Any]) -> StatementJobResponse:
    return StatementJobResponse.from_dict(body)


def test_download_json_only(router: respx.Router, make_client: ClientFactory) -> None:
    json_route = router.get(JSON_URL).respond(200, json=DOCUMENT)
    csv_route = router.get(CSV_URL).respond(200, text=CSV_TEXT)
    statement = make_client().statement_jobs.download(_job(complete(presignedCsvStatementUrl=CSV_URL)))
    assert isinstance(statement, Statement)
    assert statement.json == DOCUMENT
    assert statement.csv is None
    assert json_route.call_count == 1
    assert csv_route.call_count == 0  # includeCsvFormat is not true


def test_download_json_and_csv(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(JSON_URL).respond(200, json=DOCUMENT)
    router.get(CSV_URL).respond(200, content=("\ufeff" + CSV_TEXT).encode())
    statement = make_client().statement_jobs.download(_job(with_csv()))
    assert statement.json == DOCUMENT
    assert statement.csv == CSV_TEXT


def test_download_by_job_id(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(JOB_PATH).respond(200, json=complete())
    router.get(JSON_URL).respond(200, json=DOCUMENT)
    statement = make_client().statement_jobs.download("job-1")
    assert statement.job.id == "job-1"
    assert statement.json == DOCUMENT


def test_presigned_urls_get_no_authorization_header(router: respx.Router, make_client: ClientFactory) -> None:
    json_route = router.get(JSON_URL).respond(200, json=DOCUMENT)
    csv_route = router.get(CSV_URL).respond(200, text=CSV_TEXT)
    make_client().statement_jobs.download(_job(with_csv()))
    for route in (json_route, csv_route):
        request = route.calls.last.request
        assert "authorization" not in request.headers
    assert str(json_route.calls.last.request.url) == JSON_URL


def test_expired_url_refetches_the_job_once(router: respx.Router, make_client: ClientFactory) -> None:
    expired = router.get(JSON_URL).respond(403, text="<Error><Code>AccessDenied</Code>Request has expired</Error>")
    job_route = router.get(JOB_PATH).respond(200, json=complete(presignedJsonStatementUrl=FRESH_JSON_URL))
    fresh = router.get(FRESH_JSON_URL).respond(200, json=DOCUMENT)
    statement = make_client().statement_jobs.download(_job(complete()))
    assert statement.json == DOCUMENT
    assert expired.call_count == 1
    assert job_route.call_count == 1
    assert fresh.call_count == 1
    assert statement.job.presigned_json_statement_url == FRESH_JSON_URL
    assert "authorization" not in fresh.calls.last.request.headers


def test_expired_csv_url_refetches_the_job_once(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(JSON_URL).respond(200, json=DOCUMENT)
    router.get(CSV_URL).respond(403)
    job_route = router.get(JOB_PATH).respond(200, json=with_csv(FRESH_JSON_URL, FRESH_CSV_URL))
    router.get(FRESH_CSV_URL).respond(200, text=CSV_TEXT)
    statement = make_client().statement_jobs.download(_job(with_csv()))
    assert statement.csv == CSV_TEXT
    assert job_route.call_count == 1


def test_still_failing_after_refetch_raises_download_error(router: respx.Router, make_client: ClientFactory) -> None:
    # An S3 SignatureDoesNotMatch body echoes the signature: the error keeps the status and the redacted
    # URL, never the body.
    echo = "<Error><Code>SignatureDoesNotMatch</Code><SignatureProvided>aaaa1111</SignatureProvided></Error>"
    router.get(JSON_URL).respond(403, text=echo)
    job_route = router.get(JOB_PATH).respond(200, json=complete())
    with pytest.raises(StatementDownloadError, match="403") as info:
        make_client().statement_jobs.download(_job(complete()))
    assert job_route.call_count == 1
    assert info.value.status_code == 403
    assert info.value.url is not None
    assert info.value.url.startswith(f"{S3}/job-1.json?")
    assert "aaaa1111" not in info.value.url
    assert all("aaaa1111" not in text for text in (str(info.value), repr(info.value), repr(vars(info.value))))


def test_download_server_error_is_retried_then_raises(
    router: respx.Router, make_client: ClientFactory, sleeps: SleepRecorder
) -> None:
    route = router.get(JSON_URL).respond(500)
    with pytest.raises(StatementDownloadError):
        make_client().statement_jobs.download(_job(complete()))
    assert route.call_count == 3


@pytest.mark.parametrize("status", ["PENDING", "RUNNING", "FAILED"])
def test_download_of_an_unfinished_job_is_refused(
    router: respx.Router, make_client: ClientFactory, status: str
) -> None:
    with pytest.raises(StatementNotReadyError):
        make_client().statement_jobs.download(_job(job_body(status=status)))
    assert len(router.calls) == 0


def test_download_without_url_is_refused(make_client: ClientFactory) -> None:
    with pytest.raises(StatementNotReadyError, match="JSON"):
        make_client().statement_jobs.download(_job(job_body(status="COMPLETE")))
    with pytest.raises(StatementNotReadyError, match="CSV"):
        make_client().statement_jobs.download(_job(complete(includeCsvFormat=True)))


NOT_A_JOB = [None, 5, True, b"job-1", {"id": "job-1", "statementJobStatus": "COMPLETE"}]


@pytest.mark.parametrize("value", NOT_A_JOB, ids=["None", "int", "bool", "bytes", "dict"])
def test_download_refuses_what_is_neither_a_job_nor_an_id(
    router: respx.Router, make_client: ClientFactory, value: Any
) -> None:
    with pytest.raises(InvalidParameterError, match="a StatementJobResponse or a job id string") as info:
        make_client().statement_jobs.download(value)
    assert type(value).__name__ in str(info.value)
    assert len(router.calls) == 0  # nothing sent, not even a token request


@pytest.mark.parametrize("value", NOT_A_JOB, ids=["None", "int", "bool", "bytes", "dict"])
async def test_async_download_refuses_what_is_neither_a_job_nor_an_id(
    router: respx.Router, make_async_client: AsyncClientFactory, value: Any
) -> None:
    with pytest.raises(InvalidParameterError, match="a StatementJobResponse or a job id string"):
        await make_async_client().statement_jobs.download(value)
    assert len(router.calls) == 0


def test_download_of_a_dict_says_how_to_make_a_job(make_client: ClientFactory) -> None:
    with pytest.raises(InvalidParameterError, match=r"StatementJobResponse\.from_dict\(\)"):
        make_client().statement_jobs.download(complete())  # type: ignore[arg-type]


async def test_async_download_with_expired_url(router: respx.Router, make_async_client: AsyncClientFactory) -> None:
    router.get(JSON_URL).respond(403)
    router.get(CSV_URL).respond(200, text=CSV_TEXT)
    job_route = router.get(JOB_PATH).respond(200, json=with_csv(FRESH_JSON_URL, CSV_URL))
    fresh = router.get(FRESH_JSON_URL).respond(200, json=DOCUMENT)
    statement = await make_async_client().statement_jobs.download(_job(with_csv()))
    assert statement.json == DOCUMENT
    assert statement.csv == CSV_TEXT
    assert job_route.call_count == 1
    assert "authorization" not in fresh.calls.last.request.headers


async def test_async_download_failure(router: respx.Router, make_async_client: AsyncClientFactory) -> None:
    router.get(JSON_URL).respond(404)
    router.get(JOB_PATH).respond(200, json=complete())
    with pytest.raises(StatementDownloadError) as info:
        await make_async_client().statement_jobs.download(_job(complete()))
    assert info.value.status_code == 404
    assert info.value.url is not None
    assert "aaaa1111" not in info.value.url


def test_statement_that_is_not_json_raises_response_validation_error(
    router: respx.Router, make_client: ClientFactory
) -> None:
    from m3ter_billing import ResponseValidationError

    router.get(JSON_URL).respond(200, text="<html>not json</html>")
    with pytest.raises(ResponseValidationError):
        make_client().statement_jobs.download(_job(complete()))


def test_statement_repr_is_short(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(JSON_URL).respond(200, json=DOCUMENT)
    router.get(CSV_URL).respond(200, text=CSV_TEXT)
    statement = make_client().statement_jobs.download(_job(with_csv()))
    assert repr(statement) == f"Statement(job_id='job-1', json=<dict>, csv=<{len(CSV_TEXT)} characters>)"


# -- hostile input ------------------------------------------------------------------------------------------


def _pending_at_most(polls: int) -> Any:
    """A PENDING job that fails the test instead of being polled forever."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) > polls:
            pytest.fail(f"still polling after {polls} requests")
        return httpx.Response(200, json=job_body(status="PENDING"))

    return answer


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": float("nan")},
        {"timeout": float("inf")},
        {"timeout": -1.0},
        {"poll_interval": 0},
        {"poll_interval": float("nan")},
        {"poll_interval": -0.5},
        {"max_poll_interval": float("nan")},
        {"max_poll_interval": float("inf")},
        {"poll_interval": 2.0, "max_poll_interval": 1.0},
        {"timeout": 10**400},
        {"timeout": 1e10},  # past what a sleep or a lock wait takes (about 9.2e9 s)
        {"poll_interval": 1e10, "max_poll_interval": 1e10},
    ],
)
def test_wait_refuses_impossible_times_before_polling(
    router: respx.Router, wait_client: Any, kwargs: dict[str, Any]
) -> None:
    from m3ter_billing import InvalidParameterError

    client, sleeps = wait_client
    route = router.get(JOB_PATH).mock(side_effect=_pending_at_most(20))
    with pytest.raises(InvalidParameterError):
        client.statement_jobs.wait("job-1", **kwargs)
    assert route.call_count == 0
    assert sleeps.calls == []


async def test_async_wait_refuses_nan_timeout(router: respx.Router, make_async_client: AsyncClientFactory) -> None:
    from m3ter_billing import InvalidParameterError

    route = router.get(JOB_PATH).mock(side_effect=_pending_at_most(20))
    with pytest.raises(InvalidParameterError):
        await make_async_client().statement_jobs.wait("job-1", timeout=float("nan"))
    assert route.call_count == 0


def test_wait_accepts_a_zero_timeout(router: respx.Router, wait_client: Any) -> None:
    client, _ = wait_client
    router.get(JOB_PATH).respond(200, json=job_body(status="PENDING"))
    with pytest.raises(StatementJobTimeoutError):
        client.statement_jobs.wait("job-1", timeout=0)


def test_csv_statement_that_is_not_utf8_raises_response_validation_error(
    router: respx.Router, make_client: ClientFactory
) -> None:
    from m3ter_billing import ResponseValidationError

    latin1 = "caf\xe9;1\n".encode("latin-1")
    router.get(JSON_URL).respond(200, json=DOCUMENT)
    router.get(CSV_URL).respond(200, content=latin1)
    with pytest.raises(ResponseValidationError, match="CSV statement is not UTF-8") as info:
        make_client().statement_jobs.download(_job(with_csv()))
    assert info.value.status_code == 200
    assert info.value.body == latin1


@pytest.mark.parametrize("body", ['{"a": "caf\xe9"}'.encode("latin-1"), b"[" * 200_000], ids=["latin1", "deep"])
def test_json_statement_that_cannot_be_decoded_raises_response_validation_error(
    router: respx.Router, make_client: ClientFactory, body: bytes
) -> None:
    from m3ter_billing import ResponseValidationError

    router.get(JSON_URL).respond(200, content=body)
    with pytest.raises(ResponseValidationError) as info:
        make_client().statement_jobs.download(_job(complete()))
    assert info.value.body == body[: 64 * 1024]  # a bounded prefix
    assert info.value.body_length == len(body)


@pytest.mark.parametrize(
    "url",
    [f"{S3}/job-1.json?X-Amz-Signature=aaaa1111&pad=" + "a" * 70_000, f"{S3}/job-1\r\n.json?X-Amz-Signature=aaaa1111"],
    ids=["too-long", "control-character"],
)
def test_presigned_url_httpx_refuses_is_an_api_connection_error(make_client: ClientFactory, url: str) -> None:
    from m3ter_billing import APIConnectionError

    with pytest.raises(APIConnectionError) as info:
        make_client().statement_jobs.download(_job(complete(presignedJsonStatementUrl=url)))
    assert "aaaa1111" not in str(info.value)
    assert "aaaa1111" not in info.value.url


async def test_async_presigned_url_httpx_refuses_is_an_api_connection_error(
    make_async_client: AsyncClientFactory,
) -> None:
    from m3ter_billing import APIConnectionError

    url = f"{S3}/job-1.json?X-Amz-Signature=aaaa1111&pad=" + "a" * 70_000
    with pytest.raises(APIConnectionError):
        await make_async_client().statement_jobs.download(_job(complete(presignedJsonStatementUrl=url)))


# -- which URLs a download fetches (SSRF, downgrade, credentials) ------------------------------------------

REFUSED = {
    "http on another host": ("http://statements.s3.amazonaws.com/org/job-1.json?X-Amz-Signature=eeee5555", "not https"),
    "loopback literal": ("https://127.0.0.1/job-1.json?X-Amz-Signature=eeee5555", "loopback"),
    "loopback v6": ("https://[::1]:8443/job-1.json?X-Amz-Signature=eeee5555", "loopback"),
    "mapped loopback": ("https://[::ffff:127.0.0.1]/job-1.json?X-Amz-Signature=eeee5555", "loopback"),
    "6to4 loopback": ("https://[2002:7f00:1::]/job-1.json?X-Amz-Signature=eeee5555", "loopback"),
    "6to4 private": ("https://[2002:a01:203::1]/job-1.json?X-Amz-Signature=eeee5555", "private"),
    "teredo": ("https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/job-1.json?X-Amz-Signature=eeee5555", "private"),
    "nat64": ("https://[64:ff9b::a00:1]/job-1.json?X-Amz-Signature=eeee5555", "reserved"),
    "metadata": ("https://169.254.169.254/latest/meta-data?X-Amz-Signature=eeee5555", "link-local"),
    "private": ("https://10.1.2.3/job-1.json?X-Amz-Signature=eeee5555", "private"),
    "unspecified": ("https://0.0.0.0/job-1.json?X-Amz-Signature=eeee5555", "unspecified"),
    "localhost": ("https://localhost/job-1.json?X-Amz-Signature=eeee5555", "loopback"),
    "credentials": ("https://user:pw@statements.s3.amazonaws.com/job-1.json?X-Amz-Signature=eeee5555", "password"),
    # IPv4 literals in the forms the system's resolver reads as addresses (inet_aton), not as names
    "short loopback": ("https://127.1/job-1.json?X-Amz-Signature=eeee5555", "loopback"),
    "decimal loopback": ("https://2130706433:8443/job-1.json?X-Amz-Signature=eeee5555", "loopback"),
    "hex loopback": ("https://0x7f.1/job-1.json?X-Amz-Signature=eeee5555", "loopback"),
    "trailing-dot private": ("https://10.1.2.3./job-1.json?X-Amz-Signature=eeee5555", "private"),
    # hosts that are no IDNA name (reading them raised idna's own errors)
    "bad a-label": ("https://xn--/job-1.json?X-Amz-Signature=eeee5555", "internationalised"),
    "refused codepoint": ("https://xn--ls8h.la/job-1.json?X-Amz-Signature=eeee5555", "internationalised"),
}


@pytest.mark.parametrize("host", ["bad.cafe", "1e100.net", "deadbeef", "s3.0x7f.example"])
def test_a_name_that_only_looks_numeric_is_left_to_the_transport(host: str) -> None:
    from m3ter_billing import check_statement_url

    # Names the system resolver would look up in DNS, not read as addresses: with no resolver (a custom
    # transport), left to that transport as every other name.
    assert check_statement_url(f"https://{host}/job-1.json", base_url="https://api.m3ter.test", resolve=None) is None


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_url_the_client_must_not_fetch_is_refused_before_sending(make_client: ClientFactory, case: str) -> None:
    from m3ter_billing import StatementDownloadError, StatementURLRefusedError

    url, reason = REFUSED[case]
    # The router has no route for these URLs: sending one would fail the test with respx's own error.
    with pytest.raises(StatementURLRefusedError) as info:
        make_client().statement_jobs.download(_job(complete(presignedJsonStatementUrl=url)))
    assert isinstance(info.value, StatementDownloadError)
    assert reason in info.value.reason
    assert "eeee5555" not in str(info.value)
    assert "eeee5555" not in info.value.url
    assert ":pw@" not in str(info.value)  # the password of the "credentials" case
    assert ":pw@" not in info.value.url


async def test_async_download_refuses_the_same_urls(make_async_client: AsyncClientFactory) -> None:
    from m3ter_billing import StatementURLRefusedError

    for url, reason in REFUSED.values():
        with pytest.raises(StatementURLRefusedError, match=reason):
            await make_async_client().statement_jobs.download(_job(complete(presignedJsonStatementUrl=url)))


def test_a_name_that_resolves_to_a_private_address_is_refused(make_client: ClientFactory) -> None:
    from m3ter_billing import StatementURLRefusedError

    asked: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["52.216.0.1", "192.168.0.7"]  # one public, one private: refused

    client = make_client(resolve_host=resolve)
    with pytest.raises(StatementURLRefusedError, match="private"):
        client.statement_jobs.download(_job(complete()))
    assert asked == [("statements.s3.amazonaws.com", 443)]


def test_a_name_that_resolves_to_public_addresses_is_fetched(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(JSON_URL).respond(200, json=DOCUMENT)
    client = make_client(resolve_host=lambda host, port: ["52.216.0.1", "2600:1f18::1"])
    assert client.statement_jobs.download(_job(complete())).json == DOCUMENT


def test_private_hosts_can_be_allowed(router: respx.Router, make_client: ClientFactory) -> None:
    url = "https://10.1.2.3/job-1.json?X-Amz-Signature=eeee5555"
    router.get(url).respond(200, json=DOCUMENT)
    client = make_client().with_options(allow_private_statement_hosts=True)
    assert client.statement_jobs.download(_job(complete(presignedJsonStatementUrl=url))).json == DOCUMENT


def test_the_base_url_origin_is_always_allowed(router: respx.Router, make_client: ClientFactory) -> None:
    url = f"{BASE_URL}/statements/job-1.json?signature=eeee5555"
    route = router.get(url).respond(200, json=DOCUMENT)
    assert make_client().statement_jobs.download(_job(complete(presignedJsonStatementUrl=url))).json == DOCUMENT
    assert "authorization" not in route.calls.last.request.headers


def test_a_redirect_from_the_statement_host_is_not_followed(router: respx.Router, make_client: ClientFactory) -> None:
    from m3ter_billing import StatementDownloadError

    router.get(JSON_URL).respond(302, headers={"Location": "http://169.254.169.254/latest/meta-data"})
    with pytest.raises(StatementDownloadError, match="302"):
        make_client().statement_jobs.download(_job(complete()))


def test_a_statement_past_max_response_bytes_is_refused(router: respx.Router, make_client: ClientFactory) -> None:
    from m3ter_billing import ResponseTooLargeError

    router.get(JSON_URL).respond(200, content=b"[" + b"0," * 600_000 + b"0]")
    with pytest.raises(ResponseTooLargeError):
        make_client(max_response_bytes=1024 * 1024).statement_jobs.download(_job(complete()))


# -- a statement that cannot be decoded: the error names the request and the response, signature-free -------

SIGNED_URL = (
    f"{S3}/job-1.json?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE7Q%2F20260101%2Fus-east-1"
    "&X-Amz-Security-Token=sessiontoken9z9z9z&X-Amz-Expires=900&X-Amz-Signature=ffff6666ffff6666"
)
SIGNED_SECRETS = ("AKIAEXAMPLE7Q", "sessiontoken9z9z9z", "ffff6666ffff6666")
UNDECODABLE = {
    "json-not-json": ("json", b"<html>not json</html>", "JSON statement is not JSON"),
    "json-not-utf8": ("json", '{"a": "caf\xe9"}'.encode("latin-1"), "JSON statement is not UTF-8"),
    "json-too-deep": ("json", b"[" * 200_000, "nested too deeply"),
    "csv-not-utf8": ("csv", "caf\xe9;1\n".encode("latin-1"), "CSV statement is not UTF-8"),
}


def _undecodable(router: respx.Router, case: str) -> tuple[StatementJobResponse, bytes, str]:
    fmt, body, message = UNDECODABLE[case]
    headers = {"x-amz-request-id": "req-42", "Content-Type": "application/octet-stream"}
    if fmt == "json":
        router.get(SIGNED_URL).respond(200, content=body, headers=headers)
        return _job(complete(presignedJsonStatementUrl=SIGNED_URL)), body, message
    router.get(JSON_URL).respond(200, json=DOCUMENT)
    router.get(SIGNED_URL).respond(200, content=body, headers=headers)
    return _job(with_csv(csv_url=SIGNED_URL)), body, message


def _assert_named_and_scrubbed(error: Any, body: bytes, message: str, logs: str) -> None:
    from m3ter_billing import APIResponseValidationError

    assert isinstance(error, APIResponseValidationError)
    assert message in str(error)
    assert error.status_code == 200
    assert error.method == "GET"
    assert error.url.startswith(f"{S3}/job-1.json?X-Amz-Algorithm=AWS4-HMAC-SHA256")
    assert error.headers["x-amz-request-id"] == "req-42"
    assert isinstance(error.response, httpx.Response)
    assert error.response.status_code == 200
    assert error.response.content == body  # the whole body, as an API call's error keeps it
    assert error.response.request.method == "GET"
    assert error.response.url.host == "statements.s3.amazonaws.com"
    assert error.response.url.path == "/org/job-1.json"
    shown = [
        str(error),
        repr(error),
        error.message,
        error.url,
        str(error.response.url),
        str(error.response.request.url),
        repr(error.response.request),
        repr(error.response),
        str(error.response.request.headers),
        str(error.args),
        logs,
    ]
    for secret in SIGNED_SECRETS:
        for text in shown:
            assert secret not in text


@pytest.mark.parametrize("case", sorted(UNDECODABLE))
def test_an_undecodable_statement_error_names_its_request_without_the_signature(
    router: respx.Router, make_client: ClientFactory, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    from m3ter_billing import ResponseValidationError

    job, body, message = _undecodable(router, case)
    caplog.set_level("DEBUG")
    with pytest.raises(ResponseValidationError) as info:
        make_client().statement_jobs.download(job)
    assert "GET" in caplog.text  # httpx logged the request (scrubbed)
    _assert_named_and_scrubbed(info.value, body, message, caplog.text)


@pytest.mark.parametrize("case", sorted(UNDECODABLE))
async def test_async_undecodable_statement_error_names_its_request_without_the_signature(
    router: respx.Router, make_async_client: AsyncClientFactory, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    from m3ter_billing import ResponseValidationError

    job, body, message = _undecodable(router, case)
    caplog.set_level("DEBUG")
    with pytest.raises(ResponseValidationError) as info:
        await make_async_client().statement_jobs.download(job)
    _assert_named_and_scrubbed(info.value, body, message, caplog.text)


# -- the job the helpers were asked about ---------------------------------------------------------------------

JOB_A = "3f2a9c1e-0b7d-4e8a-9c55-1d2e3f4a5b6c"
JOB_B = "9d8c7b6a-5f4e-4d3c-8b2a-0f1e2d3c4b5a"
PATH_A = f"/organizations/{ORG_ID}/statementjobs/{JOB_A}"
PATH_A_UPPER = f"/organizations/{ORG_ID}/statementjobs/{JOB_A.upper()}"


def _assert_other_job_refused(error: ResponseValidationError) -> None:
    assert error.path == "$.id"
    assert error.status_code == 200
    assert JOB_A in str(error)
    assert JOB_B in str(error)
    assert JOB_B.encode() in error.body  # the answer, as received


def test_wait_refuses_another_job(router: respx.Router, wait_client: Any) -> None:
    client, _ = wait_client
    route = router.get(PATH_A).respond(200, json=complete(job_id=JOB_B))
    with pytest.raises(ResponseValidationError) as info:
        client.statement_jobs.wait(JOB_A)
    _assert_other_job_refused(info.value)
    assert route.call_count == 1


async def test_async_wait_refuses_another_job(
    router: respx.Router, make_async_client: AsyncClientFactory, clock: FakeClock
) -> None:
    client = make_async_client(clock=clock, sleep=AsyncSleepRecorder(clock))
    running = httpx.Response(200, json=job_body(JOB_A, status="RUNNING"))
    route = router.get(PATH_A).mock(side_effect=[running, httpx.Response(200, json=complete(job_id=JOB_B))])
    with pytest.raises(ResponseValidationError) as info:
        await client.statement_jobs.wait(JOB_A)
    _assert_other_job_refused(info.value)
    assert route.call_count == 2


def test_wait_takes_its_job_in_any_letter_case(router: respx.Router, wait_client: Any) -> None:
    client, _ = wait_client
    router.get(PATH_A_UPPER).respond(200, json=complete(job_id=JOB_A))
    assert client.statement_jobs.wait(JOB_A.upper()).id == JOB_A


def test_download_by_id_refuses_another_job(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(PATH_A).respond(200, json=complete(job_id=JOB_B))
    statement = router.get(JSON_URL).respond(200, json=DOCUMENT)
    with pytest.raises(ResponseValidationError) as info:
        make_client().statement_jobs.download(JOB_A)
    _assert_other_job_refused(info.value)
    assert statement.call_count == 0


async def test_async_download_by_id_refuses_another_job(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    router.get(PATH_A).respond(200, json=complete(job_id=JOB_B))
    statement = router.get(JSON_URL).respond(200, json=DOCUMENT)
    with pytest.raises(ResponseValidationError) as info:
        await make_async_client().statement_jobs.download(JOB_A)
    _assert_other_job_refused(info.value)
    assert statement.call_count == 0


def test_a_refetch_for_fresh_urls_refuses_another_job(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(JSON_URL).respond(403)
    refetch = router.get(PATH_A).respond(200, json=complete(job_id=JOB_B, presignedJsonStatementUrl=FRESH_JSON_URL))
    fresh = router.get(FRESH_JSON_URL).respond(200, json=DOCUMENT)
    with pytest.raises(ResponseValidationError) as info:
        make_client().statement_jobs.download(_job(complete(job_id=JOB_A)))
    _assert_other_job_refused(info.value)
    assert refetch.call_count == 1
    assert fresh.call_count == 0


async def test_async_refetch_for_fresh_urls_refuses_another_job(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    router.get(JSON_URL).respond(403)
    router.get(PATH_A).respond(200, json=complete(job_id=JOB_B, presignedJsonStatementUrl=FRESH_JSON_URL))
    fresh = router.get(FRESH_JSON_URL).respond(200, json=DOCUMENT)
    with pytest.raises(ResponseValidationError) as info:
        await make_async_client().statement_jobs.download(_job(complete(job_id=JOB_A)))
    _assert_other_job_refused(info.value)
    assert fresh.call_count == 0


def test_a_refetch_asks_for_the_job_the_caller_named(router: respx.Router, make_client: ClientFactory) -> None:
    # The server spells the id in lower case (the same job); the re-fetch still asks for the caller's id.
    router.get(JSON_URL).respond(403)
    first = router.get(PATH_A_UPPER).mock(
        side_effect=[
            httpx.Response(200, json=complete(job_id=JOB_A)),
            httpx.Response(200, json=complete(job_id=JOB_A, presignedJsonStatementUrl=FRESH_JSON_URL)),
        ]
    )
    router.get(FRESH_JSON_URL).respond(200, json=DOCUMENT)
    statement = make_client().statement_jobs.download(JOB_A.upper())
    assert statement.json == DOCUMENT
    assert first.call_count == 2


async def test_async_refetch_asks_for_the_job_the_caller_named(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    router.get(JSON_URL).respond(403)
    first = router.get(PATH_A_UPPER).mock(
        side_effect=[
            httpx.Response(200, json=complete(job_id=JOB_A)),
            httpx.Response(200, json=complete(job_id=JOB_A, presignedJsonStatementUrl=FRESH_JSON_URL)),
        ]
    )
    router.get(FRESH_JSON_URL).respond(200, json=DOCUMENT)
    statement = await make_async_client().statement_jobs.download(JOB_A.upper())
    assert statement.json == DOCUMENT
    assert first.call_count == 2


def test_retrieve_still_returns_what_the_server_sent(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(PATH_A).respond(200, json=complete(job_id=JOB_B))
    assert make_client().statement_jobs.retrieve(JOB_A).id == JOB_B
