"""``--version`` on both commands: the harness's version, the client's, and the spec a run judges by."""

from __future__ import annotations

import hashlib
import re

import m3ter_billing
import pytest
from m3ter_contract import about
from m3ter_contract.conformance.cli import main as conformance
from m3ter_contract.rules.spec import default_spec_path
from m3ter_contract.sandbox.cli import main as sandbox


def test_conformance_version_names_harness_client_and_spec(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        conformance(["--version"], environ={})
    assert stop.value.code == 0
    out = capsys.readouterr().out.strip()
    digest = hashlib.sha256(default_spec_path().read_bytes()).hexdigest()[:12]
    assert out == (
        f"m3ter-conformance {about.harness_version()} (client m3ter-billing {m3ter_billing.__version__}; "
        f"spec m3ter-billing.yaml sha256:{digest})"
    )


def test_sandbox_version_names_harness_and_client(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        sandbox(["--version"])
    assert stop.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out == f"m3ter-sandbox {about.harness_version()} (client m3ter-billing {m3ter_billing.__version__})"


def test_the_harness_version_is_the_installed_distributions() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+.*|\(not installed\)", about.harness_version())


def test_an_unreadable_spec_is_named_not_raised(tmp_path: object) -> None:
    from pathlib import Path

    assert about.spec_fingerprint(Path("/nonexistent/spec.yaml")).startswith("spec.yaml (unreadable: ")
