"""Bills: the external invoice date, the total, the billing period and the approval and lock audit fields."""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ._values import date_at, datetime_at, present, str_at
from .model import EXTERNAL_INVOICE_DATE_SETTINGS, Check, Context, EntityKind, Finding, Observation, Rule, Severity

BILL = frozenset({EntityKind.BILL})

_EXAMPLE = (
    "if the retrieved Bill was on a monthly billing frequency and the billing period for the Bill is September "
    "2023 and the External invoice date is set at FIRST_DAY_OF_NEXT_PERIOD, then the externalInvoiceDate will "
    "be 2023-10-01"
)
EXTERNAL_INVOICE_DATE = Rule(
    "bill.external-invoice-date",
    Severity.ERROR,
    _EXAMPLE,
    "externalInvoiceDate follows the organization's setting: the first day after the billing period "
    "(FIRST_DAY_OF_NEXT_PERIOD, the default: the exclusive endDate) or its last day (LAST_DAY_OF_ARREARS: "
    "endDate - 1 day). The setting comes from --external-invoice-date (the embedded sandbox knows its own); "
    "without it, a bill that follows another setting than most bills of the organization in the run is a "
    "warning. An error for MONTHLY bills (the documented example), a warning for DAILY, WEEKLY and ANNUALLY "
    "ones; AD_HOC and MIXED bills have no documented period and are skipped.",
    BILL,
)
BILL_TOTAL = Rule(
    "bill.total",
    Severity.WARNING,
    "billTotal: The sum total for the Bill.",
    "billTotal equals the sum of the line items' subtotals (within half a cent per line item). A warning: "
    "bill-level credits, taxes or currency conversions may legitimately make them differ.",
    BILL,
)
BILL_PERIOD = Rule(
    "bill.period",
    Severity.WARNING,
    "BillingFrequency: Daily. Starting at midnight each day, covering a twenty-four hour period following. / "
    "Weekly. Starting at midnight on a Monday morning covering the seven-day period following. / Monthly. "
    "Starting at midnight on the morning of the first day of each month covering the entire calendar month "
    "following. / Annually. Starting at midnight on the morning of the first day of each year covering the "
    "entire calendar year following.",
    "startDate and the exclusive endDate span billFrequencyInterval (default 1) whole periods of the billing "
    "frequency (DAILY, WEEKLY from a Monday, MONTHLY from the 1st, ANNUALLY from January 1st). A warning: an "
    "account's first or last bill, or a custom bill date, may cover a part period; AD_HOC and MIXED are skipped.",
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


_FIRST, _LAST = EXTERNAL_INVOICE_DATE_SETTINGS
_STRICT_FREQUENCY = "MONTHLY"
_LOOSE_FREQUENCIES = frozenset({"DAILY", "WEEKLY", "ANNUALLY"})


def _invoice_severity(body: Mapping[str, Any]) -> Severity | None:
    """ERROR for MONTHLY (the documented example), WARNING for the other fixed periods (and an absent
    frequency), None for AD_HOC, MIXED and unknown frequencies (no documented period)."""
    frequency = body.get("billingFrequency")
    if frequency == _STRICT_FREQUENCY:
        return Severity.ERROR
    if frequency is None or frequency in _LOOSE_FREQUENCIES:
        return Severity.WARNING
    return None


def _followed_setting(body: Mapping[str, Any]) -> tuple[str | None, dt.date, dt.date] | None:
    """(the setting the bill's externalInvoiceDate follows or None, endDate, endDate - 1) or None if unjudgeable."""
    invoice, end = date_at(body, "externalInvoiceDate"), date_at(body, "endDate")
    if invoice is None or end is None or end == dt.date.min:  # no day before 0001-01-01
        return None
    last = end - dt.timedelta(days=1)
    return (_FIRST if invoice == end else _LAST if invoice == last else None), end, last


def check_external_invoice_date(observations: Sequence[Observation], context: Context) -> Iterator[Finding]:
    bills = [obs for obs in observations if obs.kind is EntityKind.BILL and isinstance(obs.body, dict)]
    inferred: dict[str, str] = {}
    if context.external_invoice_date is None:
        latest: dict[tuple[str, str], str] = {}  # (org, bill) -> the setting its last read follows
        for obs in bills:
            followed = _followed_setting(obs.obj)
            if followed is not None and followed[0] is not None and _invoice_severity(obs.obj) is not None:
                latest[(obs.org_id, obs.entity_id)] = followed[0]
        for org in {org for org, _ in latest}:
            votes = Counter(setting for (o, _), setting in latest.items() if o == org)
            ranked = [*votes.most_common(), ("", 0)]
            if ranked[0][1] > ranked[1][1]:
                inferred[org] = ranked[0][0]
    for obs in bills:
        severity, followed = _invoice_severity(obs.obj), _followed_setting(obs.obj)
        if severity is None or followed is None:
            continue
        setting, end, last = followed
        invoice = obs.obj["externalInvoiceDate"]
        expected = {_FIRST: end, _LAST: last}
        if setting is None:
            start = obs.obj.get("startDate", "?")
            yield EXTERNAL_INVOICE_DATE.finding(
                obs,
                "$.externalInvoiceDate",
                f"{invoice} is neither {end} ({_FIRST}) nor {last} ({_LAST}) for the billing period {start} to "
                f"{end} (exclusive)",
                severity=severity,
            )
        elif context.external_invoice_date is not None and setting != context.external_invoice_date:
            known = context.external_invoice_date
            yield EXTERNAL_INVOICE_DATE.finding(
                obs,
                "$.externalInvoiceDate",
                f"{invoice} follows {setting}, but the organization's setting is {known} "
                f"(--external-invoice-date): expected {expected[known]}",
                severity=severity,
            )
        elif obs.org_id in inferred and setting != inferred[obs.org_id]:
            majority = inferred[obs.org_id]
            yield EXTERNAL_INVOICE_DATE.finding(
                obs,
                "$.externalInvoiceDate",
                f"{invoice} follows {setting}, but most bills of this organization in the run follow {majority} "
                f"(expected {expected[majority]}); the setting is inferred, pass --external-invoice-date to be sure",
                severity=Severity.WARNING,
            )


def check_total(obs: Observation, spec: object) -> Iterator[Finding]:
    total, items = obs.obj.get("billTotal"), obs.obj.get("lineItems")
    if not isinstance(total, int | float) or not isinstance(items, list):
        return
    subtotals = [item.get("subtotal") if isinstance(item, dict) else None for item in items]
    numbers = [float(value) for value in subtotals if isinstance(value, int | float) and _is_number(value)]
    if len(numbers) != len(subtotals) or not _is_number(total):
        return  # the schema rules report a missing or mistyped subtotal
    expected = math.fsum(numbers)
    tolerance = 0.005 * max(1, len(items)) + 1e-9
    if abs(total - expected) > tolerance:
        yield BILL_TOTAL.finding(
            obs,
            "$.billTotal",
            f"billTotal {total} differs from the sum of the {len(items)} line items' subtotals ({round(expected, 6)}) "
            "by more than rounding; bill-level credits, taxes or currency conversions may explain it",
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last_day))


