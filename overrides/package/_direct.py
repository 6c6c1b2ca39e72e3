"""The aiohttp backend's request path for API calls: the request is built here and sent straight to the
client's transport (retries, bounded body, aiohttp), below ``httpx.AsyncClient``.

Why: under fan-out most of the async client's CPU was ``httpx.AsyncClient``'s own request handling, not
the network: merging each URL with ``base_url`` parses it three times, the cookie jar is copied for every
request and consulted for every response, and the body is read again through three stream wrappers.
Here a request costs one URL parse, and the cookie jar is touched only when it holds a cookie or the
response sets one.

Nothing is decided here that the default path decides elsewhere: the same ``httpx.Request`` (URL, headers,
timeouts, extensions) is built, the same auth flow (``_auth``: the cached token, the single-flight refresh,
a 401/403 retried once) is driven as httpx drives it, the same transport stack sends it (``_retry``'s
policy and budget, ``_transport``'s deadline and size caps, ``_aiohttp``), and the response comes back
as httpx returns it (``request`` set, body read, ``elapsed``, cookies kept, redirects not followed, the
client's event hooks called, httpx's ``HTTP Request:`` log line). Requests this path does not handle
(statement downloads, the client with its own ``params``) go through ``httpx.AsyncClient`` itself. A test
sends the same calls through both paths and compares what reaches the transport.

The quick lane (:meth:`DirectSender.retrieve`, for the facade's plain ``retrieve()``) goes further for a
call made with a cached token that nothing observes: no ``httpx.Request``, no ``httpx.Response``, no retry
wrapper unless the first answer needs one. Its attempt is the bounded transport's own
(``BoundedTransport.exchange``); whatever it cannot finish is handed to the path above as the first attempt
of the request built then. ``test_quick_lane`` plays statuses, cookies, bad bodies, resets, size caps and
deadlines to both backends and compares what the caller and the server see.
"""

from __future__ import annotations

import datetime
import logging
import re
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any, TypeVar

import httpx
from httpx_retries import Retry

from ._auth import ClientCredentialsAuth, FixedTokenAuth
from ._exceptions import ResponseValidationError
from ._redact import Secret
from ._transport import COOKIE_HEADERS, PRIMED, BoundedTransport, Exchange, OpeningNetwork, ReadBody

_T = TypeVar("_T")
_httpx_logger = logging.getLogger("httpx")  # httpx's own log line for every response, as AsyncClient writes it
_retries_logger = logging.getLogger("httpx_retries.transport")  # logs every request at DEBUG
_BEARERS = (ClientCredentialsAuth, FixedTokenAuth)  # the auths whose token this path can set itself


# What httpx's URL parser leaves exactly as it is in a path or a query: unreserved characters, percent
# escapes and the delimiters it does not quote there. path_segment() and QueryParams produce nothing else.
_KEPT = re.compile(r"[A-Za-z0-9\-._~%/!$&'()*+,;=:@]*")
_DOT_SEGMENT = re.compile(r"(^|/)\.\.?(/|$)")


# Longer paths and queries are parsed in full, so httpx's own limits (a URL of at most 64 KiB) apply.
_KEPT_LENGTH = 4096


def _kept(raw_path: str, query: str | None) -> bool:
    """Whether httpx's parser leaves ``raw_path`` and ``query`` exactly as they are (checked for the
    lengths an API call has; anything longer is left to the parser)."""
    return (
        len(raw_path) + (0 if query is None else len(query)) <= _KEPT_LENGTH
        and _KEPT.fullmatch(raw_path) is not None
        and ("/." not in raw_path or _DOT_SEGMENT.search(raw_path) is None)  # a dot segment follows a "/"
        and (query is None or _KEPT.fullmatch(query) is not None)
    )


def _reusable(reference: object) -> bool:
    """Whether a URL's ``_uri_reference`` is its parsed form as the httpx this was written for holds it (a
    named tuple)."""
    return isinstance(reference, tuple) and hasattr(reference, "_replace")


