"""Bill status and lock, as m3ter documents them: a locked bill is APPROVED and never changes again; a bill
may go PENDING -> APPROVED -> PENDING, keeping or dropping its approval fields."""

from __future__ import annotations

from typing import Any

from m3ter_contract.rules import EntityKind, Observation, Spec, evaluate

B = EntityKind.BILL
CREATED = "2024-01-01T00:00:00Z"


def _bill(version: int, **values: Any) -> dict[str, Any]:
    body = {
        "id": "b1",
        "version": version,
        "dtCreated": CREATED,
        "dtLastModified": f"2024-01-{version:02d}T00:00:00Z",
        "status": "PENDING",
        "locked": False,
        "billTotal": 0.0,
        "lineItems": [],
        "purchaseOrderNumber": "PO-1",
    }
    body.update(values)
    return body


APPROVED = {"status": "APPROVED", "dtApproved": "2024-01-02T00:00:00Z", "approvedBy": "u1"}
LOCKED = {**APPROVED, "locked": True, "dtLocked": "2024-01-03T00:00:00Z", "lockedBy": "u2"}


def _found(*bodies: dict[str, Any], spec: Spec, remembered: int = 0) -> list[tuple[str, str, str]]:
    observations = [Observation(B, "b1", "o1", body, seq=n, remembered=n < remembered) for n, body in enumerate(bodies)]
    return [(f.rule, str(f.severity), f.path) for f in evaluate(observations, spec)]


def test_status_round_trip_is_clean_with_or_without_the_approval_fields(spec: Spec) -> None:
    kept = _bill(3, **{**APPROVED, "status": "PENDING"})
    assert _found(_bill(1), _bill(2, **APPROVED), kept, _bill(4, **APPROVED), spec=spec) == []
    assert _found(_bill(1), _bill(2, **APPROVED), _bill(3), spec=spec) == []


def test_an_unlock_free_lock_history_is_clean(spec: Spec) -> None:
    history = [_bill(1), _bill(2, **APPROVED), _bill(3, **LOCKED), _bill(3, **LOCKED)]
    assert _found(*history, spec=spec) == []


def test_a_locked_bill_is_approved(spec: Spec) -> None:
    assert _found(_bill(3, **{**LOCKED, "status": "PENDING"}), spec=spec) == [
        ("bill.locked-approved", "error", "$.status")
    ]


def test_a_locked_bill_that_changes_at_a_higher_version_is_an_error(spec: Spec) -> None:
    changed = _bill(4, **LOCKED, purchaseOrderNumber="PO-2", lastModifiedBy="u3")
    assert _found(_bill(3, **LOCKED), changed, spec=spec) == [
        ("bill.locked-unchanged", "error", "$.purchaseOrderNumber")
    ]


def test_a_change_hidden_behind_an_unlocked_read_is_still_caught(spec: Spec) -> None:
    unlocked = _bill(4, **{**LOCKED, "locked": False})
    changed = _bill(5, **{**LOCKED, "locked": False}, billTotal=11.0, lineItems=[])
    found = _found(_bill(3, **LOCKED), unlocked, changed, spec=spec)
    assert ("bill.locked-unchanged", "error", "$.billTotal") in found


def test_a_change_since_a_previous_run_is_caught(spec: Spec) -> None:
    changed = _bill(4, **LOCKED, purchaseOrderNumber="PO-2")
    found = _found(_bill(3, **LOCKED), changed, spec=spec, remembered=1)
    assert found == [("bill.locked-unchanged", "error", "$.purchaseOrderNumber")]


def test_only_statement_flags_changing_is_a_warning(spec: Spec) -> None:
    flagged = _bill(4, **LOCKED, jsonStatementGenerated=True)
    assert _found(_bill(3, **LOCKED, jsonStatementGenerated=False), flagged, spec=spec) == [
        ("bill.locked-unchanged", "warning", "$.jsonStatementGenerated")
    ]


def test_the_fields_locking_sets_are_not_content(spec: Spec) -> None:
    relocked = _bill(4, **{**LOCKED, "dtLocked": "2024-01-04T00:00:00Z", "lockedBy": "u9"}, lastModifiedBy="u9")
    assert [f for f in _found(_bill(3, **LOCKED), relocked, spec=spec) if f[0] == "bill.locked-unchanged"] == []
