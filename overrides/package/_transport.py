"""The transports under the retry layer: the response body is read (bounded in size and time) before a
response leaves the transport, and the network transport honours the proxy environment variables.

Reading the body inside the transport does three things at once. A reset, an early close or a truncated
chunked body surfaces while the retry transport above is still in charge, so it is retried like a
connection error. The connection goes back to the pool before anyone (the auth flow waiting for a token,
say) holds on to the response. And the size limit and the call's deadline can be checked chunk by chunk.

The size limit counts decompressed bytes, and for a compressed body the bytes on the wire as well. gzip
and deflate are inflated here, at most 64 KiB at a time (``zlib``'s ``max_length``), so a small compressed
body cannot expand in memory before it is counted; at most five encodings may be chained (as urllib3 2.6
allows). The request asks for ``gzip, deflate`` only; a body in another encoding is a decoding error.
"""

from __future__ import annotations

import asyncio
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import httpx

from ._attempt_timer import AttemptTimers
from ._deadline import (
    DEADLINE,
    DEFAULT_MAX_RESPONSE_BYTES,
    MAX_RESPONSE_BYTES,
    NOT_SENT,
    SENDING,
    Deadline,
    clip_timeouts,
    clipped,
    deadline_of,
)
from ._exceptions import ResponseTooLargeError

ACCEPT_ENCODING = "gzip, deflate"
# One number for the pool and the queue in front of it: up to POOL_SIZE requests in flight, each on a
# connection that is kept alive afterwards. httpx's default keeps only 20 idle connections, so with more
# than 20 in flight every response past the 20th closed its connection and the next request opened one.
# An idle connection is kept 15 s (aiohttp's default; httpx's is 5 s), well inside the 60 s idle timeout of
# the load balancers in front of APIs such as m3ter's; one the server closed first is retried like any reset.
POOL_SIZE = 100
KEEPALIVE_EXPIRY = 15.0
LIMITS = httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE, keepalive_expiry=KEEPALIVE_EXPIRY)
MAX_IN_FLIGHT = POOL_SIZE
_QUEUED = "waiting for a free connection"
MAX_ENCODINGS = 5
_STEP = 64 * 1024
_DROPPED_HEADERS = ("content-encoding", "content-length", "transfer-encoding")
COOKIE_HEADERS = (b"set-cookie", b"set-cookie2")  # the headers http.cookiejar reads
THIRD_PARTY = "m3ter_billing.third_party"
"""A request extension marking a request to a host that is not the API (a presigned statement URL): the
cookies its response sets are dropped before httpx's cookie jar sees them, so a statement host can neither
grow the client's jar nor plant a cookie that a parent domain it shares with the API would send back."""


class _Inflate:
    """One gzip or deflate layer, giving out at most ``_STEP`` bytes per piece."""

    def __init__(self, encoding: str) -> None:
        self._gzip = encoding in ("gzip", "x-gzip")
        self._raw_deflate_tried = False
        self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 16 if self._gzip else zlib.MAX_WBITS)
        self._started = False
        # A deflate body's first byte, held until the second comes: zlib checks its two-byte header only
        # once it has both, and whether the body is zlib-wrapped or raw is known only then.
        self._first = b""

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not self._started and not self._gzip and len(self._first) + len(data) < 2:
            self._first += data
            return
        if self._first:
            data, self._first = self._first + data, b""
        while data and not self._inflater.eof:
            try:
                out = self._inflater.decompress(data, _STEP)
            except zlib.error as exc:
                if self._gzip or self._started or self._raw_deflate_tried:
                    raise httpx.DecodingError(f"the body does not match its Content-Encoding: {exc}") from None
                # "deflate" is sent both zlib-wrapped and raw; httpx tries one, then the other, as we do.
                self._raw_deflate_tried = True
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                continue
            self._started = True
            data = self._inflater.unconsumed_tail
            if out:
                yield out
            elif not data:
                return
        # Drain what zlib holds back after the last input (bounded pieces as well).
        while not self._inflater.eof:
            out = self._inflater.decompress(b"", _STEP)
            if not out:
                return
            yield out


