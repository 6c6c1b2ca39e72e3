"""Helpers shared by the conformance command's tests: the arguments of a run against the loopback sandbox,
and the JSON report it wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from m3ter_contract.sandbox import Sandbox, SandboxServer


def cli_args(
    server: SandboxServer[Sandbox], sandbox: Sandbox, tmp_path: Path, *extra: str, quiet: bool = True
) -> list[str]:
    """A run over one seeded bill and one COMPLETE job with CSV, no retries, the JSON report in ``tmp_path``."""
    seeded = sandbox.seeded
    return [
        "--base-url",
        server.url,
        "--bill-id",
        seeded.bills["monthly"],
        "--statement-job-id",
        seeded.jobs["complete_csv"],
        "--report-json",
        str(tmp_path / "report.json"),
        "--max-retries",
        "0",
        *(["--quiet"] if quiet else []),
        *extra,
    ]


def json_report(tmp_path: Path) -> dict[str, Any]:
    """The JSON report :func:`cli_args` asked for."""
    return dict(json.loads((tmp_path / "report.json").read_text(encoding="utf-8")))
