"""Both distributions install like Python projects (scripts/build_dists.py, hatch_build.py).

The sdists hold what a build needs and nothing else; the wheels (built from them) carry the LICENSE and the
project metadata; installed WITHOUT extras into a fresh virtual environment, next to nothing else, the
harness's wheel runs the embedded conformance check from another folder (every module it imports at run
time is a declared dependency). ``pip install .`` at the root of a checkout resolves the client from
generated/. The installs use the pinned versions (scripts/constraints.txt) so they come from pip's cache;
the ranges themselves are what CI's lowest-dependencies job installs.
"""

from __future__ import annotations

import email.parser
import json
import os
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from email.message import Message
from pathlib import Path

import pytest
from m3ter_dev import dists
from m3ter_dev.bootstrap import CLIENT_REQUIREMENT_ENV
from m3ter_dev.layout import CONSTRAINTS, GENERATED, ROOT
from packaging.requirements import Requirement
from packaging.version import Version

pytestmark = pytest.mark.slow(seconds=40)  # builds the sdists and wheels, installs them in fresh venvs

HARNESS = "m3ter-billing-contract"
CLIENT = "m3ter-billing"
# What hatchling adds to every sdist: the build's configuration, readme, licence and its exclusion list.
ALWAYS_IN_SDIST = {"PKG-INFO", "pyproject.toml", "README.md", "LICENSE", ".gitignore"}


def _clean_env() -> dict[str, str]:
    """This environment without M3TER_* settings (a developer's M3TER_BASE_URL must not send the check
    anywhere but the embedded sandbox) and without a virtual environment of ours on PATH."""
    return {key: value for key, value in os.environ.items() if not key.startswith("M3TER_") and key != "VIRTUAL_ENV"}


def _fresh_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin"


def _pip_install(bin_dir: Path, *args: str) -> None:
    result = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _files_under(folder: Path) -> set[str]:
    return {
        path.relative_to(folder.parent).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def _sdist_names(sdist: Path) -> set[str]:
    with tarfile.open(sdist) as archive:
        return {
            name.split("/", 1)[1] for name in archive.getnames() if "/" in name and archive.getmember(name).isfile()
        }


def _wheel_metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(archive.read(name).decode())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dists.Built]:
    return dists.build_all(tmp_path_factory.mktemp("dist"))


def test_the_sdists_hold_what_a_build_needs_and_nothing_else(built: dict[str, dists.Built]) -> None:
    assert _sdist_names(built[CLIENT].sdist) == ALWAYS_IN_SDIST | _files_under(GENERATED / "m3ter_billing")
    harness = _files_under(ROOT / "contract_tests" / "m3ter_contract")
    assert _sdist_names(built[HARNESS].sdist) == (
        ALWAYS_IN_SDIST
        | {"scripts/hatch_build.py", "spec/m3ter-billing.yaml", "contract_tests/RULES.md"}
        | {f"spec/{name}" for name in _files_under(ROOT / "spec" / "upstream")}
        | {f"contract_tests/{name}" for name in harness}
    )


def test_the_harness_wheel_ships_the_rules_table_and_its_reference_material(built: dict[str, dists.Built]) -> None:
    """The reports point to RULES.md: a wheel user has it, and the files its quotes come from."""
    with zipfile.ZipFile(built[HARNESS].wheel) as archive:
        names = set(archive.namelist())
        assert archive.read("m3ter_contract/reference/RULES.md") == (ROOT / "contract_tests" / "RULES.md").read_bytes()
    for path in (ROOT / "spec" / "upstream").iterdir():
        assert f"m3ter_contract/reference/upstream/{path.name}" in names


@pytest.mark.parametrize("name", [CLIENT, HARNESS])
def test_each_wheel_carries_the_license_urls_and_classifiers(built: dict[str, dists.Built], name: str) -> None:
    wheel = built[name].wheel
    with zipfile.ZipFile(wheel) as archive:
        [licence] = [n for n in archive.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        assert archive.read(licence) == (ROOT / "LICENSE").read_bytes()
    metadata = _wheel_metadata(wheel)
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("Project-URL")
    classifiers = metadata.get_all("Classifier") or []
    for minor in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {minor}" in classifiers
    assert "Typing :: Typed" in classifiers


def test_the_harness_wheel_names_the_client_by_version_not_by_path(built: dict[str, dists.Built]) -> None:
    requirements = [Requirement(r) for r in _wheel_metadata(built[HARNESS].wheel).get_all("Requires-Dist") or []]
    assert all(r.url is None for r in requirements), "a wheel for an index must name no path of this machine"
    [client] = [r for r in requirements if r.name == CLIENT]
    assert Version(_wheel_metadata(built[CLIENT].wheel)["Version"]) in client.specifier
    runtime = [r for r in requirements if r.marker is None]
    assert all(r.specifier and all(s.operator != "==" for s in r.specifier) for r in runtime), (
        "the harness declares compatible ranges, not pins"
    )


@pytest.fixture(scope="module")
def installed_wheels(built: dict[str, dists.Built], tmp_path_factory: pytest.TempPathFactory) -> Path:
    bin_dir = _fresh_venv(tmp_path_factory.mktemp("wheels") / "venv")
    _pip_install(bin_dir, "-c", str(CONSTRAINTS), str(built[CLIENT].wheel), str(built[HARNESS].wheel))
    return bin_dir


def test_the_installed_wheels_run_the_embedded_check_without_extras(installed_wheels: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(installed_wheels / "m3ter-conformance"), "--report-json", "report.json"],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"result": "pass"' in (tmp_path / "report.json").read_text()


def test_every_module_of_the_installed_harness_imports_without_extras(installed_wheels: Path, tmp_path: Path) -> None:
    # The pytest plugin is loaded by pytest, which brings pytest; every other module is imported here.
    script = (
        "import importlib, pkgutil, m3ter_contract\n"
        "names = [m.name for m in pkgutil.walk_packages(m3ter_contract.__path__, 'm3ter_contract.')]\n"
        "assert len(names) > 20, names\n"
        "[importlib.import_module(n) for n in names if not n.endswith('.pytest_plugin')]\n"
        "print(m3ter_contract.__file__)\n"
    )
    result = subprocess.run(
        [str(installed_wheels / "python"), "-c", script],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert str(ROOT) not in result.stdout, "the modules came from the checkout, not the installed wheel"
    check = subprocess.run(
        [str(installed_wheels / "python"), "-m", "pip", "check"], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout


def test_pip_install_dot_resolves_the_client_from_generated(tmp_path: Path) -> None:
    # What `pip install .` in a fresh venv would install (--dry-run --ignore-installed: resolved and built
    # like a real install, installed nowhere; the wheels above prove the installed result runs).
    env = {**_clean_env(), CLIENT_REQUIREMENT_ENV: ""}  # the default: a path dependency on generated/
    report_file = tmp_path / "report.json"
    result = subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--dry-run",
            "--ignore-installed", "--report", str(report_file), "-c", str(CONSTRAINTS), str(ROOT),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(report_file.read_text())
    resolved = {item["metadata"]["name"]: item for item in report["install"]}
    assert resolved[CLIENT]["download_info"]["url"] == GENERATED.resolve().as_uri()
    assert (
        resolved[CLIENT]["metadata"]["version"]
        == tomllib.loads((GENERATED / "pyproject.toml").read_text())["project"]["version"]
    )
    assert resolved[HARNESS]["download_info"]["url"] == ROOT.resolve().as_uri()
    assert {"httpx", "rich", "uvicorn", "rfc3339-validator"} <= set(resolved)
