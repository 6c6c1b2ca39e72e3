"""The reports' redaction at its edges: linear on hostile text, and unchanged in what it redacts.

Linearity is proven by counting, never by a clock, as the client's own scrubber is
(``contract_tests/tests/client/test_redact_linear.py``): every repeat is possessive, the step-counting matcher
bounds each pattern's work by a constant times the length (and exceeds the same bound on the patterns these
replaced), and :func:`clean` runs on the megabyte-sized versions of the bug report's inputs in a subprocess
with a generous timeout (the replaced patterns needed hours there).
"""

from __future__ import annotations

import re
import subprocess
import sys
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from m3ter_billing.redaction import REDACTED
from m3ter_contract.conformance import redact
from m3ter_contract.conformance.cli import main
from m3ter_contract.conformance.redact import printable
from m3ter_contract.sandbox import Sandbox, SandboxServer

from .support import cli_args

if TYPE_CHECKING:  # the module as mypy names it (mypy_path), and as pytest imports it (its rootdir on sys.path)
    from tests.client.regex_steps import BudgetExceeded, count_steps, hostile, possessive_only
else:
    from client.regex_steps import BudgetExceeded, count_steps, hostile, possessive_only


# What clean() searches with. _query_secrets() resumes where the name it read ends, as re.sub does, or further
# on (past a redacted value, which _VALUE_END finds in one read), and searches each name once for a secret
# word (_SECRET_NAME: no repeat); _userinfo() searches the scheme run of its match once (_SCHEME_START).
PATTERNS = {
    "param_name": redact._PARAM_NAME,
    "userinfo": redact._USERINFO,
    "value_end": redact._VALUE_END,
    "scheme_start": redact._SCHEME_START,
    "secret_name": redact._SECRET_NAME,
}
# The patterns these replaced: quadratic on "=;keykey..." and "@a-a-a-..." (33 s at 80K and 26 s at 120K).
OLD_QUERY_SECRET = re.compile(
    r"(?i)([?&;][^=&#\s\"'<>]*(?:sig|token|credential|secret|password|policy|session|auth|key)"
    r"[^=&#\s\"'<>]*=)[^&#\s\"'<>]*"
)
OLD_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/@\s\"'<>]+@")

HOSTILE_UNITS = {
    "secret-words": "key",
    "secret-names-never-assigned": "=;key",
    "semicolons": ";",
    "params": "?a=",
    "secret-params": "?token=a;",
    "scheme-chars": "a-",
    "schemes": "a://",
    "schemes-with-user": "a://b@",
    "user-info-never-ending": "b:",
    "mixed": "x-https://u:p@h?sig=1;key",
}


@pytest.mark.parametrize("name", PATTERNS)
def test_no_pattern_of_clean_backtracks(name: str) -> None:
    assert possessive_only(PATTERNS[name]), name


@pytest.mark.parametrize("unit", HOSTILE_UNITS.values(), ids=list(HOSTILE_UNITS))
@pytest.mark.parametrize("name", PATTERNS)
def test_steps_grow_linearly_on_hostile_input(name: str, unit: str) -> None:
    pattern = PATTERNS[name]
    small = hostile(unit, 4096)
    large = small + small
    budget = 24 * len(large) + 64  # secret_name tries its nine words at each character
    steps_small, spans_small = count_steps(pattern, small, budget=budget // 2)
    steps_large, _ = count_steps(pattern, large, budget=budget)
    assert steps_large <= 2 * steps_small + 64
    assert spans_small == [match.span() for match in pattern.finditer(small)]  # the counter agrees with re


@pytest.mark.parametrize(
    ("pattern", "text"),
    [(OLD_QUERY_SECRET, "=;" + "key" * 1400), (OLD_USERINFO, "@" + "a-" * 2048)],
    ids=["query-secret", "userinfo"],
)
def test_the_step_bound_catches_the_replaced_patterns(pattern: re.Pattern[str], text: str) -> None:
    with pytest.raises(BudgetExceeded):
        count_steps(pattern, text, budget=24 * len(text) + 64)


_URLISH = "?&;=#@:/ .+-_aAkKeyYsigtokenauth1\u212a\u017f\u0130\u00e9\"'<>x"


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=_URLISH, max_size=40))
def test_query_redaction_redacts_what_the_replaced_pattern_did(text: str) -> None:
    assert redact._query_secrets(text) == OLD_QUERY_SECRET.sub(r"\1" + REDACTED, text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=_URLISH, max_size=40))
def test_user_info_redaction_redacts_what_the_replaced_pattern_did(text: str) -> None:
    assert redact._USERINFO.sub(redact._userinfo, text) == OLD_USERINFO.sub(r"\1" + REDACTED + "@", text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a?x=1&token=s3cr3t&y=2", f"a?x=1&token={REDACTED}&y=2"),
        ("?next=/p?Signature=abc;k=v", f"?next=/p?Signature={REDACTED}"),  # a URL inside a value
        ("?a;b;api_key=k1#f", f"?a;b;api_key={REDACTED}#f"),
        ("?token", "?token"),
        ("x-https://u:p@h", f"x-https://{REDACTED}@h"),
        ("1https://u:p@h", f"1https://{REDACTED}@h"),  # whatever comes before ://
        ("see git+ssh://git:pw@host/repo and http://h/a@b", f"see git+ssh://{REDACTED}@host/repo and http://h/a@b"),
    ],
)
def test_clean_redacts_query_secrets_and_user_info(text: str, expected: str) -> None:
    assert redact.clean(text) == expected


