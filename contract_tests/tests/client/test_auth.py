"""OAuth2 client credentials: one token per lifetime, however many callers; refresh on 401/403."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from m3ter_billing import (
    AuthenticationError,
    InternalServerError,
    M3terError,
    PermissionDeniedError,
    TokenPermissionDeniedError,
)

from .support import (
    API_KEY,
    API_SECRET,
    BASE_URL,
    ORG_ID,
    TOKEN,
    TOKEN_LIFETIME,
    AsyncClientFactory,
    ClientFactory,
    FakeClock,
    api_calls,
    bill_body,
    token_body,
    token_calls,
)

BILL_PATH = f"/organizations/{ORG_ID}/bills/bill-1"


def _serve_bill(router: respx.Router) -> respx.Route:
    return router.get(BILL_PATH, name="bill").respond(200, json=bill_body())


class _Arrivals:
    """Counts threads that have arrived somewhere; ``wait()`` blocks until ``parties`` have (10 s at most)."""

    def __init__(self, parties: int) -> None:
        self._parties = parties
        self._count = 0
        self._changed = threading.Condition()

    def arrive(self) -> None:
        with self._changed:
            self._count += 1
            self._changed.notify_all()

    def wait(self) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self._count >= self._parties, timeout=10)


def _numbered_tokens(router: respx.Router, hold: Callable[[int], None] | None = None) -> list[str]:
    """Make the token route issue token-1, token-2, ...; ``hold(n)`` runs first (n: tokens issued so far), so
    a test can keep a token request in flight until every thread it races with has started."""
    issued: list[str] = []
    lock = threading.Lock()

    def issue(request: httpx.Request) -> httpx.Response:
        if hold is not None:
            hold(len(issued))
        with lock:
            issued.append(f"token-{len(issued) + 1}-abcdefgh")
            return httpx.Response(200, json=token_body(issued[-1]))

    router.routes["token"].side_effect = issue
    return issued


def test_token_request_is_client_credentials_with_basic_auth(router: respx.Router, make_client: ClientFactory) -> None:
    _serve_bill(router)
    make_client().bills.retrieve("bill-1")
    token_request = router.routes["token"].calls.last.request
    assert token_request.method == "POST"
    expected = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
    assert token_request.headers["Authorization"] == f"Basic {expected}"
    assert parse_qs(token_request.content.decode()) == {"grant_type": ["client_credentials"]}
    bill_request = router.routes["bill"].calls.last.request
    assert bill_request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_one_token_request_over_100_calls(router: respx.Router, make_client: ClientFactory) -> None:
    route = _serve_bill(router)
    client = make_client()
    for _ in range(100):
        client.bills.retrieve("bill-1")
    assert route.call_count == 100
    assert token_calls(router) == 1
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in api_calls(router))


async def test_one_token_request_over_100_async_calls(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    route = _serve_bill(router)
    client = make_async_client()
    for _ in range(100):
        await client.bills.retrieve("bill-1")
    assert route.call_count == 100
    assert token_calls(router) == 1


def test_token_is_refreshed_after_expires_in(
    router: respx.Router, make_client: ClientFactory, clock: FakeClock
) -> None:
    _serve_bill(router)
    issued = _numbered_tokens(router)
    client = make_client(clock=clock)
    client.bills.retrieve("bill-1")
    clock.advance(TOKEN_LIFETIME / 2)
    client.bills.retrieve("bill-1")
    assert len(issued) == 1
    clock.advance(TOKEN_LIFETIME)
    client.bills.retrieve("bill-1")
    assert len(issued) == 2
    assert router.routes["bill"].calls.last.request.headers["Authorization"] == f"Bearer {issued[1]}"


def test_one_token_request_under_50_threads_at_expiry(
    router: respx.Router, make_client: ClientFactory, clock: FakeClock
) -> None:
    _serve_bill(router)
    started = _Arrivals(50)
    # The refresh is answered only once all 50 threads have started their call.
    issued = _numbered_tokens(router, hold=lambda n: started.wait() if n == 1 else None)
    client = make_client(clock=clock)
    client.bills.retrieve("bill-1")
    assert len(issued) == 1
    clock.advance(TOKEN_LIFETIME + 1)

    barrier = threading.Barrier(50)

    def call(_: int) -> str:
        barrier.wait()
        started.arrive()
        bill = client.bills.retrieve("bill-1")
        return bill.id

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(call, range(50)))
    assert results == ["bill-1"] * 50
    assert len(issued) == 2
    assert token_calls(router) == 2
    last_51 = api_calls(router)[-50:]
    assert {r.headers["Authorization"] for r in last_51} == {f"Bearer {issued[1]}"}


def test_one_token_request_under_50_threads_from_cold(router: respx.Router, make_client: ClientFactory) -> None:
    _serve_bill(router)
    started = _Arrivals(50)
    issued = _numbered_tokens(router, hold=lambda n: started.wait())  # answered once all 50 have started
    client = make_client()

    def call(_: int) -> str:
        started.arrive()
        return client.bills.retrieve("bill-1").id

    with ThreadPoolExecutor(max_workers=50) as pool:
        assert list(pool.map(call, range(50))) == ["bill-1"] * 50
    assert len(issued) == 1


class _HeldTokenTransport(httpx.AsyncBaseTransport):
    """Delegates to the router; a token request is answered only after ``spins`` turns of the event loop,
    which lets every task already started reach the token lock (no wall-clock wait)."""

    def __init__(self, router: respx.Router, spins: int = 200) -> None:
        self._inner = httpx.MockTransport(router.async_handler)
        self._spins = spins

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            for _ in range(self._spins):
                await asyncio.sleep(0)
        return await self._inner.handle_async_request(request)


async def test_one_token_request_under_50_tasks_at_expiry(
    router: respx.Router, make_async_client: AsyncClientFactory, clock: FakeClock
) -> None:
    _serve_bill(router)
    issued = _numbered_tokens(router)
    client = make_async_client(clock=clock, transport=_HeldTokenTransport(router))
    await client.bills.retrieve("bill-1")
    clock.advance(TOKEN_LIFETIME + 1)
    results = await asyncio.gather(*(client.bills.retrieve("bill-1") for _ in range(50)))
    assert [b.id for b in results] == ["bill-1"] * 50
    assert len(issued) == 2
    assert {r.headers["Authorization"] for r in api_calls(router)[-50:]} == {f"Bearer {issued[1]}"}


async def test_one_token_request_under_50_tasks_from_cold(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    _serve_bill(router)
    issued = _numbered_tokens(router)
    client = make_async_client(transport=_HeldTokenTransport(router))
    await asyncio.gather(*(client.bills.retrieve("bill-1") for _ in range(50)))
    assert len(issued) == 1


# -- refresh on 401 / 403 --------------------------------------------------------------------------------


def _reject_first(status: int, issued: list[str]) -> Any:
    """An API route that rejects the first token with ``status`` and accepts the next ones."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == f"Bearer {issued[0]}":
            return httpx.Response(status, json={"message": "token expired"})
        return httpx.Response(200, json=bill_body())

    return handle


