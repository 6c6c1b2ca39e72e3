"""An httpx transport that sends requests over aiohttp (the ``aiohttp`` extra); imported only when the
``aiohttp`` backend is chosen.

It sits where httpx's network transport sits, under the retry layer and the bounded body reading of
``_transport``, so auth, retries, deadlines, size caps and redaction are the default path's own. It only
moves bytes: no redirects, no decompression (``_transport`` inflates, bounded), no cookie jar (httpx keeps
the cookies), no proxy lookup (``_transport`` routes through the proxies the environment names, as for
httpx), URLs sent exactly as given (a presigned signature is not re-quoted). aiohttp's exceptions become
httpx's, so the typed errors and the retry decisions are the same on both backends.

Written for us rather than taken from ``httpx-aiohttp`` 0.2.0, which leaks aiohttp's own exceptions for a
malformed response, reports a server that disconnects as a connect timeout and lets aiohttp re-quote URLs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

# Without the extra (a vendored copy type-checked where aiohttp is not installed) these do not resolve;
# with it, the ignores are unused, and said so.
import aiohttp  # type: ignore[import-not-found, unused-ignore]
import httpx
from yarl import URL  # type: ignore[import-not-found, unused-ignore]

from ._redact import scrub
from ._transport import ChunkReader, Opened, RequestSource, request_of

# Most specific first: the first class the exception is an instance of names the httpx error.
_ERRORS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (TimeoutError, httpx.PoolTimeout),  # aiohttp's "connect" timeout covers the wait for the pool
    (aiohttp.ClientProxyConnectionError, httpx.ProxyError),
    (aiohttp.ClientHttpProxyError, httpx.ProxyError),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # a malformed status line or header
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ClientOSError, httpx.ReadError),
    (aiohttp.ClientError, httpx.NetworkError),
    (OSError, httpx.NetworkError),
    (ValueError, httpx.LocalProtocolError),  # a request aiohttp refuses to write (a header with CR/LF)
)


def _translated(exc: BaseException, request: RequestSource) -> httpx.TransportError:
    for kind, error in _ERRORS:
        if isinstance(exc, kind):
            # aiohttp's text can carry the whole URL (a presigned signature): scrubbed. Not chained either:
            # callers raise it out of their except block, since aiohttp's exception would stay reachable
            # as its __context__ (``from None`` only hides it), and its request_info holds the request's
            # headers (a bearer token) and whole URL.
            return error(scrub(f"{type(exc).__name__}: {exc}")[:500], request=request_of(request))
    raise exc


# The headers aiohttp adds to a request that lacks them (its ``DEFAULT_HEADERS`` and ``User-Agent``); ours are
# sent as httpx built them, so each one missing is named in ``skip_auto_headers``. Content-Type is added
# for a body only.
_AUTO = ("Accept", "Accept-Encoding", "User-Agent")


class _Headers:
    """A request's headers as aiohttp takes them (names in lower case), with the auto headers to skip: None
    when there are none, since naming any, even one, costs aiohttp a dictionary and a copy of the headers
    for every request (once a header set in the session, as before, about 5 µs of a call's CPU)."""

    __slots__ = ("headers", "skip", "skip_with_body")

    def __init__(self, items: tuple[tuple[str, str], ...]) -> None:
        self.headers = items
        names = {name for name, _ in items}
        missing = tuple(name for name in _AUTO if name.lower() not in names)
        self.skip = missing or None
        self.skip_with_body = missing if "content-type" in names else (*missing, "Content-Type")


@lru_cache(maxsize=64)
def _timeout(pool: float | None, connect: float | None, read: float | None) -> aiohttp.ClientTimeout:
    """aiohttp's timeouts for httpx's: one immutable object per distinct triple, not one per request. Calls
    without a total timeout all share one; with one, the seconds left vary and the cache just turns over."""
    return aiohttp.ClientTimeout(total=None, connect=pool, sock_connect=connect, sock_read=read)


class _Body(ChunkReader):
    """The body as aiohttp receives it, chunk by chunk (its own iterator: an async generator would cost
    more per response than the chunks of a small body; ``read_into`` for the bounded reader)."""

    def __init__(self, response: aiohttp.ClientResponse, request: RequestSource) -> None:
        self._response = response
        self._request = request

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk: bytes = await self._response.content.readany()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            error = _translated(exc, self._request)
        else:
            if not chunk:
                raise StopAsyncIteration
            return chunk
        raise error  # out of the except block: aiohttp's exception is not kept as its context

    async def read_into(self, add: Callable[[bytes], None]) -> None:
        content = self._response.content
        while True:
            try:
                chunk = await content.readany()
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                error = _translated(exc, self._request)
                break
            if not chunk:
                return
            add(chunk)
        raise error  # out of the except block: aiohttp's exception is not kept as its context

    async def aclose(self) -> None:
        if self._response.content.at_eof():
            self._response.release()  # the connection goes back to the pool
        else:
            self._response.close()  # an unfinished body: the connection cannot be reused


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests through one ``aiohttp.ClientSession`` (made on first use, in the running loop)
    with at most ``max_connections`` connections, every idle one kept alive for ``keepalive_expiry``."""

    def __init__(
        self, *, max_connections: int, keepalive_expiry: float, proxy: str | None = None, trust_env: bool = True
    ) -> None:
        self._ssl = httpx.create_ssl_context(trust_env=trust_env)
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._proxy = proxy
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._last: tuple[list[tuple[bytes, bytes]], _Headers] = ([], _Headers(()))

    def _open(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            limit_per_host=0,
            keepalive_timeout=self._keepalive_expiry,
            ssl=self._ssl,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
        )
        return self._session

    def text_headers(self, headers: httpx.Headers) -> _Headers:
        """``headers.multi_items()`` as aiohttp takes them; the last ones converted are kept, since an API
        call's headers are those of the call before it until the token or the client's headers change
        (aiohttp only reads them: it copies them into each request's own)."""
        raw = headers.raw
        last_raw, last_text = self._last
        if raw != last_raw:
            encoding = headers.encoding  # looked up once, not twice a header as multi_items() does
            last_text = _Headers(tuple((key.lower().decode(encoding), value.decode(encoding)) for key, value in raw))
            self._last = (raw, last_text)  # one assignment, once the text is built
        return last_text

    async def open(
        self,
        method: str,
        url: str,
        headers: _Headers,
        timeouts: Mapping[str, float | None],
        request: RequestSource,
        data: bytes = b"",
    ) -> Opened:
        """Send ``method`` ``url`` (exactly as given) with ``headers`` (from :meth:`text_headers`) and
        ``data``: the response with its headers read; ``request`` names the request in an error."""
        session = self._session or self._open()
        try:
            response = await session.request(
                method,
                URL(url, encoded=True),
                headers=headers.headers,
                skip_auto_headers=headers.skip_with_body if data else headers.skip,
                data=data or None,
                allow_redirects=False,
                proxy=self._proxy,
                timeout=_timeout(timeouts.get("pool"), timeouts.get("connect"), timeouts.get("read")),
            )
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            error = _translated(exc, request)
        else:
            extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
            if response.reason:
                extensions["reason_phrase"] = response.reason.encode("latin-1", "replace")
            return Opened(response.status, response.raw_headers, extensions, _Body(response, request))
        raise error  # out of the except block: aiohttp's exception is not kept as its context

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            data = request.content  # an API call's empty body, already read
        except httpx.RequestNotRead:
            data = await request.aread()
        opened = await self.open(
            request.method,
            str(request.url),
            self.text_headers(request.headers),
            request.extensions.get("timeout", {}),
            request,
            data,
        )
        return httpx.Response(
            opened.status, headers=opened.headers, stream=opened.body, request=request, extensions=opened.extensions
        )

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()


__all__ = ["AiohttpTransport"]
