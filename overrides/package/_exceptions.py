"""One exception type per outcome. Every message is scrubbed of secrets before it is built."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from contextlib import AbstractContextManager
from http import HTTPStatus
from typing import Any, overload

import httpx

from ._redact import scrub

_MESSAGE_LIMIT = 300
BODY_PREFIX_LIMIT = 64 * 1024  # what ResponseValidationError.body keeps of a body
ERROR_BODY_DECODE_LIMIT = 1024 * 1024  # a longer error body is kept as text on APIStatusError.body


class M3terError(Exception):
    """Base class of every exception this package raises.

    Every one pickles (a worker of a ``ProcessPoolExecutor`` hands its exception back pickled): as
    ``Exception`` does, by its ``args`` and attributes, but without calling ``__init__`` again, whose
    keywords (``status_code=``, ``url=``, ``limit=``) ``args`` does not hold."""

    def __reduce__(self) -> tuple[Any, ...]:
        return _unpickled, (type(self), self.args), self.__dict__


def _unpickled(cls: type[M3terError], args: tuple[Any, ...]) -> M3terError:
    """An exception of ``cls`` with ``args``, its attributes then set from the pickle (``__setstate__``)."""
    return cls.__new__(cls, *args)


class ConfigurationError(M3terError, ValueError):
    """A setting is missing or invalid (base URL, org id, API key or secret)."""


class InvalidParameterError(M3terError, ValueError):
    """An argument can never make a valid request (an empty id, an id with CR/LF, ...). Nothing was sent."""


class APIError(M3terError):
    """An API call failed: no response (:class:`APIConnectionError`), an error status
    (:class:`APIStatusError`) or a body that does not match the spec (:class:`APIResponseValidationError`).

    The layer the official ``m3ter`` SDK has: ``message`` is the (redacted) message; ``body`` the decoded
    JSON body, or its text when it is not JSON, or None when there was no response.
    """

    message: str
    body: object | None = None


class APIConnectionError(APIError):
    """The request did not get an HTTP response: DNS, connect, TLS or protocol failure, a URL httpx
    refuses, or a client already closed.

    ``method`` and ``url`` name the request when it is known (empty otherwise); ``url`` is scrubbed of
    presigned-URL signatures and of a user name and password. The ``httpx.Request`` itself is not kept:
    its repr would show them, and its headers the bearer token.

    Also built as the official SDK builds it, ``APIConnectionError(message="...", request=request)``
    (``message`` defaults to ``"Connection error."``): ``method`` and ``url`` are then the request's.
    """

    def __init__(
        self,
        message: str = "Connection error.",
        *,
        method: str = "",
        url: str = "",
        request: httpx.Request | None = None,
    ) -> None:
        if request is not None:
            method, url = _method_and_url(type(self), request, method, url)
        self.message = scrub(message)
        super().__init__(self.message)
        self.method = method
        self.url = scrub(url) if url else ""


class APITimeoutError(APIConnectionError):
    """The request timed out (connect, read, write or pool), or the call's total timeout ran out.

    ``total_timeout`` is the seconds of the call's total timeout when that is what ran out (or would have
    before a retry's wait ended); None when a socket timeout ran out.

    Also built as the official SDK builds it, ``APITimeoutError(request)`` or ``APITimeoutError(request=
    request)``: the message is ``"Request timed out."`` and ``method`` and ``url`` are the request's.
    """

    @overload
    def __init__(self, request: httpx.Request, /, *, total_timeout: float | None = None) -> None: ...

    @overload
    def __init__(
        self,
        message: str = "Request timed out.",
        *,
        method: str = "",
        url: str = "",
        total_timeout: float | None = None,
        request: httpx.Request | None = None,
    ) -> None: ...

    def __init__(
        self,
        message: str | httpx.Request = "Request timed out.",
        *,
        method: str = "",
        url: str = "",
        total_timeout: float | None = None,
        request: httpx.Request | None = None,
    ) -> None:
        if isinstance(message, httpx.Request):  # APITimeoutError(request), the official SDK's positional form
            if request is not None:
                raise TypeError("APITimeoutError() got the request twice: positionally and as request=")
            request = message
            message = "Request timed out."
        super().__init__(message, method=method, url=url, request=request)
        self.total_timeout = total_timeout


def _method_and_url(cls: type[APIConnectionError], request: object, method: str, url: str) -> tuple[str, str]:
    """The method and (unscrubbed) URL of the ``request=`` an error was built with."""
    if not isinstance(request, httpx.Request):
        raise TypeError(f"{cls.__name__}() request= must be an httpx.Request, not {type(request).__name__}")
    if method or url:
        raise TypeError(f"{cls.__name__}() takes request= or method= and url=, not both")
    return request.method, str(request.url)


class ResponseTooLargeError(M3terError):
    """The response body (decompressed, or for a compressed body its bytes on the wire) is larger than
    ``max_response_bytes``; the rest was not read.

    ``limit`` is the limit in bytes; ``method`` and ``url`` name the request (``url`` scrubbed).
    """

    def __init__(self, message: str, *, limit: int, method: str = "", url: str = "") -> None:
        super().__init__(scrub(message))
        self.limit = limit
        self.method = method
        self.url = scrub(url) if url else ""


class EventLoopMismatchError(M3terError, RuntimeError):
    """An ``AsyncM3terBilling`` was used from a second event loop while the first one is still open.

    A client whose first event loop has been closed recovers by itself (it opens new connections on the
    new loop); a client shared by two live loops cannot, because its connections belong to the first.
    """


class APIStatusError(APIError):
    """The server answered with a status this operation does not succeed with.

    ``status_code`` is the HTTP status, ``message`` the server's ``{"message": ...}`` (or the start of the
    body when it is not that shape), ``headers`` the response headers. ``method`` and ``url`` name the
    request that got the answer (``url`` scrubbed of presigned-URL signatures; both empty when the error was
    built without them): ``POST`` and the token URL for the token request, which the client sends itself.
    ``response`` is the ``httpx.Response`` (its body already read, within ``max_response_bytes``), always
    there: an error built with ``status_code=`` alone gets a stand-in with that status and ``headers``, an
    empty body and no request. ``body`` is its decoded JSON, or its text when it is not JSON or longer
    than 1 MiB (:data:`ERROR_BODY_DECODE_LIMIT`).

    Built as the official SDK builds it (``NotFoundError(message, response=..., body=...)``), the status
    and headers are the response's, and ``method`` and ``url`` its request's (when it has one).
    """

    status_code: int
    response: httpx.Response

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        headers: Mapping[str, str] | None = None,
        method: str = "",
        url: str = "",
        response: httpx.Response | None = None,
        body: object | None = None,
    ) -> None:
        if response is None:
            if status_code is None:
                raise TypeError(f"{type(self).__name__}() needs response= or status_code=")
            try:
                response = httpx.Response(status_code, headers=headers)
            except (TypeError, ValueError):  # headers httpx cannot encode (non-ASCII text): kept on .headers only
                response = httpx.Response(status_code)
        if status_code is None:
            status_code = response.status_code
        if not method and not url:  # built the official way: the request is the response's, when it has one
            with contextlib.suppress(RuntimeError):  # httpx: no request set on that response
                method, url = response.request.method, str(response.request.url)
        self.status_code = status_code
        self.response = response
        self.body = body
        self.message = scrub(message)
        self.headers: Mapping[str, str] = headers if headers is not None else response.headers
        self.method = method
        self.url = scrub(url) if url else ""
        try:
            reason = HTTPStatus(status_code).phrase
        except ValueError:
            reason = "Non-standard status"
        where = f" ({method} {scrub(url)})" if method else ""
        super().__init__(f"{status_code} {reason}{where}: {self.message}")


class BadRequestError(APIStatusError):
    """400: the server rejected the request as malformed."""


class AuthenticationError(APIStatusError):
    """401 (or a rejected token request): the credentials or the bearer token were not accepted."""


class PermissionDeniedError(APIStatusError):
    """403: m3ter's answer to an expired token and to an org id the credentials do not belong to."""


