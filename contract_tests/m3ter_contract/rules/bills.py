"""Bills: the external invoice date, the total, the billing period and the approval and lock audit fields."""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ._values import date_at, instant_at, present, same_value, str_at
from .sources import component, operation, schema_field
from .versioning import DERIVED_CHANGE, only_derived
from .vocabulary import (
    EXTERNAL_INVOICE_DATE_SETTINGS,
    Check,
    Context,
    EntityKind,
    Finding,
    Observation,
    Rule,
    Severity,
    documented,
    inferred,
)

BILL = frozenset({EntityKind.BILL})

_EXAMPLE = documented(
    "For example, if the retrieved Bill was on a monthly billing frequency and the billing period for the Bill is "
    "September 2023 and the *External invoice date* is set at `FIRST_DAY_OF_NEXT_PERIOD`, then the "
    '`externalInvoiceDate` will be `"2023-10-01"`.',
    schema_field("BillResponse", "externalInvoiceDate"),
)
_INVOICE_INFERRED = inferred(
    "The example covers a MONTHLY bill at FIRST_DAY_OF_NEXT_PERIOD only, so we infer the date of a DAILY, "
    "WEEKLY or ANNUALLY bill the same way, LAST_DAY_OF_ARREARS as the period's last day (endDate - 1 day), and a "
    "date that is neither as wrong whatever the organization's setting.",
    schema_field("BillResponse", "externalInvoiceDate"),
)
_INVOICE_MAJORITY = inferred(
    "Without --external-invoice-date the organization's setting is unknown, so we infer it is the one most of "
    "its bills in the run follow and report a bill that follows the other one.",
    schema_field("BillResponse", "externalInvoiceDate"),
    strict=False,
)
EXTERNAL_INVOICE_DATE = Rule(
    "bill.external-invoice-date",
    Severity.ERROR,
    _EXAMPLE,
    "externalInvoiceDate follows the organization's setting: the first day after the billing period "
    "(FIRST_DAY_OF_NEXT_PERIOD, the default: the exclusive endDate) or its last day (LAST_DAY_OF_ARREARS: "
    "endDate - 1 day). An error only where the documented example speaks: a MONTHLY bill of an organization "
    "whose setting is known to be FIRST_DAY_OF_NEXT_PERIOD (--external-invoice-date; the embedded sandbox knows "
    "its own) whose date is not its endDate. The rest is inferred, a warning: DAILY, WEEKLY and ANNUALLY bills, "
    "LAST_DAY_OF_ARREARS, a date that is neither with the setting unknown, and (without the setting) a bill that "
    "follows another setting than most bills of the organization in the run (a warning even with "
    "--strict-inferred). AD_HOC and MIXED bills have no documented period and are skipped.",
    BILL,
    also=(_INVOICE_INFERRED, _INVOICE_MAJORITY),
)
BILL_TOTAL = Rule(
    "bill.total",
    Severity.WARNING,
    inferred(
        'billTotal is "The sum total for the Bill", so we infer it equals the sum of the line items\' subtotals, '
        "which bill-level credits, taxes or currency conversions may legitimately break.",
        schema_field("BillResponse", "billTotal"),
        strict=False,
    ),
    "billTotal equals the sum of the line items' subtotals (within half a cent per line item). A warning, even "
    "with --strict-inferred: bill-level credits, taxes or currency conversions may legitimately make them differ.",
    BILL,
)
_PERIOD_END = inferred(
    "BillingFrequency says when each period starts and what it covers, so we infer a bill's exclusive endDate is "
    "the start of the next period, billFrequencyInterval (default 1) periods later, though no sentence says so.",
    f"{component('BillingFrequency')}; {schema_field('BillResponse', 'billFrequencyInterval')}",
    strict=False,
)
BILL_PERIOD = Rule(
    "bill.period",
    Severity.WARNING,
    documented(
        "**Monthly**. Starting at midnight on the morning of the first day of each month covering the entire "
        "calendar month following.",
        f"{component('BillingFrequency')} (Daily, Weekly and Annually likewise)",
    ),
    "startDate and the exclusive endDate span billFrequencyInterval (default 1) whole periods of the billing "
    "frequency (DAILY, WEEKLY from a Monday, MONTHLY from the 1st, ANNUALLY from January 1st, as BillingFrequency "
    "describes each). Where a period starts is documented; where it ends (the exclusive endDate, the interval) "
    "is inferred. A warning: an account's first or last bill, or a custom bill date, may cover a part period; "
    "AD_HOC and MIXED are skipped.",
    BILL,
    also=(_PERIOD_END,),
)
APPROVAL_AUDIT = Rule(
    "bill.approval-audit",
    Severity.WARNING,
    inferred(
        'dtApproved is "The DateTime when the bill was approved" and approvedBy "The id of the user who approved '
        'this bill", so we infer an APPROVED bill carries both, set after it was created.',
        schema_field("BillResponse", "dtApproved"),
    ),
    "An APPROVED bill carries dtApproved and approvedBy, and dtApproved is not before dtCreated. A PENDING bill "
    "may carry them or not: Update Bill Status moves a bill between Pending and Approved, and nothing says "
    "going back clears them.",
    BILL,
)
LOCK_AUDIT = Rule(
    "bill.lock-audit",
    Severity.WARNING,
    inferred(
        'dtLocked is "The DateTime when the bill was locked" and lockedBy "The id of the user who locked this '
        'bill", so we infer a locked bill carries both, set after it was created, and an unlocked one neither.',
        schema_field("BillResponse", "dtLocked"),
    ),
    "A locked bill carries dtLocked and lockedBy; an unlocked one carries neither; dtLocked is not before dtCreated.",
    BILL,
)
LOCKED_APPROVED = Rule(
    "bill.locked-approved",
    Severity.ERROR,
    documented("You cannot lock a Bill whose current status is `PENDING`.", operation("LockBill", excerpt=True)),
    "A locked bill is not PENDING (any other status, APPROVED or one m3ter adds later, is not judged).",
    BILL,
)
LOCKED_UNCHANGED = Rule(
    "bill.locked-unchanged",
    Severity.ERROR,
    documented("Once a Bill is locked, no further changes can be made to it.", operation("LockBill", excerpt=True)),
    "Once a read shows a bill locked, no later read (at any version, in this run or a later one) shows other "
    "content: every field but the ones locking sets (locked, dtLocked, lockedBy) and the version bookkeeping "
    "(version, dtLastModified, lastModifiedBy) stays the same, date-times compared as instants. A change limited "
    "to derived fields (on a bill the statement flags jsonStatementGenerated, csvStatementGenerated, "
    "statementStale) is an inferred warning, as in version.bump-on-change: m3ter sets them when it generates a "
    "statement, which may not count as a change to the bill.",
    BILL,
    also=(DERIVED_CHANGE,),
)


