"""The state file: what an earlier run saw, remembered redacted, and compared with a later run's reads in that
same redacted form (``state.stored_form``), so the redaction is never reported as a change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from m3ter_contract.conformance.state import State, stored_form
from m3ter_contract.rules import EntityKind, Observation, Spec
from m3ter_contract.rules.registry import Judge

ORG = "org-1"
# Strings the state file rewrites because they look like they hold a secret (a signed query, a token).
LOOKS_SECRET = [
    "Usage, see https://reports.example.com/r?month=2024-09&sessionType=interactive",
    "Bearer Instruments handling fee.",
    "https://user:pass@example.com/x",
]


def _bill(description: str, version: int = 3) -> dict[str, Any]:
    return {
        "id": "bill-1",
        "version": version,
        "locked": True,
        "status": "APPROVED",
        "dtCreated": "2024-09-01T00:00:00Z",
        "dtLastModified": "2024-09-02T00:00:00Z",
        "lineItems": [{"id": "li-1", "description": description, "quantity": 1}],
    }


def _remembered(tmp_path: Path, body: dict[str, Any]) -> dict[Any, Observation]:
    state = State(tmp_path / "state.sqlite", "https://api.m3ter.test", ORG)
    state.save([Observation(EntityKind.BILL, "bill-1", ORG, body, seq=1)])
    remembered = state.remembered()
    state.close()
    return remembered


@pytest.fixture(scope="module")
def spec() -> Spec:
    return Spec.load()


@pytest.mark.parametrize("text", LOOKS_SECRET)
def test_a_body_read_again_as_it_was_is_no_change_across_runs(tmp_path: Path, spec: Spec, text: str) -> None:
    body = _bill(text)
    remembered = _remembered(tmp_path, body)
    assert remembered[("bill", "bill-1")].obj["lineItems"][0]["description"] != text  # stored redacted
    judge = Judge(spec, remembered=remembered)
    found = judge.observe(Observation(EntityKind.BILL, "bill-1", ORG, body, seq=1))
    assert [f for f in found if f.rule in {"version.bump-on-change", "bill.locked-unchanged"}] == []


@pytest.mark.parametrize("text", LOOKS_SECRET)
def test_a_real_change_is_still_seen_across_runs(tmp_path: Path, spec: Spec, text: str) -> None:
    remembered = _remembered(tmp_path, _bill(text))
    changed = _bill(text)
    changed["lineItems"][0]["quantity"] = 2
    judge = Judge(spec, remembered=remembered)
    found = judge.observe(Observation(EntityKind.BILL, "bill-1", ORG, changed, seq=1))
    rules = {f.rule for f in found}
    assert {"version.bump-on-change", "bill.locked-unchanged"} <= rules
    assert all("previous run" in f.message for f in found if f.rule == "bill.locked-unchanged")


def test_the_stored_form_is_what_the_state_file_gives_back(tmp_path: Path) -> None:
    body = _bill(LOOKS_SECRET[0])
    assert _remembered(tmp_path, body)[("bill", "bill-1")].obj == stored_form(body)
    assert stored_form(stored_form(body)) == stored_form(body)  # applying it twice changes nothing more


# ---- a UUID given in another letter case is the same entity across runs --------------------------------------

UUID = "C12EA9B8-E7E1-4ED8-AD26-5DD8BF391FBB"


def _versions_across_runs(tmp_path: Path, spec: Spec, first: str, second: str) -> list[str]:
    path = tmp_path / "state.sqlite"
    state = State(path, "https://api.m3ter.test", ORG)
    state.save([Observation(EntityKind.BILL, first, ORG, {**_bill("x", version=5), "id": first}, seq=1)])
    state.close()
    state = State(path, "https://api.m3ter.test", ORG)
    judge = Judge(spec, remembered=state.remembered())
    state.close()
    judge.observe(Observation(EntityKind.BILL, second, ORG, {**_bill("x", version=4), "id": second}, seq=1))
    return [finding.rule for finding in judge.findings]


@pytest.mark.parametrize(("first", "second"), [(UUID, UUID.lower()), (UUID.lower(), UUID)])
def test_a_uuid_in_another_letter_case_is_judged_against_the_last_run(
    tmp_path: Path, spec: Spec, first: str, second: str
) -> None:
    assert "version.no-decrease" in _versions_across_runs(tmp_path, spec, first, second)


def test_an_id_that_is_not_a_uuid_keeps_its_letter_case(tmp_path: Path, spec: Spec) -> None:
    assert "version.no-decrease" not in _versions_across_runs(tmp_path, spec, "Bill-One", "bill-one")


def test_an_old_state_file_with_a_uuid_in_upper_case_is_read_and_tidied(tmp_path: Path, spec: Spec) -> None:
    """A file written before ids were stored in their canonical form: its row is found, and replaced."""
    path = tmp_path / "state.sqlite"
    state = State(path, "https://api.m3ter.test", ORG)
    body = stored_form({**_bill("x", version=5), "id": UUID})
    state._db.execute(  # as the older version wrote it: the id as it was given
        "INSERT INTO observations VALUES (?, ?, ?, ?, ?, ?)",
        (state.scope, "bill", UUID, json.dumps(body), 5, 1.0),
    )
    state._db.commit()
    (key,) = state.remembered()
    assert key == ("bill", UUID.lower())
    state.save([Observation(EntityKind.BILL, UUID.lower(), ORG, {**body, "version": 6}, seq=1)])
    rows = state._db.execute("SELECT entity_id, version FROM observations").fetchall()
    state.close()
    assert rows == [(UUID.lower(), 6)]
