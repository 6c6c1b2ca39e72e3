"""The wire rules (RFC 8259, the media type, number ranges) and the statement download rules: each violation
injected through the sandbox is found, at its path and severity, and nothing else fires; each has a clean
control that is close to the violation and passes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from m3ter_contract.conformance.embedded import check_sandbox
from m3ter_contract.conformance.runner import Options
from m3ter_contract.rules import RULES_BY_NAME, Spec
from m3ter_contract.rules.statements import Download, judge_download
from m3ter_contract.sandbox import Sandbox

FAST = Options(observe=2, interval=1.0, rate=100_000, concurrency=4)
Inject = Callable[[Sandbox, str], None]


@dataclass(frozen=True)
class Case:
    rule: str
    kind: str  # "bill" | "job"
    name: str  # the seeded entity
    inject: Inject
    path: str
    also: tuple[str, ...] = ()
    severity: str | None = None  # when the finding is the rule's weaker case


CASES = [
    Case("response.json-literal", "bill", "monthly", lambda s, i: s.faults.json_literal(i), "$.billTotal"),
    Case(
        "response.json-literal",
        "bill",
        "monthly",
        lambda s, i: s.faults.json_literal(i, field="quantity", literal="-Infinity"),
        "$.lineItems[*].quantity",
    ),
    Case("response.json-bom", "bill", "monthly", lambda s, i: s.faults.byte_order_mark(i), "$"),
    Case(
        "response.duplicate-member",
        "bill",
        "monthly",
        lambda s, i: s.faults.duplicate_member(i, field="status", value="APPROVED"),
        "$.status",
    ),
    Case(
        "response.media-type",
        "job",
        "complete_csv",
        lambda s, i: s.faults.wrong_content_type(None, content_type="text/plain", entity_id=i),
        "$",
    ),
    Case(
        "schema.int-range",
        "bill",
        "monthly",
        lambda s, i: s.faults.raw_number(i, field="version", text="9223372036854775808"),
        "$.version",
    ),
    Case(
        "schema.int-range",
        "bill",
        "monthly",
        lambda s, i: s.faults.raw_number(i, field="billFrequencyInterval", text="2147483648"),
        "$.billFrequencyInterval",
        also=("bill.period",),  # 2^31 months is not the bill's period either (and must not crash bill.period)
    ),
    Case(
        "schema.finite-number",
        "bill",
        "monthly",
        lambda s, i: s.faults.raw_number(i, field="billTotal", text="1e400"),
        "$.billTotal",
    ),
    Case(  # an integer literal past the largest double (400 digits): infinity too, in a `number` field
        "schema.finite-number",
        "bill",
        "monthly",
        lambda s, i: s.faults.raw_number(i, field="billTotal", text="1" + "0" * 400),
        "$.billTotal",
    ),
    Case(  # more digits than int() converts (the check's HugeInteger)
        "schema.finite-number",
        "bill",
        "monthly",
        lambda s, i: s.faults.raw_number(i, field="billTotal", text="9" * 5000),
        "$.billTotal",
    ),
    Case(
        "statement.download",
        "job",
        "complete_json",
        lambda s, i: s.faults.broken_statement(i),
        "$.presignedJsonStatementUrl",
    ),
    Case(
        "statement.json",
        "job",
        "complete_json",
        lambda s, i: s.faults.mislabelled_statement(i),
        "$.presignedJsonStatementUrl",
    ),
    Case(
        "statement.csv",
        "job",
        "complete_csv",
        lambda s, i: s.faults.mislabelled_statement(i, fmt="csv"),
        "$.presignedCsvStatementUrl",
    ),
    Case(  # a record wider than the first line: RFC 4180 says lines "should" be as wide (a warning)
        "statement.csv-width",
        "job",
        "complete_csv",
        lambda s, i: _rewrite_csv(s, i, lambda body: body.rstrip(b"\r\n") + b"\r\n1\r\n"),
        "$.presignedCsvStatementUrl",
    ),
    Case(  # the header row has an empty column name (the header itself is our inference)
        "statement.csv-header",
        "job",
        "complete_csv",
        lambda s, i: _rewrite_csv(s, i, lambda body: body[body.index(b",") :]),
        "$.presignedCsvStatementUrl",
    ),
    Case(  # not UTF-8: m3ter names no charset, so this too is the inferred rule
        "statement.csv-header",
        "job",
        "complete_csv",
        lambda s, i: _rewrite_csv(s, i, lambda body: b"\xff" + body),
        "$.presignedCsvStatementUrl",
    ),
    Case(
        "statement.url-expiry",
        "job",
        "complete_json",
        lambda s, i: s.faults.expired_statement_url(i),
        "$.presignedJsonStatementUrl",
        also=("statement.download",),  # an expired URL answers 403 too
    ),
]


def _rewrite_csv(sandbox: Sandbox, job_id: str, fn: Callable[[bytes], bytes]) -> None:
    """The job's CSV statement (not its JSON one) passed through ``fn`` on every download."""
    sandbox.faults.rewrite_body(
        lambda body: body if body.lstrip()[:1] in (b"{", b"[") else fn(body), operation="GetStatement", entity_id=job_id
    )


