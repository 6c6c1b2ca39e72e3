"""scripts/lowest.py (m3ter_dev.lowest): the floors CI's lowest-dependencies job installs."""

from __future__ import annotations

import pytest
from m3ter_dev import lowest
from packaging.requirements import Requirement
from packaging.version import Version


@pytest.mark.parametrize(
    ("requirement", "expected"),
    [
        ("httpx>=0.27,<0.29", ("httpx", "0.27")),
        ("msgspec <0.23, >=0.19", ("msgspec", "0.19")),
        ("rich>=13.9.4", ("rich", "13.9.4")),
        ("pyyaml~=6.0", ("pyyaml", "6.0")),
        ("rfc3339-validator==0.1.4", ("rfc3339-validator", "0.1.4")),
    ],
)
def test_the_floor_is_the_lower_bound(requirement: str, expected: tuple[str, str]) -> None:
    assert lowest.floor(requirement) == expected


@pytest.mark.parametrize("requirement", ["httpx", "httpx<0.29", "httpx>=0.27,>=0.28", "httpx[http2]>=0.27", "a b"])
def test_a_requirement_without_one_floor_is_refused(requirement: str) -> None:
    with pytest.raises(lowest.FloorError):
        lowest.floor(requirement)


def test_every_runtime_range_of_the_harness_has_a_floor_it_admits() -> None:
    requirements = lowest.harness_requirements()
    text = lowest.constraints(requirements)
    pins = dict(line.split("==") for line in text.splitlines() if not line.startswith("#"))
    assert len(pins) == len(requirements)
    for requirement in map(Requirement, requirements):
        assert Version(pins[requirement.name]) in requirement.specifier, requirement


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert lowest.main(["run", "nonsense"]) == 2
    assert lowest.main(["constraints"]) == 2
    assert lowest.main(["constraints", "harness"]) == 0
    assert "httpx==" in capsys.readouterr().out
