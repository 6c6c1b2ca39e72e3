"""Statement jobs: the documented lifecycle and which URLs and statuses each state carries."""

from __future__ import annotations

from collections.abc import Iterator

from ._values import present, str_at
from .sources import M3TER_SPEC, UPSTREAM_SUBSET, operation, schema_field
from .vocabulary import Check, EntityKind, Finding, Observation, Rule, Severity, inferred

JOB = frozenset({EntityKind.STATEMENT_JOB})
PENDING, RUNNING, COMPLETE, CANCELLED, FAILED = "PENDING", "RUNNING", "COMPLETE", "CANCELLED", "FAILED"
TERMINAL = frozenset({COMPLETE, CANCELLED, FAILED})
_RANK = {PENDING: 0, RUNNING: 1, COMPLETE: 2, CANCELLED: 2, FAILED: 2}
JSON_URL, CSV_URL = "presignedJsonStatementUrl", "presignedCsvStatementUrl"

GET_JOB_QUOTE = (
    "Use this call to obtain the time-bound pre-signed download URL for the generated Bill Statement if the "
    "initial [Create StatementJob](https://www.m3ter.com/docs/api#tag/StatementJob/operation/CreateStatementJob) "
    "returned a response showing the `statementJobStatus` not yet complete and as `PENDING` or `RUNNING`."
)
_LIFECYCLE = (
    f"{operation('GetStatementJob')}; {operation('CreateStatementJob', excerpt=True)}; "
    f"{operation('CancelStatementJob', excerpt=True)}"
)

TRANSITION = Rule(
    "statement-job.transition",
    Severity.WARNING,
    inferred(
        'Get StatementJob is for a job "not yet complete and as `PENDING` or `RUNNING`" and Create StatementJob '
        'says "Wait a few minutes to allow the StatementJob to complete", so we infer the status moves '
        "PENDING -> RUNNING -> a final status, though no sentence lists the transitions.",
        _LIFECYCLE,
    ),
    "Status only moves forward: PENDING -> RUNNING -> COMPLETE / FAILED / CANCELLED (steps may be skipped "
    "between reads, never reversed).",
    JOB,
)
TERMINAL_FINAL = Rule(
    "statement-job.terminal-final",
    Severity.WARNING,
    inferred(
        "A job that completed, failed or was halted by Cancel StatementJob has nothing left to run, so we infer "
        "its status never changes again, though no sentence says so.",
        _LIFECYCLE,
    ),
    "A COMPLETE, FAILED or CANCELLED job never changes status again (to any status, known or not).",
    JOB,
)
NO_URL_WHILE_PENDING = Rule(
    "statement-job.no-url-while-pending",
    Severity.WARNING,
    inferred(
        "m3ter says a PENDING or RUNNING answer to Create StatementJob carries no pre-signed URL and that Get "
        "StatementJob gives it once the job completes, so we infer a Get of a PENDING or RUNNING job carries "
        "none either.",
        _LIFECYCLE,
    ),
    "A PENDING or RUNNING job carries neither presigned URL.",
    JOB,
)
JSON_URL_ON_COMPLETE = Rule(
    "statement-job.json-url-on-complete",
    Severity.WARNING,
    inferred(
        "Get StatementJob is the call to obtain the pre-signed URL of a job that was not yet complete, and JSON is "
        "the default format of every statement, so we infer a COMPLETE job carries presignedJsonStatementUrl, "
        "though no sentence says every COMPLETE job does.",
        f"{operation('GetStatementJob')}; {operation('CreateStatementJob', excerpt=True)}",
    ),
    "A COMPLETE job carries presignedJsonStatementUrl (Get StatementJob is the call that obtains it).",
    JOB,
)
CSV_URL_RULE = Rule(
    "statement-job.csv-url",
    Severity.WARNING,
    inferred(
        'includeCsvFormat "TRUE - includes the statement in CSV format" does not say where its URL is, so we '
        "infer a COMPLETE job asked for CSV carries presignedCsvStatementUrl and one that was not never does.",
        schema_field("StatementJobResponse", "includeCsvFormat"),
    ),
    "A COMPLETE job with includeCsvFormat true carries presignedCsvStatementUrl; a job with includeCsvFormat "
    "false never does (an absent includeCsvFormat says nothing).",
    JOB,
)
STATEMENT_STATUS = Rule(
    "statement-job.statement-status",
    Severity.WARNING,
    inferred(
        "The StatementStatus values (LATEST, STALE, INVALIDATED) describe a generated statement, so we infer "
        "jsonStatementStatus and csvStatementStatus appear only with the URL of that statement.",
        f"{M3TER_SPEC}, components.schemas.StatementStatus.enum ({UPSTREAM_SUBSET}; its description and those of "
        "jsonStatementStatus and csvStatementStatus are empty)",
    ),
    "jsonStatementStatus / csvStatementStatus appear only alongside the presigned URL of the same format.",
    JOB,
)


def check_urls(obs: Observation, spec: object) -> Iterator[Finding]:
    body = obs.obj
    status = str_at(body, "statementJobStatus")
    if status in (PENDING, RUNNING):
        for key in (JSON_URL, CSV_URL):
            if present(body, key):
                yield NO_URL_WHILE_PENDING.finding(obs, f"$.{key}", f"a {status} job carries {key}")
    if status == COMPLETE and not present(body, JSON_URL):
        yield JSON_URL_ON_COMPLETE.finding(obs, f"$.{JSON_URL}", f"a COMPLETE job carries no {JSON_URL}")
    csv = body.get("includeCsvFormat") is True
    if status == COMPLETE and csv and not present(body, CSV_URL):
        yield CSV_URL_RULE.finding(
            obs, f"$.{CSV_URL}", f"a COMPLETE job with includeCsvFormat true carries no {CSV_URL}"
        )
    if body.get("includeCsvFormat") is False and present(body, CSV_URL):
        yield CSV_URL_RULE.finding(obs, f"$.{CSV_URL}", f"{CSV_URL} on a job whose includeCsvFormat is false")
    for status_key, url_key in (("jsonStatementStatus", JSON_URL), ("csvStatementStatus", CSV_URL)):
        if present(body, status_key) and not present(body, url_key):
            yield STATEMENT_STATUS.finding(
                obs, f"$.{status_key}", f"{status_key} is {body[status_key]!r} but the job carries no {url_key}"
            )


def compare_status(before: Observation, after: Observation) -> Iterator[Finding]:
    old, new = str_at(before.obj, "statementJobStatus"), str_at(after.obj, "statementJobStatus")
    if old is None or new is None or old == new:
        return
    if old in TERMINAL:  # whatever the new status is, a known one or not
        yield TERMINAL_FINAL.finding(
            after, "$.statementJobStatus", f"the job was {old}, a final state, and is now {new}"
        )
        return
    if old not in _RANK or new not in _RANK:
        return
    if _RANK[new] < _RANK[old]:
        yield TRANSITION.finding(after, "$.statementJobStatus", f"{old} -> {new} goes backwards")


CHECKS = (
    Check(
        (NO_URL_WHILE_PENDING, JSON_URL_ON_COMPLETE, CSV_URL_RULE, STATEMENT_STATUS), snapshot=check_urls, name="urls"
    ),
    Check((TRANSITION, TERMINAL_FINAL), pair=compare_status, name="transitions"),
)

__all__ = ["CHECKS", "GET_JOB_QUOTE", "TERMINAL"]