def _entity(sandbox: Sandbox, case: Case) -> str:
    return (sandbox.seeded.bills if case.kind == "bill" else sandbox.seeded.jobs)[case.name]


@pytest.mark.parametrize("case", CASES, ids=[f"{case.rule}:{case.path}" for case in CASES])
async def test_violation_is_found(case: Case, sandbox: Sandbox, spec: Spec) -> None:
    entity_id = _entity(sandbox, case)
    case.inject(sandbox, entity_id)
    bills, jobs = ([entity_id], []) if case.kind == "bill" else ([], [entity_id])
    result = await check_sandbox(sandbox, FAST, spec=spec, bill_ids=bills, statement_job_ids=jobs)
    assert result.problems == []
    found = [f for f in result.findings if f.rule == case.rule]
    assert found, f"{case.rule} not reported; got {[(f.rule, f.path) for f in result.findings]}"
    assert {f.rule for f in result.findings} <= {case.rule, *case.also}, "no other rule fires"
    assert found[0].path == case.path
    assert found[0].severity == (case.severity or RULES_BY_NAME[case.rule].severity)
    assert found[0].entity_id == entity_id


def test_every_new_rule_has_a_case() -> None:
    new = {name for name in RULES_BY_NAME if name.startswith(("response.json-", "statement.")) or name in NEW_NAMES}
    assert new == {case.rule for case in CASES}


NEW_NAMES = {"response.duplicate-member", "response.media-type", "schema.int-range", "schema.finite-number"}


# ---- clean controls: the legal neighbours of each violation ------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=UTF-8", "Application/JSON", "application/vnd.m3ter+json"],
)
async def test_json_media_types_with_parameters_or_a_json_suffix_pass(
    content_type: str, sandbox: Sandbox, spec: Spec
) -> None:
    bill = sandbox.seeded.bills["monthly"]
    sandbox.faults.wrong_content_type(None, content_type=content_type, entity_id=bill)
    result = await check_sandbox(sandbox, FAST, spec=spec, bill_ids=[bill], statement_job_ids=[])
    assert result.findings == []


async def test_a_repeated_member_with_the_same_value_is_only_a_warning(sandbox: Sandbox, spec: Spec) -> None:
    bill = sandbox.seeded.bills["monthly"]
    sandbox.faults.duplicate_member(bill, field="currency", value=sandbox.bill(bill)["currency"])
    result = await check_sandbox(sandbox, FAST, spec=spec, bill_ids=[bill], statement_job_ids=[])
    assert [(f.rule, f.severity, f.path) for f in result.findings] == [
        ("response.duplicate-member", "warning", "$.currency")
    ]
    assert result.exit_code == 0
    assert "'currency' appears 2 times" in result.findings[0].message


@pytest.mark.parametrize(
    ("statement", "findings", "notes"),
    [
        (b"[" * 65 + b"]" * 65, [], ["is nested deeper than 64 levels, more than this check judges"]),
        (b"[" * 64 + b"]" * 64, [], []),
        (b'{"a": 1, "a": 1}', [("warning", "not strict JSON: member 'a' appears 2 times, with 1 and 1")], []),
        (
            b'{"a": 1, "a": 2}',
            [
                (
                    "error",
                    "not strict JSON: member 'a' appears 2 times, with 1 and 2 (readers disagree on which one "
                    "counts; judged with the last)",
                )
            ],
            [],
        ),
        (b'{"a": 1, "a": 1, "b": NaN}', [("error", "not strict JSON: NaN is not a JSON value")], []),
    ],
    ids=["deeper-than-judged", "as-deep-as-judged", "equal-duplicate", "different-duplicate", "equal-and-nan"],
)
async def test_a_json_statement_is_judged_as_api_bodies_are(
    statement: bytes, findings: list[tuple[str, str]], notes: list[str], sandbox: Sandbox, spec: Spec
) -> None:
    """Nesting deeper than the check judges is a limit of the check (a note, as a statement too large to
    download), not a finding; a repeated member is as severe as in an API body (equal values: a warning)."""
    job = sandbox.seeded.jobs["complete_json"]
    sandbox.faults.rewrite_body(lambda _: statement, operation="GetStatement", entity_id=job)
    result = await check_sandbox(sandbox, FAST, spec=spec, bill_ids=[], statement_job_ids=[job])
    prefix = "the JSON statement is "
    assert [(f.rule, f.severity, f.path, f.message) for f in result.findings] == [
        ("statement.json", severity, "$.presignedJsonStatementUrl", prefix + message) for severity, message in findings
    ]
    assert result.notes == [f"the JSON statement of job {job} {note}: its content was not judged" for note in notes]
    assert result.problems == []


