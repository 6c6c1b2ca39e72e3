"""OAuth2 client credentials as m3ter does it, as an httpx Auth flow.

Why an ``httpx.Auth`` subclass: httpx runs the flow around every request, lets the flow send the token
request through the same client (same transport, retries, timeouts, event hooks) and hand the response
back, and has separate sync and async entry points, so one class serves both clients.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass

import httpx
from httpx_retries import Retry

from ._exceptions import AuthenticationError, ResponseValidationError, error_for_response
from ._redact import Secret
from .models.bearer_access_token_response import BearerAccessTokenResponse

logger = logging.getLogger("m3ter_billing.auth")

TOKEN_PATH = "/oauth/token"  # noqa: S105 - a URL path, not a secret
# Statuses of a refused token request: reported as AuthenticationError naming the credentials.
REFUSED_TOKEN_STATUSES = frozenset({401, 403})
# A longer ``expires_in`` is taken as this (about 31 years): it keeps the expiry a finite float.
MAX_TOKEN_LIFETIME = 10**9


_BEARER_TOKEN = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True, slots=True)
class _Token:
    value: Secret
    expires_at: float  # on the auth's monotonic clock


class ClientCredentialsAuth(httpx.Auth):
    """Fetch a bearer token with HTTP Basic (access key id : API secret) and send it on every request.

    The token is cached until ``expires_in`` minus ``skew`` seconds on a monotonic clock. However many
    threads or asyncio tasks need a token at once, exactly one token request is sent per lifetime. A 401
    answer refreshes the token once (unless another caller already did) and retries the request once. So
    does a 403, except with a token that was itself fetched because of a 403: m3ter also answers 403 for
    an org id the credentials do not belong to, and a fresh token cannot fix that, so a wrong org id costs
    one extra token request per token lifetime, not one per call.

    ``token_retry`` is the retry policy of the token request (a POST, but safe to repeat); None sends it
    once.
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
        token_retry: Retry | None = None,
    ) -> None:
        self._token_url = token_url
        self._basic = httpx.BasicAuth(api_key, api_secret)
        Secret(api_secret)  # registers the secret with the scrubber
        Secret(self._basic._auth_header)
        self._skew = skew
        self._clock = clock
        self._token_retry = token_retry
        self._token: _Token | None = None
        # The last token fetched because of a 403: another 403 with it is final (no further refresh).
        self._fetched_after_403: Secret | None = None
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
        if self._token_retry is not None:
            request.extensions["retry"] = self._token_retry  # read by httpx-retries' RetryTransport
        self.token_requests += 1
        return request

    def _refreshes(self, status_code: int, token: Secret) -> bool:
        """Whether an answer ``status_code`` to a request sent with ``token`` calls for a new token."""
        if status_code == 401:
            return True
        return status_code == 403 and token != self._fetched_after_403

    def _store(self, response: httpx.Response, refused_with: int | None) -> Secret:
        if response.status_code != 200:
            error = error_for_response(response)
            if response.status_code in REFUSED_TOKEN_STATUSES:
                raise AuthenticationError(
                    f"the token request was refused ({error.message}); check M3TER_API_KEY and M3TER_API_SECRET",
                    status_code=response.status_code,
                    headers=response.headers,
                    method="POST",
                    url=self._token_url,
                )
            raise error
        try:
            body = BearerAccessTokenResponse.from_json(response.content, status_code=200)
        except ResponseValidationError as exc:  # the message names types and paths; the body stays out
            raise ResponseValidationError(
                f"the token response: {exc.message}", path=exc.path, status_code=200, body=b""
            ) from None
        if _BEARER_TOKEN.fullmatch(body.access_token) is None:  # it must fit an Authorization header
            raise ResponseValidationError(
                "the token response: access_token is not a bearer token (printable ASCII, no spaces)",
                path="$.access_token",
                status_code=200,
                body=b"",
            )
        value = Secret(body.access_token, issued=True)
        if refused_with == 403:
            self._fetched_after_403 = value
        lifetime = float(min(max(body.expires_in, 0), MAX_TOKEN_LIFETIME))
        skew = min(self._skew, lifetime / 10)
        self._token = _Token(value, self._clock() + lifetime - skew)
        logger.debug("obtained an access token valid for %gs", lifetime)
        return value

    @staticmethod
    def _authorize(request: httpx.Request, token: Secret) -> httpx.Request:
        request.headers["Authorization"] = f"Bearer {token.reveal()}"
        return request

    # -- sync --------------------------------------------------------------------------------------------

    def _sync_token(
        self, stale: Secret | None, refused_with: int | None = None
    ) -> Generator[httpx.Request, httpx.Response, Secret]:
        token = self._usable(stale)
        if token is not None:
            return token
        with self._thread_lock:
            token = self._usable(stale)
            if token is None:
                response = yield self._token_request()
                response.read()  # httpx reads bodies for Auth.auth_flow only; these flows are overridden
                token = self._store(response, refused_with)
        return token

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = yield from self._sync_token(None)
        response = yield self._authorize(request, token)
        if self._refreshes(response.status_code, token):
            logger.debug("got %s, refreshing the bearer token once", response.status_code)
            token = yield from self._sync_token(token, response.status_code)
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
        refused_with: int | None = None
        for attempt in range(2):
            token = self._usable(stale)
            if token is None:
                async with self._async_lock():
                    token = self._usable(stale)
                    if token is None:
                        response = yield self._token_request()
                        await response.aread()
                        token = self._store(response, refused_with)
            response = yield self._authorize(request, token)
            if attempt or not self._refreshes(response.status_code, token):
                return
            logger.debug("got %s, refreshing the bearer token once", response.status_code)
            stale, refused_with = token, response.status_code


__all__ = ["ClientCredentialsAuth"]
