"""No secret in logs (httpx and friends at DEBUG), reprs or exception messages."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable

import httpx
import pytest
import respx
from m3ter_billing import (
    APIConnectionError,
    PermissionDeniedError,
    ResponseValidationError,
    StatementDownloadError,
    StatementJobResponse,
    _redact,
)
from m3ter_billing._redact import REDACTED, Secret, redact_text, scrub

from .support import API_KEY, API_SECRET, ORG_ID, TOKEN, AsyncClientFactory, ClientFactory, bill_body, job_body

SIGNATURE = "5f2e0c6b9d8a7f1e3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9"
CREDENTIAL = "AKIAIOSFODNN7EXAMPLE%2F20240101%2Fus-east-1%2Fs3%2Faws4_request"
JSON_URL = (
    "https://m3ter-statements.s3.amazonaws.com/org/job-1/statement.json"
    f"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={CREDENTIAL}&X-Amz-Date=20240101T000000Z"
    f"&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature={SIGNATURE}"
)
CSV_URL = JSON_URL.replace("statement.json", "statement.csv")
BASIC = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
SECRETS = {"api secret": API_SECRET, "bearer token": TOKEN, "basic credentials": BASIC, "url signature": SIGNATURE}

JOB_PATH = f"/organizations/{ORG_ID}/statementjobs/job-1"
BILL_PATH = f"/organizations/{ORG_ID}/bills/bill-1"


def assert_clean(texts: Iterable[str], where: str) -> None:
    for text in texts:
        for name, secret in SECRETS.items():
            assert secret not in text, f"{name} leaked in {where}: {text!r}"


def _busy_router(router: respx.Router) -> None:
    """Routes that make the client log as much as it can: retries, a refresh, presigned downloads."""
    job = job_body(includeCsvFormat=True, presignedJsonStatementUrl=JSON_URL, presignedCsvStatementUrl=CSV_URL)
    router.get(JOB_PATH).mock(side_effect=[httpx.Response(503), httpx.Response(200, json=job)])
    router.get(BILL_PATH).mock(
        side_effect=[
            httpx.Response(403, json={"message": f"Token {TOKEN} expired"}),
            httpx.Response(200, json=bill_body()),
        ]
    )
    router.get(JSON_URL).mock(side_effect=[httpx.Response(500), httpx.Response(200, json={"lines": []})])
    router.get(CSV_URL).respond(200, text="a,b\n1,2\n")


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "httpx_retries", "m3ter_billing"):  # each restored at teardown
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def test_no_secret_in_debug_logs_sync(
    router: respx.Router, make_client: ClientFactory, debug_logs: pytest.LogCaptureFixture
) -> None:
    _busy_router(router)
    client = make_client()
    client.bills.retrieve("bill-1")
    job = client.statement_jobs.retrieve("job-1")
    statement = client.statement_jobs.download(job)
    assert statement.csv == "a,b\n1,2\n"
    messages = [record.getMessage() for record in debug_logs.records]
    assert any("statement.json" in m for m in messages), "httpx request logging should be visible"
    assert_clean(messages, "a log record")
    assert_clean([debug_logs.text], "the formatted log")


async def test_no_secret_in_debug_logs_async(
    router: respx.Router, make_async_client: AsyncClientFactory, debug_logs: pytest.LogCaptureFixture
) -> None:
    _busy_router(router)
    client = make_async_client()
    await client.bills.retrieve("bill-1")
    job = await client.statement_jobs.retrieve("job-1")
    await client.statement_jobs.download(job)
    messages = [record.getMessage() for record in debug_logs.records]
    assert messages
    assert_clean(messages, "a log record")


def test_no_secret_in_reprs(router: respx.Router, make_client: ClientFactory) -> None:
    job_json = job_body(presignedJsonStatementUrl=JSON_URL, presignedCsvStatementUrl=CSV_URL, includeCsvFormat=True)
    router.get(JOB_PATH).respond(200, json=job_json)
    client = make_client()
    job = client.statement_jobs.retrieve("job-1")
    raw = client.statement_jobs.with_raw_response.retrieve("job-1")
    reprs = [repr(client), str(client), repr(client.auth), repr(job), str(job), repr(raw), repr(client._settings)]
    assert_clean(reprs, "a repr")
    assert REDACTED in repr(job)
    assert "statement.json" in repr(job)  # the URL is still recognisable
    # The value itself is intact for the caller who asks for it.
    assert job.presigned_json_statement_url == JSON_URL


def test_model_with_unknown_signed_field_repr_is_clean() -> None:
    job = StatementJobResponse.from_dict({"id": "j", "presignedPdfStatementUrl": JSON_URL})
    assert_clean([repr(job)], "a model repr")
    assert job.additional_properties["presignedPdfStatementUrl"] == JSON_URL


def test_no_secret_in_exceptions(router: respx.Router, make_client: ClientFactory) -> None:
    router.get(BILL_PATH).respond(403, json={"message": f"bad token Bearer {TOKEN} for {API_SECRET}"})
    job_json = job_body(presignedJsonStatementUrl=JSON_URL)
    router.get(JOB_PATH).respond(200, json=job_json)
    router.get(JSON_URL).respond(403, text=f"<Error>Request has expired {SIGNATURE}</Error>")
    client = make_client()
    errors: list[Exception] = []
    with pytest.raises(PermissionDeniedError) as denied:
        client.bills.retrieve("bill-1")
    errors.append(denied.value)
    with pytest.raises(StatementDownloadError) as download:
        client.statement_jobs.download("job-1")
    errors.append(download.value)
    router.get(f"/organizations/{ORG_ID}/statementjobs/bad").respond(200, json={"id": 1, "x": JSON_URL})
    with pytest.raises(ResponseValidationError) as invalid:
        client.statement_jobs.retrieve("bad")
    errors.append(invalid.value)
    router.get(f"/organizations/{ORG_ID}/statementjobs/down").mock(side_effect=httpx.ConnectError(f"down {JSON_URL}"))
    with pytest.raises(APIConnectionError) as down:
        client.statement_jobs.retrieve("down")
    errors.append(down.value)
    assert_clean([t for e in errors for t in (str(e), repr(e), str(e.args))], "an exception")
    assert_clean([str(getattr(e, "message", "")) for e in errors], "an exception message")


def test_token_response_body_is_not_logged(
    router: respx.Router, make_client: ClientFactory, debug_logs: pytest.LogCaptureFixture
) -> None:
    router.get(BILL_PATH).respond(200, json=bill_body())
    make_client().bills.retrieve("bill-1")
    assert_clean([r.getMessage() for r in debug_logs.records], "a log record")


# -- the redaction functions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"Authorization: Bearer {TOKEN}",
        f"authorization: bearer {TOKEN}",
        f"Authorization: Basic {BASIC}",
        f"GET {JSON_URL} HTTP/1.1",
        f'{{"access_token": "{TOKEN}", "expires_in": 18000}}',
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ],
)
def test_redact_text_removes_secret_shapes(text: str) -> None:
    out = redact_text(text)
    assert REDACTED in out
    assert TOKEN not in out
    assert BASIC not in out
    assert SIGNATURE not in out
    assert "dozjgNryP4J3jVmNHl0w5N" not in out


def test_redact_keeps_harmless_text() -> None:
    text = "GET https://api.m3ter.com/organizations/o/bills/b?additional=lineItems 200"
    assert redact_text(text) == text
    # An @ in a path, a query or an e-mail address is no user name.
    for harmless in ("https://host/a@b", "https://host?a=b@c", "https://host#x@y", "write to me@example.com"):
        assert redact_text(harmless) == harmless


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("https://user:pa55w0rd@host/x?a=1", f"https://{REDACTED}@host/x?a=1"),
        ("HTTPS://pa55w0rd@host:8443", f"HTTPS://{REDACTED}@host:8443"),
        ("redis://:pa55w0rd@cache", f"redis://{REDACTED}@cache"),
        ("https://user:pa55@w0rd@host/", f"https://{REDACTED}@host/"),  # an @ in the password, unescaped
        ("GET https://u:pa55w0rd@host/ 200", f"GET https://{REDACTED}@host/ 200"),
        ("https://user:pa55'w0rd@bucket.example/x", f"https://{REDACTED}@bucket.example/x"),  # RFC 3986 allows '
        ('https://user:pa55"<w0rd>@host/', f"https://{REDACTED}@host/"),
        ("-https://u:pa55w0rd@host/", f"-https://{REDACTED}@host/"),
        ("1https://u:pa55w0rd@host/", f"1https://{REDACTED}@host/"),
        ("<Request('GET', \"https://u:pa55'w@host/\")>", f"<Request('GET', \"https://{REDACTED}@host/\")>"),
    ],
)
def test_a_user_name_and_password_in_a_url_are_redacted(url: str, redacted: str) -> None:
    assert redact_text(url) == redacted
    assert "pa55" not in scrub(url)


def test_secret_value_never_shows() -> None:
    secret = Secret("a-registered-secret-value")
    assert "a-registered-secret-value" not in repr(secret)
    assert "a-registered-secret-value" not in str(secret)
    assert secret.reveal() == "a-registered-secret-value"
    assert scrub("x a-registered-secret-value y") == f"x {REDACTED} y"


def test_a_short_secret_is_redacted_everywhere_but_inside_an_id(monkeypatch: pytest.MonkeyPatch) -> None:
    # A four-character secret also occurs inside UUIDs: replacing it there garbles the ids (in reports
    # unreadable) and hides nothing. Anywhere else it is redacted: next to letters, after an escape.
    monkeypatch.setattr(_redact, "known_secrets", _redact._Secrets())  # these secrets stay in this test
    Secret("c9e4")
    uuid = "c9e4a9b8-e7e1-4ed8-ad26-5dd8bf3c9e4b"
    assert scrub(f"bill {uuid} not found") == f"bill {uuid} not found"
    assert scrub(f"{uuid}c9e4") == f"{uuid}{REDACTED}"
    for text in ("c9e4", "secret=c9e4&x=1", "xc9e4y", "line1\\nc9e4", "\\u00e9c9e4", "next=%2Fx%3Fkey%3Dc9e4"):
        assert "c9e4" not in scrub(text), text
    # A secret long enough to be distinctive is redacted wherever it occurs, inside an id too.
    Secret("a-long-enough-secret-77")
    assert scrub("xa-long-enough-secret-77y") == f"x{REDACTED}y"


def test_a_short_secret_is_redacted_in_linear_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_redact, "known_secrets", _redact._Secrets())
    Secret("abcd")
    uuid = "abcdabcd-abcd-abcd-abcd-abcdabcdabcd"
    text = (uuid + " abcd ") * 20_000  # 40,000 occurrences, half of them in one of 20,000 ids
    assert scrub(text) == (uuid + f" {REDACTED} ") * 20_000


def test_issued_tokens_are_remembered_in_a_bounded_registry() -> None:
    permanent = Secret("a-permanent-secret-0f9e8d")
    tokens = [Secret(f"issued-token-{n:05d}-zz", issued=True) for n in range(_redact.ISSUED_KEPT * 10)]
    newest = tokens[-1].reveal()
    assert scrub(f"x {newest} y") == f"x {REDACTED} y"
    assert scrub(f"x {permanent.reveal()} y") == f"x {REDACTED} y"
    remembered = [t for t in tokens if REDACTED in scrub(t.reveal())]
    assert len(remembered) <= _redact.ISSUED_KEPT  # old tokens are forgotten, not kept forever


def _record(msg: object, args: tuple[object, ...] = ()) -> logging.LogRecord:
    return logging.LogRecord("m3ter_billing", logging.INFO, __file__, 1, msg, args, None)


def test_log_records_whose_message_is_not_a_string_are_scrubbed() -> None:
    from m3ter_billing._redact import RedactingFilter

    Secret(API_SECRET)  # as a client registers it
    record = _record(RuntimeError(f"sent {API_SECRET} to {JSON_URL}"))
    assert RedactingFilter().filter(record)
    assert_clean([record.getMessage()], "a non-str log message")
    assert "sent" in record.getMessage()


def test_log_records_with_arguments_that_do_not_fit_are_scrubbed_not_raised() -> None:
    from m3ter_billing._redact import RedactingFilter

    Secret(API_SECRET)  # as a client registers it
    record = _record("secret %s %s", (API_SECRET,))  # one argument short
    assert RedactingFilter().filter(record)
    message = record.getMessage()
    assert_clean([message], "a log record with bad arguments")
    assert message.startswith("secret %s %s")


def test_log_redaction_is_installed_when_the_package_is_imported() -> None:
    import subprocess
    import sys

    code = (
        "import logging, sys\n"
        "logging.basicConfig(stream=sys.stdout, level=logging.INFO, format='%(message)s')\n"
        "import m3ter_billing\n"
        f"logging.getLogger('httpx').info('HTTP Request: GET %s', {JSON_URL!r})\n"
        f"logging.getLogger('m3ter_billing').info('Authorization: Bearer {TOKEN}')\n"
    )
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert child.stdout.count(REDACTED) >= 2, child.stdout
    assert_clean([child.stdout, child.stderr], "logs of a process that only imported the package")


def test_log_redaction_can_be_switched_off_and_on_again() -> None:
    from m3ter_billing.redaction import set_log_redaction

    def filtered(name: str) -> bool:
        return any(type(f).__name__ == "RedactingFilter" for f in logging.getLogger(name).filters)

    assert filtered("httpx")
    assert filtered("m3ter_billing")
    try:
        set_log_redaction(False)
        assert not filtered("httpx")
        assert not filtered("httpcore.http11")
        assert not filtered("m3ter_billing")
        from m3ter_billing._redact import install_log_redaction

        install_log_redaction()  # what every new client calls: a no-op while switched off
        assert not filtered("httpx")
    finally:
        set_log_redaction(True)
    assert filtered("httpx")
    assert filtered("httpcore.http11")
