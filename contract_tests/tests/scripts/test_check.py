"""scripts/check.py (m3ter_dev.check): which steps a command line runs, and the header of generated files."""

from __future__ import annotations

import tomllib

import pytest
from m3ter_dev import check, provenance
from m3ter_dev.layout import ROOT

FIRST_COVERAGE_FLOOR = 94.0  # branch coverage of m3ter_billing + m3ter_contract when the floor came in


def test_no_step_means_every_step_once_with_the_regeneration_check_once() -> None:
    assert check.plan([]) == (list(check.STEPS), [], True)
    assert [step for step in check.STEPS if "regenerate.py" in " ".join(check.STEPS[step])] == ["regen"]


def test_pytest_arguments_skip_the_coverage_floor(capsys: pytest.CaptureFixture[str]) -> None:
    planned = check.plan(["--no-bootstrap", "--", "-k", "auth"])
    assert not isinstance(planned, str)
    steps, extra, bootstrap = planned
    assert (extra, bootstrap) == (["-k", "auth"], False)
    assert "coverage" not in steps
    assert "tests" in steps
    assert "skipping the coverage step" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["lnit"], "unknown step(s) lnit"),
        (["lint", "--", "-k", "x"], "the tests step is not selected"),
    ],
)
def test_usage_errors_are_exit_2(argv: list[str], error: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert error in str(check.plan(argv))
    assert check.main(argv) == 2
    assert error in capsys.readouterr().err


@pytest.mark.parametrize("name", ["x.py", "CHANGELOG.md", "spec-snapshot.yaml"])
def test_a_header_names_its_sources_and_comes_off_cleanly(name: str) -> None:
    text = "first line\n\nsecond\n"
    headed = provenance.with_header(name, text, ["spec/a.yaml", "overrides/templates/b.jinja"])
    assert provenance.sources_of(headed) == ["spec/a.yaml", "overrides/templates/b.jinja"]
    assert provenance.without_header(headed) == text
    assert provenance.without_header(text) == text
    assert provenance.sources_of(text) is None
    assert headed.startswith("<!-- " if name.endswith(".md") else "# ")


def test_the_coverage_floor_only_goes_up() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["coverage"]
    assert config["run"]["branch"] is True
    assert float(config["report"]["fail_under"]) >= FIRST_COVERAGE_FLOOR
