"""The m3ter API as the sandbox answers it, independent of transport: a :class:`Request` in, a
:class:`Response` out. Auth (OAuth2 client credentials, bearer tokens), the rate limits (per Organization
and per source IP), 404/405, the presigned statement downloads, and the fault hooks all live here."""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

import msgspec

from .clock import Clock
from .entities import Entity
from .faults import FaultRegistry, Operation
from .messages import JSON, Request, Response, encode, error, json_response
from .state import STATEMENTS_PREFIX, SandboxState

_DECODER = msgspec.json.Decoder()
ENCODED_PER_VERSION = 8
"""Encoded bodies kept per entity version (one per base URL, for bodies holding presigned URLs)."""
MAX_REQUEST_BODY = 64 * 1024
"""Largest request body the sandbox reads (the token call's form is ~50 bytes); larger ones get 413."""
_SECRET_PARAMS = re.compile(r"((?:X-Amz-Signature|X-Amz-Credential)=)[^&]*")


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """What the sandbox saw: never headers or bodies, and presigned signatures redacted (secrets).
    ``additional`` is the parsed list when the query had that parameter."""

    method: str
    path: str
    query: str
    status: int
    additional: tuple[str, ...] | None = None


class FixedWindowLimiter:
    """``limit`` requests per clock second per key (None: no limit), in fixed one-second windows."""

    def __init__(self, limit: int | None, clock: Clock) -> None:
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}

    def allow(self, key: str) -> bool:
        if self.limit is None:
            return True
        window = int(self._clock.now())
        with self._lock:
            started, used = self._windows.get(key, (window, 0))
            if started != window:
                used = 0
            if used >= self.limit:
                return False
            self._windows[key] = (window, used + 1)
            return True


class RollingLimiter:
    """``limit`` requests per key over any rolling ``window`` seconds of the clock (None: no limit), counted
    in one-second buckets: m3ter's 20,000 requests per 5 minutes per source IP."""

    def __init__(self, limit: int | None, window: int, clock: Clock) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, deque[list[int]]] = {}
        self._totals: dict[str, int] = {}

    def allow(self, key: str) -> bool:
        if self.limit is None:
            return True
        now = int(self._clock.now())
        with self._lock:
            buckets = self._buckets.setdefault(key, deque())
            total = self._totals.get(key, 0)
            while buckets and buckets[0][0] <= now - self.window:
                total -= buckets.popleft()[1]
            if total >= self.limit:
                self._totals[key] = total
                return False
            if buckets and buckets[-1][0] == now:
                buckets[-1][1] += 1
            else:
                buckets.append([now, 1])
            self._totals[key] = total + 1
            return True


def parse_additional(query: str) -> tuple[str, ...] | None:
    """``additional`` as m3ter's SDKs send it (one comma-joined value, ``additional=`` for an empty list);
    repeated parameters are accepted too."""
    values = parse_qs(query, keep_blank_values=True).get("additional")
    if values is None:
        return None
    return tuple(part for value in values for part in value.split(",") if part)


