"""Fuzz: whatever a server answers, the public client raises nothing but ``M3terError`` subclasses.

Each hypothesis example takes a random source (``st.randoms``; derandomized under the CI profile) and draws
from it ``BATCH`` responses for one endpoint (status, headers, body, charset, Content-Encoding and lies about
it, a connection lost mid-body) and the token endpoint's answers, served through ``httpx.MockTransport`` to
``M3terBilling`` and then to ``AsyncM3terBilling``. ``EXAMPLES * BATCH`` = 10,000 drawn responses reach
each endpoint, through both clients. Retries are on, with a sleep that does not sleep. No shrinking: a
failure lists every escaped exception, and the CI profile prints the blob that replays it.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from m3ter_billing import AsyncM3terBilling, M3terBilling, M3terError

from .support import API_KEY, API_SECRET, BASE_URL, ORG_ID, REQUIRED_LINE_ITEM, bill_body, job_body, token_body

EXAMPLES = 500
BATCH = 20  # EXAMPLES * BATCH = 10,000 drawn responses per endpoint


@dataclass(frozen=True)
class Drawn:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    cut: int | None  # the stream fails after this many bytes (a connection reset mid-body)
    failure: type[Exception]


class _Stream(httpx.SyncByteStream, httpx.AsyncByteStream):
    def __init__(self, body: bytes, cut: int | None, failure: type[Exception]) -> None:
        self._body, self._cut, self._failure = body, cut, failure

    def _chunks(self) -> Iterator[bytes]:
        if self._cut is None:
            yield self._body
            return
        if self._cut:
            yield self._body[: self._cut]
        raise self._failure("connection lost mid-body")

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks():
            yield chunk


def _response(drawn: Drawn, request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        drawn.status,
        headers=list(drawn.headers),
        stream=_Stream(drawn.body, drawn.cut, drawn.failure),
        request=request,
    )


# -- drawing responses ---------------------------------------------------------------------------------------
# Each batch takes one random source from hypothesis (``st.randoms``: its seed is a hypothesis draw, so a run
# is reproducible and derandomized under the CI profile) and draws its responses from it in plain Python:
# drawing each field through hypothesis costs ~10 ms per response, this costs microseconds.

_SPECIAL_BODIES = [
    b"",
    b"null",
    b"[" * 5000 + b"]" * 5000,
    b'{"id": "x", "lineItems": ' + b"[" * 3000,
    b'{"id": 1e999999}',
    b'{"id": "x", "version": NaN}',
    b'{"id": "\xff\xfe"}',
    b'{"id": "\\ud800"}',
    b"<html>502 Bad Gateway</html>",
    b'{"message": "' + b"x" * 5000 + b'"}',
    b'{"id": "x", "a\\"b": 1, "c": [',
    b'{"id": "x", "' + b"k" * 300 + b'": [1',
]
_CONTENT_TYPES = [
    b"application/json",
    b"application/json; charset=utf-8",
    b"application/json; charset=utf-16",
    b"application/json; charset=latin-1",
    b"application/json; charset=no-such-charset",
    b"text/html",
    b"application/problem+json",
    b"",
]
_ENCODINGS = ["none"] * 6 + ["gzip", "deflate", "gzip-truncated", "gzip-lie", "deflate-lie", "double-gzip", "unknown"]
_STATUSES = [200] * 8 + [201, 204, 301, 304, 400, 401, 403, 404, 408, 409, 422, 429, 500, 502, 503, 504, 520, 599]
_TEXT = "aZ09 _-.:/\"'é€\u2028\x00\x7f"


def _text(rng: random.Random, size: int = 8) -> str:
    return "".join(rng.choice(_TEXT) for _ in range(rng.randint(0, size)))


def _json_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([0, -1, 1, 2**31, 2**63, -(2**64), 10**30])
    if kind == 3:
        return rng.choice([0.0, -0.0, 1.5, 1e308, -1e-308, 123456.78])
    if kind in (4, 5):
        return _text(rng)
    if kind in (6, 7):
        return {_text(rng): _json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return [_json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]


def _mutated(rng: random.Random, valid: dict[str, Any]) -> Any:
    """A valid body with a few fields replaced, removed or added (reaches the models' deep paths)."""
    body = json.loads(json.dumps(valid))
    for _ in range(rng.randint(0, 3)):
        action = rng.randrange(4)
        if action == 0 and body:
            body[rng.choice(sorted(body))] = _json_value(rng)
        elif action == 1 and body:
            body.pop(rng.choice(sorted(body)))
        elif action == 2:
            body[_text(rng, 12)] = _json_value(rng)
        elif isinstance(body.get("lineItems"), list) and body["lineItems"] and isinstance(body["lineItems"][0], dict):
            item = body["lineItems"][0]
            if item:
                item[rng.choice(sorted(item))] = _json_value(rng)
    return body


def _body(rng: random.Random, valid: dict[str, Any]) -> bytes:
    kind = rng.randrange(10)
    if kind <= 3:
        return json.dumps(_mutated(rng, valid)).encode()
    if kind == 4:
        return json.dumps(valid).encode()
    if kind == 5:
        return json.dumps(_json_value(rng)).encode()
    if kind == 6:
        raw = json.dumps(_mutated(rng, valid)).encode()
        return raw[: rng.randint(0, len(raw))]  # truncated JSON
    if kind == 7:
        return rng.randbytes(rng.randint(0, 64))
    if kind == 8:
        text = json.dumps(_mutated(rng, valid), ensure_ascii=False)
        return text.encode(rng.choice(["utf-16", "utf-16-le", "utf-32", "utf-8-sig", "latin-1"]), "replace")
    return rng.choice(_SPECIAL_BODIES)


def _encode(body: bytes, encoding: str) -> tuple[bytes, bytes | None]:
    """The body under a Content-Encoding (or a lie about one)."""
    if encoding == "gzip":
        return gzip.compress(body), b"gzip"
    if encoding == "deflate":
        return zlib.compress(body), b"deflate"
    if encoding == "gzip-truncated":
        packed = gzip.compress(body)
        return packed[: max(1, len(packed) // 2)], b"gzip"
    if encoding == "gzip-lie":
        return body, b"gzip"
    if encoding == "deflate-lie":
        return body, b"deflate"
    if encoding == "double-gzip":
        return gzip.compress(gzip.compress(body)), b"gzip, gzip"
    if encoding == "unknown":
        return body, b"x-unknown, br, zstd"
    return body, None


def _header_value(rng: random.Random) -> bytes:
    return rng.randbytes(rng.randint(0, 24)).replace(b"\r", b"").replace(b"\n", b"")


def _headers(rng: random.Random) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    for _ in range(rng.randint(0, 4)):
        kind = rng.randrange(4)
        if kind == 0:
            headers.append((b"content-type", rng.choice(_CONTENT_TYPES)))
        elif kind == 1:
            value = rng.choice([b"1", b"nan", b"-3", b"inf", b"1e9", b"0.01", _header_value(rng)])
            headers.append((rng.choice([b"retry-after", b"retry-after-ms"]), value))
        elif kind == 2:
            headers.append((b"content-length", rng.choice([b"0", b"1", b"999999999", b"-1", b"abc"])))
        else:
            name = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz-") for _ in range(rng.randint(1, 12)))
            headers.append((name.encode(), _header_value(rng)))
    return headers


def _drawn(rng: random.Random, valid: dict[str, Any]) -> Drawn:
    status = rng.choice(_STATUSES) if rng.random() < 0.8 else rng.randint(100, 599)
    body, encoding = _encode(_body(rng, valid), rng.choice(_ENCODINGS))
    headers = _headers(rng)
    if encoding is not None:
        headers.append((b"content-encoding", encoding))
    cut = rng.randint(0, len(body)) if rng.random() < 0.15 else None
    failure = rng.choice([httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout])
    return Drawn(status, tuple(headers), body, cut, failure)


_VALID_TOKEN = Drawn(
    200, ((b"content-type", b"application/json"),), json.dumps(token_body()).encode(), None, httpx.ReadError
)

ENDPOINTS: dict[str, tuple[dict[str, Any], Callable[[Any], Any]]] = {
    "bill": ({**bill_body(), "lineItems": [REQUIRED_LINE_ITEM]}, lambda client: client.bills.retrieve("bill-1")),
    "statement_job": (job_body(), lambda client: client.statement_jobs.retrieve("job-1")),
}


class _Server:
    """Serves the drawn responses in turn (cycling), and the token route from its own list."""

    def __init__(self, responses: list[Drawn], tokens: list[Drawn]) -> None:
        self.responses, self.tokens = responses, tokens
        self.served = self.tokens_served = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            drawn = self.tokens[self.tokens_served % len(self.tokens)]
            self.tokens_served += 1
            return _response(drawn, request)
        drawn = self.responses[self.served % len(self.responses)]
        self.served += 1
        return _response(drawn, request)


def _options(server: _Server) -> dict[str, Any]:
    return {
        "base_url": BASE_URL,
        "org_id": ORG_ID,
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "transport": httpx.MockTransport(server),
        "max_retries": 1,
    }


def _no_sleep(_: float) -> None:
    return None


async def _no_async_sleep(_: float) -> None:
    return None


def _outcomes_sync(call: Callable[[Any], Any], responses: list[Drawn], tokens: list[Drawn]) -> list[str]:
    escaped: list[str] = []
    with M3terBilling(**_options(_Server(responses, tokens)), sleep=_no_sleep) as client:
        for _ in responses:
            try:
                call(client)
            except M3terError:
                pass
            except Exception as exc:  # exactly what this test hunts
                escaped.append(f"sync {type(exc).__module__}.{type(exc).__qualname__}: {exc!r}"[:300])
    return escaped


async def _outcomes_async(call: Callable[[Any], Any], responses: list[Drawn], tokens: list[Drawn]) -> list[str]:
    escaped: list[str] = []
    async with AsyncM3terBilling(**_options(_Server(responses, tokens)), sleep=_no_async_sleep) as client:
        for _ in responses:
            try:
                await call(client)
            except M3terError:
                pass
            except Exception as exc:  # exactly what this test hunts
                escaped.append(f"async {type(exc).__module__}.{type(exc).__qualname__}: {exc!r}"[:300])
    return escaped


def _batch(rng: random.Random, endpoint: str) -> tuple[list[Drawn], list[Drawn]]:
    """``BATCH`` responses for ``endpoint``, and the token answers (a fuzzed one first, now and then)."""
    responses = [_drawn(rng, ENDPOINTS[endpoint][0]) for _ in range(BATCH)]
    tokens = [_drawn(rng, token_body()) for _ in range(rng.choice([0, 0, 0, 1, 2]))]
    return responses, [*tokens, _VALID_TOKEN]


def _fuzz(endpoint: str) -> Callable[[], None]:
    call = ENDPOINTS[endpoint][1]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        # No shrinking: a batch of 20 responses shrinks for minutes; the failure names each escaped
        # exception, and print_blob (the CI profile) replays the example.
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.randoms(use_true_random=True))
    def run(rng: random.Random) -> None:
        responses, tokens = _batch(rng, endpoint)
        escaped = _outcomes_sync(call, responses, tokens)
        escaped += asyncio.run(_outcomes_async(call, responses, tokens))
        assert not escaped, escaped

    return run


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_no_exception_but_m3ter_error_escapes(endpoint: str) -> None:
    _fuzz(endpoint)()
