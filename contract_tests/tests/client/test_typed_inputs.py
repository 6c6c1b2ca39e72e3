"""Typed errors for hostile inputs: ``RateLimitError.retry_after`` is always usable by ``time.sleep``, and
credentials that cannot go on the wire are a ``ConfigurationError`` naming the setting, never its value."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from m3ter_billing import ConfigurationError, M3terBilling, RateLimitError
from m3ter_billing._settings import Settings

from .support import API_KEY, API_SECRET, BASE_URL, ORG_ID


def _rate_limited(**headers: str) -> RateLimitError:
    raw = [(name.encode(), value.encode()) for name, value in headers.items()]  # as they come off the wire
    return RateLimitError("slow down", status_code=429, headers=httpx.Headers(raw))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": " 0.5 "}, 0.5),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after-ms": "soon", "retry-after": "3"}, 3.0),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "NaN"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "-Infinity"}, None),
        ({"retry-after": "-1"}, None),
        ({"retry-after": "1e3"}, None),
        ({"retry-after": "1_000"}, None),
        ({"retry-after": "9" * 400}, None),
        ({"retry-after": "99999999999"}, None),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ({"retry-after": ""}, None),
        ({"retry-after": "٣"}, None),  # an Arabic-Indic digit: float() takes it, HTTP does not
    ],
)
def test_retry_after_is_finite_non_negative_or_none(headers: dict[str, str], expected: float | None) -> None:
    assert _rate_limited(**headers).retry_after == expected


@given(st.text(max_size=40), st.text(max_size=40))
def test_retry_after_of_any_header_can_be_slept_on(seconds: str, millis: str) -> None:
    headers = httpx.Headers([(b"retry-after", seconds.encode()), (b"retry-after-ms", millis.encode())])
    value = RateLimitError("x", status_code=429, headers=headers).retry_after
    assert value is None or (isinstance(value, float) and math.isfinite(value) and 0 <= value <= 1e9)
    if value is not None:
        time.sleep(min(value, 0))  # accepted by time.sleep (the cap keeps the test instant)


_SETTINGS = {"base_url": BASE_URL, "org_id": ORG_ID, "api_key": API_KEY, "api_secret": API_SECRET}


@pytest.mark.parametrize("setting", ["base_url", "org_id", "api_key", "api_secret"])
@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("x\udcffy", "not valid UTF-8"),  # an undecodable byte from os.environ (surrogateescape)
        ("x\x00y", "control characters"),
        ("x\ny", "control characters"),
        ("x\x7fy", "control characters"),
        ("x\x85y", "control characters"),
    ],
)
def test_bad_credentials_from_kwargs_name_the_setting_not_the_value(setting: str, bad: str, says: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.resolve(**{**_SETTINGS, setting: bad}, environ={})
    message = str(caught.value)
    assert f"M3TER_{setting.upper()}" in message
    assert says in message
    assert "x" + bad[1] not in message
    with pytest.raises(ConfigurationError):
        M3terBilling(**{**_SETTINGS, setting: bad})


@pytest.mark.parametrize("setting", ["org_id", "api_key", "api_secret"])
def test_bad_credentials_from_the_environment_name_the_variable(setting: str) -> None:
    variable = f"M3TER_{setting.upper()}"
    environ = {f"M3TER_{name.upper()}": value for name, value in _SETTINGS.items()}
    environ[variable] = "secret\udcfftail"
    with pytest.raises(ConfigurationError, match=variable) as caught:
        Settings.resolve(base_url=None, org_id=None, api_key=None, api_secret=None, environ=environ)
    assert "tail" not in str(caught.value)


def test_non_utf8_bytes_in_the_real_environment_are_a_configuration_error() -> None:
    """An undecodable byte in the process environment (as a shell could export it) reaches os.environ as a
    lone surrogate: the client refuses it with ConfigurationError, not a bare UnicodeEncodeError."""
    code = (
        "from m3ter_billing import M3terBilling, ConfigurationError\n"
        "try:\n    M3terBilling()\nexcept ConfigurationError as exc:\n    print('refused:', exc)\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("M3TER_")},
        "M3TER_BASE_URL": BASE_URL,
        "M3TER_ORG_ID": ORG_ID,
        "M3TER_API_KEY": API_KEY,
    }
    env_bytes = {k.encode(): v.encode() for k, v in env.items()}
    env_bytes[b"M3TER_API_SECRET"] = b"secret-\xff\xfe-tail"
    child = subprocess.run([sys.executable, "-c", code], env=env_bytes, capture_output=True, check=False, timeout=60)
    assert child.returncode == 0, child.stderr.decode(errors="replace")[-2000:]
    out = child.stdout.decode()
    assert out.startswith("refused: api_secret (M3TER_API_SECRET) is not valid UTF-8"), out
    assert "tail" not in out


def test_api_key_with_a_colon_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="M3TER_API_KEY"):
        Settings.resolve(**{**_SETTINGS, "api_key": "a:b"}, environ={})


def test_non_ascii_utf8_credentials_are_accepted_and_sent() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization", ""))
        return httpx.Response(200, json={"access_token": "t" * 20, "expires_in": 60})

    client = M3terBilling(**{**_SETTINGS, "api_secret": "sécret-ключ"}, transport=httpx.MockTransport(handler))
    with client, pytest.raises(Exception):  # noqa: B017,PT011 - the bill body is a token body; only the token matters
        client.bills.retrieve("bill-1")
    assert seen[0].startswith("Basic ")


@pytest.mark.parametrize("token", ["0' Z€", "with space-123", "tab\there", ""])
def test_a_token_that_cannot_be_a_header_is_a_response_validation_error(token: str) -> None:
    """Found by test_fuzz: a non-ASCII access_token escaped as a bare UnicodeEncodeError."""
    from m3ter_billing import ResponseValidationError

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": token, "expires_in": 60})
        return httpx.Response(200, json={"id": "job-1"})

    client = M3terBilling(**_SETTINGS, transport=httpx.MockTransport(handler))
    with client, pytest.raises(ResponseValidationError) as caught:
        client.statement_jobs.retrieve("job-1")
    assert caught.value.path == "$.access_token"