_UNITS = {
    "DAILY": "day",
    "WEEKLY": "week from a Monday",
    "MONTHLY": "calendar month from the 1st",
    "ANNUALLY": "calendar year from January 1st",
}


def check_period(obs: Observation, spec: object) -> Iterator[Finding]:
    body = obs.obj
    frequency, start, end = str_at(body, "billingFrequency"), date_at(body, "startDate"), date_at(body, "endDate")
    if frequency not in ("DAILY", "WEEKLY", "MONTHLY", "ANNUALLY") or start is None or end is None:
        return
    interval = body.get("billFrequencyInterval")
    n = interval if isinstance(interval, int) and not isinstance(interval, bool) and interval >= 1 else 1
    aligned = {
        "DAILY": True,
        "WEEKLY": start.weekday() == 0,
        "MONTHLY": start.day == 1,
        "ANNUALLY": (start.month, start.day) == (1, 1),
    }[frequency]
    unit = _UNITS[frequency]
    expected: dt.date | None
    try:  # total over every schema-valid interval: a period ending after 9999-12-31 has no date
        if frequency in ("DAILY", "WEEKLY"):
            expected = start + dt.timedelta(days=n * (1 if frequency == "DAILY" else 7))
        else:
            expected = _add_months(start, n * (1 if frequency == "MONTHLY" else 12))
    except (OverflowError, ValueError):
        expected = None
    if aligned and end == expected:
        return
    shown = expected if expected is not None else "after 9999-12-31, the last date there is"
    yield BILL_PERIOD.finding(
        obs,
        "$.endDate" if aligned else "$.startDate",
        f"a {frequency} bill (interval {n}) covers whole periods of a {unit}, but its period is {start} to {end} "
        + (f"(expected endDate {shown})" if aligned else "(startDate is not on a period boundary)")
        + "; an account's first or last bill, or a custom bill date, may explain it",
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
    Check((EXTERNAL_INVOICE_DATE,), across=check_external_invoice_date, name="external-invoice-date"),
    Check((BILL_TOTAL,), snapshot=check_total, name="total"),
    Check((BILL_PERIOD,), snapshot=check_period, name="period"),
    Check((APPROVAL_AUDIT, LOCK_AUDIT), snapshot=check_audit, name="audit"),
)

__all__ = ["CHECKS"]
