"""Bodies and values a hostile or broken server sends, judged without a crash and in linear time.

Linearity is proven by counting, never by a clock: every repeat of the wire's patterns is possessive, and the
step-counting matcher of the client's tests (``client.regex_steps``) bounds their work on adversarial input
by a constant times its length. One test also runs the real input of the bug report (a cut-off JSON body
wrapped in a JSON string) at 1 MB in a subprocess with a generous timeout: the replaced pattern needed hours.
"""

from __future__ import annotations

import inspect
import json
import math
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from m3ter_contract.conformance.embedded import check_sandbox
from m3ter_contract.conformance.runner import Options
from m3ter_contract.rules import EntityKind, Observation, Spec, evaluate, versioning, wire
from m3ter_contract.rules.statements import Download, check_download, url_expiry
from m3ter_contract.sandbox import ManualClock, Sandbox

if TYPE_CHECKING:  # the module as mypy names it (mypy_path), and as pytest imports it (its rootdir on sys.path)
    from tests.client.regex_steps import count_steps, hostile, possessive_only, repeats_of
else:
    from client.regex_steps import count_steps, hostile, possessive_only, repeats_of


NESTING_PATTERNS = {"string": wire._STRING, "not_bracket": wire._NOT_BRACKET}
# Periodic adversarial inputs: each is its unit repeated (so doubling the length doubles the structure).
HOSTILE_UNITS = {
    "escaped-quotes": '"\\',  # a JSON document wrapped in a JSON string, cut off: \" after \" to the end
    "quotes": '"',
    "backslashes": "\\",
    "escaped-backslash-quote": '\\\\"',
    "open-brackets-in-strings": '"[{',
    "brackets": "[{",
    "plain": "a",
}


@pytest.mark.parametrize("name", NESTING_PATTERNS)
def test_the_nesting_patterns_never_backtrack(name: str) -> None:
    assert repeats_of(NESTING_PATTERNS[name]), "each pattern has repeats"
    assert possessive_only(NESTING_PATTERNS[name]), name


@pytest.mark.parametrize("unit", HOSTILE_UNITS.values(), ids=list(HOSTILE_UNITS))
@pytest.mark.parametrize("name", NESTING_PATTERNS)
def test_the_nesting_patterns_take_linear_steps(name: str, unit: str) -> None:
    pattern = NESTING_PATTERNS[name]
    small = hostile(unit, 4096)
    large = small + small
    steps_small, spans_small = count_steps(pattern, small, budget=8 * len(small) + 64)
    steps_large, _ = count_steps(pattern, large, budget=8 * len(large) + 64)
    assert steps_large <= 2 * steps_small + 64
    assert spans_small == [match.span() for match in pattern.finditer(small)]  # the counter agrees with re


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


_TRICKY = st.text(alphabet='"\\[]{}a\u00e9\n', max_size=6)
_JSON = st.recursive(
    st.none() | st.integers() | _TRICKY,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TRICKY, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_JSON, st.booleans())
def test_nesting_counts_the_brackets_outside_strings_only(document: Any, ascii_only: bool) -> None:
    assert wire.nesting(json.dumps(document, ensure_ascii=ascii_only)) == _depth(document)


