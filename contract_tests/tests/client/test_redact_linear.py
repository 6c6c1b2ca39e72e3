"""Every scrubbing pattern is linear on hostile input, proven by operation count, never by wall time.

Three layers: (1) by construction, every repeat in every pattern is possessive (no backtracking into a
repeat); (2) a step-counting matcher (``regex_steps``, checked here against ``re`` itself) runs each pattern
on adversarial inputs and bounds the steps by a constant times the length, at two sizes, and shows the old
quadratic JWT pattern blowing the same bound; (3) ``redact_text`` runs on the 1 MB and 2 MB versions of those
inputs and its output for 2 MB is exactly twice the output for 1 MB (a structural check, no clock).
"""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from m3ter_billing import _redact
from m3ter_billing._redact import REDACTED, redact_text

from .regex_steps import BudgetExceeded, count_steps, hostile, possessive_only, repeats_of

PATTERNS = {
    "signed_query": _redact._SIGNED_QUERY,
    "bearer": _redact._BEARER,
    "basic": _redact._BASIC,
    "dotted_run": _redact._DOTTED_RUN,
    "token_field": _redact._TOKEN_FIELD,
    "url_userinfo": _redact._URL_USERINFO,
}
# The pattern this module replaced: quadratic on "eyJa-eyJa-..." (each start scans to the end of the run).
OLD_JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{2,}\.[A-Za-z0-9_\-]{4,}")

# Periodic adversarial inputs: each is its unit repeated (so doubling the length doubles the structure).
HOSTILE_UNITS = {
    "jwt-prefixes": "eyJa-",
    "jwt-no-signature": "eyJaaaa.bb-",
    "jwt-short-segments": "eyJaaaa.b.",
    "one-long-segment": "a",
    "dots": "a.",
    "dashes-before-eyJ": "-eyJ",
    "bearer-spaces": "bearer     ",
    "bearer-short-token": "Bearer abc ",
    "basic-tabs": "basic\t\t\t",
    "signature-params": "?sig=&x-amz-signature",
    "token-field-spaces": '"access_token"   ',
    "token-field-quotes": 'access_token=""',
    "mixed": "eyJ-bearer ?signature=access_token:.",
    "scheme-runs": "ab+c.d-e:",
    "userinfo-without-at": "a://b:c",
    "userinfo-runs": "a://b@c@",
    "schemes-in-userinfo": "x://y:z://",
    "separators": "://",
    "quoted-userinfo": "://'\"<>:",
    "userinfo-then-slash": "://user:password@b/",
}
ONE_MB = 1 << 20


@pytest.mark.parametrize("name", PATTERNS)
def test_every_repeat_is_possessive(name: str) -> None:
    assert repeats_of(PATTERNS[name]), "each pattern has repeats"
    assert possessive_only(PATTERNS[name]), name


@pytest.mark.parametrize("unit", HOSTILE_UNITS.values(), ids=list(HOSTILE_UNITS))
@pytest.mark.parametrize("name", PATTERNS)
def test_steps_grow_linearly_on_hostile_input(name: str, unit: str) -> None:
    small = hostile(unit, 4096)
    large = small + small
    steps_small, spans_small = count_steps(PATTERNS[name], small, budget=8 * len(small) + 64)
    steps_large, spans_large = count_steps(PATTERNS[name], large, budget=8 * len(large) + 64)
    assert steps_large <= 2 * steps_small + 64
    assert len(spans_large) <= 2 * len(spans_small) + 1


def test_the_step_bound_catches_a_quadratic_pattern() -> None:
    """The same bound fails the pattern this module replaced: the counter can tell linear from quadratic."""
    text = hostile("eyJa-", 4096)
    with pytest.raises(BudgetExceeded):
        count_steps(OLD_JWT, text, budget=8 * len(text) + 64)
    small, _ = count_steps(OLD_JWT, hostile("eyJa-", 500), budget=10**9)
    large, _ = count_steps(OLD_JWT, hostile("eyJa-", 1000), budget=10**9)
    assert large > 3.5 * small


_ALPHABET = "eyJaAbB0-_.~+/= \t\"':,}?&#=@sigbearBASICaccess_tokenx-amz-signatureé"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=80), st.sampled_from(sorted(PATTERNS)))
def test_the_step_counter_matches_what_re_replaces(text: str, name: str) -> None:
    pattern = PATTERNS[name]
    _, spans = count_steps(pattern, text, budget=10**7)
    assert spans == [match.span() for match in pattern.finditer(text)]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="eyJabc-_.9 ", max_size=80))
def test_jwt_redaction_matches_the_replaced_pattern_on_ascii(text: str) -> None:
    if "eyJ" not in text:
        text = "x eyJabcd.ef.ghij-" + text
    assert _redact._DOTTED_RUN.sub(_redact._jwts, text) == OLD_JWT.sub(REDACTED, text)


@pytest.mark.parametrize("unit", HOSTILE_UNITS.values(), ids=list(HOSTILE_UNITS))
def test_redact_text_on_1mb_and_2mb_hostile_input_is_structurally_linear(unit: str) -> None:
    one = hostile(unit, ONE_MB)
    two = one + one
    out_one, out_two = redact_text(one), redact_text(two)
    assert len(out_one) <= 2 * len(one)
    # The scrub of a periodic text is periodic: twice the input gives twice the output, up to the seam.
    assert abs(len(out_two) - 2 * len(out_one)) <= 64


def test_redact_text_still_redacts_inside_hostile_noise() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl"
    rng = random.Random(7)
    noise = "".join(rng.choice("eyJa-.b ") for _ in range(ONE_MB))
    text = (
        f"{noise} {jwt} Bearer abcdefgh12345678 ?X-Amz-Signature=deadbeef&x=1 access_token=tok123"
        f" https://user:pa55w0rd@host/ {noise}"
    )
    out = redact_text(text)
    for secret in (jwt, "abcdefgh12345678", "deadbeef", "tok123", "pa55w0rd"):
        assert secret not in out
