"""OAuth2 client credentials as m3ter does it, as an httpx Auth flow.

Why an ``httpx.Auth`` subclass: httpx runs the flow around every request, lets the flow send the token
request through the same client (same transport, retries, timeouts, event hooks) and hand the response
back, and has separate sync and async entry points, so one class serves both clients.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass

import httpx

from ._exceptions import AuthenticationError, error_for_response
from ._redact import Secret
from .models.bearer_access_token_response import BearerAccessTokenResponse

logger = logging.getLogger("m3ter_billing.auth")

TOKEN_PATH = "/oauth/token"  # noqa: S105 - a URL path, not a secret
# m3ter answers an expired token with 403 and gateways answer a missing one with 401: both refresh once.
REFRESH_STATUSES = frozenset({401, 403})


@dataclass(frozen=True, slots=True)
class _Token:
    value: Secret
    expires_at: float  # on the auth's monotonic clock


class ClientCredentialsAuth(httpx.Auth):
    """Fetch a bearer token with HTTP Basic (access key id : API secret) and send it on every request.

    The token is cached until ``expires_in`` minus ``skew`` seconds on a monotonic clock. However many
    threads or asyncio tasks need a token at once, exactly one token request is sent per lifetime. A 401
    or 403 answer refreshes the token once (unless another caller already did) and retries the request once.
    """

    requires_response_body = True

    def __init__(
        self,
        *,
        token_url: str,
        api_key: str,
        api_secret: str,
        skew: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token_url = token_url
        self._basic = httpx.BasicAuth(api_key, api_secret)
        Secret(api_secret)  # registers the secret with the scrubber
        Secret(self._basic._auth_header)
        self._skew = skew
        self._clock = clock
        self._token: _Token | None = None
        self._thread_lock = threading.Lock()
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self.token_requests = 0
        """How many token requests this auth has sent (for diagnostics and tests)."""

    def __repr__(self) -> str:
        return f"ClientCredentialsAuth(token_url={self._token_url!r}, api_secret='[REDACTED]')"

    # -- the token cache ---------------------------------------------------------------------------------

    def _usable(self, stale: Secret | None) -> Secret | None:
        token = self._token
        if token is None or token.value == stale or self._clock() >= token.expires_at:
            return None
        return token.value

    def _token_request(self) -> httpx.Request:
        request = httpx.Request(
            "POST",
            self._token_url,
            data={"grant_type": "client_credentials"},
            headers={"Accept": "application/json"},
        )
        request.headers["Authorization"] = self._basic._auth_header
        self.token_requests += 1
        return request

    def _store(self, response: httpx.Response) -> Secret:
        if response.status_code != 200:
            error = error_for_response(response)
            if response.status_code in REFRESH_STATUSES:
                raise AuthenticationError(
                    f"the token request was refused ({error.message}); check M3TER_API_KEY and M3TER_API_SECRET",
                    status_code=response.status_code,
                    headers=response.headers,
                    method="POST",
                    url=self._token_url,
                )
            raise error
        body = BearerAccessTokenResponse.from_json(response.content, status_code=200)
        value = Secret(body.access_token)
        lifetime = max(float(body.expires_in), 0.0)
        skew = min(self._skew, lifetime / 10)
        self._token = _Token(value, self._clock() + lifetime - skew)
        logger.debug("obtained an access token valid for %ss", body.expires_in)
        return value

    @staticmethod
    def _authorize(request: httpx.Request, token: Secret) -> httpx.Request:
        request.headers["Authorization"] = f"Bearer {token.reveal()}"
        return request

    # -- sync --------------------------------------------------------------------------------------------

    def _sync_token(self, stale: Secret | None) -> Generator[httpx.Request, httpx.Response, Secret]:
        token = self._usable(stale)
        if token is not None:
            return token
        with self._thread_lock:
            token = self._usable(stale)
            if token is None:
                response = yield self._token_request()
                response.read()  # httpx reads bodies for Auth.auth_flow only; these flows are overridden
                token = self._store(response)
        return token

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = yield from self._sync_token(None)
        response = yield self._authorize(request, token)
        if response.status_code in REFRESH_STATUSES:
            logger.debug("got %s, refreshing the bearer token once", response.status_code)
            token = yield from self._sync_token(token)
            yield self._authorize(request, token)

    # -- async -------------------------------------------------------------------------------------------

    def _async_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._thread_lock:
            lock = self._async_locks.get(loop)
            if lock is None:
                lock = self._async_locks[loop] = asyncio.Lock()
        return lock

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        stale: Secret | None = None
        for attempt in range(2):
            token = self._usable(stale)
            if token is None:
                async with self._async_lock():
                    token = self._usable(stale)
                    if token is None:
                        response = yield self._token_request()
                        await response.aread()
                        token = self._store(response)
            response = yield self._authorize(request, token)
            if attempt or response.status_code not in REFRESH_STATUSES:
                return
            logger.debug("got %s, refreshing the bearer token once", response.status_code)
            stale = token


__all__ = ["ClientCredentialsAuth"]