def joined(base: httpx.URL, raw_path: str, query: str | None) -> httpx.URL:
    """``base`` with ``raw_path`` (starting with "/") and ``query``: equal to parsing the whole URL, which
    costs a scan of every character; here the path and query are checked with one regular expression
    each and the base's parsed form is reused (parsed in full when they hold anything else)."""
    reference: Any = getattr(base, "_uri_reference", None)
    if _reusable(reference) and _kept(raw_path, query):
        url = httpx.URL.__new__(httpx.URL)
        url._uri_reference = reference._replace(path=raw_path, query=query, fragment=None)
        return url
    prefix = str(base.copy_with(raw_path=b"/", fragment=None))[:-1]
    return httpx.URL(prefix + raw_path + ("" if query is None else "?" + query))


# -- a body already in memory, handed to httpx without its read machinery ---------------------------------
# httpx's read() runs even a body held in memory through its decoder, chunker and request context, and
# keeps the result in private attributes. Below httpx.AsyncClient we set those attributes to exactly what
# read() would leave, when a probe (once, against the installed httpx) shows that this gives the same
# object as read() does; otherwise read() is called, as before.


def _take_request_body(request: httpx.Request) -> None:
    request._content = b""  # what read() stores for a request without a body


def _take_response_body(response: httpx.Response, content: bytes) -> None:
    # What read() leaves: the content, the stream consumed and closed, the bytes counted.
    response._content = content
    response.is_stream_consumed = True
    response.is_closed = True
    response._num_bytes_downloaded = len(content)


def _same_as_read() -> bool:
    try:
        read = httpx.Request("GET", "http://probe/", stream=httpx.ByteStream(b""))
        read.read()
        taken = httpx.Request("GET", "http://probe/", stream=httpx.ByteStream(b""))
        _take_request_body(taken)
        if vars(read).keys() != vars(taken).keys() or taken.read() != b"":
            return False
        done = httpx.Response(200, stream=ReadBody(b"probe"))
        done.read()
        given = httpx.Response(200, stream=ReadBody(b"probe"))
        given.stream = ReadBody(b"stream")  # read() would return these bytes if httpx ignored what is set
        _take_response_body(given, b"probe")
        state = ("content", "is_stream_consumed", "is_closed", "num_bytes_downloaded")
        # Nothing set that read() does not set (read() also caches its decoder, made again when needed).
        return (
            vars(given).keys() <= vars(done).keys()
            and all(getattr(done, name) == getattr(given, name) for name in state)
            and given.read() == b"".join(given.iter_bytes()) == b"probe"
        )
    except Exception:  # an httpx that works differently: read() it is
        return False


_SAME_AS_READ = _same_as_read()


class _HostFirst:
    """The headers of a GET as httpx orders them, ``Host`` first and then the client's (and last the
    ``Authorization`` the auth flow would add), built once and copied for each request while neither the
    host, the client's headers nor the token change (httpx copies a ``Headers`` it is given as a list,
    without normalising every name and value again)."""

    def __init__(self) -> None:
        self._last: tuple[object, httpx.Headers | None] = (None, None)

    def of(self, netloc: bytes, headers: httpx.Headers, authorization: str | None) -> httpx.Headers | None:
        """None when ``headers`` has a ``Host`` (httpx keeps the caller's, where it stands), or has an
        ``Authorization`` while ``authorization`` is given (the auth flow replaces that one where it stands:
        the request is then built without a token, and the flow sets it)."""
        key = (netloc, headers.raw, authorization)
        last_key, built = self._last
        if key != last_key:
            raw = key[1]
            names = {name.lower() for name, _ in raw}
            if b"host" in names or (authorization is not None and b"authorization" in names):
                built = None
            elif authorization is None:
                built = httpx.Headers([(b"Host", netloc), *raw])
            else:  # where the flow's ``request.headers["Authorization"] = ...`` appends it
                built = httpx.Headers([(b"Host", netloc), *raw, (b"Authorization", authorization.encode("ascii"))])
            self._last = (key, built)  # one assignment: a key never goes with another key's headers
        return built