@pytest.mark.parametrize("status", [401, 403])
def test_refresh_once_and_retry_once_on_401_and_403(
    router: respx.Router, make_client: ClientFactory, status: int
) -> None:
    issued = _numbered_tokens(router)
    route = router.get(BILL_PATH).mock(side_effect=_reject_first(status, issued))
    client = make_client()
    assert client.bills.retrieve("bill-1").id == "bill-1"
    assert len(issued) == 2
    assert route.call_count == 2
    # The new token is then reused.
    client.bills.retrieve("bill-1")
    assert len(issued) == 2


@pytest.mark.parametrize("status", [401, 403])
async def test_async_refresh_once_and_retry_once_on_401_and_403(
    router: respx.Router, make_async_client: AsyncClientFactory, status: int
) -> None:
    issued = _numbered_tokens(router)
    route = router.get(BILL_PATH).mock(side_effect=_reject_first(status, issued))
    client = make_async_client()
    assert (await client.bills.retrieve("bill-1")).id == "bill-1"
    assert len(issued) == 2
    assert route.call_count == 2


def test_one_refresh_when_50_threads_get_403_together(router: respx.Router, make_client: ClientFactory) -> None:
    refused = _Arrivals(50)
    # The refresh is answered only once all 50 threads have had their 403.
    issued = _numbered_tokens(router, hold=lambda n: refused.wait() if n == 1 else None)
    gate = threading.Barrier(50)

    def handle(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == f"Bearer {issued[0]}":
            gate.wait(timeout=10)  # all 50 hold the old token before any is answered
            refused.arrive()
            return httpx.Response(403, json={"message": "token expired"})
        return httpx.Response(200, json=bill_body())

    router.get(BILL_PATH).mock(side_effect=handle)
    client = make_client()
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda _: client.bills.retrieve("bill-1").id, range(50)))
    assert results == ["bill-1"] * 50
    assert len(issued) == 2