_FIRST, _LAST = EXTERNAL_INVOICE_DATE_SETTINGS
_DOCUMENTED_FREQUENCY = "MONTHLY"
_INFERRED_FREQUENCIES = frozenset({"DAILY", "WEEKLY", "ANNUALLY"})


def _judged(body: Mapping[str, Any]) -> bool:
    """MONTHLY (the documented example) and the other fixed periods (and an absent frequency) are judged;
    AD_HOC, MIXED and unknown frequencies (no documented period) are not."""
    frequency = body.get("billingFrequency")
    return frequency == _DOCUMENTED_FREQUENCY or frequency is None or frequency in _INFERRED_FREQUENCIES


def _followed_setting(body: Mapping[str, Any]) -> tuple[str | None, dt.date, dt.date] | None:
    """(the setting the bill's externalInvoiceDate follows or None, endDate, endDate - 1) or None if unjudgeable."""
    invoice, end = date_at(body, "externalInvoiceDate"), date_at(body, "endDate")
    if invoice is None or end is None or end == dt.date.min:  # no day before 0001-01-01
        return None
    last = end - dt.timedelta(days=1)
    return (_FIRST if invoice == end else _LAST if invoice == last else None), end, last


def external_invoice_date_finding(obs: Observation, known: str | None, message: str, **kwargs: Any) -> Finding:
    """The finding of a wrong externalInvoiceDate: documented (an error) only for the example's case, a MONTHLY
    bill of an organization known to be at FIRST_DAY_OF_NEXT_PERIOD; an inferred warning otherwise."""
    if known == _FIRST and obs.obj.get("billingFrequency") == _DOCUMENTED_FREQUENCY:
        return EXTERNAL_INVOICE_DATE.finding(obs, "$.externalInvoiceDate", message, **kwargs)
    return EXTERNAL_INVOICE_DATE.finding(
        obs, "$.externalInvoiceDate", message, severity=Severity.WARNING, evidence=_INVOICE_INFERRED, **kwargs
    )