def _request(
    method: str,
    url: httpx.URL,
    headers: httpx.Headers,
    extensions: dict[str, Any],
    host_first: _HostFirst,
    authorization: str | None,
) -> tuple[httpx.Request, bool]:
    """``httpx.Request(method, url, headers=headers, extensions=extensions)``, and whether it carries
    ``authorization`` already. A GET (every API call) is built as httpx builds one without a body,
    skipping only the checks that find nothing for it (a body's Content-Type, Content-Length and
    Transfer-Encoding): the ``Host`` header first unless one is given, then ``headers``, then
    ``authorization`` as the auth flow would set it, and the empty content read."""
    method = method.upper()
    if method == "GET" and url.host:
        first = host_first.of(url.netloc, headers, authorization)
        if first is None and authorization is not None:
            first, authorization = host_first.of(url.netloc, headers, None), None
        if first is not None:
            return _get(url, first, extensions), authorization is not None
    return httpx.Request(method, url, headers=headers, extensions=extensions), False


def _get(url: httpx.URL, headers: httpx.Headers, extensions: dict[str, Any]) -> httpx.Request:
    """A GET of ``url`` with exactly ``headers`` (from ``_HostFirst``), its empty content read."""
    request = httpx.Request("GET", url, headers=headers, extensions=extensions, stream=httpx.ByteStream(b""))
    if _SAME_AS_READ:
        _take_request_body(request)
    else:
        request.read()
    return request


def _has_cookies(cookies: httpx.Cookies) -> bool:
    """``bool(cookies)``, which walks the whole jar: an empty ``CookieJar`` (its ``_cookies`` dict empty,
    as the standard library has kept it since Python 2) is seen without the walk."""
    return bool(getattr(cookies.jar, "_cookies", True)) and bool(cookies)


class _Later:
    """The quick lane's request, built the first time it is asked for (and the same object every time
    after) from what the call started with: the client's base URL and headers then, whatever they are now.
    It is the request :meth:`DirectSender.request` would have built at that moment."""

    __slots__ = ("_args", "_request")

    def __init__(
        self, base: httpx.URL, raw_path: str, query: str | None, headers: httpx.Headers, extensions: dict[str, Any]
    ) -> None:
        self._args = (base, raw_path, query, headers, extensions)
        self._request: httpx.Request | None = None

    def __call__(self) -> httpx.Request:
        if self._request is None:
            base, raw_path, query, headers, extensions = self._args
            self._request = _get(joined(base, raw_path, query), headers, extensions)
        return self._request


def _final(retry: object, status_code: int) -> bool:
    """Whether httpx-retries returns a first response with ``status_code`` as it is: neither retried nor
    checked (``_retry_operation_async``'s own tests, in its order)."""
    if not isinstance(retry, Retry):
        return False
    return (
        not retry.is_retryable_method("GET")
        or retry.is_exhausted()
        or (not retry.is_retryable_status_code(status_code) and retry.validate_response is None)
    )