class TokenPermissionDeniedError(AuthenticationError, PermissionDeniedError):
    """403 to the token request: the credentials were refused. An :class:`AuthenticationError`, as every
    refused token request is here (``except AuthenticationError`` catches both 401 and 403), and a
    :class:`PermissionDeniedError`, the class of its status, which the official SDK raises for it."""


class NotFoundError(APIStatusError):
    """404: no entity with that id in the organization."""


class ConflictError(APIStatusError):
    """409: the request conflicts with the entity's current state."""


class UnprocessableEntityError(APIStatusError):
    """422: the request was understood but cannot be processed."""


class RateLimitError(APIStatusError):
    """429: a rate limit was hit (50 requests/s per organization, 20,000 per 5 minutes per IP)."""

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked to wait: ``retry-after-ms`` / 1000 or ``Retry-After``, when sent as a plain
        non-negative decimal number. Always a finite float in [0, 10⁹] that ``time.sleep`` accepts, or None
        (absent, an HTTP date, NaN, infinite, negative, absurdly large or otherwise unreadable)."""
        for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
            seconds = _delay(self.headers.get(name), scale)
            if seconds is not None:
                return seconds
        return None


_DELAY = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")
_MAX_DELAY = 1e9  # seconds (about 31 years); a longer wait is no plausible answer


def _delay(value: str | None, scale: float) -> float | None:
    if value is None:
        return None
    text = value.strip(" \t")
    if _DELAY.fullmatch(text) is None:
        return None
    seconds = float(text) / scale
    return seconds if seconds <= _MAX_DELAY else None


class InternalServerError(APIStatusError):
    """5xx, any status from 500 to 599 (non-standard ones such as Cloudflare's 520 too): the server failed."""


class UnexpectedStatusError(APIStatusError):
    """Any other status: a 2xx other than the operation's 200, 1xx and 3xx (redirects are not followed), a 4xx
    without a class of its own (405, 410, 413, ...), and codes outside 100-599."""


class APIResponseValidationError(APIError):
    """A body that does not match the spec: invalid JSON, a wrong type, a bad date, a missing field.

    ``path`` is the JSON path of the offending value (``$.lineItems[3].quantity``), ``status_code`` the
    response status (None when the payload did not come from a response). The first 64 KiB of the body are
    kept on ``body`` (``body_length`` is the whole body's length); the body is not part of the message.

    When the payload came from a response, ``method`` and ``url`` name the request (``url`` scrubbed of
    presigned-URL signatures), ``headers`` are the response headers and ``response`` is the
    ``httpx.Response`` itself, its whole body read (within ``max_response_bytes``). The token response is
    the exception: it may hold a bearer token, so its error keeps ``method`` (``POST``), ``url`` and
    ``headers`` but neither ``body`` nor ``response``. Otherwise they are empty, ``{}`` and None.
    """

    body: bytes  # the raw body's first 64 KiB (the official SDK keeps the decoded body here)
    response: httpx.Response | None

    def __init__(
        self,
        message: str,
        *,
        path: str = "$",
        status_code: int | None = None,
        body: bytes = b"",
        method: str = "",
        url: str = "",
        headers: Mapping[str, str] | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        self.path = path
        self.status_code = status_code
        self.body = bytes(body[:BODY_PREFIX_LIMIT])
        self.body_length = len(body)
        self.message = scrub(message)
        self.method = method
        self.url = scrub(url) if url else ""
        self.headers: Mapping[str, str] = headers if headers is not None else {}
        self.response = response
        prefix = f"{status_code} response body" if status_code is not None else "payload"
        super().__init__(f"{prefix} does not match the spec at {path}: {self.message}")


ResponseValidationError = APIResponseValidationError
"""The earlier name of :class:`APIResponseValidationError` (the same class)."""


class StatementError(M3terError):
    """Base class of the statement helpers' errors."""


class StatementJobTimeoutError(StatementError):
    """The statement job did not reach a terminal state within the timeout."""


class StatementNotReadyError(StatementError):
    """The statement job is not COMPLETE, or carries no URL for the requested format."""


class StatementDownloadError(StatementError):
    """A statement document could not be downloaded, even after re-fetching the job for fresh URLs.

    ``status_code`` is the object store's last answer and ``url`` the presigned URL with its signature and
    credential parameters redacted (both None when nothing was sent). The answer's body is not kept: an
    object store's error body can echo the request's signature (S3's ``SignatureDoesNotMatch`` does)."""

    status_code: int | None
    url: str | None

    def __init__(self, message: str, *, status_code: int | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.url = None if url is None else scrub(url)


class StatementURLRefusedError(StatementDownloadError):
    """A presigned statement URL was refused before anything was sent: not ``https`` (nor the base URL's own
    scheme and host), carrying credentials, or naming a loopback, link-local, private or unspecified
    address. ``reason`` says which; ``url`` is the URL with its signature redacted."""

    url: str  # always there: the URL that was refused

    def __init__(self, reason: str, *, url: str) -> None:
        self.reason = reason
        super().__init__(f"refused to download a statement from {scrub(url)}: {reason}", url=url)


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def server_message(content: bytes, decoded: object = None) -> str:
    """The ``message`` of an m3ter error body, or the start of the body when it has another shape;
    ``decoded``: the body as :func:`decoded_body` gives it, when the caller has it already."""
    if decoded is None:
        decoded = decoded_body(content)
    if isinstance(decoded, dict) and isinstance(decoded.get("message"), str):
        return str(decoded["message"])[:_MESSAGE_LIMIT]
    # The start of the body only: at most 4 bytes a character, and a little room for leading spaces.
    text = content[: _MESSAGE_LIMIT * 4 + 64].decode("utf-8", "replace").strip()
    long = len(text) > _MESSAGE_LIMIT or len(content) > _MESSAGE_LIMIT * 4 + 64
    return (text[:_MESSAGE_LIMIT] + "...") if long else (text or "(empty body)")


def error_class_for_status(status_code: int) -> type[APIStatusError]:
    if status_code in _BY_STATUS:
        return _BY_STATUS[status_code]
    if 500 <= status_code <= 599:
        return InternalServerError
    return UnexpectedStatusError


def _request_line(response: httpx.Response) -> tuple[str, str]:
    try:
        request = response.request
    except RuntimeError:
        return "", ""
    return request.method, str(request.url)


# The request headers an error's response must not carry on: the bearer token, a proxy's credentials.
_CREDENTIAL_HEADERS = ("authorization", "proxy-authorization")


def without_credentials(response: httpx.Response) -> httpx.Response:
    """``response`` (about to be handed to the caller: on an error, or as a raw response) made safe to keep:
    its request, and the request ``next_request`` would send after a 3xx, become copies whose credential
    headers read ``[REDACTED]``, and its ``history`` is emptied. httpx fills the history from the auth
    flow: the token request (HTTP Basic with the API key and secret) with the token in its body, and an
    attempt refused with the bearer token before a refresh. ``error.response`` and ``raw.http_response``
    are as reachable as an error's message."""
    response.history = []
    try:
        request = response.request
    except RuntimeError:
        request = None
    if request is not None:
        response.request = _redacted(request)
    if response.next_request is not None:
        response.next_request = _redacted(response.next_request)
    return response


def _redacted(request: httpx.Request) -> httpx.Request:
    """``request``, or a copy of it whose credential headers read ``[REDACTED]`` (no body: a GET's has none,
    and the token request's form holds no secret)."""
    if not any(name in request.headers for name in _CREDENTIAL_HEADERS):
        return request
    headers = request.headers.copy()
    for name in _CREDENTIAL_HEADERS:
        if name in headers:
            headers[name] = "[REDACTED]"
    return httpx.Request(request.method, request.url, headers=headers)


def error_for_response(response: httpx.Response) -> APIStatusError:
    """The typed exception for a response whose status is not the operation's success status (its
    ``response`` keeps no credentials of the request)."""
    without_credentials(response)
    method, url = _request_line(response)
    cls = error_class_for_status(response.status_code)
    content = response.content
    body = decoded_body(content)
    return cls(
        server_message(content, body),
        status_code=response.status_code,
        headers=response.headers,
        method=method,
        url=url,
        response=response,
        body=body,
    )


def with_response(error: APIResponseValidationError, response: httpx.Response) -> APIResponseValidationError:
    """``error`` (raised decoding ``response``'s body) with the request and the response it came from (its
    request without credentials)."""
    without_credentials(response)
    error.method, url = _request_line(response)
    error.url = scrub(url) if url else ""
    error.headers = response.headers
    error.response = response
    return error


def decoded_body(content: bytes) -> object:
    """The decoded JSON of an error body, or its text (UTF-8, undecodable bytes replaced) when not JSON or
    longer than :data:`ERROR_BODY_DECODE_LIMIT` (decoded, a hostile body of ``[[],[],...]`` takes some 30
    times its size in memory; m3ter's error bodies are a few hundred bytes)."""
    if len(content) <= ERROR_BODY_DECODE_LIMIT:
        try:
            return json.loads(content)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested too deeply to decode
            pass
    return content.decode("utf-8", "replace")


class _TranslatedTransportErrors:
    """The context manager behind :func:`translated_transport_errors` (a class: entered on every call, it
    costs less than a generator-based one)."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            return
        if isinstance(exc, httpx.RequestError):
            method, url = _request_of(exc)
            _detach_requests(exc)
            _scrub_chain(exc)
            if isinstance(exc, httpx.TimeoutException):
                raise APITimeoutError(
                    f"request timed out: {type(exc).__name__}: {exc}", method=method, url=url
                ) from exc
            if isinstance(exc, httpx.TransportError):
                raise APIConnectionError(
                    f"connection failed: {type(exc).__name__}: {exc}", method=method, url=url
                ) from exc
            # Not transport errors in httpx's hierarchy, but the request still got no usable response:
            # DecodingError (a body that does not match its Content-Encoding), TooManyRedirects.
            raise APIConnectionError(f"request failed: {type(exc).__name__}: {exc}", method=method, url=url) from exc
        if isinstance(exc, httpx.InvalidURL):  # a URL httpx refuses to send (too long, control characters)
            raise APIConnectionError(f"invalid URL: {exc}") from None
        if isinstance(exc, UnicodeError) and type(exc).__module__.startswith("idna"):
            # A 3xx Location whose host does not decode (xn--, a codepoint IDNA refuses), read by httpx as it
            # builds response.next_request: what httpx does for a Location that is no URL at all.
            raise APIConnectionError(f"invalid URL: a host that is not a valid IDNA name ({exc})") from None
        if isinstance(exc, RuntimeError) and "client has been closed" in str(exc):
            raise APIConnectionError("the client has been closed") from None


_TRANSLATED = _TranslatedTransportErrors()


def translated_transport_errors() -> AbstractContextManager[None]:
    """Turn httpx's transport exceptions into :class:`APIConnectionError` / :class:`APITimeoutError`."""
    return _TRANSLATED


def _detach_requests(exc: httpx.RequestError) -> None:
    """Drop the ``httpx.Request`` from ``exc`` and from the earlier failures of that same request chained to
    it (its retries): its repr shows the whole URL, a presigned signature included, and its headers the
    bearer token. httpx's own "no request" state: ``.request`` then raises RuntimeError. The walk goes only
    through errors of that request object, so an exception the caller was handling when it made the call
    (chained as the context) is never changed."""
    request = getattr(exc, "_request", None)
    if request is None:
        return
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if (
            not isinstance(current, httpx.RequestError)
            or getattr(current, "_request", None) is not request
            or id(current) in seen
        ):
            continue
        seen.add(id(current))
        current._request = None
        pending += (current.__cause__, current.__context__)


# The libraries under httpx whose exceptions it chains to its own; their messages can quote what a server
# sent (a malformed status line echoing the request target, a presigned signature in it).
_TRANSPORT_MODULES = frozenset({"httpx", "httpcore", "h11", "h2", "hpack", "anyio", "sniffio"})


def _scrub_chain(exc: BaseException) -> None:
    """Scrub the messages of ``exc`` and of the transport libraries' exceptions chained to it
    (``__cause__``, ``__context__``): our message is built scrubbed, but a traceback shows these too. The
    walk stops at any other exception (one the caller was handling when it made the call stays as it is)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        if type(current).__module__.partition(".")[0] not in _TRANSPORT_MODULES:
            continue
        seen.add(id(current))
        if any(isinstance(arg, str) for arg in current.args):
            current.args = tuple(scrub(arg) if isinstance(arg, str) else arg for arg in current.args)
        pending += (current.__cause__, current.__context__)


def _request_of(exc: httpx.RequestError) -> tuple[str, str]:
    try:
        request = exc.request
    except RuntimeError:
        return "", ""
    return request.method, str(request.url)


__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "EventLoopMismatchError",
    "InternalServerError",
    "InvalidParameterError",
    "M3terError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "StatementDownloadError",
    "StatementError",
    "StatementJobTimeoutError",
    "StatementNotReadyError",
    "StatementURLRefusedError",
    "TokenPermissionDeniedError",
    "UnexpectedStatusError",
    "UnprocessableEntityError",
    "error_for_response",
    "translated_transport_errors",
    "with_response",
    "without_credentials",
]
