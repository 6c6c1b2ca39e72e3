"""The state file: what an earlier run saw, remembered redacted, and compared with a later run's reads in that
same redacted form (``state.stored_form``), so the redaction is never reported as a change."""

from __future__ import annotations

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