class SandboxAPI:
    def __init__(
        self,
        state: SandboxState,
        faults: FaultRegistry,
        *,
        rate_limit: int | None = 50,
        ip_rate_limit: int | None = 20_000,
        log_size: int = 1_000,
        max_request_body: int = MAX_REQUEST_BODY,
    ) -> None:
        self.state = state
        self.max_request_body = max_request_body
        self.faults = faults
        self._limits = (rate_limit, ip_rate_limit)
        self.limiter = FixedWindowLimiter(rate_limit, state.clock)
        self.ip_limiter = RollingLimiter(ip_rate_limit, 300, state.clock)
        self.log: deque[RequestRecord] = deque(maxlen=log_size)

    def reset(self) -> None:
        """The rate limits as built, with empty counters (fresh limiters: a request in flight finishes on the
        old one); the request log emptied."""
        rate_limit, ip_rate_limit = self._limits
        self.limiter = FixedWindowLimiter(rate_limit, self.state.clock)
        self.ip_limiter = RollingLimiter(ip_rate_limit, 300, self.state.clock)
        self.log.clear()

    def wants_body(self, method: str, path: str, headers: Mapping[str, str]) -> bool:
        """Whether the request's body is worth reading: only the token call uses one, and only when it
        carries Basic credentials (anything else is refused without reading it)."""
        if method != "POST" or path != "/oauth/token":
            return False
        scheme, _, value = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "basic" and bool(value.strip())

    def refuse(self, request: Request, status: int, message: str) -> Response:
        """Answer ``status`` without handling the request (413 for an oversized body), logged like any other."""
        return self._finish(request, error(status, message), None)

    def handle(self, request: Request) -> Response:
        if len(request.body) > self.max_request_body:
            return self.refuse(request, 413, "Request body too large")
        path = request.path
        operation: Operation | None = None
        entity_id: str | None = None
        org_id: str | None = None
        allowed: tuple[str, ...] = ("GET",)
        if path == "/oauth/token":
            operation, allowed = "GenerateToken", ("POST",)
        elif path.startswith("/organizations/"):
            parts = path.split("/")
            if len(parts) == 5 and parts[3] in ("bills", "statementjobs") and parts[2] and parts[4]:
                operation = "GetBill" if parts[3] == "bills" else "GetStatementJob"
                org_id, entity_id = unquote(parts[2]), unquote(parts[4])
        elif path.startswith(STATEMENTS_PREFIX):
            operation = "GetStatement"
            segments = path.split("/")
            entity_id = segments[3] if len(segments) > 3 else None
        if operation is None:
            response = error(404, "Not found")
        elif request.method not in allowed:
            response = error(405, "Method Not Allowed", [("allow", ", ".join(allowed))])
        elif operation != "GetStatement" and not self.ip_limiter.allow(request.client):
            response = error(429, "Too Many Requests")
        else:
            response = self.faults.before(operation, entity_id) or self._dispatch(request, operation, org_id, entity_id)
            response = self.faults.after(operation, entity_id, response)
        return self._finish(request, response, operation)

    def _finish(self, request: Request, response: Response, operation: Operation | None) -> Response:
        path = request.path
        additional = parse_additional(request.query) if operation == "GetBill" else None
        # Like any HTTP server, the sandbox dates its answers, on its own clock (RFC 9110 section 6.6.1).
        response.headers.append(("date", formatdate(self.state.clock.now(), usegmt=True)))
        query = _SECRET_PARAMS.sub(r"\1REDACTED", request.query) if operation == "GetStatement" else request.query
        self.log.append(RequestRecord(request.method, path, query, response.status, additional))
        return response

    def _dispatch(self, request: Request, operation: Operation, org_id: str | None, entity_id: str | None) -> Response:
        if operation == "GenerateToken":
            return self._token(request)
        if operation == "GetStatement":
            return self._statement(request)
        assert org_id is not None
        assert entity_id is not None
        denied = self._authorize(request, org_id)
        if denied is not None:
            return denied
        with self.state.lock:
            entity: Entity | None
            if operation == "GetBill":
                entity = self.state.bills.get(entity_id)
            else:
                job = self.state.jobs.get(entity_id)
                if job is not None and job.org_id == org_id:
                    self.state.sync_job(job)
                entity = job
            if entity is None or entity.org_id != org_id:
                return error(404, "Not found")
            return Response(200, self._body(entity, request.base_url))

    def _body(self, entity: Entity, base_url: str) -> bytes:
        """The entity's JSON, cached per version (any change clears the cache); only a body that holds
        presigned URLs depends on the base URL, and at most ``ENCODED_PER_VERSION`` of those are kept (the
        most recently used), so a flood of distinct Host headers cannot grow memory. Mutations (faults) are
        applied to a copy."""
        json_url = getattr(entity, "json_url", None)
        key = "" if json_url is None else base_url
        encoded = entity.encoded
        body = encoded.pop(key, None)
        if body is None:
            wire = entity.wire
            if json_url is not None:
                wire = {**wire, "presignedJsonStatementUrl": base_url + json_url}
                csv_url = getattr(entity, "csv_url", None)
                if csv_url is not None:
                    wire["presignedCsvStatementUrl"] = base_url + csv_url
            body = encode(wire)
            while len(encoded) >= ENCODED_PER_VERSION:
                del encoded[next(iter(encoded))]
        encoded[key] = body  # re-inserted last: the dict is in least- to most-recently-used order
        if self.faults.mutates(entity.id):
            data: dict[str, Any] = _DECODER.decode(body)
            body = encode(self.faults.mutate(entity.id, data))
        return body

    def _authorize(self, request: Request, org_id: str) -> Response | None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return error(401, "Unauthorized")
        value = value.strip()
        token = self.state.valid_token(value)
        if token is None:
            # Expired (kept or already forgotten): m3ter's documented answer; unknown or evicted: 403.
            if self.state.expired_token(value):
                return error(403, "The incoming token has expired")
            return error(403, "Forbidden")
        if token.org_id != org_id or org_id not in self.state.orgs:
            return error(403, "Forbidden")
        if not self.limiter.allow(org_id):
            return error(429, "Too Many Requests")
        return None

    def _token(self, request: Request) -> Response:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic" or not value:
            return error(401, "Unauthorized")
        try:
            api_key, sep, api_secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return error(401, "Unauthorized")
        if not sep:
            return error(401, "Unauthorized")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        fields: dict[str, Any]
        if content_type == "application/x-www-form-urlencoded":
            fields = {key: values[0] for key, values in parse_qs(request.body.decode("latin-1")).items()}
        elif content_type == JSON or content_type.endswith("+json"):
            try:
                decoded = _DECODER.decode(request.body)
            except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # bad UTF-8, or nested too deep
                return error(400, "Request body is not valid JSON")
            if not isinstance(decoded, dict):
                return error(400, "Request body must be a JSON object")
            fields = decoded
        else:
            return error(400, "Unsupported Content-Type: send application/x-www-form-urlencoded or application/json")
        if fields.get("grant_type") != "client_credentials":
            return error(400, "grant_type must be client_credentials")
        user = self.state.service_user(api_key, api_secret)
        if user is None:
            return error(403, "Invalid credentials")
        # The limit first: a refused call issues nothing (issuing past max_tokens_per_user retires a live token).
        if not self.limiter.allow(user.org_id):
            return error(429, "Too Many Requests")
        token = self.state.issue_token(api_key, api_secret)
        if token is None:  # pragma: no cover - the credentials were just checked
            return error(403, "Invalid credentials")
        body = {
            "token_type": "Bearer",
            "access_token": token.value,
            "expires_in": self.state.token_lifetime,
            "scope": None,
        }
        return json_response(200, body, [("cache-control", "no-store")])

    def _statement(self, request: Request) -> Response:
        status, code, message = self.state.check_presigned(request.path, request.query)
        if status != 200:
            return _s3_error(status, code, message)
        document = self.state.statement_document(request.path)
        if document is None:
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        body, content_type = document
        return Response(200, body, content_type)


def _s3_error(status: int, code: str, message: str) -> Response:
    """An object store's error, as S3 writes it (XML)."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
    )
    return Response(status, body.encode(), "application/xml")


__all__ = [
    "ENCODED_PER_VERSION",
    "MAX_REQUEST_BODY",
    "FixedWindowLimiter",
    "RequestRecord",
    "RollingLimiter",
    "SandboxAPI",
    "parse_additional",
]
