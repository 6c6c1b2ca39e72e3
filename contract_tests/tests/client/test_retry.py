"""Retries: which outcomes are retried, how many times, how long the client waits, and timeouts."""

from __future__ import annotations

import httpx
import pytest
import respx
from m3ter_billing import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    M3terRetry,
    NotFoundError,
)

from .support import (
    ORG_ID,
    AsyncClientFactory,
    AsyncSleepRecorder,
    ClientFactory,
    SleepRecorder,
    bill_body,
    token_calls,
)

BILL_PATH = f"/organizations/{ORG_ID}/bills/bill-1"


def _failing_then_ok(status: int, failures: int, headers: dict[str, str] | None = None) -> list[httpx.Response]:
    return [httpx.Response(status, json={"message": "try later"}, headers=headers) for _ in range(failures)] + [
        httpx.Response(200, json=bill_body())
    ]


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 520, 599])
def test_retryable_statuses_are_retried(
    router: respx.Router, make_client: ClientFactory, sleeps: SleepRecorder, status: int
) -> None:
    route = router.get(BILL_PATH).mock(side_effect=_failing_then_ok(status, 2))
    assert make_client().bills.retrieve("bill-1").id == "bill-1"
    assert route.call_count == 3
    assert len(sleeps.calls) == 2


@pytest.mark.parametrize("status", [408, 429, 500, 520])
def test_two_retries_by_default_then_the_typed_error(
    router: respx.Router, make_client: ClientFactory, sleeps: SleepRecorder, status: int
) -> None:
    route = router.get(BILL_PATH).respond(status, json={"message": f"failing with {status}"})
    with pytest.raises(APIStatusError) as info:
        make_client().bills.retrieve("bill-1")
    assert info.value.status_code == status
    assert info.value.message == f"failing with {status}"
    assert route.call_count == 3
    assert len(sleeps.calls) == 2
    assert token_calls(router) == 1


@pytest.mark.parametrize("status", [400, 404, 413, 418, 422])
def test_client_errors_are_not_retried(
    router: respx.Router, make_client: ClientFactory, sleeps: SleepRecorder, status: int
) -> None:
    route = router.get(BILL_PATH).respond(status, json={"message": "no"})
    with pytest.raises(APIStatusError) as info:
        make_client().bills.retrieve("bill-1")
    assert info.value.status_code == status
    assert route.call_count == 1
    assert sleeps.calls == []


def test_a_conflict_is_retried_as_the_official_sdk_does(
    router: respx.Router, make_client: ClientFactory, sleeps: SleepRecorder
) -> None:
    route = router.get(BILL_PATH).respond(409, json={"message": "busy"})
    with pytest.raises(APIStatusError) as info:
        make_client().bills.retrieve("bill-1")
    assert info.value.status_code == 409
    assert route.call_count == 3
    assert len(sleeps.calls) == 2


def test_max_retries_is_configurable(router: respx.Router, make_client: ClientFactory) -> None:
    route = router.get(BILL_PATH).respond(503)
    with pytest.raises(APIStatusError):
        make_client(max_retries=0).bills.retrieve("bill-1")
    assert route.call_count == 1
    route.reset()
    with pytest.raises(APIStatusError):
        make_client(max_retries=4).bills.retrieve("bill-1")
    assert route.call_count == 5


def test_backoff_without_retry_after_grows_with_jitter(
    router: respx.Router, make_client: ClientFactory, sleeps: SleepRecorder
) -> None:
    router.get(BILL_PATH).respond(503)
    with pytest.raises(APIStatusError):
        make_client(max_retries=6).bills.retrieve("bill-1")
    assert len(sleeps.calls) == 6
    for n, seconds in enumerate(sleeps.calls):
        nominal = min(0.5 * 2**n, 8.0)
        assert nominal * 0.75 <= seconds <= nominal


@pytest.mark.parametrize(("header", "expected"), [("7", 7.0), ("1", 1.0), ("60", 60.0)])
def test_retry_after_is_honoured(
    router: respx.Router, make_client: ClientFactory, sleeps: SleepRecorder, header: str, expected: float
) -> None:
    router.get(BILL_PATH).mock(side_effect=_failing_then_ok(429, 2, {"Retry-After": header}))
    make_client().bills.retrieve("bill-1")
    assert sleeps.calls == [expected, expected]


