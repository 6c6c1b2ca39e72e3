"""Every rule is honest about its source: errors rest on m3ter's words or a standard's, quoted verbatim from
the committed reference material; inferences are warnings unless the user opts in."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from m3ter_contract.conformance.cli import _options, build_parser
from m3ter_contract.conformance.embedded import check_sandbox
from m3ter_contract.conformance.runner import Options
from m3ter_contract.rules import (
    RULES,
    RULES_BY_NAME,
    Context,
    EntityKind,
    Evidence,
    Observation,
    Rule,
    Severity,
    SourceKind,
    Spec,
    evaluate,
)
from m3ter_contract.rules import doc as rules_doc
from m3ter_contract.rules.sources import RFC_8259, STANDARDS, UPSTREAM_EXCERPTS, UPSTREAM_SUBSET, schema_field
from m3ter_contract.rules.vocabulary import documented, inferred, standard
from m3ter_contract.sandbox import Sandbox
from m3ter_contract.spec_facts import SHARED_REFERENCE

ROOT = Path(__file__).resolve().parents[3]
SHARED = SHARED_REFERENCE


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _corpus(*paths: str) -> list[str]:
    return [_flat(text) for path in paths for text in _strings(json.loads((ROOT / path).read_text("utf-8")))]


M3TER = _corpus(UPSTREAM_SUBSET, UPSTREAM_EXCERPTS)
STANDARD = _corpus(STANDARDS)


def _found(quote: str, corpus: list[str]) -> bool:
    wanted = _flat(quote)
    return any(wanted in text for text in corpus)


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_error_rules_are_documented_or_standard(rule: Rule) -> None:
    if rule.severity is Severity.ERROR:
        assert rule.source.kind in (SourceKind.DOCUMENTED, SourceKind.STANDARD), rule.name


SUBSET: dict[str, Any] = json.loads((ROOT / UPSTREAM_SUBSET).read_text("utf-8"))
EXCERPTS: dict[str, Any] = json.loads((ROOT / UPSTREAM_EXCERPTS).read_text("utf-8"))
STANDARD_DOCUMENTS: list[dict[str, Any]] = json.loads((ROOT / STANDARDS).read_text("utf-8"))["documents"]
_SCHEMA_FIELD = re.compile(r"components\.schemas\.(\w+)\.properties\.(\w+)\.description \(([^)]+)\)")
_SCHEMA = re.compile(r"components\.schemas\.(\w+)\.description \(([^)]+)\)")
_OPERATION = re.compile(r"operation (\w+) description \(([^)]+)\)")


def _properties(schema: str) -> dict[str, Any]:
    found = SUBSET["components"]["schemas"][schema]
    merged = dict(found.get("properties", {}))
    for part in found.get("allOf", []):
        merged.update(part.get("properties", {}))
    return merged


def _operation(operation_id: str, path: str) -> str:
    if path == UPSTREAM_EXCERPTS:
        return str(EXCERPTS["operations"][operation_id]["description"])
    assert path == UPSTREAM_SUBSET, path
    for methods in SUBSET["paths"].values():
        for operation in methods.values():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return str(operation["description"])
    raise AssertionError(f"no operation {operation_id} in {path}")


def cited(evidence: Evidence) -> list[str]:
    """The texts of every place ``evidence.where`` names (m3ter's schema fields, schemas and operations, each in
    the file it names; a standard: its document's quotes), whitespace folded."""
    where = evidence.where
    texts: list[str] = []
    if evidence.kind is SourceKind.DOCUMENTED:
        for schema, prop, path in _SCHEMA_FIELD.findall(where):
            assert path == UPSTREAM_SUBSET, where
            texts.append(str(_properties(schema)[prop].get("description", "")))
        for schema, path in _SCHEMA.findall(where):
            assert path == UPSTREAM_SUBSET, where
            texts.append(str(SUBSET["components"]["schemas"][schema].get("description", "")))
        texts.extend(_operation(operation_id, path) for operation_id, path in _OPERATION.findall(where))
    else:
        name = where.split(f" ({STANDARDS})", 1)[0]
        for document in STANDARD_DOCUMENTS:
            title = str(document["title"])
            if title == name or title.startswith((f"{name}:", f"{name} (")):
                texts.extend(map(str, document["quotes"]))
    return [_flat(text) for text in texts]


def _evidence(rule: Rule) -> list[Evidence]:
    return [rule.source, *rule.also]


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_every_quote_is_verbatim_at_the_place_it_cites(rule: Rule) -> None:
    for evidence in _evidence(rule):
        if evidence.kind is SourceKind.DOCUMENTED:
            assert "spec/upstream/m3ter-upstream" in evidence.where
        elif evidence.kind is SourceKind.STANDARD:
            assert STANDARDS in evidence.where
        else:
            continue
        places = cited(evidence)
        assert places, f"{rule.name}: {evidence.where!r} names no place in the reference material"
        assert any(_flat(evidence.text) in text for text in places), (
            f"{rule.name}: the quote is not at {evidence.where}"
        )


def test_the_cited_place_check_is_not_satisfied_by_another_place() -> None:
    """A quote of m3ter's that is real, but cited at another field, fails."""
    quote = "The date and time *(in ISO 8601 format)* when the Bill was first created."
    assert _found(quote, M3TER)
    assert not cited(documented(quote, schema_field("BillResponse", "dtLastModified")))[0].count(quote)
    assert any(quote in text for text in cited(documented(quote, schema_field("BillResponse", "dtCreated"))))
    rfc = "Each line should contain the same number of fields throughout the file."
    assert not any(rfc in text for text in cited(standard(rfc, f"{RFC_8259}, section 6")))


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_what_an_inference_puts_in_quotation_marks_is_verbatim(rule: Rule) -> None:
    for evidence in _evidence(rule):
        if evidence.kind is SourceKind.INFERRED:
            for quoted in re.findall(r'"([^"]{8,})"', evidence.text):
                assert _found(quoted, M3TER), f"{rule.name}: {quoted!r} is in quotation marks but not m3ter's words"


def test_every_finding_names_evidence_of_its_own_rule() -> None:
    with pytest.raises(ValueError, match="evidence"):
        RULES_BY_NAME["bill.total"].finding(
            Observation(EntityKind.BILL, "b", "o", {}), "$", "m", evidence=RULES_BY_NAME["entity.id"].source
        )
    rule = RULES_BY_NAME["bill.external-invoice-date"]
    inferred_part = next(e for e in rule.also if e.kind is SourceKind.INFERRED)
    with pytest.raises(ValueError, match="inference"):
        rule.finding(
            Observation(EntityKind.BILL, "b", "o", {}), "$", "m", severity=Severity.ERROR, evidence=inferred_part
        )


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_an_inference_is_one_sentence(rule: Rule) -> None:
    if rule.source.kind is SourceKind.INFERRED:
        text = rule.source.text.strip()
        assert text.endswith("."), rule.name
        assert len(re.split(r"(?<=[.!?])\s+(?=[A-Z])", text)) == 1, f"{rule.name}: one sentence, please"


def test_the_quote_check_fails_on_a_paraphrase() -> None:
    """The check is not vacuous: m3ter's words, slightly reworded, are not found."""
    assert _found("Once a Bill is locked, no further changes can be made to it.", M3TER)
    assert not _found("Once a Bill is locked, no changes can be made to it.", M3TER)
    assert not _found("Nothing is declared nullable; absent fields are absent, not null.", M3TER)


def test_an_inferred_rule_cannot_be_an_error_by_default() -> None:
    with pytest.raises(ValueError, match="inferred"):
        Rule("x.y", Severity.ERROR, inferred("We guess.", "nowhere"), "a guess")


def test_each_reference_document_names_its_origin() -> None:
    standards = json.loads((ROOT / STANDARDS).read_text("utf-8"))
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", standards["retrieved"])
    for document in standards["documents"]:
        assert document["url"].startswith("https://")
        if document["url"].startswith("https://www.rfc-editor.org/rfc/rfc"):
            assert "immutable" in document["note"]  # a published RFC never changes: its number is its version
        else:
            assert re.fullmatch(r"[0-9a-f]{40}", document["commit"])
        assert document["quotes"]
    excerpts = json.loads((ROOT / UPSTREAM_EXCERPTS).read_text("utf-8"))
    assert re.fullmatch(r"[0-9a-f]{40}", excerpts["source"]["commit"])


@pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared/reference beside this checkout")
@pytest.mark.parametrize("path", [UPSTREAM_EXCERPTS, UPSTREAM_SUBSET])
def test_committed_copies_are_current(path: str) -> None:
    copy = ROOT / path
    assert copy.read_bytes() == (SHARED / copy.name).read_bytes()


def test_the_upstream_folder_says_where_each_file_comes_from() -> None:
    note = (ROOT / "spec" / "upstream" / "README.md").read_text("utf-8")
    for path in (UPSTREAM_SUBSET, UPSTREAM_EXCERPTS, STANDARDS):
        assert f"`{Path(path).name}`" in note
    assert "no commit or retrieval date" in note  # the subset's origin records none: none is invented


@pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared/reference beside this checkout")
def test_the_subset_note_quotes_the_reference() -> None:
    quoted = re.search(r'describe it as: "(.+?)"\. ', (ROOT / "spec" / "upstream" / "README.md").read_text("utf-8"))
    assert quoted is not None
    assert _flat(quoted.group(1)) in _flat((SHARED / "API-NOTES.md").read_text("utf-8"))


def test_rules_table_shows_kind_and_evidence() -> None:
    table = rules_doc.render()
    for rule in RULES:
        row = next(line for line in table.splitlines() if line.startswith(f"| `{rule.name}` |"))
        assert f"| {rule.source.kind} |" in row
        assert rules_doc._cell(rule.source.text) in row


def test_strict_inferred_raises_inferred_warnings_to_errors(spec: Spec) -> None:
    job = {"id": "j1", "version": 1, "statementJobStatus": "PENDING", "presignedJsonStatementUrl": "https://s3/x"}
    bill = {"id": "b1", "version": 1, "billTotal": 5.0, "lineItems": [], "taxCode": "VAT"}
    observations = [
        Observation(EntityKind.STATEMENT_JOB, "j1", "o1", job),
        Observation(EntityKind.BILL, "b1", "o1", bill),
    ]
    default = {(f.rule, str(f.severity)) for f in evaluate(observations, spec)}
    strict = {(f.rule, str(f.severity)) for f in evaluate(observations, spec, context=Context(strict_inferred=True))}
    assert default == {
        ("statement-job.no-url-while-pending", "warning"),
        ("bill.total", "warning"),
        ("drift.unknown-field", "warning"),
    }
    # bill.total and drift.unknown-field say their weaker reading stays a warning even then
    assert strict == {
        ("statement-job.no-url-while-pending", "error"),
        ("bill.total", "warning"),
        ("drift.unknown-field", "warning"),
    }


async def test_strict_inferred_reaches_the_check_from_the_command_line(sandbox: Sandbox, spec: Spec) -> None:
    args = build_parser().parse_args(["--strict-inferred"])
    options = replace(_options(args, embedded=True), rate=100_000)
    assert options.strict_inferred is True
    job_id = sandbox.seeded.jobs["pending"]
    sandbox.mutate_responses(job_id, lambda body: {**body, "presignedJsonStatementUrl": "https://s3.example/x"})
    result = await check_sandbox(sandbox, options, spec=spec, bill_ids=[], statement_job_ids=[job_id])
    assert [(f.rule, f.severity) for f in result.findings] == [("statement-job.no-url-while-pending", "error")]
    assert result.exit_code == 1
    relaxed = await check_sandbox(sandbox, Options(rate=100_000), spec=spec, bill_ids=[], statement_job_ids=[job_id])
    assert relaxed.exit_code == 0
