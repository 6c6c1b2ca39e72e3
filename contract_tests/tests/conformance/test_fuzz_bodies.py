"""Arbitrary JSON-ish bodies through the whole runner: no uncaught exception, and every report well formed.

Bodies are drawn as JSON values (odd Unicode and control characters in keys and strings, huge integers,
non-finite floats written as NaN/Infinity literals, deep nesting) and sometimes spoiled on the wire (a byte
order mark, a truncation, a duplicated member). Each one is served as a bill and as a statement job.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from m3ter_contract.conformance import report
from m3ter_contract.conformance.embedded import check_sandbox
from m3ter_contract.conformance.runner import Options, RunResult
from m3ter_contract.rules import Spec
from m3ter_contract.sandbox import ManualClock, Sandbox
from rich.console import Console

OPTIONS = Options(observe=2, interval=1.0, rate=100_000, concurrency=2, max_retries=0)
SPEC = Spec.load()

keys = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["id", "version", "status", "lineItems", "billTotal", "statementJobStatus", "a|b", "`x`"]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5), max_leaves=25
)


def _deep(depth: int) -> bytes:
    return b'{"id": ' + b"[" * depth + b"]" * depth + b"}"


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    value: Any = draw(st.dictionaries(keys, values, max_size=8) | values)
    text = json.dumps(value, allow_nan=True, ensure_ascii=draw(st.booleans()))
    raw = text.encode("utf-8", "surrogatepass")
    spoil = draw(st.sampled_from(["none", "none", "bom", "truncate", "duplicate", "deep", "bytes"]))
    if spoil == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif spoil == "truncate":
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif spoil == "duplicate" and raw.startswith(b"{") and len(raw) > 2:
        raw = b'{"status": "X", "status": [1], ' + raw[1:] if raw != b"{}" else raw
    elif spoil == "deep":
        raw = _deep(draw(st.sampled_from([63, 64, 65, 900, 5_000])))
    elif spoil == "bytes":
        raw = draw(st.binary(max_size=64))
    return raw


_SANDBOX: list[Sandbox] = []


def _sandbox() -> Sandbox:
    if not _SANDBOX:
        _SANDBOX.append(Sandbox(clock=ManualClock(), rate_limit=None, large_bill_line_items=5))
    return _SANDBOX[0]


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def _reports_are_well_formed(result: RunResult) -> None:
    document = json.loads(report.json_text(result))
    assert document["summary"]["observations"] == result.observations
    ET.fromstring(report.junit_xml(result).split("\n", 1)[1])  # noqa: S314 - our own report; parses as XML 1.0
    markdown = report.markdown(result)
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and not line.startswith("| severity")]
    assert len(rows) == min(len(result.findings), report.MARKDOWN_ROWS)
    for row in rows:
        assert _unescaped_pipes(row) == 7, row  # six cells: no server text broke the table
    out = io.StringIO()
    report.print_summary(result, Console(file=out, width=120, force_terminal=False, color_system=None))
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", out.getvalue())  # no server control character reaches it


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(body=bodies())
def test_any_body_is_judged_and_reported_without_crashing(body: bytes) -> None:
    sandbox = _sandbox()
    sandbox.clear_faults()
    bill, job = sandbox.seeded.bills["monthly"], sandbox.seeded.jobs["complete_json"]
    sandbox.faults.rewrite_body(lambda _: body, entity_id=bill)
    sandbox.faults.rewrite_body(lambda _: body, entity_id=job)
    result = asyncio.run(check_sandbox(sandbox, OPTIONS, spec=SPEC, bill_ids=[bill], statement_job_ids=[job]))
    assert [p for p in result.problems if p.kind == "internal"] == []
    assert result.exit_code in (0, 1, 2)
    _reports_are_well_formed(result)
