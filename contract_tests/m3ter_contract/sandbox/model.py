"""The sandbox's entities. Bills and statement jobs keep their wire form (a JSON dict with m3ter's field
names) and change only through :meth:`Entity.touch`, which moves version, dtLastModified and lastModifiedBy
together: the documented versioning rule holds by construction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from .clock import iso_datetime

ExternalInvoiceDateSetting = Literal["FIRST_DAY_OF_NEXT_PERIOD", "LAST_DAY_OF_ARREARS"]

BILL_STATUSES: Final = ("PENDING", "APPROVED")
BILLING_FREQUENCIES: Final = ("DAILY", "WEEKLY", "MONTHLY", "ANNUALLY", "AD_HOC", "MIXED")
LINE_ITEM_TYPES: Final = (
    "STANDING_CHARGE",
    "USAGE",
    "COUNTER_RUNNING_TOTAL_CHARGE",
    "COUNTER_ADJUSTMENT_DEBIT",
    "COUNTER_ADJUSTMENT_CREDIT",
    "USAGE_CREDIT",
    "MINIMUM_SPEND",
    "MINIMUM_SPEND_REFUND",
    "CREDIT_DEDUCTION",
    "MANUAL_ADJUSTMENT",
    "CREDIT_MEMO",
    "DEBIT_MEMO",
    "COMMITMENT_CONSUMED",
    "COMMITMENT_FEE",
    "OVERAGE_SURCHARGE",
    "OVERAGE_USAGE",
    "BALANCE_CONSUMED",
    "BALANCE_FEE",
    "AD_HOC",
)
JOB_STATUSES: Final = ("PENDING", "RUNNING", "COMPLETE", "CANCELLED", "FAILED")
TERMINAL_JOB_STATUSES: Final = frozenset({"COMPLETE", "CANCELLED", "FAILED"})
STATEMENT_STATUSES: Final = ("LATEST", "STALE", "INVALIDATED")
JobOutcome = Literal["COMPLETE", "FAILED", "CANCELLED"]

# A value in Entity.touch changes that deletes the field: nothing in the spec is nullable.
ABSENT: Final = object()


class SandboxError(Exception):
    """An operation the documented lifecycle does not allow (approving twice, locking a PENDING bill, changing a
    locked one, moving a terminal job, ...). ``status`` is the HTTP status m3ter answers such a request with
    (400 for a refused change, 404 for an unknown id) and :attr:`body` its error body."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status

    @property
    def body(self) -> dict[str, str]:
        """The error body m3ter sends: ``{"message": ...}``."""
        return {"message": str(self)}


@dataclass(eq=False, slots=True)
class Organization:
    id: str
    external_invoice_date: ExternalInvoiceDateSetting = "FIRST_DAY_OF_NEXT_PERIOD"
    bill_prefix: str | None = None
    currency: str = "USD"
    next_invoice_number: int = 1

    def take_invoice_number(self) -> str | None:
        """The next sequentialInvoiceNumber, or None when the org has no billPrefix (none is returned then)."""
        if self.bill_prefix is None:
            return None
        number = f"{self.bill_prefix}{self.next_invoice_number:06d}"
        self.next_invoice_number += 1
        return number


@dataclass(frozen=True, slots=True)
class ServiceUser:
    id: str
    org_id: str
    api_key: str
    api_secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Token:
    value: str = field(repr=False)
    org_id: str
    user_id: str
    expires_at: float


class Entity:
    """A versioned entity kept in wire form. ``encoded`` caches serialised bodies per base URL; any change
    (even one that breaks the rules on purpose) clears it."""

    __slots__ = ("encoded", "id", "modified_at", "org_id", "wire")

    def __init__(self, wire: dict[str, Any], org_id: str, created_at: float, created_by: str) -> None:
        self.id: str = wire["id"]
        self.org_id = org_id
        self.wire = wire
        self.modified_at = created_at
        stamp = iso_datetime(created_at)
        wire["version"] = 1
        wire["dtCreated"] = stamp
        wire["dtLastModified"] = stamp
        wire["createdBy"] = created_by
        wire["lastModifiedBy"] = created_by
        self.encoded: dict[str, bytes] = {}

    @property
    def version(self) -> int:
        version: int = self.wire["version"]
        return version

    def touch(self, at: float, by: str, changes: Mapping[str, Any], *, bump: bool = True) -> None:
        """Apply ``changes`` (``ABSENT`` deletes a field). With ``bump`` (always, unless a fault asks
        otherwise) the version goes up by exactly 1 and dtLastModified/lastModifiedBy move; dtLastModified
        moves forward by at least a millisecond even when the clock has not."""
        for key, value in changes.items():
            if value is ABSENT:
                self.wire.pop(key, None)
            else:
                self.wire[key] = value
        if bump:
            at = max(at, self.modified_at + 0.001)
            self.modified_at = at
            self.wire["version"] = self.version + 1
            self.wire["dtLastModified"] = iso_datetime(at)
            self.wire["lastModifiedBy"] = by
        self.encoded.clear()


class Bill(Entity):
    __slots__ = ()

    @property
    def status(self) -> str:
        status: str = self.wire["status"]
        return status

    @property
    def locked(self) -> bool:
        return bool(self.wire.get("locked", False))


class StatementJob(Entity):
    """A statement job. Its lifecycle timetable (``pending_until``, ``running_until``, ``outcome``) lets it
    advance with the clock; explicit calls on the state move it too. The presigned URLs are stored as
    paths with their query (``json_url``/``csv_url``) and prefixed with the base URL they are served under."""

    __slots__ = (
        "bill_id",
        "csv_url",
        "include_csv",
        "json_url",
        "outcome",
        "pending_until",
        "running_until",
        "snapshot",
        "statement_cache",
        "url_expires_at",
    )

    def __init__(
        self,
        wire: dict[str, Any],
        org_id: str,
        created_at: float,
        created_by: str,
        *,
        pending_until: float | None,
        running_until: float | None,
        outcome: JobOutcome,
    ) -> None:
        super().__init__(wire, org_id, created_at, created_by)
        self.bill_id: str = wire["billId"]
        self.include_csv = bool(wire.get("includeCsvFormat", False))
        self.pending_until = pending_until
        self.running_until = running_until
        self.outcome: JobOutcome = outcome
        self.json_url: str | None = None
        self.csv_url: str | None = None
        self.url_expires_at: float | None = None
        # The bill as it was when the statement was generated (shallow copy: lists are replaced, never edited).
        self.snapshot: dict[str, Any] | None = None
        self.statement_cache: dict[str, bytes] = {}

    @property
    def status(self) -> str:
        status: str = self.wire["statementJobStatus"]
        return status

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_JOB_STATUSES


__all__ = [
    "ABSENT",
    "BILLING_FREQUENCIES",
    "BILL_STATUSES",
    "JOB_STATUSES",
    "LINE_ITEM_TYPES",
    "STATEMENT_STATUSES",
    "TERMINAL_JOB_STATUSES",
    "Bill",
    "Entity",
    "ExternalInvoiceDateSetting",
    "JobOutcome",
    "Organization",
    "SandboxError",
    "ServiceUser",
    "StatementJob",
    "Token",
]