@pytest.mark.parametrize("header", ["3600", "61", "0", "-5", "soon"])
def test_retry_after_outside_0_to_60_seconds_falls_back_to_the_backoff(
    router: respx.Router, make_client: ClientFactory, sleeps: SleepRecorder, header: str
) -> None:
    router.get(BILL_PATH).mock(side_effect=_failing_then_ok(503, 2, {"Retry-After": header}))
    make_client().bills.retrieve("bill-1")
    assert len(sleeps.calls) == 2
    assert 0.375 <= sleeps.calls[0] <= 0.5
    assert 0.75 <= sleeps.calls[1] <= 1.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),  # the millisecond header wins
        ({"retry-after-ms": "junk", "Retry-After": "9"}, 9.0),
        ({"retry-after-ms": "60000"}, 60.0),
    ],
)
def test_retry_after_ms_is_honoured(
    router: respx.Router,
    make_client: ClientFactory,
    sleeps: SleepRecorder,
    headers: dict[str, str],
    expected: float,
) -> None:
    router.get(BILL_PATH).mock(side_effect=_failing_then_ok(429, 1, headers))
    make_client().bills.retrieve("bill-1")
    assert sleeps.calls == [expected]


@pytest.mark.parametrize("header", ["60001", "0", "nan", "inf"])
def test_retry_after_ms_outside_0_to_60_seconds_falls_back_to_the_backoff(
    router: respx.Router, make_client: ClientFactory, sleeps: SleepRecorder, header: str
) -> None:
    router.get(BILL_PATH).mock(side_effect=_failing_then_ok(429, 1, {"retry-after-ms": header}))
    make_client().bills.retrieve("bill-1")
    assert len(sleeps.calls) == 1
    assert 0.375 <= sleeps.calls[0] <= 0.5


def test_http_date_retry_after_is_counted_from_the_response_date(
    router: respx.Router, make_client: ClientFactory, sleeps: SleepRecorder
) -> None:
    # The server's clock, not ours: an HTTP-date Retry-After 30 s after the response's Date waits 30 s,
    # however far the local clock is from the server's (here by years).
    headers = {"Date": "Wed, 21 Oct 2015 07:28:00 GMT", "Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT"}
    router.get(BILL_PATH).mock(side_effect=_failing_then_ok(503, 1, headers))
    make_client().bills.retrieve("bill-1")
    assert sleeps.calls == [30.0]


@pytest.mark.parametrize(
    "headers",
    [
        {"Date": "Wed, 21 Oct 2015 07:28:00 GMT", "Retry-After": "Wed, 21 Oct 2015 07:30:00 GMT"},  # 120 s
        {"Date": "Wed, 21 Oct 2015 07:28:00 GMT", "Retry-After": "Wed, 21 Oct 2015 07:27:00 GMT"},  # past
        {"Date": "not a date", "Retry-After": "Wed, 21 Oct 2015 07:27:00 GMT"},  # falls back: long past
        {"Date": "Wed, 21 Oct 2015 07:28:00", "Retry-After": "Wed, 21 Oct 2015 07:28:30 +0000"},  # naive
    ],
)
def test_server_dates_outside_the_window_fall_back_to_the_backoff(
    router: respx.Router, make_client: ClientFactory, sleeps: SleepRecorder, headers: dict[str, str]
) -> None:
    router.get(BILL_PATH).mock(side_effect=_failing_then_ok(503, 1, headers))
    make_client().bills.retrieve("bill-1")
    assert len(sleeps.calls) == 1
    assert sleeps.calls[0] <= 0.5  # the first backoff step, not the server's wait


def test_http_date_retry_after_is_understood(
    router: respx.Router, make_client: ClientFactory, sleeps: SleepRecorder
) -> None:
    when = httpx.Headers({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})  # in the past: no extra wait
    router.get(BILL_PATH).mock(side_effect=_failing_then_ok(503, 1, dict(when)))
    make_client().bills.retrieve("bill-1")
    assert len(sleeps.calls) == 1
    assert sleeps.calls[0] <= 0.5


