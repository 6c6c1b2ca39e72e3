"""Transport-independent HTTP messages: what an adapter hands the sandbox and what it gets back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

JSON = "application/json"
# Where m3ter serves its API: the origin the sandbox answers for unless told otherwise.
DEFAULT_BASE_URL = "https://api.m3ter.com"
_ENCODER = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Request:
    """``headers`` have lower-case names; ``query`` is the raw query string; ``base_url`` is the scheme
    and authority the request was sent to (the presigned URLs point there); ``client`` is the source IP."""

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    base_url: str = DEFAULT_BASE_URL
    client: str = "127.0.0.1"


@dataclass(slots=True)
class Response:
    """``delay`` is a pause (seconds) the adapter makes before answering, set only by the slow fault."""

    status: int
    body: bytes = b""
    content_type: str | None = JSON
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0

    def header_list(self) -> list[tuple[str, str]]:
        """All headers to send, Content-Type first (Content-Length is the adapter's job)."""
        if self.content_type is None:
            return list(self.headers)
        return [("content-type", self.content_type), *self.headers]


def encode(data: Any) -> bytes:
    return _ENCODER.encode(data)


def json_response(status: int, data: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, _ENCODER.encode(data), JSON, headers or [])


def error(status: int, message: str, headers: list[tuple[str, str]] | None = None) -> Response:
    """m3ter's error body: always ``{"message": ...}``."""
    return json_response(status, {"message": message}, headers)


class Handler(Protocol):
    """What an adapter (ASGI, respx, the HTTP server) serves: one request in, one response out. The sandbox
    (``Sandbox``) is one; the adapters depend on this protocol only, never on the sandbox itself."""

    def handle(self, request: Request) -> Response: ...

    @property
    def max_request_body(self) -> int:
        """The largest request body the handler reads (413 beyond it)."""
        ...

    def wants_body(self, method: str, path: str, headers: Mapping[str, str]) -> bool:
        """Whether a request's body is worth reading at all (an unauthenticated body is never read)."""
        ...

    def refuse(self, request: Request, status: int, message: str) -> Response:
        """Answer ``status`` without handling ``request`` (413 for an oversized body)."""
        ...


__all__ = ["DEFAULT_BASE_URL", "JSON", "Handler", "Request", "Response", "encode", "error", "json_response"]
