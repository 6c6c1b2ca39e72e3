"""A compatible or announced spec change flows through untouched: on a scratch copy of the repository, the
spec learns one change of each such kind (a new optional response field, a new response enum value, a new
optional query parameter, a new documented error status, a description change; and the minor version a
release of them needs), ``scripts/regenerate.py`` regenerates, and the check is green with no other edit.

All five kinds go into one copy and one check run (the check takes minutes; five runs would take five
times as long and prove no more: the kinds touch different parts of the spec and each is asserted to have
reached the client). The check run is ``scripts/check.py``'s lint, format, types and regen steps, then its
tests step's pytest without coverage measurement (the floor belongs to the real tree) and without the slow
tests (the wheel installation test, independent of the spec, and this test), on every core (pytest-xdist,
as the check runs it); the client's ``floors`` step
is left out too: it checks the client's dependency ranges, which a spec change does not touch.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from m3ter_dev import spec_diff
from m3ter_dev.check import PYTEST_WORKERS

from .scratch import SPEC, copy_repo, run_in

pytestmark = pytest.mark.slow(seconds=240)  # 3-4 minutes: the whole fast suite of a scratch copy

FIELD, ATTRIBUTE = "invoiceNote", "invoice_note"
VALUE = "CARBON_OFFSET"  # what the conformance check suggests when m3ter sends it (README)
PARAMETER, ARGUMENT = "includeDrafts", "include_drafts"
STATUS = "409"
DESCRIPTION = "The sum total for the Bill, in the Bill's currency, after every line item."


def learn_each_compatible_kind(doc: dict[str, Any]) -> None:
    """The five changes, as a maintainer makes them when the conformance check reports drift."""
    major, minor, *_ = doc["info"]["version"].split(".")
    doc["info"]["version"] = f"{major}.{int(minor) + 1}.0"
    schemas = doc["components"]["schemas"]
    assert FIELD not in schemas["BillResponse"]["properties"]
    assert VALUE not in schemas["LineItemType"]["enum"]
    schemas["BillResponse"]["properties"][FIELD] = {"type": "string", "description": "A note for the invoice."}
    schemas["LineItemType"]["enum"].append(VALUE)
    schemas["BillResponse"]["properties"]["billTotal"]["description"] = DESCRIPTION
    get_bill = doc["paths"]["/organizations/{orgId}/bills/{id}"]["get"]
    assert PARAMETER not in {parameter.get("name") for parameter in get_bill["parameters"]}
    get_bill["parameters"].append(
        {
            "name": PARAMETER,
            "in": "query",
            "required": False,
            "description": "Include the line items of draft charges.",
            "schema": {"type": "boolean"},
        }
    )
    assert STATUS not in get_bill["responses"]
    get_bill["responses"][STATUS] = {
        "description": "The Bill is being recalculated; try again.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def test_each_compatible_kind_regenerates_and_checks_green_with_no_other_edit(tmp_path: Path) -> None:
    scratch = copy_repo(tmp_path / "repo")
    spec_path = scratch / SPEC
    base = yaml.safe_load(spec_path.read_text())
    edited = yaml.safe_load(spec_path.read_text())
    learn_each_compatible_kind(edited)
    spec_path.write_text(yaml.safe_dump(edited, sort_keys=False, allow_unicode=True, width=120))

    report = spec_diff.Report.between(base, edited, "base", str(SPEC))
    assert report.verdict == "announced", report.markdown()
    assert {change.kind for change in report.changes} == {
        "info-version-changed",
        "property-added-optional",
        "enum-value-added",
        "parameter-added-optional",
        "response-added",
        "doc-changed",
    }

    regenerated = run_in(scratch, "scripts/regenerate.py", timeout=300)
    assert regenerated.returncode == 0, regenerated.stdout + regenerated.stderr
    package = scratch / "generated" / "m3ter_billing"
    model = (package / "models" / "bill_response.py").read_text()
    assert re.search(rf'^    {ATTRIBUTE}: str\b.* = msgspec\.field\(name="{FIELD}"', model, re.M), model
    assert VALUE in (package / "models" / "line_item_type.py").read_text()
    assert ARGUMENT in (package / "api" / "bill" / "get_bill.py").read_text()
    assert DESCRIPTION in (package / "models" / "bill_response.py").read_text()

    check = run_in(scratch, "scripts/check.py", "--no-bootstrap", "lint", "format", "types", "regen", timeout=600)
    assert check.returncode == 0, (check.stdout + check.stderr)[-20000:]
    assert "check: all steps passed" in check.stdout + check.stderr
    # The tests step's pytest, without its coverage measurement (the floor is the real tree's, not this copy's).
    tests = run_in(
        scratch, "-m", "pytest", "-q", "-m", "not slow", "-p", "no:cacheprovider", *PYTEST_WORKERS, timeout=1500
    )
    output = tests.stdout + tests.stderr
    assert tests.returncode == 0, output[-20000:]
    assert re.search(r"^\d+ passed", output, re.M), output[-3000:]  # pytest's summary: tests ran