def test_injected_retry_policy_is_used(router: respx.Router, make_client: ClientFactory) -> None:
    recorded: list[float] = []
    route = router.get(BILL_PATH).respond(500)
    with pytest.raises(APIStatusError):
        make_client(retry=M3terRetry(3, sleep=recorded.append)).bills.retrieve("bill-1")
    assert route.call_count == 4
    assert len(recorded) == 3


def test_retry_policy_defaults() -> None:
    retry = M3terRetry()
    assert retry.total == 2
    assert retry.is_retryable_method("GET")
    assert not retry.is_retryable_method("POST")
    for status in (408, 409, 429, 500, 502, 503, 504, 520):  # 409 too, as the official SDK does
        assert retry.is_retryable_status_code(status)
    for status in (200, 400, 401, 403, 404, 422):
        assert not retry.is_retryable_status_code(status)


async def test_async_retries_and_retry_after(
    router: respx.Router, make_async_client: AsyncClientFactory, async_sleeps: AsyncSleepRecorder
) -> None:
    route = router.get(BILL_PATH).mock(side_effect=_failing_then_ok(429, 2, {"Retry-After": "5"}))
    assert (await make_async_client().bills.retrieve("bill-1")).id == "bill-1"
    assert route.call_count == 3
    assert async_sleeps.calls == [5.0, 5.0]


async def test_async_gives_up_after_two_retries(
    router: respx.Router, make_async_client: AsyncClientFactory, async_sleeps: AsyncSleepRecorder
) -> None:
    route = router.get(BILL_PATH).respond(502)
    with pytest.raises(APIStatusError):
        await make_async_client().bills.retrieve("bill-1")
    assert route.call_count == 3
    assert len(async_sleeps.calls) == 2


# -- timeouts and connection errors ----------------------------------------------------------------------


def test_default_timeout_is_60s_with_5s_to_connect(make_client: ClientFactory) -> None:
    client = make_client()
    assert client.http.timeout == httpx.Timeout(60.0, connect=5.0)


async def test_async_default_timeout(make_async_client: AsyncClientFactory) -> None:
    assert make_async_client().http.timeout == httpx.Timeout(60.0, connect=5.0)


def test_timeout_is_configurable(make_client: ClientFactory) -> None:
    assert make_client(timeout=3.0).http.timeout == httpx.Timeout(3.0)


def test_read_timeout_is_retried_then_raises_api_timeout_error(
    router: respx.Router, make_client: ClientFactory, sleeps: SleepRecorder
) -> None:
    route = router.get(BILL_PATH).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(APITimeoutError) as info:
        make_client().bills.retrieve("bill-1")
    assert isinstance(info.value, APIConnectionError)
    assert route.call_count == 3
    assert len(sleeps.calls) == 2
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)


def test_connect_error_is_retried_then_raises_api_connection_error(
    router: respx.Router, make_client: ClientFactory
) -> None:
    route = router.get(BILL_PATH).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(APIConnectionError) as info:
        make_client().bills.retrieve("bill-1")
    assert not isinstance(info.value, APITimeoutError)
    assert route.call_count == 3


def test_timeout_then_success(router: respx.Router, make_client: ClientFactory) -> None:
    route = router.get(BILL_PATH).mock(side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json=bill_body())])
    assert make_client().bills.retrieve("bill-1").id == "bill-1"
    assert route.call_count == 2


async def test_async_timeout_raises_api_timeout_error(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    route = router.get(BILL_PATH).mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(APITimeoutError):
        await make_async_client().bills.retrieve("bill-1")
    assert route.call_count == 3


def test_404_is_not_retried_and_is_typed(router: respx.Router, make_client: ClientFactory) -> None:
    route = router.get(BILL_PATH).respond(404, json={"message": "Bill not found"})
    with pytest.raises(NotFoundError, match="Bill not found"):
        make_client().bills.retrieve("bill-1")
    assert route.call_count == 1