async def test_one_refresh_when_30_tasks_get_401_and_the_server_reissues_the_same_token(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    # Some token endpoints hand out the same token again until it expires. A refresh that brings back the
    # same value is still the refresh every other refused caller waits for: one token request, not 30.
    router.routes["token"].respond(200, json=token_body("the-same-token-0123"))
    answers = iter([httpx.Response(401, json={"message": "token expired"})] * 30)
    router.get(BILL_PATH).mock(side_effect=lambda request: next(answers, httpx.Response(200, json=bill_body())))
    client = make_async_client(transport=_HeldTokenTransport(router))
    results = await asyncio.gather(*(client.bills.retrieve("bill-1") for _ in range(30)))
    assert [b.id for b in results] == ["bill-1"] * 30
    assert token_calls(router) == 2  # the first token, and one refresh


def test_second_403_raises_permission_denied(router: respx.Router, make_client: ClientFactory) -> None:
    issued = _numbered_tokens(router)
    route = router.get(BILL_PATH).respond(403, json={"message": "Forbidden: not your organization"})
    with pytest.raises(PermissionDeniedError) as info:
        make_client().bills.retrieve("bill-1")
    assert info.value.status_code == 403
    assert info.value.message == "Forbidden: not your organization"
    assert route.call_count == 2
    assert len(issued) == 2


async def test_async_second_401_raises_authentication_error(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    issued = _numbered_tokens(router)
    route = router.get(BILL_PATH).respond(401, json={"message": "Unauthorized"})
    with pytest.raises(AuthenticationError) as info:
        await make_async_client().bills.retrieve("bill-1")
    assert info.value.status_code == 401
    assert route.call_count == 2
    assert len(issued) == 2


def test_rejected_credentials_raise_authentication_error(router: respx.Router, make_client: ClientFactory) -> None:
    router.routes["token"].respond(401, json={"message": "Bad credentials"})
    bill = _serve_bill(router)
    with pytest.raises(AuthenticationError, match="Bad credentials") as info:
        make_client().bills.retrieve("bill-1")
    assert info.value.status_code == 401
    assert "M3TER_API_KEY" in str(info.value)
    assert bill.call_count == 0


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_request_is_the_class_of_its_status(
    router: respx.Router, make_client: ClientFactory, status: int
) -> None:
    # Every refused token request is an AuthenticationError; a 403 is also a PermissionDeniedError (what
    # the official SDK raises for it), so either except clause catches it.
    router.routes["token"].respond(status, json={"message": "Bad credentials"})
    bill = _serve_bill(router)
    with pytest.raises(AuthenticationError) as info:
        make_client().bills.retrieve("bill-1")
    assert info.value.status_code == status
    assert isinstance(info.value, PermissionDeniedError) is (status == 403)
    assert isinstance(info.value, TokenPermissionDeniedError) is (status == 403)
    assert (info.value.method, info.value.url) == ("POST", f"{BASE_URL}/oauth/token")
    assert bill.call_count == 0


async def test_async_a_refused_token_request_with_403_is_permission_denied(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    router.routes["token"].respond(403, json={"message": "Bad credentials"})
    with pytest.raises(PermissionDeniedError) as info:
        await make_async_client().bills.retrieve("bill-1")
    assert isinstance(info.value, AuthenticationError)
    assert info.value.status_code == 403


def test_a_refusal_echoing_the_basic_credentials_does_not_show_them(
    router: respx.Router, make_client: ClientFactory
) -> None:
    # Some servers echo what they were sent; the base64 of "key:secret" is the secret, in another form.
    def echo(request: httpx.Request) -> httpx.Response:
        credentials = request.headers["Authorization"].split(" ", 1)[1]
        return httpx.Response(401, json={"message": f"invalid client credentials: {credentials}"})

    router.routes["token"].side_effect = echo
    with pytest.raises(AuthenticationError) as info:
        make_client().bills.retrieve("bill-1")
    credentials = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
    assert credentials not in str(info.value)
    assert credentials not in repr(info.value)
    assert "invalid client credentials: [REDACTED]" in str(info.value)


class _CountingLock:
    """Stands in for the auth's token lock and counts the threads waiting to take it, so a test can hold a
    token answer until every other caller is queued behind it."""

    def __init__(self, waiters: int) -> None:
        self._lock = threading.Lock()
        self.waiting = _Arrivals(waiters)  # ``waiting.wait()``: until ``waiters`` threads wait for the lock

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._lock.acquire(blocking=False):
            return True
        self.waiting.arrive()
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()


def test_callers_queued_behind_a_refused_token_request_share_the_refusal(
    router: respx.Router, make_client: ClientFactory
) -> None:
    # 20 threads call with wrong credentials; the refusal is answered only once the 19 others are queued
    # behind the first token request. The credentials must go out once, not once per caller.
    bill = _serve_bill(router)
    client = make_client()
    lock = _CountingLock(waiters=19)
    client.auth._token_lock = lock  # type: ignore[union-attr]

    def refuse(request: httpx.Request) -> httpx.Response:
        lock.waiting.wait()
        return httpx.Response(401, json={"message": "Bad credentials"})

    router.routes["token"].side_effect = refuse

    def call(_: int) -> AuthenticationError:
        with pytest.raises(AuthenticationError) as info:
            client.bills.retrieve("bill-1")
        return info.value

    with ThreadPoolExecutor(max_workers=20) as pool:
        errors = list(pool.map(call, range(20)))
    assert token_calls(router) == 1
    assert client.auth.token_requests == 1
    assert bill.call_count == 0
    assert {(e.status_code, str(e)) for e in errors} == {(401, str(errors[0]))}
    assert "Bad credentials" in str(errors[0])
    assert len({id(e) for e in errors}) == 20  # each caller raises its own exception object
    # A later call tries again: the credentials may have been fixed since.
    router.routes["token"].side_effect = None
    router.routes["token"].respond(200, json=token_body())
    assert client.bills.retrieve("bill-1").id == "bill-1"
    assert token_calls(router) == 2


@pytest.mark.parametrize("status", [401, 403])
async def test_async_callers_queued_behind_a_refused_token_request_share_the_refusal(
    router: respx.Router, make_async_client: AsyncClientFactory, status: int
) -> None:
    bill = _serve_bill(router)
    router.routes["token"].respond(status, json={"message": "Bad credentials"})
    client = make_async_client(transport=_HeldTokenTransport(router))
    results = await asyncio.gather(*(client.bills.retrieve("bill-1") for _ in range(30)), return_exceptions=True)
    assert all(isinstance(r, AuthenticationError) and r.status_code == status for r in results)
    assert token_calls(router) == 1
    assert bill.call_count == 0
    # A later call tries again.
    router.routes["token"].respond(200, json=token_body())
    assert (await client.bills.retrieve("bill-1")).id == "bill-1"
    assert token_calls(router) == 2


async def test_callers_queued_behind_a_failed_token_request_try_again(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    # A 500 (or a timeout, a reset) says nothing about the credentials: the queued callers send their own.
    _serve_bill(router)
    router.routes["token"].side_effect = [
        httpx.Response(500, json={"message": "oops"}),
        httpx.Response(200, json=token_body()),
    ]
    client = make_async_client(transport=_HeldTokenTransport(router), max_retries=0)
    results = await asyncio.gather(*(client.bills.retrieve("bill-1") for _ in range(5)), return_exceptions=True)
    assert isinstance(results[0], InternalServerError)
    assert [getattr(r, "id", None) for r in results[1:]] == ["bill-1"] * 4
    assert token_calls(router) == 2


async def test_a_refusal_that_ended_before_a_caller_waited_is_not_raised_to_it(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    # The credentials are refused once; later, callers queue behind a token request that fails with a
    # 500. The refusal ended before they began waiting, so it is not theirs to raise: they send their own
    # (the same holds for a refusal in another event loop, which has a token lock of its own).
    _serve_bill(router)
    router.routes["token"].side_effect = [
        httpx.Response(401, json={"message": "Bad credentials"}),
        httpx.Response(500, json={"message": "oops"}),
        httpx.Response(200, json=token_body()),
    ]
    client = make_async_client(transport=_HeldTokenTransport(router), max_retries=0)
    with pytest.raises(AuthenticationError):
        await client.bills.retrieve("bill-1")
    results = await asyncio.gather(*(client.bills.retrieve("bill-1") for _ in range(5)), return_exceptions=True)
    assert isinstance(results[0], InternalServerError)
    assert [getattr(r, "id", None) for r in results[1:]] == ["bill-1"] * 4
    assert token_calls(router) == 3


def test_token_request_is_retried_on_503(router: respx.Router, make_client: ClientFactory, sleeps: Any) -> None:
    _serve_bill(router)
    router.routes["token"].side_effect = [
        httpx.Response(503, json={"message": "down"}),
        httpx.Response(200, json=token_body()),
    ]
    client = make_client()
    assert client.bills.retrieve("bill-1").id == "bill-1"
    assert token_calls(router) == 2
    assert client.auth.token_requests == 1  # one token request, sent twice
    assert len(sleeps.calls) == 1


async def test_async_token_request_is_retried_on_503(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    _serve_bill(router)
    router.routes["token"].side_effect = [
        httpx.Response(503, json={"message": "down"}),
        httpx.Response(200, json=token_body()),
    ]
    assert (await make_async_client().bills.retrieve("bill-1")).id == "bill-1"
    assert token_calls(router) == 2


@pytest.mark.parametrize("status", [400, 401])
def test_refused_token_request_is_not_retried(router: respx.Router, make_client: ClientFactory, status: int) -> None:
    router.routes["token"].respond(status, json={"message": "no"})
    with pytest.raises(M3terError) as info:
        make_client().bills.retrieve("bill-1")
    assert getattr(info.value, "status_code", None) == status
    assert token_calls(router) == 1


def test_token_request_is_not_retried_with_max_retries_0(router: respx.Router, make_client: ClientFactory) -> None:
    router.routes["token"].respond(503, json={"message": "down"})
    with pytest.raises(InternalServerError) as info:
        make_client(max_retries=0).bills.retrieve("bill-1")
    assert info.value.status_code == 503
    assert token_calls(router) == 1


def test_token_request_connect_error_is_retried(router: respx.Router, make_client: ClientFactory) -> None:
    from m3ter_billing import APIConnectionError

    router.routes["token"].side_effect = httpx.ConnectError("refused")
    with pytest.raises(APIConnectionError):
        make_client().bills.retrieve("bill-1")
    assert token_calls(router) == 3  # the default policy: two retries


def test_failed_token_request_does_not_poison_the_cache(router: respx.Router, make_client: ClientFactory) -> None:
    _serve_bill(router)
    router.routes["token"].side_effect = [
        httpx.Response(500, json={"message": "oops"}),
        httpx.Response(200, json=token_body()),
    ]
    client = make_client(max_retries=0)
    with pytest.raises(InternalServerError):
        client.bills.retrieve("bill-1")
    assert client.bills.retrieve("bill-1").id == "bill-1"
    assert token_calls(router) == 2


def test_auth_repr_hides_the_secret(make_client: ClientFactory) -> None:
    client = make_client()
    assert API_SECRET not in repr(client.auth)
    assert API_SECRET not in repr(client)


def test_wrong_org_costs_one_extra_token_request_not_one_per_call(
    router: respx.Router, make_client: ClientFactory
) -> None:
    issued = _numbered_tokens(router)
    route = router.get(BILL_PATH).respond(403, json={"message": "Forbidden: not your organization"})
    client = make_client()
    for _ in range(10):
        with pytest.raises(PermissionDeniedError):
            client.bills.retrieve("bill-1")
    assert len(issued) == 2
    assert route.call_count == 11  # the first call retried once with the fresh token; the others did not


async def test_async_wrong_org_costs_one_extra_token_request_not_one_per_call(
    router: respx.Router, make_async_client: AsyncClientFactory
) -> None:
    issued = _numbered_tokens(router)
    route = router.get(BILL_PATH).respond(403, json={"message": "Forbidden: not your organization"})
    client = make_async_client()
    for _ in range(10):
        with pytest.raises(PermissionDeniedError):
            await client.bills.retrieve("bill-1")
    assert len(issued) == 2
    assert route.call_count == 11


def test_401_still_refreshes_every_time(router: respx.Router, make_client: ClientFactory) -> None:
    issued = _numbered_tokens(router)
    router.get(BILL_PATH).respond(401, json={"message": "Unauthorized"})
    client = make_client()
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            client.bills.retrieve("bill-1")
    assert len(issued) == 4  # the first token, then one refresh per call


def test_403_after_an_expiry_refresh_refreshes_again(
    router: respx.Router, make_client: ClientFactory, clock: FakeClock
) -> None:
    issued = _numbered_tokens(router)
    router.get(BILL_PATH).mock(side_effect=_reject_first(403, issued))
    client = make_client(clock=clock)
    client.bills.retrieve("bill-1")  # token-1 refused, token-2 fetched because of the 403 works
    clock.advance(TOKEN_LIFETIME)
    client.bills.retrieve("bill-1")  # token-3, fetched because token-2 expired, works
    assert len(issued) == 3


def test_huge_expires_in_is_accepted(router: respx.Router, make_client: ClientFactory) -> None:
    router.routes["token"].respond(
        200, content=b'{"access_token": "' + TOKEN.encode() + b'", "expires_in": 1' + b"0" * 400 + b"}"
    )
    _serve_bill(router)
    client = make_client()
    for _ in range(3):
        assert client.bills.retrieve("bill-1").id == "bill-1"
    assert token_calls(router) == 1


def test_negative_expires_in_means_expired(router: respx.Router, make_client: ClientFactory) -> None:
    router.routes["token"].respond(200, json=token_body(expires_in=-5))
    _serve_bill(router)
    client = make_client()
    client.bills.retrieve("bill-1")
    client.bills.retrieve("bill-1")
    assert token_calls(router) == 2


def test_invalid_token_body_is_not_kept_on_the_error(router: respx.Router, make_client: ClientFactory) -> None:
    from m3ter_billing import ResponseValidationError

    router.routes["token"].respond(200, json={"access_token": TOKEN, "expires_in": "soon"})
    with pytest.raises(ResponseValidationError) as info:
        make_client().bills.retrieve("bill-1")
    assert info.value.body == b""
    assert info.value.path == "$.expires_in"
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(info.value.__dict__)


@pytest.mark.parametrize(("key", "secret"), [("key", "secret"), ("k:ey", "sé cret/+="), ("", "")])
def test_the_basic_header_is_what_httpx_basic_auth_sends(key: str, secret: str) -> None:
    from m3ter_billing._auth import basic_authorization

    sent = next(httpx.BasicAuth(key, secret).auth_flow(httpx.Request("POST", "https://api.m3ter.com/oauth/token")))
    assert basic_authorization(key, secret) == sent.headers["Authorization"]


class _TokenGate(httpx.AsyncBaseTransport):
    """Holds the token request until ``release`` is set; runs ``on_bill`` as each bill request arrives."""

    def __init__(self) -> None:
        self.token_requested = asyncio.Event()
        self.release = asyncio.Event()
        self.on_bill: Callable[[], object] = lambda: None
        self.bills = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth/token"):
            self.token_requested.set()
            await self.release.wait()
            return httpx.Response(200, json=token_body())
        self.bills += 1
        self.on_bill()
        return httpx.Response(200, json=bill_body())


async def test_a_call_cancelled_as_the_token_lock_frees_stops(make_async_client: AsyncClientFactory) -> None:
    # The first call holds the token lock while its token request is in flight; the second waits for the
    # lock. The second is cancelled in the very step the lock frees (when the first call's bill request
    # arrives): it must stop. asyncio.wait_for on Python 3.11 swallowed that cancellation and sent the call.
    gate = _TokenGate()
    client = make_async_client(transport=gate)
    first = asyncio.create_task(client.bills.retrieve("bill-1"))
    await gate.token_requested.wait()
    second = asyncio.create_task(client.bills.retrieve("bill-1"))
    for _ in range(50):  # let the second call reach the lock (no I/O on the way)
        await asyncio.sleep(0)
    assert not second.done()  # waiting for the lock the first call holds
    gate.on_bill = second.cancel
    gate.release.set()
    assert (await first).id == bill_body()["id"]
    with pytest.raises(asyncio.CancelledError):
        await second
    assert gate.bills == 1
    gate.on_bill = lambda: None
    await client.bills.retrieve("bill-1")  # the lock was left free
    assert gate.bills == 2