def check_external_invoice_date(observations: Sequence[Observation], context: Context) -> Iterator[Finding]:
    bills = [obs for obs in observations if obs.kind is EntityKind.BILL and isinstance(obs.body, dict)]
    majority: dict[str, str] = {}
    if context.external_invoice_date is None:
        latest: dict[tuple[str, str], str] = {}  # (org, bill) -> the setting its last read follows
        for obs in bills:
            followed = _followed_setting(obs.obj)
            if followed is not None and followed[0] is not None and _judged(obs.obj):
                latest[(obs.org_id, obs.entity_id)] = followed[0]
        for org in {org for org, _ in latest}:
            votes = Counter(setting for (o, _), setting in latest.items() if o == org)
            ranked = [*votes.most_common(), ("", 0)]
            if ranked[0][1] > ranked[1][1]:
                majority[org] = ranked[0][0]
    known = context.external_invoice_date
    for obs in bills:
        followed = _followed_setting(obs.obj)
        if not _judged(obs.obj) or followed is None:
            continue
        setting, end, last = followed
        invoice = obs.obj["externalInvoiceDate"]
        expected = {_FIRST: end, _LAST: last}
        if setting is None:
            start = obs.obj.get("startDate", "?")
            yield external_invoice_date_finding(
                obs,
                known,
                f"{invoice} is neither {end} ({_FIRST}) nor {last} ({_LAST}) for the billing period {start} to "
                f"{end} (exclusive)",
            )
        elif known is not None and setting != known:
            yield external_invoice_date_finding(
                obs,
                known,
                f"{invoice} follows {setting}, but the organization's setting is {known} "
                f"(--external-invoice-date): expected {expected[known]}",
            )
        elif obs.org_id in majority and setting != majority[obs.org_id]:
            guess = majority[obs.org_id]
            yield EXTERNAL_INVOICE_DATE.finding(
                obs,
                "$.externalInvoiceDate",
                f"{invoice} follows {setting}, but most bills of this organization in the run follow {guess} "
                f"(expected {expected[guess]}); the setting is inferred, pass --external-invoice-date to be sure",
                severity=Severity.WARNING,
                evidence=_INVOICE_MAJORITY,
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
    """A finite number a float can hold (an integer of 309 digits or more cannot: the schema rules report
    its range, and the sum is not judged)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


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
    # Where a period starts is documented (BillingFrequency); where it ends is our inference.
    yield BILL_PERIOD.finding(
        obs,
        "$.endDate" if aligned else "$.startDate",
        f"a {frequency} bill (interval {n}) covers whole periods of a {unit}, but its period is {start} to {end} "
        + (f"(expected endDate {shown})" if aligned else "(startDate is not on a period boundary)")
        + "; an account's first or last bill, or a custom bill date, may explain it",
        evidence=_PERIOD_END if aligned else None,
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
    created, when = instant_at(body, "dtCreated"), instant_at(body, at)
    if created is not None and when is not None and when < created:
        yield rule.finding(obs, f"$.{at}", f"{at} {body[at]} precedes dtCreated {body['dtCreated']}")


def check_audit(obs: Observation, spec: object) -> Iterator[Finding]:
    approved = True if str_at(obs.obj, "status") == "APPROVED" else None  # a PENDING bill may keep them
    yield from _audit(obs, APPROVAL_AUDIT, "approved", approved, "dtApproved", "approvedBy")
    locked = obs.obj.get("locked")
    yield from _audit(obs, LOCK_AUDIT, "locked", locked if isinstance(locked, bool) else None, "dtLocked", "lockedBy")


def check_locked_approved(obs: Observation, spec: object) -> Iterator[Finding]:
    status = str_at(obs.obj, "status")
    if obs.obj.get("locked") is True and status == "PENDING":
        yield LOCKED_APPROVED.finding(obs, "$.status", f"the bill is locked but its status is {status}")


# What locking sets, and the version bookkeeping the version rules judge.
_LOCK_OWN = frozenset({"locked", "dtLocked", "lockedBy", "version", "dtLastModified", "lastModifiedBy"})


def is_locked(obs: Observation) -> bool:
    return isinstance(obs.body, dict) and obs.body.get("locked") is True


def compare_locked(before: Observation, after: Observation) -> Iterator[Finding]:
    """``before`` is the last read that showed the bill locked (see ``Check.anchor``)."""
    if not is_locked(before):
        return
    old = {key: value for key, value in before.obj.items() if key not in _LOCK_OWN}
    new = {key: value for key, value in after.obj.items() if key not in _LOCK_OWN}
    changed = [key for key in sorted(old.keys() | new.keys()) if not same_value(old.get(key), new.get(key))]
    if not changed:
        return
    shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
    where = "a previous run" if before.remembered else "an earlier read"
    if only_derived([f"$.{key}" for key in changed]):
        yield LOCKED_UNCHANGED.finding(
            after,
            f"$.{changed[0]}",
            f"only derived fields of a locked bill changed ({shown}) since {where}; m3ter may set statement flags "
            "when it generates a statement, so this is a warning",
            severity=Severity.WARNING,
            evidence=DERIVED_CHANGE,
        )
        return
    yield LOCKED_UNCHANGED.finding(
        after, f"$.{changed[0]}", f"the bill was locked in {where}, yet {shown} changed since"
    )


CHECKS = (
    Check(
        (EXTERNAL_INVOICE_DATE,),
        across=check_external_invoice_date,
        name="external-invoice-date",
        keeps=frozenset({"billingFrequency", "externalInvoiceDate", "startDate", "endDate"}),
    ),
    Check((BILL_TOTAL,), snapshot=check_total, name="total"),
    Check((BILL_PERIOD,), snapshot=check_period, name="period"),
    Check((APPROVAL_AUDIT, LOCK_AUDIT), snapshot=check_audit, name="audit"),
    Check((LOCKED_APPROVED,), snapshot=check_locked_approved, name="locked-approved"),
    Check((LOCKED_UNCHANGED,), pair=compare_locked, name="locked-unchanged", anchor=is_locked),
)

__all__ = ["CHECKS", "is_locked"]