def cut_off_double_encoded(size: int) -> bytes:
    """What a gateway that wraps the JSON body into a JSON string and cuts it at ``size`` bytes sends."""
    body = json.dumps({"id": "b-1", "lineItems": [{"description": "[x] {y}", "subtotal": 1.5}] * 8})
    return json.dumps(body * (size // len(body) + 1)).encode()[:size]


def test_a_cut_off_double_encoded_body_of_megabytes_is_decoded_at_once() -> None:
    """The input of the bug report at 1 MB and 2 MB: the replaced pattern read to the end of the body from each
    of its escaped quotes (2.1 s at 20 KB, 46 s at 80 KB: over an hour here). The timeout is generous (the run needs
    well under a second beside the interpreter's start), so only a pattern that is not linear reaches it."""
    code = (
        "import json\n"
        + inspect.getsource(cut_off_double_encoded)
        + (
            "from m3ter_contract.rules import NotJSON, wire\n"
            "for size in (1 << 20, 2 << 20):\n"
            "    body, _ = wire.decode(cut_off_double_encoded(size))\n"
            "    assert isinstance(body, NotJSON) and 'Unterminated string' in body.error, body\n"
            "    print(wire.nesting(cut_off_double_encoded(size).decode()))\n"
        )
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "0"]


# ---- NaN / Infinity where the spec declares no number: the documented finding, and every other rule --------

ONCE = Options(observe=1, rate=100_000)


@pytest.mark.parametrize(
    ("field", "literal", "also"),
    [
        ("status", "NaN", {"schema.type", "schema.enum"}),
        ("version", "Infinity", {"schema.type"}),
        ("id", "NaN", {"schema.type", "entity.id"}),
        ("dtCreated", "-Infinity", {"schema.type"}),
    ],
)
async def test_a_literal_in_a_field_that_is_no_number_is_a_finding(
    field: str, literal: str, also: set[str], sandbox: Sandbox, spec: Spec
) -> None:
    bill = sandbox.seeded.bills["monthly"]
    sandbox.faults.json_literal(bill, field=field, literal=literal)
    result = await check_sandbox(sandbox, ONCE, spec=spec, bill_ids=[bill], statement_job_ids=[])
    assert result.problems == []
    assert {(f.rule, f.path) for f in result.findings} == {("response.json-literal", f"$.{field}")} | {
        (rule, f"$.{field}") for rule in also
    }


async def test_a_literal_as_the_whole_body_is_a_finding(sandbox: Sandbox, spec: Spec) -> None:
    bill = sandbox.seeded.bills["monthly"]
    sandbox.faults.rewrite_body(lambda _: b"NaN", entity_id=bill)
    result = await check_sandbox(sandbox, ONCE, spec=spec, bill_ids=[bill], statement_job_ids=[])
    assert result.problems == []
    assert {(f.rule, f.path) for f in result.findings} == {("response.json-literal", "$"), ("schema.type", "$")}


@pytest.mark.parametrize(
    ("body", "path"), [(wire.JSONLiteral("NaN"), ()), ({"status": wire.JSONLiteral("Infinity")}, ("status",))]
)
def test_the_schema_judges_a_literal_the_compiled_validator_refuses(
    body: Any, path: tuple[str, ...], spec: Spec
) -> None:
    errors = spec.response_errors(EntityKind.BILL, body)
    assert ("type", path) in {(error.validator, tuple(error.absolute_path)) for error in errors}


# ---- integers longer than int() converts (sys.get_int_max_str_digits(), 4300 by default) --------------------

PROBE_FIELD = "hostileProbeInteger"  # a name no spec will learn
LONG, HUGE = 400, 5000  # int() converts the first; the second is past the limit


def _digits(count: int, sign: str = "") -> str:
    return sign + "9" * count


async def _judged(inject: Callable[[Sandbox, str], None]) -> list[tuple[str, str, str]]:
    """(rule, path, severity) of every finding about the monthly bill of a fresh sandbox, read twice."""
    sandbox = Sandbox(clock=ManualClock(), rate_limit=None)
    bill = sandbox.seeded.bills["monthly"]
    inject(sandbox, bill)
    options = Options(observe=2, interval=1.0, rate=100_000)
    result = await check_sandbox(sandbox, options, spec=Spec.load(), bill_ids=[bill], statement_job_ids=[])
    assert result.problems == []
    return sorted((f.rule, f.path, str(f.severity)) for f in result.findings)


def _raw(field: str, text: str) -> Callable[[Sandbox, str], None]:
    return lambda sandbox, bill: sandbox.faults.raw_number(bill, field=field, text=text)


def _added(text: str) -> Callable[[Sandbox, str], None]:
    member = f', "{PROBE_FIELD}": {text}}}'.encode()
    return lambda sandbox, bill: sandbox.faults.rewrite_body(lambda body: body[:-1] + member, entity_id=bill)


@pytest.mark.parametrize(
    ("inject", "expected"),
    [
        (lambda text: _raw("version", text), {"schema.int-range"}),
        (lambda text: _raw("version", "-" + text), {"schema.int-range", "version.minimum"}),
        (lambda text: _raw("billFrequencyInterval", text), {"schema.int-range", "bill.period"}),
        # Thousands of digits are past any double, wherever they are (as 1e400 is): infinity to most readers.
        (lambda text: _raw("quantity", text), {"schema.finite-number"}),
        (lambda text: _raw("id", text), {"schema.type", "entity.id", "schema.finite-number"}),
        (_added, {"drift.unknown-field", "schema.finite-number"}),
    ],
    ids=["version", "negative-version", "int32", "number", "string", "unknown-field"],
)
async def test_an_integer_past_the_conversion_limit_is_judged_as_a_long_one(
    inject: Callable[[str], Callable[[Sandbox, str], None]], expected: set[str]
) -> None:
    assert sys.get_int_max_str_digits() in range(LONG + 1, HUGE)
    huge = await _judged(inject(_digits(HUGE)))
    assert huge == await _judged(inject(_digits(LONG)))
    assert {rule for rule, _, _ in huge} == expected


def test_a_huge_integer_is_decoded_as_its_literal_and_the_limit_stays() -> None:
    limit = sys.get_int_max_str_digits()
    body, issues = wire.decode(f'{{"a": {_digits(HUGE)}, "b": [{_digits(HUGE, "-")}], "c": 7}}'.encode())
    assert issues == []
    assert sys.get_int_max_str_digits() == limit
    assert isinstance(body, dict)
    assert [type(body["a"]), type(body["b"][0]), type(body["c"])] == [wire.HugeInteger, wire.HugeInteger, int]
    assert str(body["a"]) == repr(body["a"]) == f"{body['a']}" == _digits(HUGE)
    assert str(body["b"][0]) == _digits(HUGE, "-")
    # json.dumps writes the stand-in (it calls int.__repr__): short, with the literal's leading digits
    assert json.dumps(body["a"]).startswith("9" * 200)
    assert len(json.dumps(body)) < 1000


def test_a_huge_integer_orders_and_equals_by_its_literal() -> None:
    ten_huge = wire.HugeInteger("1" + "0" * HUGE)
    nines = wire.HugeInteger(_digits(HUGE))
    minus = wire.HugeInteger(_digits(HUGE, "-"))
    numbers: list[Any] = [ten_huge, 10**300, -math.inf, nines, -(10**300), minus, 1.5e308, math.inf, 0]
    assert sorted(numbers) == [-math.inf, minus, -(10**300), 0, 10**300, 1.5e308, nines, ten_huge, math.inf]
    assert nines == wire.HugeInteger(_digits(HUGE))
    assert hash(nines) == hash(wire.HugeInteger(_digits(HUGE)))
    assert nines != wire.HugeInteger(_digits(HUGE) + "9")
    assert nines != wire.HugeInteger(_digits(HUGE - 1) + "8")  # the same first 64 digits
    assert [nines < math.nan, nines > math.nan, nines == math.nan, math.nan <= nines] == [False] * 4
    # What the state file keeps (json.dumps, json.loads) compares equal to the literal read again.
    remembered = json.loads(json.dumps(nines))
    assert type(remembered) is int
    assert remembered == nines
    assert [remembered < nines, nines > remembered, nines <= remembered] == [False, False, True]


# ---- presigned URLs whose expiry no clock holds ----------------------------------------------------------------

_SIGNED = "https://bucket.example/statement.json?X-Amz-Date=20240101T000000Z&X-Amz-Signature=abc"


def test_an_expiry_no_clock_can_hold_is_not_judged_and_one_in_range_is() -> None:
    issued = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    for lifetime in ("1" + "0" * 400, "-1" + "0" * 400, "9" * 5000):
        url = f"{_SIGNED}&X-Amz-Expires={lifetime}"
        assert url_expiry(url) is None, lifetime[:8]
        download = Download("job-1", "org-1", "json", url, read_at=issued, status=200, body=b"{}")
        assert list(check_download(download)) == []
    assert url_expiry(f"{_SIGNED}&X-Amz-Expires=-{'9' * 300}") == issued - float("9" * 300)
    download = Download("job-1", "org-1", "json", f"{_SIGNED}&X-Amz-Expires=3600", read_at=issued + 3601)
    assert [f.rule for f in check_download(download)] == ["statement.url-expiry"]


# ---- ids given in another letter case ----------------------------------------------------------------------


def _identity_findings(body: dict[str, Any], asked_id: str, asked_org: str, spec: Spec) -> list[tuple[str, str]]:
    findings = evaluate([Observation(EntityKind.BILL, asked_id, asked_org, body)], spec)
    return sorted((f.rule, f.path) for f in findings if f.rule.startswith("entity."))


def _bill(sandbox: Sandbox) -> dict[str, Any]:
    """The monthly bill as the sandbox serves it, with the orgId m3ter may add (the sandbox's is a UUID)."""
    return {**sandbox.bill(sandbox.seeded.bills["monthly"]), "orgId": sandbox.credentials.org_id}


def test_uuids_compare_in_any_letter_case_and_other_ids_exactly(sandbox: Sandbox, spec: Spec) -> None:
    body = _bill(sandbox)
    assert body["id"] == body["id"].lower()
    assert _identity_findings(body, body["id"].upper(), body["orgId"].upper(), spec) == []
    assert _identity_findings({**body, "id": body["id"].upper()}, body["id"], body["orgId"], spec) == []
    # another UUID, or an id that is no UUID in another case, is still another entity
    assert _identity_findings(body, sandbox.seeded.bills["daily"].upper(), body["orgId"], spec) == [
        ("entity.id", "$.id")
    ]
    named = {**body, "id": "bill-monthly", "orgId": "org-a"}
    assert _identity_findings(named, "BILL-MONTHLY", "ORG-A", spec) == [
        ("entity.id", "$.id"),
        ("entity.org-id", "$.orgId"),
    ]


# ---- a token echoed into a value is redacted before the value is cut for a message ----------------------------

_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl"


@pytest.mark.parametrize("echoed", [f"by {_JWT}", f"Bearer {_JWT}", "Bearer abcdefgh12345678abcdefgh12345678"])
def test_a_token_in_a_quoted_value_never_shows_its_prefix(echoed: str, sandbox: Sandbox, spec: Spec) -> None:
    bill = sandbox.bill(sandbox.seeded.bills["monthly"])
    findings = evaluate([Observation(EntityKind.BILL, bill["id"], "org-1", {**bill, "status": echoed})], spec)
    enum = [f.message for f in findings if f.rule == "schema.enum"]
    _, issues = wire.decode(json.dumps({"status": echoed})[:-1].encode() + b', "status": "APPROVED"}')
    for message in [*enum, *(issue.message for issue in issues)]:
        assert "[REDACTED]" in message
        assert echoed.split()[-1][:8] not in message  # not even the token's first characters survive the cut
    assert len(enum) == 1
    assert len(issues) == 1


# ---- versions as the server sent them ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "message"),
    [
        ("1e300", "3", "version went back from 1e+300 (an earlier read) to 3"),
        (
            "9" * 5000,
            "3",
            f"version went back from {'9' * 16}...9999 (5000 digits) (an earlier read) to 3",
        ),
        ("7" * 41, "4.0", f"version went back from {'7' * 16}...7777 (41 digits) (an earlier read) to 4.0"),
        ("7" * 40, "5", f"version went back from {'7' * 40} (an earlier read) to 5"),
    ],
    ids=["1e300", "5000-digits", "41-digits", "40-digits"],
)
def test_a_version_is_quoted_as_sent_and_a_long_one_cut_short(before: str, after: str, message: str) -> None:
    def read(version: str, seq: int) -> Observation:
        body, issues = wire.decode(f'{{"id": "b", "version": {version}}}'.encode())
        assert issues == []
        return Observation(EntityKind.BILL, "b", "org-1", body, seq=seq)

    findings = list(versioning.compare_versions(read(before, 1), read(after, 2)))
    assert [(f.rule, f.message) for f in findings] == [("version.no-decrease", message)]
