"""The simulator core, independent of any transport: Organizations, service users, tokens, bills and
statement jobs, and every lifecycle change the documented rules talk about. All changes go through
:meth:`Entity.touch`, so versions rise by exactly one per change."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote

import msgspec

from .clock import Clock, iso_datetime
from .data import USAGE_LINE_ITEM_TYPES, recalculated_items
from .entities import (
    ABSENT,
    BILL_STATUSES,
    Bill,
    JobOutcome,
    Organization,
    SandboxError,
    ServiceUser,
    StatementJob,
    Token,
)

STATEMENTS_PREFIX = "/_statements/"
_ENCODER = msgspec.json.Encoder()
_CSV_COLUMNS = (
    "lineItemId",
    "lineItemType",
    "description",
    "quantity",
    "unit",
    "subtotal",
    "currency",
    "convertedSubtotal",
    "meterId",
    "servicePeriodStartDate",
    "servicePeriodEndDate",
)


class SandboxState:
    """Everything the sandbox knows. Thread-safe: every public method holds ``lock``."""

    def __init__(
        self,
        clock: Clock,
        *,
        url_lifetime: float = 3600.0,
        token_lifetime: int = 18_000,
        refresh_expired_urls: bool = True,
        max_tokens_per_user: int = 100,
    ) -> None:
        if max_tokens_per_user < 1:
            raise ValueError("max_tokens_per_user must be at least 1")
        self.clock = clock
        self.url_lifetime = url_lifetime
        self.token_lifetime = token_lifetime
        self.max_tokens_per_user = max_tokens_per_user
        self.refresh_expired_urls = refresh_expired_urls
        self.lock = threading.RLock()
        self.orgs: dict[str, Organization] = {}
        self.users: dict[str, ServiceUser] = {}  # by api key
        self.tokens: dict[str, Token] = {}
        # Live tokens per service user, oldest first: expired ones are evicted and at most
        # max_tokens_per_user are kept, so memory stays bounded however many tokens are asked for.
        self._user_tokens: dict[str, OrderedDict[str, Token]] = {}
        self.bills: dict[str, Bill] = {}
        self.jobs: dict[str, StatementJob] = {}
        self._signing_key = secrets.token_bytes(32)
        self._access_key_id = "ASIA" + secrets.token_hex(8).upper()

    def forget_entities(self) -> None:
        """Drop every bill and statement job (before seeding again); Organizations, users and tokens stay."""
        with self.lock:
            self.bills.clear()
            self.jobs.clear()

    # ---- Organizations, credentials, tokens -------------------------------------------------------------

    def add_org(self, org: Organization) -> Organization:
        with self.lock:
            self.orgs[org.id] = org
            return org

    def add_service_user(self, user: ServiceUser) -> ServiceUser:
        with self.lock:
            if user.org_id not in self.orgs:
                raise SandboxError(f"unknown organization {user.org_id!r}")
            self.users[user.api_key] = user
            return user

    def service_user(self, api_key: str, api_secret: str) -> ServiceUser | None:
        """The service user these credentials belong to, None when they are not valid (nothing is issued)."""
        with self.lock:
            user = self.users.get(api_key)
            if user is None or not hmac.compare_digest(user.api_secret.encode(), api_secret.encode()):
                return None
            return user

    def issue_token(self, api_key: str, api_secret: str) -> Token | None:
        """A new bearer token for valid credentials, None otherwise. The user's expired tokens are forgotten,
        and so is the oldest live one when the user already holds ``max_tokens_per_user`` (it stops working)."""
        with self.lock:
            user = self.users.get(api_key)
            if user is None or not hmac.compare_digest(user.api_secret.encode(), api_secret.encode()):
                return None
            now = self.clock.now()
            value = _jwt_like(user, now, self.token_lifetime, self._signing_key)
            token = Token(value, user.org_id, user.id, now + self.token_lifetime)
            live = self._user_tokens.setdefault(user.id, OrderedDict())
            self._evict_expired(live, now)
            while len(live) >= self.max_tokens_per_user:
                del self.tokens[live.popitem(last=False)[0]]
            live[value] = token
            self.tokens[value] = token
            return token

    def _evict_expired(self, live: OrderedDict[str, Token], now: float) -> None:
        # Oldest first, so expired tokens lead (a token outliving an older one after token_lifetime shrank
        # waits for the cap; valid_token refuses it meanwhile).
        while live:
            value, token = next(iter(live.items()))
            if now < token.expires_at:
                return
            del live[value]
            del self.tokens[value]

    def evict_expired_tokens(self) -> int:
        """Forget every expired token (issuing does it for the user asking); how many were forgotten."""
        with self.lock:
            before = len(self.tokens)
            now = self.clock.now()
            for live in self._user_tokens.values():
                self._evict_expired(live, now)
            return before - len(self.tokens)

    def valid_token(self, value: str) -> Token | None:
        """The token if it is live (issued, not expired, not evicted)."""
        token = self.tokens.get(value)
        if token is None or self.clock.now() >= token.expires_at:
            return None
        return token

    def expired_token(self, value: str) -> bool:
        """Whether ``value`` is a token this sandbox signed whose lifetime is over (evicted or not): m3ter
        answers it "The incoming token has expired", not as an unknown token."""
        header, _, rest = value.partition(".")
        payload, _, signature = rest.partition(".")
        expected = _sign(f"{header}.{payload}", self._signing_key)
        if not signature or not hmac.compare_digest(signature.encode(), expected.encode()):
            return False
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            expires = float(claims["exp"])
        except (ValueError, TypeError, KeyError):
            return False
        return self.clock.now() >= expires

    # ---- Bills --------------------------------------------------------------------------------------------

    def add_bill(self, org_id: str, wire: dict[str, Any], *, created_at: float, created_by: str) -> Bill:
        with self.lock:
            wire["createdDate"] = iso_datetime(created_at)
            wire["lastCalculatedDate"] = iso_datetime(created_at)
            bill = Bill(wire, org_id, created_at, created_by)
            self.bills[bill.id] = bill
            return bill

    def bill(self, bill_id: str) -> Bill:
        bill = self.bills.get(bill_id)
        if bill is None:
            raise SandboxError(f"unknown bill {bill_id!r}", status=404)
        return bill

    def changeable_bill(self, bill_id: str) -> Bill:
        """The bill, unless it is locked: "Once a Bill is locked, no further changes can be made to it"."""
        bill = self.bill(bill_id)
        if bill.locked:
            raise SandboxError(f"Bill {bill_id} is locked: no further changes can be made to it")
        return bill

    def approve_bill(self, bill_id: str, by: str, at: float | None = None) -> Bill:
        """Approve Bills: a PENDING bill becomes APPROVED (dtApproved and approvedBy set)."""
        with self.lock:
            bill = self.changeable_bill(bill_id)
            if bill.status == "APPROVED":
                raise SandboxError(f"Bill {bill_id} is already APPROVED; only PENDING bills can be approved")
            return self._set_status(bill, "APPROVED", by, self._at(at))

    def update_bill_status(self, bill_id: str, status: str, by: str, at: float | None = None) -> Bill:
        """Update Bill Status: PENDING -> APPROVED (as approving) or APPROVED -> PENDING (dtApproved and
        approvedBy are kept: m3ter does not say they are cleared). The same status again changes nothing."""
        with self.lock:
            if status not in BILL_STATUSES:
                raise SandboxError(f"status must be one of {', '.join(BILL_STATUSES)}, not {status!r}")
            bill = self.changeable_bill(bill_id)
            if bill.status == status:
                return bill
            return self._set_status(bill, status, by, self._at(at))

    def _set_status(self, bill: Bill, status: str, by: str, when: float) -> Bill:
        changes: dict[str, Any] = {"status": status}
        if status == "APPROVED":
            changes.update(dtApproved=iso_datetime(when), approvedBy=by)
        bill.touch(when, by, changes)
        return bill

    def lock_bill(self, bill_id: str, by: str, at: float | None = None) -> Bill:
        """Lock Bill: only an APPROVED bill ("You cannot lock a Bill whose current status is `PENDING`")."""
        with self.lock:
            bill = self.changeable_bill(bill_id)
            if bill.status == "PENDING":
                raise SandboxError(
                    f"You cannot lock Bill {bill_id}: its current status is PENDING. Approve it before locking it"
                )
            when = self._at(at)
            bill.touch(when, by, {"locked": True, "dtLocked": iso_datetime(when), "lockedBy": by})
            return bill

    def recalculate_bill(self, bill_id: str, by: str, at: float | None = None) -> Bill:
        """New line item amounts and total; statements already generated for the bill go stale."""
        with self.lock:
            bill = self.changeable_bill(bill_id)
            if bill.status == "APPROVED":
                raise SandboxError(f"Bill {bill_id} is APPROVED; it cannot be recalculated")
            when = self._at(at)
            items, total = recalculated_items(bill.wire, f"{bill.id}:{bill.version}")
            changes: dict[str, Any] = {"lineItems": items, "billTotal": total, "lastCalculatedDate": iso_datetime(when)}
            had_statement = bill.wire.get("jsonStatementGenerated") or bill.wire.get("csvStatementGenerated")
            if had_statement:
                changes["statementStale"] = True
            bill.touch(when, by, changes)
            if had_statement:
                self._mark_statements(bill.id, "STALE", when, by)
            return bill

    def invalidate_statements(self, bill_id: str, by: str, at: float | None = None) -> None:
        """Mark the bill's generated statements INVALIDATED (and the bill's statement stale); not for a locked bill."""
        with self.lock:
            bill = self.changeable_bill(bill_id)
            when = self._at(at)
            if not bill.wire.get("statementStale"):
                bill.touch(when, by, {"statementStale": True})
            self._mark_statements(bill.id, "INVALIDATED", when, by)

    def _mark_statements(self, bill_id: str, status: str, at: float, by: str) -> None:
        for job in self.jobs.values():
            if job.bill_id != bill_id or job.status != "COMPLETE":
                continue
            changes = {"jsonStatementStatus": status}
            if job.include_csv:
                changes["csvStatementStatus"] = status
            if any(job.wire.get(key) != value for key, value in changes.items()):
                job.touch(at, by, changes)

    # ---- Statement jobs -----------------------------------------------------------------------------------

    def create_statement_job(
        self,
        job_id: str,
        bill_id: str,
        by: str,
        *,
        include_csv: bool = False,
        meter_ids: Sequence[str] | None = None,
        pending_for: float | None = 2.0,
        running_for: float | None = 5.0,
        outcome: JobOutcome = "COMPLETE",
        at: float | None = None,
    ) -> StatementJob:
        """A PENDING job for ``bill_id``. It starts ``pending_for`` seconds later and ends as ``outcome``
        ``running_for`` seconds after that; None means it waits for an explicit call."""
        with self.lock:
            bill = self.bill(bill_id)
            if meter_ids is not None and len(meter_ids) > 10:
                raise SandboxError("filters.meterIds holds at most 10 meter ids")
            when = self._at(at)
            wire: dict[str, Any] = {
                "id": job_id,
                "orgId": bill.org_id,
                "billId": bill.id,
                "statementJobStatus": "PENDING",
                "includeCsvFormat": include_csv,
            }
            if meter_ids:
                wire["filters"] = {"meterIds": list(meter_ids)}
            pending_until = None if pending_for is None else when + pending_for
            running_until = None if pending_until is None or running_for is None else pending_until + running_for
            job = StatementJob(
                wire, bill.org_id, when, by, pending_until=pending_until, running_until=running_until, outcome=outcome
            )
            self.jobs[job.id] = job
            self.sync_job(job)
            return job

    def job(self, job_id: str) -> StatementJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise SandboxError(f"unknown statement job {job_id!r}", status=404)
        return job

    def sync_job(self, job: StatementJob) -> None:
        """Move the job along its timetable up to now, each change stamped with the time it happened; renew
        expired URLs of a COMPLETE job (a change: the version goes up)."""
        with self.lock:
            now = self.clock.now()
            by = job.wire["createdBy"]
            if job.status == "PENDING" and job.pending_until is not None and now >= job.pending_until:
                self._start(job, job.pending_until, by)
            if job.status == "RUNNING" and job.running_until is not None and now >= job.running_until:
                self._finish(job, job.outcome, job.running_until, by)
            if (
                self.refresh_expired_urls
                and job.status == "COMPLETE"
                and job.url_expires_at is not None
                and now >= job.url_expires_at
            ):
                self._issue_urls(job, now)
                job.touch(now, by, {})

    def start_job(self, job_id: str, at: float | None = None) -> StatementJob:
        with self.lock:
            job = self.job(job_id)
            if job.status != "PENDING":
                raise SandboxError(f"statement job {job_id} is {job.status}, not PENDING")
            self._start(job, self._at(at), job.wire["createdBy"])
            return job

    def finish_job(self, job_id: str, outcome: JobOutcome, at: float | None = None) -> StatementJob:
        """End the job as ``outcome``: COMPLETE needs it RUNNING (a PENDING job is started first);
        FAILED and CANCELLED may end a PENDING or RUNNING job. Terminal jobs never change."""
        with self.lock:
            job = self.job(job_id)
            if job.terminal:
                raise SandboxError(f"statement job {job_id} is {job.status}; terminal jobs never change")
            when = self._at(at)
            by = job.wire["createdBy"]
            if outcome == "COMPLETE" and job.status == "PENDING":
                self._start(job, when, by)
            self._finish(job, outcome, when, by)
            return job

    def advance_job(self, job_id: str, at: float | None = None) -> StatementJob:
        """One step along the lifecycle: PENDING → RUNNING, RUNNING → the job's planned outcome."""
        with self.lock:
            job = self.job(job_id)
            if job.status == "PENDING":
                self._start(job, self._at(at), job.wire["createdBy"])
            elif job.status == "RUNNING":
                self._finish(job, job.outcome, self._at(at), job.wire["createdBy"])
            else:
                raise SandboxError(f"statement job {job_id} is {job.status}; terminal jobs never change")
            return job

    def _start(self, job: StatementJob, at: float, by: str) -> None:
        job.pending_until = None
        if job.running_until is not None and job.running_until < at:
            job.running_until = at
        job.touch(at, by, {"statementJobStatus": "RUNNING"})

    def _finish(self, job: StatementJob, outcome: JobOutcome, at: float, by: str) -> None:
        job.running_until = None
        job.pending_until = None
        if outcome != "COMPLETE":
            job.touch(at, by, {"statementJobStatus": outcome})
            return
        bill = self.bill(job.bill_id)
        job.snapshot = dict(bill.wire)
        job.statement_cache.clear()
        self._issue_urls(job, at)
        changes: dict[str, Any] = {"statementJobStatus": "COMPLETE", "jsonStatementStatus": "LATEST"}
        if job.include_csv:
            changes["csvStatementStatus"] = "LATEST"
        job.touch(at, by, changes)
        bill_changes: dict[str, Any] = {"jsonStatementGenerated": True, "statementStale": False}
        if job.include_csv:
            bill_changes["csvStatementGenerated"] = True
        # A locked bill never changes, not even its statement flags (the statement is still generated).
        if not bill.locked and any(bill.wire.get(key) != value for key, value in bill_changes.items()):
            bill.touch(at, by, bill_changes)

    # ---- Presigned statement URLs -------------------------------------------------------------------------

    def _issue_urls(self, job: StatementJob, at: float) -> None:
        base = f"{STATEMENTS_PREFIX}{job.org_id}/{job.id}/{job.bill_id}"
        job.json_url = self._presign(base + ".json", at)
        job.csv_url = self._presign(base + ".csv", at) if job.include_csv else None
        job.url_expires_at = int(at) + self.url_lifetime

    def presign(self, path: str, at: float) -> str:
        """``path`` signed as if at ``at`` (the URL's query holds X-Amz-Date and X-Amz-Expires)."""
        return self._presign(path, at)

    def _presign(self, path: str, at: float) -> str:
        stamp = datetime.fromtimestamp(int(at), UTC).strftime("%Y%m%dT%H%M%SZ")
        expires = int(self.url_lifetime)
        credential = f"{self._access_key_id}/{stamp[:8]}/us-east-1/s3/aws4_request"
        signature = self._signature(path, stamp, expires)
        return (
            f"{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={quote(credential, safe='')}"
            f"&X-Amz-Date={stamp}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host&X-Amz-Signature={signature}"
        )

    def _signature(self, path: str, stamp: str, expires: int) -> str:
        message = f"{path}\n{stamp}\n{expires}".encode()
        return hmac.new(self._signing_key, message, hashlib.sha256).hexdigest()

    def check_presigned(self, path: str, query: str) -> tuple[int, str, str]:
        """``(status, S3 error code, message)`` for a presigned GET; status 200 when it may be served."""
        params = parse_qs(query)
        try:
            stamp = params["X-Amz-Date"][0]
            expires = int(params["X-Amz-Expires"][0])
            signature = params["X-Amz-Signature"][0]
        except (KeyError, IndexError, ValueError):
            return (
                403,
                "AccessDenied",
                "Query-string authentication requires the Signature, Expires and Date parameters",
            )
        if not hmac.compare_digest(signature, self._signature(path, stamp, expires)):
            return (
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        issued = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
        if self.clock.now() >= issued + expires:
            return 403, "AccessDenied", "Request has expired"
        return 200, "", ""

    def statement_document(self, path: str) -> tuple[bytes, str] | None:
        """The JSON or CSV statement a presigned path names, with its content type; None if there is none."""
        rest = path[len(STATEMENTS_PREFIX) :]
        parts = rest.split("/")
        if len(parts) != 3:
            return None
        org_id, job_id, name = parts
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None or job.org_id != org_id or job.snapshot is None:
                return None
            fmt = "json" if name == f"{job.bill_id}.json" else "csv" if name == f"{job.bill_id}.csv" else None
            if fmt is None or (fmt == "csv" and not job.include_csv):
                return None
            cached = job.statement_cache.get(fmt)
            if cached is None:
                cached = _render_statement(job, job.snapshot, fmt)
                job.statement_cache[fmt] = cached
            return cached, "application/json" if fmt == "json" else "text/csv; charset=utf-8"

    # ---- helpers ------------------------------------------------------------------------------------------

    def _at(self, at: float | None) -> float:
        return self.clock.now() if at is None else at

    def org_bills(self, org_id: str) -> Iterable[Bill]:
        return (bill for bill in self.bills.values() if bill.org_id == org_id)


def statement_items(job: StatementJob, bill: dict[str, Any]) -> list[dict[str, Any]]:
    """The bill's line items a statement includes: with a meterIds filter ("Include usage line items whose
    meterId matches one of these values"), the usage items of those meters and every other item."""
    items: list[dict[str, Any]] = bill.get("lineItems", [])
    meters = job.wire.get("filters", {}).get("meterIds")
    if not meters:
        return items
    wanted = set(meters)
    return [
        item for item in items if item["lineItemType"] not in USAGE_LINE_ITEM_TYPES or item.get("meterId") in wanted
    ]


def _render_statement(job: StatementJob, bill: dict[str, Any], fmt: str) -> bytes:
    items = statement_items(job, bill)
    if fmt == "json":
        document: dict[str, Any] = {
            "statementJobId": job.id,
            "orgId": job.org_id,
            "billId": bill["id"],
            "billVersion": bill["version"],
            "accountId": bill.get("accountId"),
            "accountCode": bill.get("accountCode"),
            "currency": bill.get("currency"),
            "billingFrequency": bill.get("billingFrequency"),
            "startDate": bill.get("startDate"),
            "endDate": bill.get("endDate"),
            "billDate": bill.get("billDate"),
            "dueDate": bill.get("dueDate"),
            "externalInvoiceDate": bill.get("externalInvoiceDate"),
            "billTotal": bill.get("billTotal"),
            "statementTotal": round(sum(item["subtotal"] for item in items), 2),
            "lineItems": items,
        }
        if "sequentialInvoiceNumber" in bill:
            document["sequentialInvoiceNumber"] = bill["sequentialInvoiceNumber"]
        return _ENCODER.encode({key: value for key, value in document.items() if value is not None})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_CSV_COLUMNS)
    for item in items:
        writer.writerow(
            [
                item.get("id", ""),
                item["lineItemType"],
                item["description"],
                item["quantity"],
                item["unit"],
                f"{item['subtotal']:.2f}",
                item["currency"],
                f"{item['convertedSubtotal']:.2f}",
                item.get("meterId", ""),
                item.get("servicePeriodStartDate", ""),
                item.get("servicePeriodEndDate", ""),
            ]
        )
    return out.getvalue().encode()


def _jwt_like(user: ServiceUser, now: float, lifetime: int, key: bytes) -> str:
    """A bearer token shaped like a JWT (header.payload.signature), unique per issue (``jti``) and signed with
    the sandbox's key, so an expired token is recognised after it has been forgotten."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()

    header = part({"alg": "HS256", "typ": "JWT"})
    claims = {
        "sub": user.id,
        "m3ter:org": user.org_id,
        "iat": int(now),
        "exp": now + lifetime,
        "jti": secrets.token_urlsafe(16),
    }
    signed = f"{header}.{part(claims)}"
    return f"{signed}.{_sign(signed, key)}"


def _sign(data: str, key: bytes) -> str:
    digest = hmac.new(key, data.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


__all__ = ["ABSENT", "STATEMENTS_PREFIX", "SandboxState", "statement_items"]