class DirectSender:
    """Sends an API request of the facade through ``client``'s configuration and ``transport``; with
    ``quick`` (the bounded transport under ``transport`` and the network under that), the quick lane
    of :meth:`retrieve`."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        transport: httpx.AsyncBaseTransport,
        quick: tuple[BoundedTransport, OpeningNetwork] | None = None,
    ) -> None:
        self._client = client
        self._transport = transport
        self._quick = quick
        self._host_first = _HostFirst()
        self._base: httpx.URL | None = None
        self._prefix = ""
        self._origin: str | None = None
        # The lane's last headers and their text form (``_HostFirst`` gives the same object until they change).
        self._sent_first: httpx.Headers | None = None
        self._sent_text: Any = None

    def handles(self, kwargs: Mapping[str, Any]) -> bool:
        """Whether ``kwargs`` (the facade's ``request`` arguments) is an API call this path sends: one with
        the client's own auth, on a client without client-level query parameters."""
        return "auth" not in kwargs and not self._client.params

    def _follow_base(self) -> httpx.URL:
        base = self._client.base_url
        if base is not self._base:  # base_url can be set on the client: the prefixes follow it
            self._base, self._prefix = base, base.raw_path.decode("ascii").split("?")[0].rstrip("/") + "/"
            # The text before the path of what joined() builds on this base (None: it parses every URL whole).
            reusable = _reusable(getattr(base, "_uri_reference", None))
            self._origin = str(joined(base, "/", None))[:-1] if reusable else None
        return base

    def _raw_path(self, path: str, params: Mapping[str, Any] | None) -> tuple[str, str | None]:
        # As httpx merges a relative URL: the base's path, then the relative path without its leading "/".
        return self._prefix + path.lstrip("/"), str(httpx.QueryParams(params)) if params else None

    def _url(self, path: str, params: Mapping[str, Any] | None) -> httpx.URL:
        base = self._follow_base()
        return joined(base, *self._raw_path(path, params))

    def _url_text(self, path: str, params: Mapping[str, Any] | None) -> tuple[str, str, str | None] | None:
        """``str(self._url(path, params))`` without building the URL, with the raw path and query it joins
        to the base, when ``joined`` reuses the base's parsed form for them (its quick case); else None."""
        self._follow_base()
        origin = self._origin
        raw_path, query = self._raw_path(path, params)
        if origin is None or not _kept(raw_path, query):
            return None
        return (origin + raw_path if query is None else f"{origin}{raw_path}?{query}"), raw_path, query

    def _observed(self, client: httpx.AsyncClient) -> bool:
        """Whether something outside the call sees or changes what it sends and gets: event hooks, cookies
        to send, httpx's or httpx-retries' log lines."""
        hooks = client.event_hooks
        return bool(
            hooks["request"]
            or hooks["response"]
            or _has_cookies(client.cookies)
            or _httpx_logger.isEnabledFor(logging.INFO)
            or _retries_logger.isEnabledFor(logging.DEBUG)
        )

    async def retrieve(
        self,
        success: int,
        decode: Callable[[bytes], _T],
        kwargs: dict[str, Any],
        args: dict[str, Any],
    ) -> _T | httpx.Response:
        """``request(**kwargs, **args)`` for a call whose ``success`` body ``decode`` makes into its result:
        that result, or the response when the call ends otherwise, for the caller to parse as it parses any
        response.

        The quick lane: a GET sent with the cached token, while nothing observes the call (:meth:`_observed`),
        is sent straight through the bounded transport's :meth:`~BoundedTransport.exchange`, without the
        ``httpx.Request`` and ``httpx.Response`` objects. When that first attempt is a ``success`` that no other
        layer would act on (no cookie to keep, not retried, a body that decodes), it is the result. Anything
        else (another status, an error, a body that does not match) is handed to :meth:`request`'s own path
        as the first attempt of the request built now (``PRIMED``): the retries, the token refresh, the
        typed errors and the response are then that path's, from the answer already received."""
        quick = self._quick
        client = self._client
        auth = client.auth
        bearer = auth if quick is not None and isinstance(auth, _BEARERS) else None
        token = None if bearer is None else bearer.current_token()
        method: str = kwargs["method"]
        url: str = kwargs["url"]
        params: Mapping[str, Any] | None = kwargs.get("params")
        text = None
        if token is not None and not client.is_closed and method.upper() == "GET" and not self._observed(client):
            text = self._url_text(url, params)  # follows base_url
        base = self._base
        headers: Mapping[str, str] | None = kwargs.get("headers")
        merged = client.headers
        if headers:
            merged = merged.copy()
            merged.update(headers)
        authorization = "" if token is None else f"Bearer {token.reveal()}"
        first = None
        if text is not None and base is not None and base.host:
            first = self._host_first.of(base.netloc, merged, authorization)
        if first is None or text is None or base is None or quick is None or bearer is None or token is None:
            return await self.request(**kwargs, **args)
        timeout: httpx.Timeout = args["timeout"]
        extensions: dict[str, Any] = {**args["extensions"], "timeout": timeout.as_dict()}
        url_text, raw_path, query = text
        later = _Later(base, raw_path, query, first, extensions)
        bounded, network = quick
        if first is not self._sent_first:  # the text form of the lane's last headers, kept with them
            self._sent_text, self._sent_first = network.text_headers(first), first
        started = time.perf_counter()
        outcome: Exchange | Exception
        try:
            exchange = await bounded.exchange(network, url_text, self._sent_text, later, extensions)
        except Exception as exc:  # the first attempt's error: the full path takes it from here
            outcome = exc
        else:
            if exchange.status == success and not exchange.sets_cookie and _final(extensions.get("retry"), success):
                try:
                    return decode(exchange.content())
                except ResponseValidationError:
                    pass  # raised by the full path's parsing, with the response
            outcome = exchange
        request = later()
        request.extensions[PRIMED] = outcome
        return await self._with_token(request, bearer, token, started)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout,
        extensions: dict[str, Any],
    ) -> httpx.Response:
        client = self._client
        if client.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        merged = client.headers
        if headers:
            merged = merged.copy()
            merged.update(headers)
        auth = client.auth or httpx.Auth()
        # While the client's own auth holds a usable token, the request is built with it, as the flow's
        # first step would send it; the flow is driven only for what follows a refusal.
        bearer = auth if isinstance(auth, _BEARERS) else None
        token = None if bearer is None else bearer.current_token()
        request, authorized = _request(
            method,
            self._url(url, params),
            merged,
            {**extensions, "timeout": timeout.as_dict()},
            self._host_first,
            None if token is None else f"Bearer {token.reveal()}",
        )
        if _has_cookies(client.cookies):
            httpx.Cookies(client.cookies).set_cookie_header(request)
        if authorized and bearer is not None and token is not None:
            return await self._with_token(request, bearer, token, None)
        # httpx's _send_handling_auth: the flow yields requests and is sent each response.
        return await self._drive(auth.async_auth_flow(request), [])

    async def _with_token(
        self,
        request: httpx.Request,
        bearer: ClientCredentialsAuth | FixedTokenAuth,
        token: Secret,
        started: float | None,
    ) -> httpx.Response:
        """``request``, built with ``token``, sent; the auth flow driven only if the answer refuses it."""
        history: list[httpx.Response] = []
        response = await self._send_one(request, history, started)
        try:
            refresh = bearer.async_refresh_flow(request, token, response)
            if refresh is None:
                return response
            await response.aread()  # as the flow reads and closes a refused response before it refreshes
        except BaseException:
            await response.aclose()
            raise
        await response.aclose()
        history.append(response)
        return await self._drive(refresh, history)

    async def _drive(
        self, flow: AsyncGenerator[httpx.Request, httpx.Response], history: list[httpx.Response]
    ) -> httpx.Response:
        try:
            request = await flow.__anext__()
            while True:
                response = await self._send_one(request, history, None)
                try:
                    try:
                        next_request = await flow.asend(response)
                    except StopAsyncIteration:
                        return response
                    await response.aread()
                    request = next_request
                    history.append(response)
                except BaseException:
                    await response.aclose()
                    raise
        finally:
            await flow.aclose()

    async def _send_one(
        self, request: httpx.Request, history: list[httpx.Response], started: float | None
    ) -> httpx.Response:
        """One request through the transport, as httpx's ``_send_single_request`` (redirects not followed);
        ``started``: when the quick lane began its first attempt (``elapsed`` counts from then)."""
        client = self._client
        hooks = client.event_hooks
        for hook in hooks["request"]:
            await hook(request)
        start = time.perf_counter() if started is None else started
        try:
            response = await self._transport.handle_async_request(request)
        except httpx.RequestError as exc:
            exc.request = request
            raise
        response.request = request
        try:
            stream = response.stream  # the transport has read the body already (``_transport``): only taken here
            if _SAME_AS_READ and isinstance(stream, ReadBody):
                _take_response_body(response, stream.content)
                sets_cookie = stream.sets_cookie  # the transport has looked at the headers already
            else:
                response.read()
                sets_cookie = any(name.lower() in COOKIE_HEADERS for name, _ in response.headers.raw)
            response.elapsed = datetime.timedelta(seconds=time.perf_counter() - start)
            if sets_cookie:
                client.cookies.extract_cookies(response)
            if _httpx_logger.isEnabledFor(logging.INFO):
                _httpx_logger.info(
                    'HTTP Request: %s %s "%s %d %s"',
                    request.method,
                    request.url,
                    response.http_version,
                    response.status_code,
                    response.reason_phrase,
                )
            for hook in hooks["response"]:
                await hook(response)
            if history:  # a new response's history is already empty
                response.history = list(history)
            if 300 <= response.status_code < 400 and response.has_redirect_location:
                response.next_request = client._build_redirect_request(request, response)
        except BaseException:
            await response.aclose()
            raise
        return response


__all__ = ["DirectSender"]
