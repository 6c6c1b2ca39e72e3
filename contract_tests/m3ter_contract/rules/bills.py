"""Bills: the external invoice date and the approval and lock audit fields."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from ._values import date_at, datetime_at, present, str_at
from .model import Check, EntityKind, Finding, Observation, Rule, Severity

BILL = frozenset({EntityKind.BILL})

EXTERNAL_INVOICE_DATE = Rule(
    "bill.external-invoice-date",
    Severity.ERROR,
    "if the retrieved Bill was on a monthly billing frequency and the billing period for the Bill is September "
    "2023 and the External invoice date is set at FIRST_DAY_OF_NEXT_PERIOD, then the externalInvoiceDate will "
    "be 2023-10-01",
    "externalInvoiceDate is the first day after the billing period (FIRST_DAY_OF_NEXT_PERIOD, the default: the "
    "exclusive endDate) or its last day (LAST_DAY_OF_ARREARS: endDate - 1 day).",
    BILL,
)
APPROVAL_AUDIT = Rule(
    "bill.approval-audit",
    Severity.ERROR,
    "dtApproved/approvedBy: when and by whom the bill was approved.",
    "An APPROVED bill carries dtApproved and approvedBy; a PENDING one carries neither; dtApproved is not "
    "before dtCreated.",
    BILL,
)
LOCK_AUDIT = Rule(
    "bill.lock-audit",
    Severity.ERROR,
    "dtLocked/lockedBy: when and by whom the bill was locked.",
    "A locked bill carries dtLocked and lockedBy; an unlocked one carries neither; dtLocked is not before dtCreated.",
    BILL,
)


def check_external_invoice_date(obs: Observation, spec: object) -> Iterator[Finding]:
    invoice, end = date_at(obs.obj, "externalInvoiceDate"), date_at(obs.obj, "endDate")
    if invoice is None or end is None:
        return
    first_of_next, last_of_arrears = end, end - dt.timedelta(days=1)
    if invoice not in (first_of_next, last_of_arrears):
        start = obs.obj.get("startDate", "?")
        yield EXTERNAL_INVOICE_DATE.finding(
            obs,
            "$.externalInvoiceDate",
            f"{invoice} is neither {first_of_next} (FIRST_DAY_OF_NEXT_PERIOD) nor {last_of_arrears} "
            f"(LAST_DAY_OF_ARREARS) for the billing period {start} to {end} (exclusive)",
        )


def _audit(obs: Observation, rule: Rule, flag: str, is_set: bool | None, at: str, by: str) -> Iterator[Finding]:
    body = obs.obj
    if is_set is True:
        for key in (at, by):
            if not present(body, key):
                yield rule.finding(obs, f"$.{key}", f"{flag} but {key} is missing")
    elif is_set is False:
        for key in (at, by):
            if present(body, key):
                yield rule.finding(obs, f"$.{key}", f"not {flag} but {key} is set")
    created, when = datetime_at(body, "dtCreated"), datetime_at(body, at)
    if created is not None and when is not None and when < created:
        yield rule.finding(obs, f"$.{at}", f"{at} {body[at]} precedes dtCreated {body['dtCreated']}")


def check_audit(obs: Observation, spec: object) -> Iterator[Finding]:
    status = str_at(obs.obj, "status")
    approved = {"APPROVED": True, "PENDING": False}.get(status or "")
    yield from _audit(obs, APPROVAL_AUDIT, "approved", approved, "dtApproved", "approvedBy")
    locked = obs.obj.get("locked")
    yield from _audit(obs, LOCK_AUDIT, "locked", locked if isinstance(locked, bool) else None, "dtLocked", "lockedBy")


CHECKS = (
    Check((EXTERNAL_INVOICE_DATE,), snapshot=check_external_invoice_date, name="external-invoice-date"),
    Check((APPROVAL_AUDIT, LOCK_AUDIT), snapshot=check_audit, name="audit"),
)

__all__ = ["CHECKS"]
