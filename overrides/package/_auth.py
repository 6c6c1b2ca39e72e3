"""OAuth2 client credentials as m3ter does it, as an httpx Auth flow.

Why an ``httpx.Auth`` subclass: httpx runs the flow around every request, lets the flow send the token
request through the same client (same transport, retries, timeouts, event hooks) and hand the response
back, and has separate sync and async entry points, so one class serves both clients.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass

import httpx
from httpx_retries import Retry

from ._deadline import DEADLINE, MAX_RESPONSE_BYTES, Deadline, deadline_of
from ._exceptions import (
    AuthenticationError,
    ConfigurationError,
    ResponseValidationError,
    TokenPermissionDeniedError,
    error_for_response,
)
from ._redact import Secret
from .models.bearer_access_token_response import BearerAccessTokenResponse

logger = logging.getLogger("m3ter_billing.auth")

TOKEN_PATH = "/oauth/token"  # noqa: S105 - a URL path, not a secret
# Statuses of a refused token request: reported as AuthenticationError naming the credentials (for a 403,
# TokenPermissionDeniedError: a PermissionDeniedError too).
REFUSED_TOKEN_STATUSES = frozenset({401, 403})
# A longer ``expires_in`` is taken as this (about 31 years): it keeps the expiry a finite float.
MAX_TOKEN_LIFETIME = 10**9
# What the token request inherits from the request that needs the token.
_CARRIED = ("timeout", DEADLINE, MAX_RESPONSE_BYTES)


_BEARER_TOKEN = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True, slots=True)
class _Token:
    value: Secret
    expires_at: float  # on the auth's monotonic clock


def basic_authorization(username: str, password: str) -> str:
    """The ``Authorization`` value of HTTP Basic authentication (RFC 7617): ``Basic`` and the base64 of
    ``username:password`` in UTF-8, as httpx's ``BasicAuth`` sends it."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class ClientCredentialsAuth(httpx.Auth):
    """Fetch a bearer token with HTTP Basic (access key id : API secret) and send it on every request.

    The token is cached until ``expires_in`` minus ``skew`` seconds on a monotonic clock. However many
    threads or asyncio tasks need a token at once, exactly one token request is sent per lifetime. A 401
    answer refreshes the token once (unless another caller already did) and retries the request once. So
    does a 403, except with a token that was itself fetched because of a 403: m3ter also answers 403 for
    an org id the credentials do not belong to, and a fresh token cannot fix that, so a wrong org id costs
    one extra token request per token lifetime, not one per call.

    A refused token request (401/403: the credentials are wrong) is not repeated by the callers that were
    waiting for it: each of them raises the same ``AuthenticationError``, so a burst of calls with wrong
    credentials sends them once, not once per caller. A caller that comes later tries again.

    The token request is sent on behalf of the request that needs it: it gets that request's socket
    timeouts, total deadline, size limit and retry policy. Waiting for another caller's token request is
    bounded by the caller's deadline. A refused response (401/403) is read and closed before the flow
    waits for the token, so waiting callers hold no pooled connection.

    ``token_retry`` is the retry policy of a token request whose trigger carries none (a POST, but safe to
    repeat); None sends it once. ``default_total`` is the total timeout given to requests that carry no
    deadline (those sent with ``client.http`` directly).
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
        default_total: float | None = None,
    ) -> None:
        self._token_url = token_url
        Secret(api_secret)  # registers the secret with the scrubber
        basic = basic_authorization(api_key, api_secret)
        Secret(basic.removeprefix("Basic "))  # the credentials without the scheme, as a server may echo them
        self._basic = Secret(basic)
        self._skew = skew
        self._clock = clock
        self._token_retry = token_retry
        self._token: _Token | None = None
        # The last token fetched because of a 403: another 403 with it is final (no further refresh).
        self._fetched_after_403: Secret | None = None
        self._default_total = default_total
        self._ended = 0  # token requests that have ended (answered, refused, failed or cancelled)
        # The last refusal: the value ``_ended`` took when that token request ended, and its answer. None
        # once a token is stored.
        self._refusal: tuple[int, httpx.Response] | None = None
        self._token_lock = threading.Lock()  # held while a token request is in flight
        self._locks_lock = threading.Lock()  # guards _async_locks (never held across I/O)
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self.token_requests = 0
        """How many token requests this auth has sent (for diagnostics and tests)."""

    def __repr__(self) -> str:
        return f"ClientCredentialsAuth(token_url={self._token_url!r}, api_secret='[REDACTED]')"

    # -- the token cache ---------------------------------------------------------------------------------

    def _usable(self, stale: Secret | None) -> Secret | None:
        """The cached token unless it has expired or is ``stale`` (the very token a refusal answered: a
        token fetched since is another object, even when the server issued the same value again)."""
        token = self._token
        if token is None or token.value is stale or self._clock() >= token.expires_at:
            return None
        return token.value

    def _token_request(self, trigger: httpx.Request) -> httpx.Request:
        """The token request sent on behalf of ``trigger``: with its socket timeouts, deadline, size limit
        and retry policy (the token POST is safe to repeat, so it is retried like a GET)."""
        extensions = {key: trigger.extensions[key] for key in _CARRIED if key in trigger.extensions}
        retry = trigger.extensions.get("retry")
        if isinstance(retry, Retry):
            extensions["retry"] = retry.copy_with(allowed_methods=["POST"])
        elif self._token_retry is not None:
            extensions["retry"] = self._token_retry  # read by httpx-retries' RetryTransport
        request = httpx.Request(
            "POST",
            self._token_url,
            data={"grant_type": "client_credentials"},
            headers={"Accept": "application/json"},
            extensions=extensions,
        )
        request.headers["Authorization"] = self._basic.reveal()
        self.token_requests += 1
        return request

    def _refreshes(self, status_code: int, token: Secret) -> bool:
        """Whether an answer ``status_code`` to a request sent with ``token`` calls for a new token."""
        if status_code == 401:
            return True
        return status_code == 403 and token is not self._fetched_after_403

    def _store(self, response: httpx.Response, refused_with: int | None) -> Secret:
        if response.status_code != 200:
            error = error_for_response(response)
            if response.status_code in REFUSED_TOKEN_STATUSES:
                self._refusal = (self._ended + 1, response)  # the caller's ``finally`` counts it as ended
                raise self._refused(response)
            raise error
        try:
            body = BearerAccessTokenResponse.from_json(response.content, status_code=200)
        except ResponseValidationError as exc:  # the message names types and paths; the body stays out
            raise ResponseValidationError(
                f"the token response: {exc.message}",
                path=exc.path,
                status_code=200,
                method="POST",
                url=self._token_url,
                headers=response.headers,
            ) from None
        if _BEARER_TOKEN.fullmatch(body.access_token) is None:  # it must fit an Authorization header
            raise ResponseValidationError(
                "the token response: access_token is not a bearer token (printable ASCII, no spaces)",
                path="$.access_token",
                status_code=200,
                method="POST",
                url=self._token_url,
                headers=response.headers,
            )
        value = Secret(body.access_token, issued=True)
        self._refusal = None
        if refused_with == 403:
            self._fetched_after_403 = value
        lifetime = float(min(max(body.expires_in, 0), MAX_TOKEN_LIFETIME))
        skew = min(self._skew, lifetime / 10)
        self._token = _Token(value, self._clock() + lifetime - skew)
        logger.debug("obtained an access token valid for %gs", lifetime)
        return value

    def _refused(self, response: httpx.Response) -> AuthenticationError:
        """The error for a token request refused with ``response`` (401/403, already read): an
        ``AuthenticationError``, for a 403 also a ``PermissionDeniedError`` (``TokenPermissionDeniedError``)."""
        error = error_for_response(response)
        cls = TokenPermissionDeniedError if response.status_code == 403 else AuthenticationError
        return cls(
            f"the token request was refused ({error.message}); check M3TER_API_KEY and M3TER_API_SECRET",
            status_code=response.status_code,
            headers=response.headers,
            method="POST",
            url=self._token_url,
            response=response,
            body=error.body,
        )

    def _begin_fetch(self, ended_before: int) -> None:
        """Called with the token lock held, before a token request: raise the refusal of a token request
        that ended while this caller waited for the lock (``ended_before``: ``_ended`` when it started
        waiting) rather than send the refused credentials again."""
        refusal = self._refusal
        if refusal is not None and refusal[0] > ended_before:
            raise self._refused(refusal[1])

    @staticmethod
    def _authorize(request: httpx.Request, token: Secret) -> httpx.Request:
        request.headers["Authorization"] = f"Bearer {token.reveal()}"
        return request

    def _stamp(self, request: httpx.Request) -> None:
        """Give a request sent without the facade (the low-level API on ``client.http``) the default deadline."""
        if DEADLINE not in request.extensions and self._default_total is not None:
            request.extensions[DEADLINE] = Deadline.after(self._default_total)

    # -- sync --------------------------------------------------------------------------------------------

    def _acquire(self, request: httpx.Request) -> None:
        """Take the token lock, waiting no longer than the call's deadline."""
        deadline = deadline_of(request)
        wait = -1.0 if deadline is None else max(deadline.remaining(), 0.0)
        if not self._token_lock.acquire(timeout=wait):
            assert deadline is not None
            raise deadline.exceeded(request, "waiting for another caller's token request")

    def _sync_token(
        self, request: httpx.Request, stale: Secret | None, refused_with: int | None = None
    ) -> Generator[httpx.Request, httpx.Response, Secret]:
        token = self._usable(stale)
        if token is not None:
            return token
        ended_before = self._ended
        self._acquire(request)
        try:
            token = self._usable(stale)
            if token is None:
                self._begin_fetch(ended_before)
                try:
                    response = yield self._token_request(request)
                    response.read()  # httpx reads bodies for Auth.auth_flow only; these flows are overridden
                    token = self._store(response, refused_with)
                finally:
                    self._ended += 1
        finally:
            self._token_lock.release()
        return token

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self._stamp(request)
        token = yield from self._sync_token(request, None)
        response = yield self._authorize(request, token)
        if self._refreshes(response.status_code, token):
            # Release the refused response (and its connection) before waiting for the token lock: a caller
            # holding a connection while it waits could starve the token request of one.
            response.read()
            response.close()
            logger.debug("got %s, refreshing the bearer token once", response.status_code)
            token = yield from self._sync_token(request, token, response.status_code)
            yield self._authorize(request, token)

    # -- async -------------------------------------------------------------------------------------------

    def _async_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._locks_lock:
            lock = self._async_locks.get(loop)
            if lock is None:
                lock = self._async_locks[loop] = asyncio.Lock()
        return lock

    async def _async_acquire(self, request: httpx.Request) -> asyncio.Lock:
        lock = self._async_lock()
        deadline = deadline_of(request)
        if deadline is None:
            await lock.acquire()
            return lock
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that arrives as
        # the lock is taken, and the cancelled caller would carry on.
        try:
            async with asyncio.timeout(max(deadline.remaining(), 0.0)):
                await lock.acquire()
        except TimeoutError:
            raise deadline.exceeded(request, "waiting for another caller's token request") from None
        return lock

    def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        return self._async_flow(request, None, None)

    async def _async_flow(
        self, request: httpx.Request, stale: Secret | None, refused_with: int | None
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """The async flow; with ``stale`` and ``refused_with``, the part after ``request`` was sent with the
        token ``stale`` and refused with that status: a new token, and the request sent once more."""
        self._stamp(request)
        while True:
            token = self._usable(stale)
            if token is None:
                ended_before = self._ended
                lock = await self._async_acquire(request)
                try:
                    token = self._usable(stale)
                    if token is None:
                        self._begin_fetch(ended_before)
                        try:
                            response = yield self._token_request(request)
                            await response.aread()
                            token = self._store(response, refused_with)
                        finally:
                            self._ended += 1
                finally:
                    lock.release()
            response = yield self._authorize(request, token)
            if refused_with is not None or not self._refreshes(response.status_code, token):
                return
            await response.aread()
            await response.aclose()
            logger.debug("got %s, refreshing the bearer token once", response.status_code)
            stale, refused_with = token, response.status_code

    # -- for a sender that sets the header itself while the cached token is usable (``_direct``) ---------

    def current_token(self) -> Secret | None:
        """The cached token when it can be sent now (no lock taken, nothing sent); None when the flow must
        fetch one first."""
        return self._usable(None)

    def async_refresh_flow(
        self, request: httpx.Request, token: Secret, response: httpx.Response
    ) -> AsyncGenerator[httpx.Request, httpx.Response] | None:
        """What :meth:`async_auth_flow` does once ``request``, sent with ``token``, got ``response``: None
        when that answer is final; otherwise the rest of the flow (a new token, the request sent again
        once), which the caller drives after reading and closing ``response``."""
        if not self._refreshes(response.status_code, token):
            return None
        logger.debug("got %s, refreshing the bearer token once", response.status_code)
        return self._async_flow(request, token, response.status_code)


class FixedTokenAuth(httpx.Auth):
    """A bearer token given by the caller (``token=`` or ``M3TER_API_TOKEN``), sent as is on every request.

    No token request is ever sent; a 401 or 403 is final (the facade raises ``AuthenticationError`` or
    ``PermissionDeniedError``), because the client has no way to get another token.
    """

    token_requests = 0  # never sends one; the same attribute as ClientCredentialsAuth for diagnostics

    def __init__(self, token: str) -> None:
        if _BEARER_TOKEN.fullmatch(token) is None:
            raise ConfigurationError("token (M3TER_API_TOKEN) must be a bearer token: printable ASCII, no spaces")
        self._token = Secret(token)

    def __repr__(self) -> str:
        return "FixedTokenAuth(token='[REDACTED]')"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token.reveal()}"
        yield request

    def current_token(self) -> Secret:
        return self._token

    def async_refresh_flow(
        self, request: httpx.Request, token: Secret, response: httpx.Response
    ) -> AsyncGenerator[httpx.Request, httpx.Response] | None:
        return None  # a refused fixed token is final


__all__ = ["ClientCredentialsAuth", "FixedTokenAuth"]
