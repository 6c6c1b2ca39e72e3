"""The seeded world a fresh sandbox starts with: two Organizations (one per externalInvoiceDate setting,
one with a billPrefix), their service users, bills of every billing frequency with 0 to thousands of line
items covering all 19 line item types, and statement jobs in every state, two of them still moving."""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from .clock import epoch_of
from .data import bill_wire, new_id
from .entities import JobOutcome, Organization, ServiceUser
from .state import SandboxState


@dataclass(frozen=True, slots=True)
class Credentials:
    """A service user's access key and secret, and the Organization it belongs to."""

    org_id: str
    api_key: str
    api_secret: str = field(repr=False)


class Named(dict[str, str]):
    """Ids by name (``seeded.bills["monthly"]``); an unknown name raises a ``KeyError`` listing the known ones."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def __missing__(self, name: str) -> str:
        raise KeyError(f"no seeded {self.kind} named {name!r}; the names are: {', '.join(self)}")


@dataclass(frozen=True, slots=True)
class Seeded:
    """Ids of what was seeded. ``bills``/``jobs`` name each entity (e.g. ``bills["monthly"]``,
    ``jobs["pending"]``); ``credentials`` holds one service user per Organization, primary first."""

    org_id: str
    other_org_id: str
    credentials: tuple[Credentials, ...]
    bills: dict[str, str]
    jobs: dict[str, str]
    approver_id: str


# name, org ("a" primary: FIRST_DAY_OF_NEXT_PERIOD + billPrefix; "b": LAST_DAY_OF_ARREARS, no prefix),
# frequency, anchor, interval, line items (None: the large bill), currency, lifecycle
_BILLS: tuple[tuple[str, str, str, date, int, int | None, str | None, str], ...] = (
    ("monthly", "a", "MONTHLY", date(2023, 9, 1), 1, 25, None, "pending"),
    ("daily", "a", "DAILY", date(2024, 3, 14), 1, 3, None, "approved"),
    ("weekly", "a", "WEEKLY", date(2024, 5, 8), 1, 7, None, "locked"),
    ("annually", "a", "ANNUALLY", date(2023, 6, 1), 1, 19, None, "approved"),
    ("ad_hoc", "a", "AD_HOC", date(2024, 2, 10), 1, 4, "EUR", "pending"),
    ("mixed", "a", "MIXED", date(2024, 7, 1), 1, 30, None, "pending"),
    ("quarterly", "a", "MONTHLY", date(2024, 1, 1), 3, 12, None, "approved"),
    ("empty", "a", "MONTHLY", date(2024, 8, 1), 1, 0, None, "pending"),
    ("large", "a", "MONTHLY", date(2024, 10, 1), 1, None, None, "pending"),
    ("arrears_monthly", "b", "MONTHLY", date(2023, 9, 1), 1, 10, None, "pending"),
    ("arrears_weekly", "b", "WEEKLY", date(2024, 4, 3), 1, 6, None, "locked"),
)


def seed_state(
    state: SandboxState,
    *,
    seed: int = 0,
    large_bill_line_items: int = 2_000,
    job_pending_seconds: float = 2.0,
    job_running_seconds: float = 5.0,
    api_secret: str | None = None,
    keep: Sequence[Credentials] = (),
) -> Seeded:
    """Fill ``state``. Ids and bill content depend only on ``seed``; job timestamps are placed relative to
    the state's clock. API secrets are random unless ``api_secret`` is given, or ``keep`` (a previous
    seeding's credentials: :meth:`Sandbox.reset`) holds the service user's. Seeding a state again replaces its
    seeded Organizations (their invoice numbering starts over) and service users."""
    kept = {creds.api_key: creds.api_secret for creds in keep}
    rng = random.Random(seed)
    now = state.clock.now()
    org_a = state.add_org(Organization(new_id(rng), "FIRST_DAY_OF_NEXT_PERIOD", "INV-", "USD"))
    org_b = state.add_org(Organization(new_id(rng), "LAST_DAY_OF_ARREARS", None, "GBP"))
    credentials: list[Credentials] = []
    service_ids: dict[str, str] = {}
    for org in (org_a, org_b):
        user_id, api_key = new_id(rng), f"{rng.getrandbits(128):032x}"
        secret = kept.get(api_key) or api_secret or secrets.token_urlsafe(30)
        user = ServiceUser(id=user_id, org_id=org.id, api_key=api_key, api_secret=secret)
        state.add_service_user(user)
        service_ids[org.id] = user.id
        credentials.append(Credentials(org.id, user.api_key, user.api_secret))
    approver = new_id(rng)

    bills = Named("bill")
    for name, which, frequency, anchor, interval, count, currency, lifecycle in _BILLS:
        org = org_a if which == "a" else org_b
        wire = bill_wire(
            rng,
            org,
            frequency=frequency,
            anchor=anchor,
            interval=interval,
            line_item_count=large_bill_line_items if count is None else count,
            currency=currency,
        )
        created = epoch_of(date.fromisoformat(wire["endDate"])) + rng.randint(2, 6) * 3600
        bill = state.add_bill(org.id, wire, created_at=created, created_by=service_ids[org.id])
        if lifecycle in ("approved", "locked"):
            state.approve_bill(bill.id, approver, at=created + 86_400)
        if lifecycle == "locked":
            state.lock_bill(bill.id, approver, at=created + 2 * 86_400)
        bills[name] = bill.id

    jobs = Named("statement job")

    def job(
        name: str,
        bill: str,
        at: float,
        *,
        include_csv: bool = False,
        meter_ids: list[str] | None = None,
        pending_for: float | None = 2.0,
        running_for: float | None = 5.0,
        outcome: JobOutcome = "COMPLETE",
    ) -> str:
        bill_id = bills[bill]
        created = state.create_statement_job(
            new_id(rng),
            bill_id,
            service_ids[state.bill(bill_id).org_id],
            at=at,
            include_csv=include_csv,
            meter_ids=meter_ids,
            pending_for=pending_for,
            running_for=running_for,
            outcome=outcome,
        )
        jobs[name] = created.id
        return created.id

    job("complete_csv", "monthly", now - 600, include_csv=True, pending_for=2.0, running_for=5.0)
    usage_meters = [item["meterId"] for item in state.bill(bills["annually"]).wire["lineItems"] if "meterId" in item]
    job("complete_json", "annually", now - 550, meter_ids=usage_meters[:2], pending_for=1.0, running_for=3.0)
    job("failed", "mixed", now - 500, pending_for=2.0, running_for=4.0, outcome="FAILED")
    cancelled = job("cancelled", "ad_hoc", now - 400, pending_for=None)
    state.finish_job(cancelled, "CANCELLED", at=now - 399)
    job("arrears_complete", "arrears_monthly", now - 300, include_csv=True, pending_for=1.0, running_for=2.0)
    job("running", "quarterly", now - 3, pending_for=1.0, running_for=job_running_seconds + 2.0, include_csv=True)
    job("pending", "monthly", now, include_csv=True, pending_for=job_pending_seconds, running_for=job_running_seconds)
    return Seeded(
        org_id=org_a.id,
        other_org_id=org_b.id,
        credentials=tuple(credentials),
        bills=bills,
        jobs=jobs,
        approver_id=approver,
    )


__all__ = ["Credentials", "Seeded", "seed_state"]
