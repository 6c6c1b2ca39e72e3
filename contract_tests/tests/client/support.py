"""Shared helpers and fixtures of the client tests: a respx router serving the token route, and client factories.

Every request goes to a respx router through ``httpx.MockTransport``: nothing touches the network. Nothing
here imports the harness (the client's tests at the dependency floors run without it): the sandbox fixtures
are in ``sandbox_support.py``.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import msgspec
import pytest
import respx
from m3ter_billing import AsyncM3terBilling, M3terBilling

BASE_URL = "https://api.m3ter.test"
ORG_ID = "org-1234"
API_KEY = "key-id-5678"
API_SECRET = "api-secret-do-not-leak-9f8e7d6c"
TOKEN = "bearer-token-do-not-leak-0a1b2c3d4e5f"
TOKEN_LIFETIME = 18_000

# A line item with only its 10 required fields.
REQUIRED_LINE_ITEM: dict[str, Any] = {
    "description": "d",
    "quantity": 1,
    "units": 1,
    "unit": "u",
    "subtotal": 1,
    "currency": "USD",
    "conversionRate": 1,
    "convertedSubtotal": 1,
    "averageUnitPrice": 1,
    "lineItemType": "USAGE",
}


class FakeClock:
    """A monotonic clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SleepRecorder:
    """Records the sleeps a client asks for instead of sleeping."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.calls: list[float] = []
        self._clock = clock

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self._clock is not None:
            self._clock.advance(seconds)


class AsyncSleepRecorder(SleepRecorder):
    async def __call__(self, seconds: float) -> None:  # type: ignore[override]
        super().__call__(seconds)


def token_body(token: str = TOKEN, expires_in: int = TOKEN_LIFETIME) -> dict[str, Any]:
    return {"token_type": "Bearer", "access_token": token, "expires_in": expires_in, "scope": None}


def job_body(job_id: str = "job-1", status: str = "COMPLETE", **extra: Any) -> dict[str, Any]:
    return {"id": job_id, "version": 1, "orgId": ORG_ID, "billId": "bill-1", "statementJobStatus": status, **extra}


def bill_body(bill_id: str = "bill-1", **extra: Any) -> dict[str, Any]:
    return {"id": bill_id, "version": 1, "status": "PENDING", "billingFrequency": "MONTHLY", **extra}


@pytest.fixture
def router() -> respx.Router:
    """A respx router on BASE_URL with the token route (named "token") already served."""
    mock = respx.Router(base_url=BASE_URL, assert_all_mocked=True)
    mock.post("/oauth/token", name="token").respond(200, json=token_body())
    return mock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def async_sleeps() -> AsyncSleepRecorder:
    return AsyncSleepRecorder()


def _mocked(handler: Any, sleep: object, overrides: dict[str, Any]) -> dict[str, Any]:
    """A client's keyword arguments: the test credentials, ``handler`` as its transport, ``sleep`` recorded."""
    options: dict[str, Any] = {
        "base_url": BASE_URL,
        "org_id": ORG_ID,
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "transport": httpx.MockTransport(handler),
        "sleep": sleep,
    }
    return options | overrides


ClientFactory = Callable[..., M3terBilling]
AsyncClientFactory = Callable[..., AsyncM3terBilling]


@pytest.fixture
def make_client(router: respx.Router, sleeps: SleepRecorder) -> Iterator[ClientFactory]:
    """Build sync clients on the router; closed at teardown."""
    made: list[M3terBilling] = []

    def factory(**kwargs: Any) -> M3terBilling:
        client = M3terBilling(**_mocked(router.handler, sleeps, kwargs))
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


# The async client's two request paths: httpx.AsyncClient (the default backend) and the aiohttp backend's
# own (its API calls are sent below httpx.AsyncClient, over whatever transport the client has). Every
# async test built with make_async_client runs on both (the aiohttp cases skip where aiohttp is missing).
ASYNC_BACKENDS = [
    "httpx",
    pytest.param("aiohttp", marks=pytest.mark.skipif(importlib.util.find_spec("aiohttp") is None, reason="no aiohttp")),
]


@pytest.fixture(params=ASYNC_BACKENDS)
async def make_async_client(
    router: respx.Router, async_sleeps: AsyncSleepRecorder, request: pytest.FixtureRequest
) -> Any:
    made: list[AsyncM3terBilling] = []

    def factory(**kwargs: Any) -> AsyncM3terBilling:
        client = AsyncM3terBilling(
            **_mocked(router.async_handler, async_sleeps, {"http_backend": request.param} | kwargs)
        )
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.close()


T = TypeVar("T")


def present(value: T | msgspec.UnsetType | None) -> T:
    """``value`` of an optional model field, asserted present (neither UNSET nor None)."""
    assert value is not None
    assert not isinstance(value, msgspec.UnsetType)
    return value


def api_calls(router: respx.Router) -> list[httpx.Request]:
    """The requests the router saw, token requests left out."""
    return [call.request for call in router.calls if call.request.url.path != "/oauth/token"]


def token_calls(router: respx.Router) -> int:
    return router.routes["token"].call_count


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()
