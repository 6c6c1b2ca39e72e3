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
"""

from __future__ import annotations

import datetime
import logging
import re
import time
from collections.abc import Mapping
from typing import Any

import httpx

from ._auth import ClientCredentialsAuth, FixedTokenAuth
from ._transport import COOKIE_HEADERS, ReadBody

_httpx_logger = logging.getLogger("httpx")  # httpx's own log line for every response, as AsyncClient writes it
_BEARERS = (ClientCredentialsAuth, FixedTokenAuth)  # the auths whose token this path can set itself


# What httpx's URL parser leaves exactly as it is in a path or a query: unreserved characters, percent
# escapes and the delimiters it does not quote there. path_segment() and QueryParams produce nothing else.
_KEPT = re.compile(r"[A-Za-z0-9\-._~%/!$&'()*+,;=:@]*")
_DOT_SEGMENT = re.compile(r"(^|/)\.\.?(/|$)")


def joined(base: httpx.URL, raw_path: str, query: str | None) -> httpx.URL:
    """``base`` with ``raw_path`` (starting with "/") and ``query``: equal to parsing the whole URL, which
    costs a scan of every character; here the path and query are checked with one regular expression
    each and the base's parsed form is reused (parsed in full when they hold anything else)."""
    reference = getattr(base, "_uri_reference", None)
    if (
        isinstance(reference, tuple)
        and hasattr(reference, "_replace")
        and _KEPT.fullmatch(raw_path)
        and ("/." not in raw_path or _DOT_SEGMENT.search(raw_path) is None)  # a dot segment follows a "/"
        and (query is None or _KEPT.fullmatch(query))
    ):
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
            request = httpx.Request(method, url, headers=first, extensions=extensions, stream=httpx.ByteStream(b""))
            if _SAME_AS_READ:
                _take_request_body(request)
            else:
                request.read()
            return request, authorization is not None
    return httpx.Request(method, url, headers=headers, extensions=extensions), False


def _has_cookies(cookies: httpx.Cookies) -> bool:
    """``bool(cookies)``, which walks the whole jar: an empty ``CookieJar`` (its ``_cookies`` dict empty,
    as the standard library has kept it since Python 2) is seen without the walk."""
    return bool(getattr(cookies.jar, "_cookies", True)) and bool(cookies)


class DirectSender:
    """Sends an API request of the facade through ``client``'s configuration and ``transport``."""

    def __init__(self, client: httpx.AsyncClient, transport: httpx.AsyncBaseTransport) -> None:
        self._client = client
        self._transport = transport
        self._host_first = _HostFirst()
        self._base: httpx.URL | None = None
        self._prefix = ""

    def handles(self, kwargs: Mapping[str, Any]) -> bool:
        """Whether ``kwargs`` (the facade's ``request`` arguments) is an API call this path sends: one with
        the client's own auth, on a client without client-level query parameters."""
        return "auth" not in kwargs and not self._client.params

    def _url(self, path: str, params: Mapping[str, Any] | None) -> httpx.URL:
        base = self._client.base_url
        if base is not self._base:  # base_url can be set on the client: the prefix follows it
            self._base, self._prefix = base, base.raw_path.decode("ascii").split("?")[0].rstrip("/") + "/"
        # As httpx merges a relative URL: the base's path, then the relative path without its leading "/".
        raw_path = self._prefix + path.lstrip("/")
        query = str(httpx.QueryParams(params)) if params else None
        return joined(base, raw_path, query)

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
        history: list[httpx.Response] = []
        if authorized and bearer is not None and token is not None:
            response = await self._send_one(request, history)
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
            flow = refresh
        else:
            # httpx's _send_handling_auth: the flow yields requests and is sent each response.
            flow = auth.async_auth_flow(request)
        try:
            request = await flow.__anext__()
            while True:
                response = await self._send_one(request, history)
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

    async def _send_one(self, request: httpx.Request, history: list[httpx.Response]) -> httpx.Response:
        """One request through the transport, as httpx's ``_send_single_request`` (redirects not followed)."""
        client = self._client
        hooks = client.event_hooks
        for hook in hooks["request"]:
            await hook(request)
        start = time.perf_counter()
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
