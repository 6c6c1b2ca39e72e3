"""What keeps the judge cheap changes no verdict: the compiled validator, the snapshot cache for identical
bytes, and keeping only what the across checks read."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from m3ter_contract.rules import Context, EntityKind, Observation, Spec
from m3ter_contract.rules.registry import ACROSS_FIELDS, Judge, across_findings
from m3ter_contract.sandbox import ManualClock, Sandbox


def _bodies(sandbox: Sandbox) -> list[tuple[EntityKind, str, dict[str, Any]]]:
    out: list[tuple[EntityKind, str, dict[str, Any]]] = [
        (EntityKind.BILL, bill_id, sandbox.bill(bill_id)) for bill_id in sandbox.bill_ids
    ]
    out += [(EntityKind.STATEMENT_JOB, job_id, sandbox.statement_job(job_id)) for job_id in sandbox.statement_job_ids]
    return out


def _broken(body: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """``body`` with a few values a schema rule reports (types, nulls, formats, enums, extra fields)."""
    out = copy.deepcopy(body)
    damage: list[Callable[[dict[str, Any]], object]] = [
        lambda b: b.__setitem__("version", "7"),
        lambda b: b.__setitem__("dtCreated", "2023-02-30T00:00:00Z"),
        lambda b: b.__setitem__("dtLastModified", "yesterday"),
        lambda b: b.__setitem__("id", None),
        lambda b: b.__setitem__("unknownField", {"x": 1}),
        lambda b: b.pop("version", None),
        lambda b: b.__setitem__("startDate", "2023-13-01"),
        lambda b: b.__setitem__("status", "NOT_A_STATUS"),
        lambda b: b.__setitem__("lineItems", [{"subtotal": "1.0", "quantity": None}]),
        lambda b: b.__setitem__("statementJobStatus", 3),
    ]
    for fn in rng.sample(damage, 3):
        fn(out)
    return out


@pytest.fixture(scope="module")
def observed() -> list[tuple[EntityKind, str, dict[str, Any]]]:
    sandbox = Sandbox(clock=ManualClock(), rate_limit=None, large_bill_line_items=20)
    rng = random.Random(7)
    out = []
    for kind, entity_id, body in _bodies(sandbox):
        out.append((kind, entity_id, body))
        out.append((kind, entity_id, _broken(body, rng)))
    return out


def test_the_compiled_validator_gives_jsonschemas_errors(
    spec: Spec, observed: list[tuple[EntityKind, str, dict[str, Any]]]
) -> None:
    broken = 0
    for kind, _, body in observed:
        expected = sorted((list(e.absolute_path), e.message) for e in spec.response_validator(kind).iter_errors(body))
        got = sorted((list(e.absolute_path), e.message) for e in spec.response_errors(kind, body))
        assert got == expected
        broken += bool(expected)
    assert broken >= len(observed) // 2  # the broken half really is broken


def test_duplicate_bodies_give_the_same_findings_with_the_cache_as_without(
    spec: Spec, observed: list[tuple[EntityKind, str, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    cached, uncached = Judge(spec, context=Context()), Judge(spec, context=Context())
    validated: list[object] = []
    real = Spec.response_errors

    def counting(self: Spec, kind: EntityKind, body: Any) -> Any:
        validated.append(body)
        return real(self, kind, body)

    monkeypatch.setattr(Spec, "response_errors", counting)
    for round_ in range(3):  # every entity read three times, the same bytes each time
        for kind, entity_id, body in observed:
            raw = msgspec.json.encode(body)
            cached.observe(Observation(kind, entity_id, "org", msgspec.json.decode(raw), seq=round_ + 1), raw)
    assert len(validated) == len(observed)  # identical bytes were judged once
    validated.clear()
    for round_ in range(3):
        for kind, entity_id, body in observed:
            uncached.observe(Observation(kind, entity_id, "org", copy.deepcopy(body), seq=round_ + 1))
    assert len(validated) == 3 * len(observed)
    cached.finish()
    uncached.finish()
    assert cached.findings
    assert sorted(cached.findings) == sorted(uncached.findings)
    assert cached.observations == uncached.observations == 3 * len(observed)


def test_the_same_bytes_for_another_entity_are_judged_for_that_entity(spec: Spec) -> None:
    judge = Judge(spec)
    raw = msgspec.json.encode({"id": "a", "version": "x"})
    first = judge.observe(Observation(EntityKind.BILL, "a", "org", msgspec.json.decode(raw)), raw)
    second = judge.observe(Observation(EntityKind.BILL, "b", "org", msgspec.json.decode(raw)), raw)
    assert {f.entity_id for f in first} == {"a"}
    assert {f.entity_id for f in second} == {"b"}
    assert {(f.rule, f.path) for f in first} == {("schema.type", "$.version")}
    # The body names entity "a": read as "b" it also breaks the identity rule (not a cached verdict of "a").
    assert {(f.rule, f.path) for f in second} == {("schema.type", "$.version"), ("entity.id", "$.id")}


def test_across_findings_need_only_the_kept_fields(spec: Spec) -> None:
    assert ACROSS_FIELDS is not None
    rng = random.Random(3)
    sandbox = Sandbox(clock=ManualClock(), rate_limit=None, large_bill_line_items=5)
    for _ in range(30):
        sandbox.create_bill(frequency=rng.choice(["MONTHLY", "WEEKLY", "DAILY", "AD_HOC"]), rng=rng)
    reads: list[Observation] = []
    for seq in range(1, 4):
        for bill_id in sandbox.bill_ids:
            body = sandbox.bill(bill_id)
            if rng.random() < 0.4:  # some reads disagree with the organization's setting, some are repeats
                body["externalInvoiceDate"] = body["endDate"] if rng.random() < 0.5 else body["startDate"]
            reads.append(Observation(EntityKind.BILL, bill_id, sandbox.org_id, body, seq=seq))
    for context in (Context(), Context(external_invoice_date="LAST_DAY_OF_ARREARS")):
        judge = Judge(spec, context=context)
        for obs in reads:
            judge.observe(obs)
        expected = Judge(spec, context=context)
        expected.report(across_findings(reads, context))
        kept = judge.finish()
        assert kept
        assert sorted(kept) == sorted(expected.findings)