def _clean_each(value: object) -> object:
    """The reference :func:`redact.redact_json` must equal: :func:`clean` on every string and member name."""
    if isinstance(value, str):
        return redact.clean(value)
    if isinstance(value, dict):
        return {redact.clean(key): _clean_each(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean_each(item) for item in value]
    return value


_PIECES = st.sampled_from(
    ["Bearer ", "abcdefgh12345678", "?sig=", "&token=", "https://", "u:p@", '"', "\n", "\x00", '"\x00"', ":", "="]
)
_TEXTS = st.lists(_PIECES, max_size=6).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        _TEXTS | st.integers() | st.none(),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(_TEXTS, children, max_size=4),
        max_leaves=12,
    )
)
def test_redact_json_cleans_every_string_and_name_as_clean_does_each(value: object) -> None:
    """One pass over all the texts at once (joined by a separator no redaction crosses) gives what cleaning
    each text alone gives, member names included, whatever the texts hold (the separator itself too)."""
    assert redact.redact_json(value) == _clean_each(value)


def test_clean_on_megabytes_of_the_reported_inputs_is_linear() -> None:
    """The bug report's inputs ('@=;' + 'a-' * n, '@=;' + 'key' * n) and the slowest unit of the step test at
    1 MB and 2 MB, in a subprocess: twice the input gives twice the output, up to the seam. The timeout is
    generous (the run needs a few seconds on a busy machine), so only a pattern that is not linear reaches it."""
    code = (
        "import sys\n"
        "from m3ter_contract.conformance.redact import clean\n"
        "for unit in sys.argv[1:]:\n"
        "    one = unit * ((1 << 20) // len(unit))\n"
        "    first, second = clean('@=;' + one), clean('@=;' + one + one)\n"
        "    print(len(second) - 2 * len(first))\n"
    )
    units = ["a-", "key", "?a="]
    done = subprocess.run(
        [sys.executable, "-c", code, *units], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert [abs(int(seam)) <= 64 for seam in done.stdout.split()] == [True] * len(units)


# ---- server text cannot forge a line of output ------------------------------------------------------------

# Everything that starts a line or reorders what a terminal shows: the controls (Cc), the line and paragraph
# separators (Zl, Zp) and Unicode's Bidi_Control property (PropList.txt: the marks ALM, LRM, RLM, and every
# embedding, override and isolate, which the bidirectional classes below name).
_BIDI_CONTROLS = {"\u061c", "\u200e", "\u200f", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))}
_EMBEDDINGS = {"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"}
_SPELLED_OUT = sorted(
    {chr(code) for code in range(sys.maxunicode + 1) if unicodedata.category(chr(code)) in ("Cc", "Zl", "Zp")}
    | _BIDI_CONTROLS
)
_SPELLED_OUT_SET = frozenset(_SPELLED_OUT)
_ESCAPE = re.compile(r"\\x[0-9a-f]{2}|\\u[0-9a-f]{4}")
_FORGED = "note\nPASS: 0 error(s), 0 warning(s), 0 problem(s); 9 reads in 0.4s (exit 0)\n"


def test_every_control_separator_and_bidi_control_is_spelled_out() -> None:
    assert {"\n", "\t", "\r", "\u2028", "\u2029", "\u202e", "\u2066", "\u200f", "\x85"} <= set(_SPELLED_OUT)
    embeddings = {chr(code) for code in range(0x10000) if unicodedata.bidirectional(chr(code)) in _EMBEDDINGS}
    assert embeddings < _BIDI_CONTROLS
    spelled = {char: printable(char) for char in _SPELLED_OUT}
    assert {char: text for char, text in spelled.items() if not _ESCAPE.fullmatch(text)} == {}
    assert printable("a\nb\u202ec") == "a\\x0ab\\u202ec"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", " ", "\u00e9", "\u200d", *_SPELLED_OUT[::7], *"\n\r\u2028\u202e"])))
def test_printable_text_is_one_line_in_the_order_it_is_written(text: str) -> None:
    shown = printable(text)
    assert shown.splitlines() == ([shown] if shown else [])
    assert _ESCAPE.sub("", shown) == "".join(char for char in text if char not in _SPELLED_OUT_SET)


def test_a_field_name_cannot_forge_a_verdict_line(
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox.mutate_responses(sandbox.seeded.bills["monthly"], lambda body: {**body, _FORGED: 1})
    junit = tmp_path / "junit.xml"
    args = [*cli_args(server, sandbox, tmp_path, "--no-state"), "--junit-xml", str(junit)]
    assert main(args, environ=environ) == 0
    out, err = capsys.readouterr()
    verdicts = [line for line in (out + err).splitlines() if line.startswith(("PASS", "FAIL", "INCOMPLETE"))]
    assert verdicts == [out.splitlines()[-1]]
    assert verdicts[0].startswith("PASS: 0 error(s), 1 warning(s)")
    assert "note\\x0aPASS: 0 error(s)" in out
    elements = ET.parse(junit).getroot().iter()  # noqa: S314 - our own report
    texts = [text for element in elements for text in (element.text or "", *element.attrib.values())]
    assert not any("\n" in text and "PASS" in text for text in texts)
    assert any("note\\x0aPASS" in text for text in texts)
