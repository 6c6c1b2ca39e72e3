"""Drift closes the loop: the sandbox sends fields and enum values the spec lacks; ``m3ter-conformance
--suggest-overlay`` writes them as an overlay; ``scripts/apply_overlay.py`` applies it to a scratch copy's spec;
``scripts/regenerate.py`` regenerates that copy's client, which then parses the new field as a typed attribute;
and the check, judging by the changed spec, reports no drift against the same drifting sandbox.

Kept cheap: one scratch copy, one regeneration, and no lint/type/test run of the copy (the spec-change test
proves that a new optional field and a new enum value regenerate green; this one proves the overlay makes them).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from m3ter_contract.conformance.cli import main
from m3ter_contract.sandbox import ManualClock, Sandbox, SandboxServer

from .scratch import SPEC, copy_repo, run_in

pytestmark = pytest.mark.slow(seconds=10)


@pytest.fixture
def drifting() -> Iterator[tuple[Sandbox, SandboxServer[Sandbox]]]:
    sandbox = Sandbox(clock=ManualClock(), rate_limit=None, large_bill_line_items=5)
    sandbox.faults.extra_fields()
    sandbox.faults.unknown_enum_values()
    with SandboxServer(sandbox, host="127.0.0.1", port=0) as server:
        yield sandbox, server


def _check(
    sandbox: Sandbox, server: SandboxServer[Sandbox], tmp_path: Path, name: str, *extra: str
) -> tuple[int, Path]:
    ids = [arg for bill in sandbox.bill_ids for arg in ("--bill-id", bill)]
    ids += [arg for job in sandbox.statement_job_ids for arg in ("--statement-job-id", job)]
    report = tmp_path / f"{name}.json"
    args = ["--base-url", server.url, *ids, "--rate", "50", "--no-state", "--no-statement-downloads", "--quiet"]
    credentials = sandbox.credentials
    environ = {
        "M3TER_ORG_ID": credentials.org_id,
        "M3TER_API_KEY": credentials.api_key,
        "M3TER_API_SECRET": credentials.api_secret,
    }
    code = main([*args, "--report-json", str(report), *extra], environ=environ)
    return code, report


def _drift(report: Path) -> list[tuple[str, str]]:
    findings = json.loads(report.read_text(encoding="utf-8"))["findings"]
    return sorted({(f["rule"], f["path"]) for f in findings if f["rule"] in ("drift.unknown-field", "schema.enum")})


CLIENT_KNOWS_THE_FIELD = """
import sys
import m3ter_billing
from m3ter_billing import M3terBilling
from m3ter_billing.models import BillResponse

base_url, org_id, key, secret, bill_id = sys.argv[1:]
with M3terBilling(base_url=base_url, org_id=org_id, api_key=key, api_secret=secret, max_retries=0) as client:
    bill = client.bills.retrieve(bill_id, additional=["lineItems"])
assert type(bill) is BillResponse, type(bill)  # no learned subclass: every field is declared
assert type(bill.future_field).__module__.startswith("m3ter_billing.models."), type(bill.future_field)
assert bill.future_field.introduced_in == "2027" and bill.future_field.enabled is True
assert bill.x_sandbox_trace == "extra"
assert bill.status.is_known and bill.billing_frequency.is_known, (bill.status, bill.billing_frequency)
item = bill.line_items[0]
assert item.line_item_type.is_known and item.tax_breakdown[0].rate == 0.2, item
print("typed", m3ter_billing.__file__)
"""


def test_drift_overlay_apply_regenerate_and_the_check_is_clean(
    drifting: tuple[Sandbox, SandboxServer[Sandbox]], tmp_path: Path
) -> None:
    sandbox, server = drifting
    overlay = tmp_path / "drift.yaml"
    code, report = _check(sandbox, server, tmp_path, "before", "--suggest-overlay", str(overlay))
    assert code == 1  # unknown enum values are errors
    before = _drift(report)
    assert ("drift.unknown-field", "$.futureField") in before
    assert ("schema.enum", "$.lineItems[*].lineItemType") in before

    scratch = copy_repo(tmp_path / "repo")
    applied = run_in(scratch, "scripts/apply_overlay.py", str(overlay), timeout=120)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    spec = yaml.safe_load((scratch / SPEC).read_text(encoding="utf-8"))["components"]["schemas"]
    assert "futureField" in spec["BillResponse"]["properties"]
    assert "FUTURE_CHARGE" in spec["LineItemType"]["enum"]

    doc = yaml.safe_load((scratch / SPEC).read_text(encoding="utf-8"))  # a new minor version, as the change needs
    major, minor, *_ = doc["info"]["version"].split(".")
    text = (scratch / SPEC).read_text(encoding="utf-8")
    old_version = f"version: {doc['info']['version']}\n"
    assert text.count(old_version) == 1
    (scratch / SPEC).write_text(text.replace(old_version, f"version: {major}.{int(minor) + 1}.0\n"), encoding="utf-8")
    regenerated = run_in(scratch, "scripts/regenerate.py", timeout=300)
    assert regenerated.returncode == 0, regenerated.stdout + regenerated.stderr
    credentials = sandbox.credentials
    bill = sandbox.seeded.bills["monthly"]
    typed = run_in(
        scratch,
        "-c",
        textwrap.dedent(CLIENT_KNOWS_THE_FIELD),
        server.url,
        credentials.org_id,
        credentials.api_key,
        credentials.api_secret,
        bill,
        timeout=120,
    )
    assert typed.returncode == 0, typed.stdout + typed.stderr
    assert "typed" in typed.stdout
    assert str(scratch / "generated") in typed.stdout  # the scratch copy's client, not the checkout's

    again = tmp_path / "again.yaml"
    code, report = _check(
        sandbox, server, tmp_path, "after", "--spec", str(scratch / SPEC), "--suggest-overlay", str(again)
    )
    assert _drift(report) == []
    assert yaml.safe_load(again.read_text(encoding="utf-8"))["info"]["x-m3ter-drift"] == "none"
