"""``Sandbox``'s Python API refuses what it cannot honour, naming the option (``ValueError``)."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from m3ter_billing import M3terBilling, StatementJobStatus
from m3ter_contract.sandbox import ManualClock, Sandbox, SandboxError, SystemClock


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"rate_limit": 0}, "rate_limit"),
        ({"rate_limit": -1}, "rate_limit"),
        ({"ip_rate_limit": 0}, "ip_rate_limit"),
        ({"token_lifetime": -1}, "token_lifetime"),
        ({"token_lifetime": 0}, "token_lifetime"),
        ({"url_lifetime": 0}, "url_lifetime"),
        ({"url_lifetime": math.nan}, "url_lifetime"),
        ({"large_bill_line_items": -1}, "large_bill_line_items"),
        ({"job_pending_seconds": -1.0}, "job_pending_seconds"),
        ({"job_running_seconds": math.inf}, "job_running_seconds"),
        ({"max_request_body": -1}, "max_request_body"),
    ],
)
def test_options_out_of_range_are_refused_by_name(options: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=rf"^{named} must be"):
        Sandbox(clock=ManualClock(), **options)


def test_rate_limit_zero_is_refused_with_what_to_pass_instead(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match=r"None for no limit .*0 would refuse every request"):
        Sandbox(clock=ManualClock(), rate_limit=0)
    with pytest.raises(ValueError, match="rate_limit"):
        sandbox.rate_limit = 0
    sandbox.rate_limit = 3
    sandbox.rate_limit = None
    assert sandbox.rate_limit is None


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"outcome": "DONE"}, "outcome must be one of COMPLETE, FAILED, CANCELLED, not 'DONE'"),
        ({"pending_for": -5}, "pending_for"),
        ({"running_for": math.nan}, "running_for"),
    ],
)
def test_statement_job_options_are_checked(sandbox: Sandbox, options: dict[str, Any], named: str) -> None:
    before = list(sandbox.statement_job_ids)
    with pytest.raises(ValueError, match=named):
        sandbox.create_statement_job(sandbox.seeded.bills["monthly"], **options)
    assert sandbox.statement_job_ids == before


def test_a_bill_needs_zero_or_more_line_items(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="line_items must be a whole number of at least 0, not -1"):
        sandbox.create_bill(line_items=-1)


def test_advancing_by_nan_leaves_the_clock_alone(sandbox: Sandbox, clock: ManualClock) -> None:
    now = clock.now()
    for seconds in (math.nan, math.inf):
        with pytest.raises(ValueError, match="finite number of seconds"):
            sandbox.advance(seconds)
    assert clock.now() == now
    with pytest.raises(ValueError, match="finite"):
        clock.set(math.nan)


@pytest.mark.parametrize(
    "call", ["complete_job", "fail_job", "cancel_job", "start_job", "advance_job", "statement_job"]
)
def test_an_unknown_job_is_a_404_as_an_unknown_bill_is(sandbox: Sandbox, call: str) -> None:
    with pytest.raises(SandboxError, match="unknown statement job 'nope'") as refused:
        getattr(sandbox, call)("nope")
    assert refused.value.status == 404
    with pytest.raises(SandboxError, match="unknown bill 'nope'") as refused:
        sandbox.approve_bill("nope")
    assert refused.value.status == 404


def test_an_unknown_organization_is_named_with_the_known_ones(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError, match=rf"unknown organization 'nope'; .*{sandbox.org_id}") as refused:
        sandbox.create_bill(org_id="nope")
    assert refused.value.status == 404
    with pytest.raises(SandboxError, match="unknown organization 'nope'") as refused:
        sandbox.issue_token("nope")
    assert refused.value.status == 404


def test_an_unknown_seeded_name_lists_the_names(sandbox: Sandbox) -> None:
    with pytest.raises(KeyError, match=r"no seeded bill named 'nope'; the names are: monthly, daily, "):
        sandbox.seeded.bills["nope"]
    with pytest.raises(KeyError, match=r"no seeded statement job named 'nope'; the names are: .*pending"):
        sandbox.seeded.jobs["nope"]
    assert sandbox.seeded.bills.get("nope") is None
    assert "monthly" in sandbox.seeded.bills


def test_a_clock_that_is_not_a_clock_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"clock must be a Clock, an object with a now\(\) method"):
        Sandbox(clock=time.time)  # type: ignore[arg-type]


def test_the_manual_clock_is_typed_as_one(m3ter_mock: Sandbox) -> None:
    clock = m3ter_mock.manual_clock  # ManualClock, not the Clock protocol: mypy --strict checks this test
    assert clock is m3ter_mock.clock
    clock.set(clock.advance(5) + 1)
    creds = m3ter_mock.credentials
    with M3terBilling(
        org_id=creds.org_id,
        api_key=creds.api_key,
        api_secret=creds.api_secret,
        clock=clock.now,
        sleep=m3ter_mock.advance,  # (seconds) -> None, as sleep= wants; clock.advance returns the new time
    ) as client:
        started = clock.now()
        job = client.statement_jobs.wait(m3ter_mock.seeded.jobs["pending"], timeout=600)
        assert job.statement_job_status is StatementJobStatus.COMPLETE
    assert clock.now() > started


def test_manual_clock_on_another_clock_says_so() -> None:
    with pytest.raises(SandboxError, match="not a ManualClock"):
        _ = Sandbox(clock=SystemClock()).manual_clock