@pytest.mark.parametrize(
    ("field", "text"),
    [("version", "9223372036854775807"), ("billFrequencyInterval", "1"), ("billTotal", "1.7976931348623157e308")],
)
async def test_numbers_at_the_edge_of_their_range_pass(field: str, text: str, sandbox: Sandbox, spec: Spec) -> None:
    bill = sandbox.seeded.bills["monthly"]
    sandbox.faults.raw_number(bill, field=field, text=text)
    result = await check_sandbox(sandbox, FAST, spec=spec, bill_ids=[bill], statement_job_ids=[])
    assert {f.rule for f in result.findings} <= {"bill.total"}  # a huge total is not the sum of its items


async def test_a_clean_sandbox_downloads_and_passes_every_statement(sandbox: Sandbox, spec: Spec) -> None:
    jobs = [sandbox.seeded.jobs[name] for name in ("complete_csv", "complete_json")]
    result = await check_sandbox(sandbox, FAST, spec=spec, bill_ids=[], statement_job_ids=jobs)
    assert result.findings == []
    assert result.problems == []
    assert result.statements == 3  # JSON for both jobs, CSV for the one with includeCsvFormat


async def test_no_statement_downloads_fetches_none(sandbox: Sandbox, spec: Spec) -> None:
    job = sandbox.seeded.jobs["complete_json"]
    sandbox.faults.broken_statement(job)
    options = Options(observe=1, rate=100_000, statement_downloads=False)
    result = await check_sandbox(sandbox, options, spec=spec, bill_ids=[], statement_job_ids=[job])
    assert result.findings == []
    assert "GET statement" not in result.requests
    assert not any(record.path.startswith("/_statements/") for record in sandbox.requests)


async def test_each_complete_job_is_downloaded_once_per_run(sandbox: Sandbox, spec: Spec) -> None:
    job = sandbox.seeded.jobs["complete_csv"]
    options = Options(observe=3, interval=1.0, rate=100_000)
    result = await check_sandbox(sandbox, options, spec=spec, bill_ids=[], statement_job_ids=[job])
    assert result.requests["GET statement"] == 2
    assert result.findings == []


async def test_a_watched_job_is_downloaded_when_it_completes(sandbox: Sandbox, spec: Spec) -> None:
    job = sandbox.seeded.jobs["pending"]
    options = Options(observe=1, watch=True, watch_interval=1.0, rate=100_000)
    result = await check_sandbox(sandbox, options, spec=spec, bill_ids=[], statement_job_ids=[job])
    assert result.findings == []
    assert result.requests["GET statement"] == 2  # the pending job has CSV too


# ---- a URL that expired between the read of its job and the check's GET ------------------------------------

_ISSUED = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
_THREE_SECONDS = "https://bucket.example/statement.json?X-Amz-Date=20240101T000000Z&X-Amz-Expires=3&X-Amz-Signature=abc"


def _download(status: int, *, read: float, answered: float | None) -> Download:
    return Download(
        "job-1",
        "org-1",
        "json",
        _THREE_SECONDS,
        read_at=_ISSUED + read,
        status=status,
        body=b"{}",
        answered_at=None if answered is None else _ISSUED + answered,
    )


def test_a_url_that_expired_after_the_read_and_before_the_get_is_not_judged() -> None:
    judged = judge_download(_download(403, read=1, answered=5))
    assert judged.findings == []
    assert judged.expired == _ISSUED + 3


@pytest.mark.parametrize(
    ("status", "read", "answered", "rules"),
    [
        (403, 0, 1.5, ["statement.download"]),  # still valid (more than the Date's second left) when answered
        (403, 0, None, ["statement.download"]),  # when it was answered is unknown
        (200, 1, 5, []),  # downloaded all the same: judged as any statement
        (403, 4, 5, ["statement.url-expiry", "statement.download"]),  # expired already when the job was read
    ],
)
def test_a_refused_url_that_was_valid_when_fetched_is_still_a_finding(
    status: int, read: float, answered: float | None, rules: list[str]
) -> None:
    judged = judge_download(_download(status, read=read, answered=answered))
    assert [finding.rule for finding in judged.findings] == rules
    assert judged.expired is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"a": 1}', "the CSV statement starts with '{': markup or JSON, not CSV"),
        (b"  \n", "the CSV statement is empty: not a single record"),
        (b'a,b\n"1,2\n', "the CSV statement is not CSV (unexpected end of data)"),
        (b"\xff,a\n", "the CSV statement is not UTF-8 text (byte 0); its content is not judged further"),
        (b"a,,b\n1,2,3\n", "the CSV statement has a header row with an empty column name (['a', '', 'b'])"),
        (b"a,b\n1,2,3\n", "the CSV statement has 3 fields on line 2, 2 on its first line"),
    ],
)
def test_each_csv_message_reads_as_a_sentence(body: bytes, message: str) -> None:
    download = Download("job-1", "org-1", "csv", "https://bucket.example/s.csv", read_at=0.0, status=200, body=body)
    assert [finding.message for finding in judge_download(download).findings] == [message]
