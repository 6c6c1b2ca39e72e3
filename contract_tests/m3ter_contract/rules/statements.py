"""The statement documents behind a COMPLETE job's presigned URLs: downloadable, parseable, not yet expired.

The conformance check downloads each URL (a plain GET, no credentials, bounded in size and time) and hands
the outcome to :func:`check_download` as a :class:`Download`. Nothing documents what a statement holds, so
the JSON statement is judged as JSON and the CSV one as CSV (RFC 4180; its header row is our inference).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

from .sources import RFC_4180, operation, schema_field
from .statement_jobs import CSV_URL, GET_JOB_QUOTE, JSON_URL
from .vocabulary import (
    Check,
    EntityKind,
    Finding,
    NotJSON,
    Observation,
    Rule,
    Severity,
    documented,
    inferred,
    standard,
)
from .wire import MAX_DEPTH, TOO_DEEP, decode

JOB = frozenset({EntityKind.STATEMENT_JOB})
Format = Literal["json", "csv"]
URL_FIELDS: dict[Format, str] = {"json": JSON_URL, "csv": CSV_URL}

_GET_JOB = documented(GET_JOB_QUOTE, operation("GetStatementJob"))
STATEMENT_DOWNLOAD = Rule(
    "statement.download",
    Severity.ERROR,
    _GET_JOB,
    "A COMPLETE job's presigned URL answers a plain GET (no credentials) with 200: a URL that does not "
    "download the statement is not a download URL. A 429 or 5xx is retried first; a store still answering "
    "so after the retries is a problem of the run (availability), not judged. Neither is a URL that was valid "
    "when its job was read but expired before the check sent its GET (the check's own pacing): a problem of "
    "the run.",
    JOB,
)
STATEMENT_JSON = Rule(
    "statement.json",
    Severity.ERROR,
    documented(
        "The URL to access the generated statement in JSON format.",
        schema_field("StatementJobResponse", "presignedJsonStatementUrl"),
    ),
    "The JSON statement is a JSON document (strict RFC 8259: no NaN, no byte order mark, no repeated member "
    "name; a member repeated with equal values is a warning, as in response.duplicate-member). A statement "
    f"nested deeper than {MAX_DEPTH} levels is not judged (a note of the run, as one too large to download).",
    JOB,
)
STATEMENT_CSV = Rule(
    "statement.csv",
    Severity.ERROR,
    documented(
        "TRUE - includes the statement in CSV format.", schema_field("StatementJobResponse", "includeCsvFormat")
    ),
    "The CSV statement is CSV: not empty, not markup or JSON, and it parses as RFC 4180 section 2 writes CSV "
    "(fields separated by commas, a quoted field closed by its quote). How wide its lines are is "
    "statement.csv-width; its text encoding and header row are statement.csv-header.",
    JOB,
)
STATEMENT_CSV_WIDTH = Rule(
    "statement.csv-width",
    Severity.WARNING,
    standard(
        "Within the header and each record, there may be one or more fields, separated by commas. Each line "
        "should contain the same number of fields throughout the file.",
        f"{RFC_4180}, section 2",
    ),
    "Every line of the CSV statement has as many fields as its first line. A warning: RFC 4180 says lines "
    '"should" be as wide, not that they must.',
    JOB,
)
STATEMENT_CSV_HEADER = Rule(
    "statement.csv-header",
    Severity.WARNING,
    inferred(
        "RFC 4180 makes the header line optional and names no charset, and m3ter documents neither the CSV "
        "statement's columns nor its encoding, so we infer a statement meant for spreadsheets is UTF-8 text that "
        "starts with a header row of non-empty column names.",
        f"{RFC_4180}, section 2; {schema_field('StatementJobResponse', 'includeCsvFormat')}",
    ),
    "The CSV statement is UTF-8 text (a byte order mark allowed) whose first line is a header row of non-empty "
    "column names.",
    JOB,
)
STATEMENT_URL_EXPIRY = Rule(
    "statement.url-expiry",
    Severity.ERROR,
    _GET_JOB,
    "A presigned URL has not expired when the job carrying it is read (time-bound: valid for some time after "
    "it is handed out; X-Amz-Date + X-Amz-Expires for AWS SigV4, Expires for SigV2/CloudFront-style URLs); a "
    "URL without either, or with a value that does not parse or is out of any clock's range, is not judged.",
    JOB,
)


@dataclass(frozen=True, slots=True)
class Download:
    """One statement URL and what a GET of it answered (``status`` None: nothing was fetched)."""

    job_id: str
    org_id: str
    format: Format
    url: str
    read_at: float
    """When the job carrying the URL was read (seconds since the epoch: the ``Date`` of the job's response,
    the server's clock, else the check's)."""
    status: int | None = None
    content_type: str | None = None
    body: bytes = b""
    error: str | None = None
    """Why nothing usable came back when no status did (the runner reports that as a problem instead)."""
    answered_at: float | None = None
    """When the answer whose ``status`` is judged came, on ``read_at``'s clock (``read_at`` plus the time the
    check's clock says passed since the read, so the skew between the two clocks cancels out); None: unknown.
    The store judged the URL between the GET and this answer."""


DATE_RESOLUTION = 1.0
"""An HTTP ``Date`` is in whole seconds (the time cut down), so a read was up to a second after ``read_at``."""


@dataclass(frozen=True, slots=True)
class Judged:
    """What :func:`judge_download` made of one download."""

    findings: list[Finding]
    not_judged: str | None = None
    """Why the content was not judged when a limit of this check stopped it (a note of the run)."""
    expired: float | None = None
    """The URL's expiry when it passed after the job was read but before the check's GET was answered, and
    that answer was not 2xx: that answer says nothing about the URL m3ter handed out (a problem of the run, which
    the caller reports: the check's own pacing came too late), and it is not judged."""


def url_expiry(url: str) -> float | None:
    """When a presigned URL stops working (seconds since the epoch), or None if it does not say: also when
    what it says is unparseable, or out of any range a clock holds (an ``X-Amz-Expires`` of 400 digits)."""
    params = {key.lower(): value for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
    stamp, lifetime = params.get("x-amz-date"), params.get("x-amz-expires")
    if stamp is not None and lifetime is not None:
        try:
            issued = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
            # float + int converts the int: past a double's range that is an OverflowError too
            return issued + int(lifetime)
        except (ValueError, OverflowError):
            return None
    expires = params.get("expires")
    if expires is not None and expires.isdigit() and len(expires) <= 12:
        return float(expires)
    return None


def when(seconds: float) -> str:
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError, OSError):
        return f"{seconds:g} s after the epoch"


def _csv_problems(body: bytes) -> list[tuple[Rule, str]]:
    """What is wrong with a CSV statement, each with the rule it breaks (none: nothing): what follows "the CSV
    statement" in a finding's message."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [(STATEMENT_CSV_HEADER, f"is not UTF-8 text (byte {exc.start}); its content is not judged further")]
    if not text.strip():
        return [(STATEMENT_CSV, "is empty: not a single record")]
    if text.lstrip()[:1] in ("<", "{", "["):
        return [(STATEMENT_CSV, f"starts with {text.lstrip()[:1]!r}: markup or JSON, not CSV")]
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        return [(STATEMENT_CSV, f"is not CSV ({exc})")]
    problems: list[tuple[Rule, str]] = []
    first = rows[0]
    if any(not name.strip() for name in first):
        problems.append((STATEMENT_CSV_HEADER, f"has a header row with an empty column name ({first[:8]!r})"))
    for number, row in enumerate(rows[1:], 2):
        if row and len(row) != len(first):
            problems.append(
                (STATEMENT_CSV_WIDTH, f"has {len(row)} fields on line {number}, {len(first)} on its first line")
            )
            break
    return problems


def check_download(download: Download) -> Iterator[Finding]:
    """The findings about one downloaded statement (reported against its job and URL field)."""
    yield from judge_download(download).findings


def _expired_before_get(download: Download, expiry: float | None) -> bool:
    """Whether the URL, valid when the job was read, may have expired by the time the store judged the GET
    (before its answer came; within the ``Date`` header's resolution)."""
    if expiry is None or download.answered_at is None or expiry <= download.read_at:
        return False
    return expiry <= download.answered_at + DATE_RESOLUTION


def judge_download(download: Download) -> Judged:
    """The findings about one downloaded statement (reported against its job and URL field), why its content
    was not judged when a limit of this check stopped it, and whether the URL expired before the GET."""
    obs = Observation(EntityKind.STATEMENT_JOB, download.job_id, download.org_id, None)
    path = f"$.{URL_FIELDS[download.format]}"
    findings: list[Finding] = []
    expiry = url_expiry(download.url)
    if expiry is not None and expiry <= download.read_at:
        findings.append(
            STATEMENT_URL_EXPIRY.finding(
                obs, path, f"the URL expired at {when(expiry)}, before the job was read at {when(download.read_at)}"
            )
        )
    if download.status is None:
        return Judged(findings)
    if not 200 <= download.status < 300 and _expired_before_get(download, expiry):
        return Judged(findings, expired=expiry)
    if download.status != 200:
        message = f"GET of the {download.format.upper()} statement answered {download.status}"
        return Judged([*findings, STATEMENT_DOWNLOAD.finding(obs, path, message)])
    if download.format == "json":
        body, issues = decode(download.body)
        if isinstance(body, NotJSON) and body.limit:
            return Judged(findings, f"is {TOO_DEEP}, more than this check judges")
        if isinstance(body, NotJSON):
            findings.append(STATEMENT_JSON.finding(obs, path, f"the JSON statement is not JSON ({body.error})"))
        elif issues:
            # Each issue as severe as in an API body (a member repeated with equal values is a warning): the
            # first error, else the first warning.
            errors = [issue for issue in issues if (issue.severity or issue.rule.severity) is Severity.ERROR]
            first = (errors or issues)[0]
            message = f"the JSON statement is not strict JSON: {first.message}"
            findings.append(STATEMENT_JSON.finding(obs, path, message, severity=None if errors else Severity.WARNING))
    else:
        for rule, problem in _csv_problems(download.body):
            findings.append(rule.finding(obs, path, f"the CSV statement {problem}"))
    return Judged(findings)


CHECKS = (
    Check(
        (
            STATEMENT_DOWNLOAD,
            STATEMENT_JSON,
            STATEMENT_CSV,
            STATEMENT_CSV_WIDTH,
            STATEMENT_CSV_HEADER,
            STATEMENT_URL_EXPIRY,
        ),
        name="statements",
    ),
)

__all__ = [
    "CHECKS",
    "DATE_RESOLUTION",
    "URL_FIELDS",
    "Download",
    "Format",
    "Judged",
    "check_download",
    "judge_download",
    "url_expiry",
    "when",
]
