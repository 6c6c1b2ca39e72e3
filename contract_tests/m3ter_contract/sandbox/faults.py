"""Fault injection: transport faults (5xx bursts, 429s, slow, truncated or non-JSON bodies, wrong content
types), response mutations (the generic hook behind ``Sandbox.mutate_responses``), and named presets that
break each rule on purpose (documented rules, and the inferred ones such as `statement-job.terminal-final`)
so the contract tests can prove they notice."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, get_args

from .clock import iso_datetime
from .entities import Bill, SandboxError, StatementJob
from .messages import Response, error
from .state import STATEMENTS_PREFIX, SandboxState

Operation = Literal["GenerateToken", "GetBill", "GetStatementJob", "GetStatement"]
OPERATIONS: tuple[str, ...] = get_args(Operation)
Mutator = Callable[[dict[str, Any]], dict[str, Any]]
Rewriter = Callable[[Response], None]
"""Changes a successful response in place (its body bytes, its content type): the wire faults."""
TransportKind = Literal["status", "delay", "truncate", "non_json", "content_type", "rewrite"]
MAX_DELAY = 5.0


@dataclass(slots=True)
class TransportFault:
    kind: TransportKind
    remaining: int | None
    operation: Operation | None = None
    entity_id: str | None = None
    status: int = 503
    message: str = "Service Unavailable"
    retry_after: str | None = None
    delay: float = 0.0
    content_type: str = "text/html"
    rewrite: Rewriter | None = None
    used: int = 0
    label: str = ""

    def matches(self, operation: Operation, entity_id: str | None) -> bool:
        return (self.operation is None or self.operation == operation) and (
            self.entity_id is None or self.entity_id == entity_id
        )


@dataclass(slots=True)
class Mutation:
    entity_id: str | None
    fn: Mutator
    remaining: int | None
    used: int = 0


class FaultRegistry:
    """The active faults, consumed in the order they were added: a response consumes at most one fault of each
    kind (the first added that matches it), so ``server_errors(count=1)`` then ``rate_limited(count=1)``
    answer 503, then 429, then the real response. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._transport: list[TransportFault] = []
        self._mutations: list[Mutation] = []

    @property
    def active(self) -> bool:
        return bool(self._transport or self._mutations)

    def add(self, fault: TransportFault) -> None:
        if fault.remaining is not None and fault.remaining < 1:
            raise ValueError("count must be at least 1 (or None for every response)")
        if fault.operation is not None and fault.operation not in OPERATIONS:
            raise ValueError(f"operation must be one of {', '.join(OPERATIONS)} (or None), not {fault.operation!r}")
        with self._lock:
            self._transport.append(fault)

    def add_mutation(self, entity_id: str | None, fn: Mutator, count: int | None) -> None:
        if count is not None and count < 1:
            raise ValueError("count must be at least 1 (or None for every response)")
        with self._lock:
            self._mutations.append(Mutation(entity_id, fn, count))

    def clear(self) -> None:
        with self._lock:
            self._transport.clear()
            self._mutations.clear()

    def unused(self) -> list[str]:
        """The faults and mutations still waiting that have never acted on a response (what each aimed at)."""
        with self._lock:
            faults = [_describe(f.label or f.kind, f.operation, f.entity_id) for f in self._transport if not f.used]
            mutations = [_describe("mutation", None, m.entity_id) for m in self._mutations if not m.used]
        return faults + mutations

    def mutates(self, entity_id: str) -> bool:
        return any(m.entity_id is None or m.entity_id == entity_id for m in self._mutations)

    def _take(
        self, kinds: tuple[TransportKind, ...], operation: Operation, entity_id: str | None
    ) -> list[TransportFault]:
        """The faults that act on this response, each consumed once: of each kind, the first one added that
        matches (the others of that kind wait for later responses), except ``rewrite`` faults, which all apply
        (they are independent body changes, and presets stack them on one entity)."""
        taken: list[TransportFault] = []
        seen: set[TransportKind] = set()
        with self._lock:
            for fault in list(self._transport):
                if fault.kind not in kinds or fault.kind in seen or not fault.matches(operation, entity_id):
                    continue
                if fault.kind != "rewrite":
                    seen.add(fault.kind)
                taken.append(fault)
                fault.used += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._transport.remove(fault)
        return taken

    def before(self, operation: Operation, entity_id: str | None) -> Response | None:
        """An error answered instead of the real one (a 5xx burst, a 429), if one is due: the first status
        fault added that matches answers, and only it is consumed."""
        if not self._transport:
            return None
        taken = self._take(("status",), operation, entity_id)
        if not taken:
            return None
        fault = taken[0]
        headers = [] if fault.retry_after is None else [("retry-after", fault.retry_after)]
        return error(fault.status, fault.message, headers)

    def mutate(self, entity_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            due = [m for m in self._mutations if m.entity_id is None or m.entity_id == entity_id]
            for mutation in due:
                mutation.used += 1
                if mutation.remaining is not None:
                    mutation.remaining -= 1
                    if mutation.remaining == 0:
                        self._mutations.remove(mutation)
        for mutation in due:
            body = mutation.fn(body)
        return body

    def after(self, operation: Operation, entity_id: str | None, response: Response) -> Response:
        """Spoil a successful response: delay it, truncate it, replace it with HTML, or relabel it."""
        if not self._transport or not 200 <= response.status < 300:
            return response
        for fault in self._take(("delay", "truncate", "non_json", "content_type", "rewrite"), operation, entity_id):
            if fault.kind == "rewrite":
                assert fault.rewrite is not None
                fault.rewrite(response)
            elif fault.kind == "delay":
                response.delay += fault.delay
            elif fault.kind == "truncate":
                response.body = response.body[: max(1, len(response.body) // 2)]
            elif fault.kind == "non_json":
                response.body = b"<html><head><title>502 Bad Gateway</title></head><body>upstream error</body></html>"
                response.content_type = "text/html"
            else:
                response.content_type = fault.content_type
        return response


def _describe(kind: str, operation: Operation | None, entity_id: str | None) -> str:
    aim = [f"operation={operation!r}"] if operation else []
    aim += [f"entity_id={entity_id!r}"] if entity_id else []
    return f"{kind}({', '.join(aim)})"


def _after_first(change: Mutator) -> Mutator:
    """A mutator that passes the first response through and applies ``change`` to every later one."""
    seen = 0

    def fn(body: dict[str, Any]) -> dict[str, Any]:
        nonlocal seen
        seen += 1
        return body if seen == 1 else change(body)

    return fn


class FaultPresets:
    """Named faults. Transport faults take ``count`` (None: forever), and ``operation``/``entity_id`` to
    aim them; the rule breakers act on one entity and last until :meth:`clear`.

    A transport fault without ``operation`` acts on the next request of any kind, and a fresh client's first
    request is its token call (``GenerateToken``, ``POST /oauth/token``): aim a fault at the bill or job you
    mean to break with ``operation="GetBill"`` / ``"GetStatementJob"`` (or an ``entity_id``). ``operation``
    must be one of :data:`OPERATIONS` and ``entity_id`` an existing bill or job (``ValueError`` /
    ``SandboxError`` otherwise); :meth:`unused` lists the faults that have never acted on a response."""

    def __init__(self, registry: FaultRegistry, state: SandboxState) -> None:
        self._registry = registry
        self._state = state

    def clear(self) -> None:
        """Remove every fault and mutation."""
        self._registry.clear()

    def unused(self) -> list[str]:
        """The faults and mutations still active that have never acted on a response, described by kind and aim
        (``server_errors(operation='GetBill')``): a fault aimed where no request goes. The pytest fixtures add
        them to a test's report (shown when it fails)."""
        return self._registry.unused()

    def _aim(self, operation: Operation | None, entity_id: str | None) -> None:
        if operation is not None and operation not in OPERATIONS:
            raise ValueError(f"operation must be one of {', '.join(OPERATIONS)} (or None), not {operation!r}")
        if entity_id is not None:
            self._require(entity_id)

    # ---- transport ----------------------------------------------------------------------------------------

    def server_errors(
        self,
        count: int | None = 3,
        *,
        status: int = 503,
        message: str = "Service Unavailable",
        operation: Operation | None = None,
        entity_id: str | None = None,
    ) -> None:
        """A burst of 5xx answers (500, 502, 503, 504 ...), body ``{"message": ...}``."""
        if not 500 <= status <= 599:
            raise ValueError("server_errors takes a 5xx status")
        self._aim(operation, entity_id)
        self._registry.add(
            TransportFault("status", count, operation, entity_id, status, message, label="server_errors")
        )

    def rate_limited(
        self,
        count: int | None = 1,
        *,
        retry_after: float | None = None,
        operation: Operation | None = None,
        entity_id: str | None = None,
    ) -> None:
        """429 answers, with a ``Retry-After`` header (seconds) only when ``retry_after`` is given."""
        self._aim(operation, entity_id)
        header = None
        if retry_after is not None:
            header = str(int(retry_after)) if float(retry_after).is_integer() else f"{retry_after:g}"
        self._registry.add(
            TransportFault(
                "status",
                count,
                operation,
                entity_id,
                429,
                "Too Many Requests",
                retry_after=header,
                label="rate_limited",
            )
        )

    def slow(
        self,
        seconds: float = 0.05,
        *,
        count: int | None = 1,
        operation: Operation | None = None,
        entity_id: str | None = None,
    ) -> None:
        """Successful answers that take ``seconds`` longer (at most 5 s), in wall-clock time: the fault exercises
        the client's timeouts, which run on real time, so the sandbox's ``ManualClock`` does not move. Through
        respx the body is held back, and an async client waits in ``asyncio.sleep`` (the event loop keeps
        running); over HTTP the server waits before answering."""
        if not 0 < seconds <= MAX_DELAY:
            raise ValueError(f"a slow response waits more than 0 and at most {MAX_DELAY} s")
        self._aim(operation, entity_id)
        self._registry.add(TransportFault("delay", count, operation, entity_id, delay=seconds, label="slow"))

    def truncated_body(
        self, count: int | None = 1, *, operation: Operation | None = None, entity_id: str | None = None
    ) -> None:
        """200 answers whose JSON body is cut in half."""
        self._aim(operation, entity_id)
        self._registry.add(TransportFault("truncate", count, operation, entity_id, label="truncated_body"))

    def non_json_body(
        self, count: int | None = 1, *, operation: Operation | None = None, entity_id: str | None = None
    ) -> None:
        """200 answers carrying an HTML error page (as a misbehaving proxy sends)."""
        self._aim(operation, entity_id)
        self._registry.add(TransportFault("non_json", count, operation, entity_id, label="non_json_body"))

    def wrong_content_type(
        self,
        count: int | None = 1,
        *,
        content_type: str = "text/plain",
        operation: Operation | None = None,
        entity_id: str | None = None,
    ) -> None:
        """200 answers with the right JSON body but another Content-Type."""
        self._aim(operation, entity_id)
        self._registry.add(
            TransportFault(
                "content_type", count, operation, entity_id, content_type=content_type, label="wrong_content_type"
            )
        )

    def rewrite_body(
        self,
        fn: Callable[[bytes], bytes],
        count: int | None = None,
        *,
        operation: Operation | None = None,
        entity_id: str | None = None,
    ) -> None:
        """200 answers whose body bytes pass through ``fn`` (anything at all, JSON or not)."""

        def rewrite(response: Response) -> None:
            response.body = fn(response.body)

        self._aim(operation, entity_id)
        self._registry.add(
            TransportFault("rewrite", count, operation, entity_id, rewrite=rewrite, label="rewrite_body")
        )

    # ---- the wire, broken on purpose (RFC 8259) -----------------------------------------------------------

    def json_literal(self, entity_id: str, *, field: str = "billTotal", literal: str = "NaN") -> None:
        """Rule `response.json-literal`: the first number value of ``field`` is sent as ``NaN`` / ``Infinity``."""
        self._require(entity_id)
        self.rewrite_body(_set_raw(field, literal), **self._read_of(entity_id))

    def raw_number(self, entity_id: str, *, field: str, text: str) -> None:
        """Rules `schema.int-range` / `schema.finite-number`: the first value of ``field`` is sent as the JSON
        number ``text`` (``9223372036854775808``, ``1e400``), which no JSON encoder of a real type writes."""
        self._require(entity_id)
        self.rewrite_body(_set_raw(field, text), **self._read_of(entity_id))

    def byte_order_mark(self, entity_id: str) -> None:
        """Rule `response.json-bom`: the body starts with a UTF-8 byte order mark."""
        self._require(entity_id)
        self.rewrite_body(lambda body: b"\xef\xbb\xbf" + body, **self._read_of(entity_id))

    def duplicate_member(self, entity_id: str, *, field: str = "status", value: Any = "APPROVED") -> None:
        """Rule `response.duplicate-member`: the top-level object names ``field`` twice, ``value`` first and the
        real value last (a first-wins reader sees ``value``, a last-wins reader the real one)."""
        self._require(entity_id)
        injected = b"{" + encode_member(field, value) + b","
        self.rewrite_body(
            lambda body: injected + body[1:] if body.startswith(b"{") else body, **self._read_of(entity_id)
        )

    # ---- statements ---------------------------------------------------------------------------------------

    def broken_statement(self, job_id: str, *, status: int = 403, count: int | None = None) -> None:
        """Rule `statement.download`: the job's presigned statement URLs answer ``status`` (an S3-style error)."""
        self._ensure_complete(job_id)
        code = "AccessDenied" if status == 403 else "InternalError"

        def rewrite(response: Response) -> None:
            response.status = status
            response.body = f'<?xml version="1.0"?><Error><Code>{code}</Code></Error>'.encode()
            response.content_type = "application/xml"

        self._registry.add(TransportFault("rewrite", count, "GetStatement", job_id, rewrite=rewrite))

    def mislabelled_statement(self, job_id: str, *, fmt: Literal["json", "csv"] = "json") -> None:
        """Rules `statement.json` / `statement.csv`: the statement at the job's JSON (or CSV) URL is something
        else under the right label: an HTML error page served as application/json, a JSON document as text/csv."""
        job = self._ensure_complete(job_id)
        if fmt == "csv" and not job.include_csv:
            raise SandboxError(f"statement job {job_id} has no CSV format")

        def rewrite(response: Response) -> None:
            label = (response.content_type or "").lower()
            if fmt == "json" and label.startswith("application/json"):
                response.body = b"<html><body><h1>Statement</h1><p>see the portal</p></body></html>"
            elif fmt == "csv" and label.startswith("text/csv"):
                response.body = b'{"statementJobId": "' + job_id.encode() + b'"}\n'

        self._registry.add(TransportFault("rewrite", None, "GetStatement", job_id, rewrite=rewrite))

    def expired_statement_url(self, job_id: str) -> None:
        """Rule `statement.url-expiry`: the job hands out presigned URLs (correctly signed) that expired an hour
        before they are read; downloading them answers 403 Request has expired."""
        self._ensure_complete(job_id)
        state = self._state

        def fn(body: dict[str, Any]) -> dict[str, Any]:
            issued = state.clock.now() - 2 * state.url_lifetime - 3600
            for key in ("presignedJsonStatementUrl", "presignedCsvStatementUrl"):
                url = body.get(key)
                if isinstance(url, str) and "?" in url:
                    path = url.split("?", 1)[0]
                    origin = path[: path.index(STATEMENTS_PREFIX)] if STATEMENTS_PREFIX in path else ""
                    body[key] = origin + state.presign(path[len(origin) :], issued)
            return body

        self._registry.add_mutation(job_id, fn, None)

    # ---- content ------------------------------------------------------------------------------------------

    def unknown_enum_values(self, entity_id: str | None = None, *, count: int | None = None) -> None:
        """Enum fields carry values the spec does not list yet (as m3ter's enums have grown before)."""

        def fn(body: dict[str, Any]) -> dict[str, Any]:
            if "billingFrequency" in body or "lineItems" in body:
                body["status"] = "UNDER_REVIEW"
                body["billingFrequency"] = "FORTNIGHTLY"
                for item in body.get("lineItems", []):
                    item["lineItemType"] = "FUTURE_CHARGE"
            if "statementJobStatus" in body:
                body["statementJobStatus"] = "QUEUED"
                body["jsonStatementStatus"] = "ARCHIVED"
            return body

        self._aim(None, entity_id)
        self._registry.add_mutation(entity_id, fn, count)

    def extra_fields(self, entity_id: str | None = None, *, count: int | None = None) -> None:
        """Fields the spec does not declare, at the top level and in nested objects."""

        def fn(body: dict[str, Any]) -> dict[str, Any]:
            body["futureField"] = {"introducedIn": "2027", "enabled": True}
            body["x_sandboxTrace"] = "extra"
            for item in body.get("lineItems", []):
                item["taxBreakdown"] = [{"rate": 0.2, "amount": 1.0}]
            if "filters" in body:
                body["filters"]["accountIds"] = []
            return body

        self._aim(None, entity_id)
        self._registry.add_mutation(entity_id, fn, count)

    def null_fields(self, entity_id: str | None = None, *, count: int | None = None) -> None:
        """Optional fields sent as null (nothing in the spec is nullable: absent fields must be absent)."""

        def fn(body: dict[str, Any]) -> dict[str, Any]:
            for key in ("purchaseOrderNumber", "dtApproved", "presignedJsonStatementUrl", "filters"):
                body[key] = None
            return body

        self._aim(None, entity_id)
        self._registry.add_mutation(entity_id, fn, count)

    # ---- the rules (documented, and inferred: see each rule's evidence in RULES.md), broken on purpose ------

    def version_goes_back(self, entity_id: str) -> None:
        """Rule `version.no-decrease`: the first read shows version n+1, every later read version n (lower)."""
        seen = 0

        def fn(body: dict[str, Any]) -> dict[str, Any]:
            nonlocal seen
            seen += 1
            if seen == 1:
                body["version"] = body["version"] + 1
            return body

        self._require(entity_id)
        self._registry.add_mutation(entity_id, fn, None)

    def version_zero(self, entity_id: str) -> None:
        """Rule `version.minimum`: a version below 1."""
        self._require(entity_id)
        self._registry.add_mutation(entity_id, lambda body: {**body, "version": 0}, None)

    def change_without_version_bump(self, entity_id: str) -> None:
        """Rule `version.bump-on-change`: after the first read the content changes (a bill's
        purchaseOrderNumber, a job's lastModifiedBy) while version and dtLastModified stay."""
        self._require(entity_id)

        def change(body: dict[str, Any]) -> dict[str, Any]:
            if "statementJobStatus" in body:
                body["lastModifiedBy"] = "00000000-0000-4000-8000-00000000beef"
            else:
                body["purchaseOrderNumber"] = f"{body.get('purchaseOrderNumber', 'PO')}-CHANGED"
            return body

        self._registry.add_mutation(entity_id, _after_first(change), None)

    def change_without_timestamp(self, entity_id: str) -> None:
        """Rule `version.dt-last-modified` (a warning: the same instant may be two updates within the timestamp's
        resolution): after the first read the version goes up but dtLastModified does not move."""
        self._require(entity_id)

        def change(body: dict[str, Any]) -> dict[str, Any]:
            body["version"] = body["version"] + 1
            return body

        self._registry.add_mutation(entity_id, _after_first(change), None)

    def terminal_job_moves(self, job_id: str) -> None:
        """Rule `statement-job.terminal-final`: the job (completed first if it is not terminal yet) is read
        once as it is, then back as RUNNING without URLs, with a proper version bump."""
        job = self._job(job_id)
        if not job.terminal:
            self._state.finish_job(job_id, "COMPLETE")

        def change(body: dict[str, Any]) -> dict[str, Any]:
            body["statementJobStatus"] = "RUNNING"
            body["version"] = body["version"] + 1
            body["dtLastModified"] = _later(body["dtLastModified"])
            for key in ("presignedJsonStatementUrl", "presignedCsvStatementUrl"):
                body.pop(key, None)
            return body

        self._registry.add_mutation(job_id, _after_first(change), None)

    def complete_job_without_url(self, job_id: str) -> None:
        """Rule `statement-job.json-url-on-complete`: the job (completed first if still moving) is COMPLETE without
        its JSON URL."""
        self._ensure_complete(job_id)
        self._registry.add_mutation(job_id, _drop("presignedJsonStatementUrl"), None)

    def complete_job_without_csv_url(self, job_id: str) -> None:
        """Rule `statement-job.csv-url`: a COMPLETE job with includeCsvFormat but no CSV URL."""
        job = self._ensure_complete(job_id)
        if not job.include_csv:
            raise SandboxError(f"statement job {job_id} has no CSV format")
        self._registry.add_mutation(job_id, _drop("presignedCsvStatementUrl"), None)

    def url_while_pending(self, job_id: str) -> None:
        """Rule `statement-job.no-url-while-pending`: a PENDING or RUNNING job carries a presigned URL."""
        job = self._job(job_id)
        if job.terminal:
            raise SandboxError(f"statement job {job_id} is already {job.status}")

        def fn(body: dict[str, Any]) -> dict[str, Any]:
            if body.get("statementJobStatus") in ("PENDING", "RUNNING"):
                body["presignedJsonStatementUrl"] = (
                    "https://example-bucket.s3.amazonaws.com/early.json?X-Amz-Expires=3600&X-Amz-Signature=0"
                )
            return body

        self._registry.add_mutation(job_id, fn, None)

    def bill_total_mismatch(self, bill_id: str) -> None:
        """Rule `bill.total` (a warning): billTotal differs from the sum of the line items' subtotals."""
        self._bill(bill_id)
        self._registry.add_mutation(bill_id, lambda body: {**body, "billTotal": body["billTotal"] + 10.0}, None)

    def wrong_external_invoice_date(self, bill_id: str) -> None:
        """Rule `bill.external-invoice-date`: the date the other Organization setting would give. When the check
        knows the setting (--external-invoice-date, or the embedded sandbox) it is an error on a MONTHLY bill
        and a warning on a DAILY, WEEKLY or ANNUALLY one (AD_HOC and MIXED bills are skipped); otherwise a
        warning when the other bills of the run follow the setting, and invisible on a lone bill."""
        self._bill(bill_id)

        def fn(body: dict[str, Any]) -> dict[str, Any]:
            end = date.fromisoformat(body["endDate"])
            current = body["externalInvoiceDate"]
            body["externalInvoiceDate"] = (
                (end - timedelta(days=1)).isoformat() if current == end.isoformat() else end.isoformat()
            )
            return body

        self._registry.add_mutation(bill_id, fn, None)

    def invoice_number_without_prefix(self, bill_id: str) -> None:
        """No rule judges this (a sandbox-internal inconsistency): a number on a bill of an Organization without
        billPrefix. Whether an organization has a billPrefix is not in the bill, so no documented rule can tell
        this from a read; it exercises clients and the sandbox, not the conformance check."""
        bill = self._bill(bill_id)
        if self._state.orgs[bill.org_id].bill_prefix is not None:
            raise SandboxError("that bill's Organization has a billPrefix; pick a bill of one without")
        self._registry.add_mutation(bill_id, lambda body: {**body, "sequentialInvoiceNumber": "000042"}, None)

    def approved_without_approval(self, bill_id: str) -> None:
        """Rule `bill.approval-audit`: status APPROVED without dtApproved/approvedBy."""
        self._bill(bill_id)

        def fn(body: dict[str, Any]) -> dict[str, Any]:
            body["status"] = "APPROVED"
            body.pop("dtApproved", None)
            body.pop("approvedBy", None)
            return body

        self._registry.add_mutation(bill_id, fn, None)

    def locked_without_lock_fields(self, bill_id: str) -> None:
        """Rule `bill.lock-audit`: locked without dtLocked/lockedBy."""
        self._bill(bill_id)

        def fn(body: dict[str, Any]) -> dict[str, Any]:
            body["locked"] = True
            body.pop("dtLocked", None)
            body.pop("lockedBy", None)
            return body

        self._registry.add_mutation(bill_id, fn, None)

    def period_inconsistent(self, bill_id: str) -> None:
        """Rule `bill.period` (a warning): an endDate (and endDateTimeUTC) that does not match the billing
        frequency. externalInvoiceDate is left as it was, so `bill.external-invoice-date` fires too."""
        self._bill(bill_id)

        def fn(body: dict[str, Any]) -> dict[str, Any]:
            end = date.fromisoformat(body["startDate"]) + timedelta(days=10)
            body["endDate"] = end.isoformat()
            body["endDateTimeUTC"] = f"{end.isoformat()}T00:00:00Z"
            return body

        self._registry.add_mutation(bill_id, fn, None)

    # ---- helpers ------------------------------------------------------------------------------------------

    def _read_of(self, entity_id: str) -> dict[str, Any]:
        """The aim of a wire fault at an entity: the API's read of it (``GetBill``, ``GetStatementJob``), not the
        job's statement downloads, which are keyed by the same id but judged by other rules."""
        self._require(entity_id)
        operation: Operation = "GetBill" if entity_id in self._state.bills else "GetStatementJob"
        return {"operation": operation, "entity_id": entity_id}

    def _require(self, entity_id: str) -> None:
        if entity_id not in self._state.bills and entity_id not in self._state.jobs:
            raise SandboxError(f"unknown entity {entity_id!r}: no bill or statement job has that id", status=404)

    def _bill(self, bill_id: str) -> Bill:
        return self._state.bill(bill_id)

    def _job(self, job_id: str) -> StatementJob:
        return self._state.job(job_id)

    def _ensure_complete(self, job_id: str) -> StatementJob:
        job = self._state.job(job_id)
        if not job.terminal:
            self._state.finish_job(job_id, "COMPLETE")
        if job.status != "COMPLETE":
            raise SandboxError(f"statement job {job_id} ended {job.status}, not COMPLETE")
        return job


def _set_raw(field: str, text: str) -> Callable[[bytes], bytes]:
    """A body rewrite that sends the first value of ``"field":`` as the raw JSON text ``text``."""
    pattern = re.compile(rb'("' + re.escape(field.encode()) + rb'"\s*:\s*)(-?[0-9][0-9.eE+-]*|"(?:[^"\\]|\\.)*")')
    raw = text.encode()

    def fn(body: bytes) -> bytes:
        return pattern.sub(lambda m: m.group(1) + raw, body, count=1)

    return fn


def encode_member(name: str, value: Any) -> bytes:
    """``"name":value`` as JSON bytes."""
    return json.dumps(name).encode() + b":" + json.dumps(value).encode()


def _drop(key: str) -> Mutator:
    def fn(body: dict[str, Any]) -> dict[str, Any]:
        body.pop(key, None)
        return body

    return fn


def _later(stamp: str) -> str:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return iso_datetime(moment.timestamp() + 1)


__all__ = ["MAX_DELAY", "FaultPresets", "FaultRegistry", "Mutator", "Operation", "Rewriter", "TransportFault"]
