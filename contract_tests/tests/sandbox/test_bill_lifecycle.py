"""Bill status and lock in the sandbox, through its public Python API: Approve Bills, Update Bill Status
(both ways), Lock Bill refused for a PENDING bill as m3ter refuses it, and nothing changes a locked bill."""

from __future__ import annotations

import pytest
from m3ter_contract.sandbox import Sandbox, SandboxError


def test_locking_a_pending_bill_is_refused_as_m3ter_refuses_it(sandbox: Sandbox) -> None:
    bill_id = sandbox.seeded.bills["monthly"]
    before = sandbox.bill(bill_id)
    with pytest.raises(SandboxError) as refused:
        sandbox.lock_bill(bill_id)
    assert refused.value.status == 400
    assert "PENDING" in refused.value.body["message"]
    assert sandbox.bill(bill_id) == before  # no change, no version bump


def test_status_round_trip_bumps_the_version_each_time(sandbox: Sandbox) -> None:
    bill_id = sandbox.seeded.bills["monthly"]
    first = sandbox.bill(bill_id)
    sandbox.update_bill_status(bill_id, "APPROVED", by="approver-1")
    approved = sandbox.bill(bill_id)
    assert (approved["status"], approved["version"], approved["approvedBy"]) == (
        "APPROVED",
        first["version"] + 1,
        "approver-1",
    )
    sandbox.update_bill_status(bill_id, "PENDING")
    pending = sandbox.bill(bill_id)
    assert (pending["status"], pending["version"]) == ("PENDING", approved["version"] + 1)
    assert pending["dtApproved"] == approved["dtApproved"]  # kept: m3ter does not say going back clears it
    sandbox.update_bill_status(bill_id, "PENDING")  # the same status again: nothing changes
    assert sandbox.bill(bill_id)["version"] == pending["version"]
    sandbox.approve_bill(bill_id)
    sandbox.lock_bill(bill_id)
    locked = sandbox.bill(bill_id)
    assert (locked["status"], locked["locked"], locked["version"]) == ("APPROVED", True, pending["version"] + 2)


def test_an_unknown_status_and_an_unknown_bill_are_refused(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError) as bad:
        sandbox.update_bill_status(sandbox.seeded.bills["monthly"], "LOCKED")
    assert bad.value.status == 400
    with pytest.raises(SandboxError) as missing:
        sandbox.approve_bill("no-such-bill")
    assert missing.value.status == 404


def test_nothing_changes_a_locked_bill(sandbox: Sandbox) -> None:
    bill_id = sandbox.seeded.bills["weekly"]  # seeded APPROVED and locked
    before = sandbox.bill(bill_id)
    assert (before["status"], before["locked"]) == ("APPROVED", True)
    for change in (
        lambda: sandbox.approve_bill(bill_id),
        lambda: sandbox.update_bill_status(bill_id, "PENDING"),
        lambda: sandbox.lock_bill(bill_id),
        lambda: sandbox.recalculate_bill(bill_id),
        lambda: sandbox.invalidate_statements(bill_id),
    ):
        with pytest.raises(SandboxError, match="locked") as refused:
            change()
        assert refused.value.status == 400
    job_id = sandbox.create_statement_job(bill_id, include_csv=True, pending_for=None)
    sandbox.complete_job(job_id)  # a statement of a locked bill is generated ...
    assert sandbox.statement_job(job_id)["statementJobStatus"] == "COMPLETE"
    assert sandbox.bill(bill_id) == before  # ... and the bill stays exactly as it was
