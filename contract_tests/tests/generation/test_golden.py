"""Golden record: generated/ is exactly what spec/ + overrides/ regenerate to, and says where it comes from.

The regeneration check itself (``regenerate.py --check`` against the committed tree) is the ``regen`` step of
scripts/check.py, run once per check; these tests pin how a drift is reported.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from m3ter_dev import changelog, provenance, regenerate
from m3ter_dev.layout import GENERATED, OVERRIDES, PACKAGE


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("regenerated") / "generated"
    regenerate.build(out)
    return out


def test_a_hand_edit_shows_in_the_diff_with_the_source_to_edit(fresh: Path, tmp_path: Path) -> None:
    """--check must fail, and say where and what to edit, when the committed tree differs."""
    stale = tmp_path / "stale"
    shutil.copytree(fresh, stale)
    retry = stale / PACKAGE / "_retry.py"
    retry.write_text(retry.read_text() + "# hand edit\n")
    drift = regenerate.diff(fresh, stale)
    assert drift.stale
    assert f"generated/{PACKAGE}/_retry.py" in drift.diff
    assert "-# hand edit" in drift.diff
    assert drift.edit == {f"generated/{PACKAGE}/_retry.py": ["overrides/package/_retry.py"]}
    advice = drift.advice()
    assert f"generated/{PACKAGE}/_retry.py: generated from overrides/package/_retry.py" in advice
    assert "lost on regeneration" in advice
    assert not regenerate.diff(fresh, fresh).stale


def test_every_file_names_its_source(fresh: Path) -> None:
    for path in sorted(p for p in fresh.rglob("*") if p.is_file()):
        rel = path.relative_to(fresh).as_posix()
        sources = regenerate.source_of(path)
        if path.name in provenance.EXEMPT:
            continue
        assert sources, f"{rel} has no header naming its source"
        assert path.read_text().startswith(provenance.header(path, sources)), rel
    assert regenerate.source_of(fresh / PACKAGE / "_retry.py") == ["overrides/package/_retry.py"]
    assert regenerate.source_of(fresh / PACKAGE / "client.py") == ["overrides/templates/client.py.jinja"]
    assert regenerate.source_of(fresh / PACKAGE / "models" / "bill_response.py") == [
        "spec/m3ter-billing.yaml",
        "overrides/templates/model.py.jinja",
    ]
    assert regenerate.source_of(fresh / "README.md") == [
        "spec/m3ter-billing.yaml",
        "overrides/templates/README.md.jinja",
    ]
    assert (fresh / "LICENSE").read_bytes() == regenerate.LICENSE.read_bytes()


def test_a_copied_module_is_its_override_under_the_header(fresh: Path) -> None:
    for override in sorted((OVERRIDES / "package").glob("*.py")):
        copied = (fresh / PACKAGE / override.name).read_text()
        assert provenance.without_header(copied) == override.read_text(), override.name


def test_package_version_comes_from_the_spec_and_the_overrides_revision() -> None:
    version = changelog.package_version()
    pyproject = (GENERATED / "pyproject.toml").read_text()
    assert f'version = "{version}"' in pyproject
    module = (GENERATED / PACKAGE / "_version.py").read_text()
    assert f'__version__ = "{version}"' in module


def test_check_reports_a_binary_file_instead_of_crashing(tmp_path: Path) -> None:
    fresh, stale = tmp_path / "fresh", tmp_path / "stale"
    (fresh / "pkg").mkdir(parents=True)
    (stale / "pkg").mkdir(parents=True)
    (fresh / "pkg" / "a.py").write_text("x = 1\n")
    (stale / "pkg" / "a.py").write_text("x = 1\n")
    (stale / ".DS_Store").write_bytes(b"\x00\xff")
    drift = regenerate.diff(fresh, stale)
    assert drift.diff == "Binary files generated/.DS_Store and regenerated/.DS_Store differ\n"
    assert drift.edit == {"generated/.DS_Store": []}
    assert "generated/.DS_Store: no longer generated (remove it)" in drift.advice()


def test_a_wrong_tool_version_is_a_regeneration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(regenerate.PINNED, "ruff", "0.0.1")
    with pytest.raises(regenerate.RegenerationError, match=r"ruff .* is installed, 0\.0\.1 is pinned"):
        regenerate.check_pins()


def test_an_executable_bit_is_drift(tmp_path: Path) -> None:
    # git records a file's executable bit, and filecmp compares contents only: `chmod +x` passed --check.
    fresh, stale = tmp_path / "fresh", tmp_path / "stale"
    for root in (fresh, stale):
        (root / "pkg").mkdir(parents=True)
        (root / "pkg" / "a.py").write_text("x = 1\n")
    (stale / "pkg" / "a.py").chmod(0o755)
    drift = regenerate.diff(fresh, stale)
    assert drift.diff == "generated/pkg/a.py: mode 100755, a regeneration's 100644\n"
    assert "generated/pkg/a.py" in drift.edit
    (stale / "pkg" / "a.py").chmod(0o664)  # group-writable: not a mode git records
    assert not regenerate.diff(fresh, stale).stale