class _Decoder:
    """The ``Content-Encoding`` chain of a response, undone in reverse order, piece by bounded piece."""

    def __init__(self, encodings: list[str]) -> None:
        names = [
            name.strip().lower()
            for value in encodings
            for name in value.split(",")
            if name.strip() and name.strip().lower() != "identity"
        ]
        if len(names) > MAX_ENCODINGS:
            raise httpx.DecodingError(f"the body has {len(names)} content encodings (at most {MAX_ENCODINGS})")
        for name in names:
            if name not in ("gzip", "x-gzip", "deflate"):
                raise httpx.DecodingError(f"unsupported Content-Encoding {name[:40]!r} (asked for {ACCEPT_ENCODING})")
        self._layers = [_Inflate(name) for name in reversed(names)]
        self.decodes = bool(self._layers)

    def feed(self, data: bytes) -> Iterable[bytes]:
        pieces: Iterable[bytes] = (data,)
        if not self._layers:
            return pieces
        for layer in self._layers:
            pieces = _through(layer, pieces)
        return pieces


_IDENTITY = _Decoder([])  # a body without Content-Encoding: nothing to undo (shared; never changed)


def _through(layer: _Inflate, pieces: Iterable[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield from layer.feed(piece)


class ReadBody(httpx.ByteStream):
    """The stream of a response whose body this module has read (decoded, within the limits): the bytes
    are also kept as ``content``, so a caller below ``httpx.AsyncClient`` can take them without reading,
    with ``sets_cookie``: whether the response has a header the cookie jar reads."""

    def __init__(self, content: bytes, *, sets_cookie: bool = True) -> None:
        super().__init__(content)
        self.content = content
        self.sets_cookie = sets_cookie


class ChunkReader(httpx.AsyncByteStream):
    """A response stream that hands its chunks to a callable itself (``_aiohttp``): cheaper per chunk than
    ``async for``, which costs an awaited method call per chunk and an exception at the end."""

    async def read_into(self, add: Callable[[bytes], None]) -> None:
        async for chunk in self:
            add(chunk)


RequestSource = httpx.Request | Callable[[], httpx.Request]
"""A request, or what builds it when first asked (the quick lane of ``_direct`` builds one only for an
error or when the full path takes over)."""


def request_of(source: RequestSource) -> httpx.Request:
    return source if isinstance(source, httpx.Request) else source()


def _limit_of(extensions: Mapping[str, Any], default: int) -> int:
    limit = extensions.get(MAX_RESPONSE_BYTES, default)
    return limit if isinstance(limit, int) else default


class _Body:
    """Collects a decoded body, refusing it past the limit and past the deadline."""

    def __init__(
        self, request: RequestSource, raw_headers: Iterable[tuple[bytes, bytes]], limit: int, deadline: Deadline | None
    ) -> None:
        self.limit = limit
        self.source = request
        self.deadline = deadline  # the request's (``deadline_of``), looked up once by the caller
        # The headers read here, in one pass over the response's raw headers (each lookup is another pass,
        # and decoding every header to text costs more than the comparisons).
        lengths: list[str] = []
        encodings: list[str] = []
        self.sets_cookie = False
        for name, value in raw_headers:
            name = name.lower()
            if name == b"content-length":
                lengths.append(value.decode("latin-1"))
            elif name == b"content-encoding":
                encodings.append(value.decode("latin-1"))
            elif name in COOKIE_HEADERS:
                self.sets_cookie = True
        self.decoder = _Decoder(encodings) if encodings else _IDENTITY
        self.inflated = self.decoder.decodes  # whether the body handed on is not the one on the wire
        self.parts: list[bytes] = []
        self.size = 0
        self.wire = 0  # bytes received of an encoded body
        declared = ", ".join(lengths)
        if declared.isdigit() and not ", ".join(encodings) and int(declared) > self.limit:
            raise self.too_large()

    def too_large(self) -> ResponseTooLargeError:
        request = request_of(self.source)
        return ResponseTooLargeError(
            f"the response body is larger than max_response_bytes ({self.limit} bytes); the rest was not read",
            limit=self.limit,
            method=request.method,
            url=str(request.url),
        )

    def add(self, raw: bytes) -> None:
        if self.decoder.decodes:
            # The limit holds for the bytes on the wire too: a compressed body that decodes to little or
            # nothing (empty deflate blocks, data after the end of the stream) is not read forever.
            self.wire += len(raw)
            if self.wire > self.limit:
                raise self.too_large()
            for piece in self.decoder.feed(raw):
                self._keep(piece)
        else:
            self._keep(raw)
        if self.deadline is not None and self.deadline.remaining() <= 0:
            raise self.deadline.exceeded(request_of(self.source), "while reading the response body")

    def add_read(self, response: httpx.Response) -> None:
        """Take the body a wrapped transport has already read (and httpx has decoded)."""
        self._keep(response.content)
        self.inflated = self.inflated or "content-encoding" in response.headers

    def _keep(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size > self.limit:
            raise self.too_large()
        self.parts.append(piece)

    def content(self) -> bytes:
        return b"".join(self.parts)

    def into(self, response: httpx.Response) -> httpx.Response:
        """``response`` with the body read here as its (already decoded) content."""
        content = self.content()
        if self.sets_cookie and THIRD_PARTY in request_of(self.source).extensions:
            for header in COOKIE_HEADERS:
                response.headers.pop(header.decode(), None)
            self.sets_cookie = False
        if self.inflated:
            for name in _DROPPED_HEADERS:
                response.headers.pop(name, None)
            response.headers["Content-Length"] = str(len(content))
        if response.is_stream_consumed:
            # A wrapped transport (a mock) read it: httpx would take that read as the client's and never
            # time the response (``elapsed``). A fresh response is read by the client as any other.
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                stream=ReadBody(content, sets_cookie=self.sets_cookie),
                request=request_of(self.source),
                extensions=response.extensions,
            )
        response.stream = ReadBody(content, sets_cookie=self.sets_cookie)
        return response


def _prepare(request: httpx.Request, deadline: Deadline | None) -> None:
    if deadline is not None:
        clip_timeouts(request, deadline)


# -- one attempt before its request is built (the quick lane of ``_direct``) ------------------------------


class Opened:
    """A response as a network that can send without an ``httpx.Request`` (``_aiohttp``) receives it: the
    status line and headers read, the body not yet."""

    __slots__ = ("body", "extensions", "headers", "status")

    def __init__(
        self, status: int, headers: Sequence[tuple[bytes, bytes]], extensions: dict[str, Any], body: ChunkReader
    ) -> None:
        self.status = status
        self.headers = headers
        self.extensions = extensions
        self.body = body


class OpeningNetwork(Protocol):
    def text_headers(self, headers: httpx.Headers) -> Any:
        """``headers`` as :meth:`open` takes them."""
        ...

    async def open(
        self,
        method: str,
        url: str,
        headers: Any,
        timeouts: Mapping[str, float | None],
        request: RequestSource,
    ) -> Opened:
        """Send a request whose body is empty; ``request`` builds the ``httpx.Request`` an error names."""
        ...


class Exchange:
    """One attempt made by :meth:`BoundedTransport.exchange`: the response with its body read."""

    __slots__ = ("_body", "extensions", "headers", "status")

    def __init__(self, opened: Opened, body: _Body) -> None:
        self.status = opened.status
        self.headers = opened.headers
        self.extensions = opened.extensions
        self._body = body

    @property
    def sets_cookie(self) -> bool:
        return self._body.sets_cookie

    def content(self) -> bytes:
        return self._body.content()

    def response(self, request: httpx.Request) -> httpx.Response:
        """The response :meth:`BoundedTransport.handle_async_request` returns for this attempt."""
        fresh = httpx.Response(self.status, headers=self.headers, request=request, extensions=self.extensions)
        return self._body.into(fresh)


PRIMED = "m3ter_billing.primed"
"""The request extension that holds the first attempt of a call the quick lane began (an :class:`Exchange`
or the exception the attempt raised): the bounded transport hands it out once, in place of sending."""


def primed_outcome(request: httpx.Request) -> Exchange | Exception | None:
    outcome = request.extensions.pop(PRIMED, None)
    return outcome if isinstance(outcome, Exchange | Exception) else None


class BoundedTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Wraps a network transport: clips socket timeouts to the call's deadline and returns responses whose
    body has been read whole, decompressed, within ``max_response_bytes`` and before the deadline.

    At most ``max_in_flight`` requests (httpx's default pool size) are handed to the transport at once;
    the others wait here, within their deadline. httpcore's pool scans every queued request against every
    connection each time one frees up, so 2,000 tasks queued in it cost minutes of CPU; queued here they
    cost nothing.
    """

    def __init__(
        self,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport,
        *,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self._transport = transport
        self._limit = max_response_bytes
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._async_slots = asyncio.BoundedSemaphore(max_in_flight)
        self._timers = AttemptTimers()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(self._transport, httpx.BaseTransport):
            raise RuntimeError("a sync request reached an async transport")
        deadline = deadline_of(request)
        if not self._slots.acquire(timeout=None if deadline is None else max(deadline.remaining(), 0.0)):
            assert deadline is not None
            raise deadline.exceeded(request, _QUEUED)
        sending = SENDING.set(request)  # the network (``_network``) bounds each socket operation by its deadline
        try:
            _prepare(request, deadline)
            response = self._transport.handle_request(request)
            stream: Any = response.stream
            try:
                body = _Body(request, response.headers.raw, _limit_of(request.extensions, self._limit), deadline)
                if response.is_stream_consumed:  # a wrapped transport read it (a mock, a custom transport)
                    body.add_read(response)
                else:
                    for raw in stream:
                        body.add(raw)
            finally:
                stream.close()  # the connection goes back to the pool; the response gets the body read here
        finally:
            SENDING.reset(sending)
            self._slots.release()
        return body.into(response)

    async def _queue(self, deadline: Deadline | None, request: RequestSource) -> None:
        """Wait for a slot (none is free), within the deadline."""
        try:  # asyncio.timeout, not wait_for (a task per wait; on 3.11 it can swallow a cancellation)
            async with asyncio.timeout(None if deadline is None else max(deadline.remaining(), 0.0)):
                await self._async_slots.acquire()
        except TimeoutError:
            assert deadline is not None
            raise deadline.exceeded(request_of(request), _QUEUED) from None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(self._transport, httpx.AsyncBaseTransport):
            raise RuntimeError("an async request reached a sync transport")
        if PRIMED in request.extensions:
            primed = primed_outcome(request)
            if isinstance(primed, Exception):
                raise primed
            if primed is not None:
                return primed.response(request)
        deadline = deadline_of(request)
        if self._async_slots.locked():
            await self._queue(deadline, request)
        else:
            await self._async_slots.acquire()  # a free slot: taken at once, without a timer
        try:
            # The deadline bounds the whole exchange: a socket timeout is given whole to every read, so a
            # server dripping bytes until just before the deadline would get one more read timeout past it.
            with self._timers.until(None if deadline is None else deadline.remaining()) as bound:
                _prepare(request, deadline)
                response = await self._transport.handle_async_request(request)
                astream: Any = response.stream
                try:
                    body = _Body(request, response.headers.raw, _limit_of(request.extensions, self._limit), deadline)
                    if response.is_stream_consumed:  # a wrapped transport read it (a mock, a custom transport)
                        body.add_read(response)
                    elif isinstance(astream, ChunkReader):
                        await astream.read_into(body.add)
                    else:
                        async for raw in astream:
                            body.add(raw)
                finally:
                    await astream.aclose()  # the connection goes back to the pool
        except TimeoutError:
            if deadline is None or not bound.expired:
                raise
            raise deadline.exceeded(request, "waiting for the server") from None
        finally:
            self._async_slots.release()
        return body.into(response)

    async def exchange(
        self,
        network: OpeningNetwork,
        url: str,
        headers: Any,
        request: RequestSource,
        extensions: dict[str, Any],
    ) -> Exchange:
        """One attempt of a GET through ``network`` (the transport under this one), as
        :meth:`handle_async_request` makes it for the request ``request`` builds (same slots, deadline,
        timeouts, size cap, decoding and errors), without building that request unless an error names it:
        ``url`` is its URL as text, ``headers`` its headers as ``network`` takes them, ``extensions`` its
        extensions (their socket timeouts clipped to the deadline in place, as the request's would be)."""
        deadline = extensions.get(DEADLINE)
        if not isinstance(deadline, Deadline):
            deadline = None
        timeouts: Mapping[str, float | None] = extensions.get("timeout") or {}
        if self._async_slots.locked():
            await self._queue(deadline, request)
        else:
            await self._async_slots.acquire()
        try:
            with self._timers.until(None if deadline is None else deadline.remaining()) as bound:
                if deadline is not None:
                    remaining = deadline.remaining()
                    if remaining <= 0:
                        raise deadline.exceeded(request_of(request), NOT_SENT)
                    timeouts = extensions["timeout"] = clipped(timeouts, remaining)
                opened = await network.open("GET", url, headers, timeouts, request)
                try:
                    body = _Body(request, opened.headers, _limit_of(extensions, self._limit), deadline)
                    await opened.body.read_into(body.add)
                finally:
                    await opened.body.aclose()
        except TimeoutError:
            if deadline is None or not bound.expired:
                raise
            raise deadline.exceeded(request_of(request), "waiting for the server") from None
        finally:
            self._async_slots.release()
        return Exchange(opened, body)

    def close(self) -> None:
        if isinstance(self._transport, httpx.BaseTransport):
            self._transport.close()

    async def aclose(self) -> None:
        if isinstance(self._transport, httpx.AsyncBaseTransport):
            await self._transport.aclose()


# -- the network, through the proxies the environment names ----------------------------------------------


class _ProxyRouter(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Sends each request through the transport of the first proxy pattern that matches its URL, as
    ``httpx.Client(trust_env=True)`` does with the ``mounts`` it builds from the environment."""

    def __init__(self, default: Any, mounts: list[tuple[Any, Any]]) -> None:
        self._default = default
        self._mounts = mounts

    def _pick(self, url: httpx.URL) -> Any:
        for pattern, transport in self._mounts:
            if pattern.matches(url):
                return self._default if transport is None else transport
        return self._default

    def _all(self) -> list[Any]:
        return [self._default, *(transport for _, transport in self._mounts if transport is not None)]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = self._pick(request.url).handle_request(request)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = await self._pick(request.url).handle_async_request(request)
        return response

    def close(self) -> None:
        for transport in self._all():
            transport.close()

    async def aclose(self) -> None:
        for transport in self._all():
            await transport.aclose()


def network_transport(*, is_async: bool, trust_env: bool) -> httpx.BaseTransport | httpx.AsyncBaseTransport:
    """httpx's network transport (pool of :data:`POOL_SIZE`, all kept alive); with ``trust_env``, routed
    through the proxies that ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` name, exactly
    as httpx reads them."""
    kind: Any = httpx.AsyncHTTPTransport if is_async else httpx.HTTPTransport
    built: httpx.BaseTransport | httpx.AsyncBaseTransport = routed(
        lambda proxy: kind(trust_env=trust_env, proxy=proxy, limits=LIMITS), trust_env=trust_env
    )
    return built


def routed(make: Callable[[str | None], Any], *, trust_env: bool) -> Any:
    """``make(None)``, or with ``trust_env`` a router sending each request through ``make(proxy)`` for the
    proxy the environment names for its URL (httpx's reading of the environment, whatever the backend)."""
    default = make(None)
    if not trust_env:
        return default
    # httpx's own reading of the environment (the function and pattern class its Client uses).
    from httpx._utils import URLPattern, get_environment_proxies

    mounts = sorted(
        ((URLPattern(key), None if proxy is None else make(proxy)) for key, proxy in get_environment_proxies().items()),
        key=lambda mount: mount[0],
    )
    if not mounts:
        return default
    return _ProxyRouter(default, mounts)


def mounted(default: Any, mounts: list[tuple[Any, Any]]) -> Any:
    """``default`` behind ``mounts`` (httpx ``URLPattern`` and transport pairs, sorted as httpx sorts them;
    a None transport means ``default``): the routing of an ``httpx.Client`` with those ``_mounts``."""
    return _ProxyRouter(default, mounts) if mounts else default


__all__ = [
    "ACCEPT_ENCODING",
    "COOKIE_HEADERS",
    "KEEPALIVE_EXPIRY",
    "LIMITS",
    "POOL_SIZE",
    "PRIMED",
    "THIRD_PARTY",
    "BoundedTransport",
    "ChunkReader",
    "Exchange",
    "Opened",
    "OpeningNetwork",
    "ReadBody",
    "RequestSource",
    "mounted",
    "network_transport",
    "request_of",
    "routed",
]
