"""scripts/spec_diff.py as a command (m3ter_dev.spec_diff.cli): inputs, outputs and exit codes; and the changelog."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from m3ter_dev import changelog, provenance, spec_diff
from m3ter_dev.spec_diff.cli import main

from .support import ROOT, base_spec


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture
def specs(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    return _write(tmp_path / "old.yaml", base_spec()), base_spec()


def test_breaking_change_exits_1_and_writes_both_reports(specs: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    old, new = specs
    new["components"]["schemas"]["Thing"]["properties"].pop("colour")
    head = _write(tmp_path / "new.yaml", new)
    md, js = tmp_path / "out" / "report.md", tmp_path / "out" / "report.json"
    code = main(["--base", str(old), "--head", str(head), "--markdown", str(md), "--json", str(js)])
    assert code == 1
    report = json.loads(js.read_text())
    assert (report["verdict"], report["exit_code"], report["counts"]["breaking"]) == ("breaking", 1, 1)
    [change] = report["changes"]
    assert change["kind"] == "property-removed"
    assert change["reason"] == spec_diff.CHANGE_KINDS["property-removed"].reason
    text = md.read_text()
    assert text.startswith(spec_diff.REPORT_MARKER)
    assert "### Breaking (1)" in text
    assert "`#/components/schemas/Thing/properties/colour` (base)" in text
    assert "raise the major" in text


def test_announced_and_compatible_changes_exit_0(
    specs: tuple[Path, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = specs
    new["components"]["schemas"]["Status"]["enum"].append("LOST")
    new["components"]["schemas"]["Thing"]["properties"]["note"] = {"type": "integer"}
    code = main(["--base", str(old), "--head", str(_write(tmp_path / "new.yaml", new))])
    out = capsys.readouterr()
    assert code == 0
    assert "**Verdict: announced**" in out.out  # Markdown to stdout without --markdown
    assert "### Announced (1)" in out.out
    assert "### Compatible (1)" in out.out
    assert "announced: 0 breaking, 1 announced, 1 compatible" in out.err


def test_major_bump_lets_breaking_changes_pass(specs: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    old, new = specs
    new["info"]["version"] = "2.0.0"
    new["components"]["schemas"]["Status"]["enum"].remove("DONE")
    md = tmp_path / "report.md"
    code = main(["--base", str(old), "--head", str(_write(tmp_path / "new.yaml", new)), "--markdown", str(md)])
    assert code == 0
    assert "breaking (major version raised)" in md.read_text()
    assert "major version of `info.version` was raised" in md.read_text()


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--base", "no-such-file-or-revision-xyz"],
        ["--base", "{spec}", "--head", "/no/such/file.yaml"],
        ["--base", "{bad}"],
        ["--base", "{notapi}"],
        ["--base", "{spec}", "--bogus"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _write(tmp_path / "spec.yaml", base_spec())
    bad = tmp_path / "bad.yaml"
    bad.write_text("openapi: [unclosed\n")
    notapi = tmp_path / "notapi.yaml"
    notapi.write_text("just: yaml\n")
    args = [a.format(spec=spec, bad=bad, notapi=notapi) for a in argv]
    assert main(args) == 2
    capsys.readouterr()


def test_kinds_flag_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--kinds"]) == 0
    assert "| enum-value-added | compatible | announced |" in capsys.readouterr().out


GIT = shutil.which("git") or "git"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        [GIT, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def test_a_git_revision_is_read_with_git_show(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "spec").mkdir(parents=True)
    _write(repo / "spec" / "m3ter-billing.yaml", base_spec())
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    assert spec_diff.load("HEAD", root=repo) == base_spec()
    with pytest.raises(spec_diff.UsageError, match="neither a file nor a git revision"):
        spec_diff.load("HEAD~5", root=repo)


def test_the_command_runs_as_a_script_against_a_revision_of_this_repo() -> None:
    """Against HEAD of the project itself: whatever the verdict, the exit code agrees with the JSON."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "spec_diff.py"), "--base", str(ROOT / "spec" / "m3ter-billing.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "**Verdict: unchanged**" in result.stdout


# -- the changelog ------------------------------------------------------------------------------------------


def _generated(path: Path, log: str | None, snapshot: dict[str, Any] | None, previous: dict[str, Any] | None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if log is not None:
        (path / changelog.CHANGELOG).write_text(log)
    if snapshot is not None:
        _write(path / changelog.SNAPSHOT, snapshot)
    if previous is not None:
        _write(path / changelog.BASE, previous)
    return path


def test_changelog_starts_with_an_initial_release(tmp_path: Path) -> None:
    log, base = changelog.plan(None, yaml.safe_dump(base_spec()), "1.0.0.1")
    assert base == yaml.safe_dump(base_spec())
    assert [e.version for e in changelog.parse(log)] == ["1.0.0.1"]
    assert "Initial release" in log
    log2, _ = changelog.plan(_generated(tmp_path / "g", None, None, None), yaml.safe_dump(base_spec()), "1.0.0.1")
    assert log2 == log


def test_changelog_is_carried_over_when_nothing_changed(tmp_path: Path) -> None:
    spec = base_spec()
    first, _ = changelog.plan(None, yaml.safe_dump(spec), "1.0.0.1")
    previous = _generated(tmp_path / "g", first, spec, None)
    again, base = changelog.plan(previous, yaml.safe_dump(spec), "1.0.0.1")
    assert again == first
    assert yaml.safe_load(base) == spec


def test_a_new_version_gets_a_new_entry_on_top(tmp_path: Path) -> None:
    old, new = base_spec(), base_spec()
    first, _ = changelog.plan(None, yaml.safe_dump(old), "1.0.0.1")
    new["info"]["version"] = "2.0.0"
    new["components"]["schemas"]["Thing"]["properties"].pop("colour")
    new["components"]["schemas"]["Status"]["enum"].append("LOST")
    previous = _generated(tmp_path / "g", first, old, None)
    log, base = changelog.plan(previous, yaml.safe_dump(new), "2.0.0.1")
    assert yaml.safe_load(base) == old
    entries = changelog.parse(log)
    assert [e.version for e in entries] == ["2.0.0.1", "1.0.0.1"]
    top = entries[0].text
    assert "Spec changes since 1.0.0.1 (info.version 1.0.0 → 2.0.0): 1 breaking, 1 announced, 1 compatible." in top
    assert "The major version was raised" in top
    assert "### Breaking\n\n- `Thing.colour` removed (property-removed;" in top
    assert "### Announced\n\n- `Status`: new value LOST (enum-value-added; `#/components/schemas/Status/enum`)" in top
    assert log.startswith(changelog.HEADER)


def test_spec_edits_to_the_first_version_are_listed_under_it(tmp_path: Path) -> None:
    v1, v1b = base_spec(), base_spec()
    v1b["components"]["schemas"]["Status"]["enum"].append("LOST")
    log1, _ = changelog.plan(None, yaml.safe_dump(v1), "1.0.0.1")
    log2, base2 = changelog.plan(_generated(tmp_path / "a", log1, v1, v1), yaml.safe_dump(v1b), "1.0.0.1", amend=True)
    assert yaml.safe_load(base2) == v1
    [entry] = changelog.parse(log2)
    assert "Initial release" in entry.text
    assert "Spec changes since this version was first generated: 0 breaking, 1 announced, 0 compatible." in entry.text


def test_spec_edits_within_one_version_fold_into_its_entry(tmp_path: Path) -> None:
    v1, v2a, v2b = base_spec(), base_spec(), base_spec()
    v2a["components"]["schemas"]["Status"]["enum"].append("LOST")
    v2b["components"]["schemas"]["Status"]["enum"].append("LOST")
    v2b["components"]["schemas"]["Thing"]["properties"]["note"] = {"type": "integer"}
    log1, _ = changelog.plan(None, yaml.safe_dump(v1), "1.0.0.1")
    log2, base2 = changelog.plan(_generated(tmp_path / "a", log1, v1, None), yaml.safe_dump(v2a), "1.0.0.2")
    log3, base3 = changelog.plan(_generated(tmp_path / "b", log2, v2a, v1), yaml.safe_dump(v2b), "1.0.0.2", amend=True)
    assert base2 == base3
    entries = changelog.parse(log3)
    assert [e.version for e in entries] == ["1.0.0.2", "1.0.0.1"]
    assert "0 breaking, 1 announced, 1 compatible" in entries[0].text
    # an overrides-only revision says so
    log4, _ = changelog.plan(_generated(tmp_path / "c", log3, v2b, v1), yaml.safe_dump(v2b), "1.0.0.3")
    assert "No spec changes since 1.0.0.2" in changelog.parse(log4)[0].text


def test_a_spec_change_under_the_newest_entrys_version_is_refused_without_amend(tmp_path: Path) -> None:
    # The entry may be released: folding the change into it made generated/ depend on the order of the steps.
    v1, v2 = base_spec(), base_spec()
    v2["components"]["schemas"]["Status"]["enum"].append("LOST")
    log1, _ = changelog.plan(None, yaml.safe_dump(v1), "1.0.0.1")
    previous = _generated(tmp_path / "a", log1, v1, v1)
    with pytest.raises(changelog.VersionError, match=r"^the spec changed since generated/ was built for 1\.0\.0\.1 "):
        changelog.plan(previous, yaml.safe_dump(v2), "1.0.0.1")
    # the same spec laid out differently is no change: regenerating stays idempotent
    again, _ = changelog.plan(previous, yaml.safe_dump(v1, sort_keys=True, indent=4), "1.0.0.1")
    assert again == log1


def test_the_changelog_does_not_depend_on_the_order_of_the_steps(tmp_path: Path) -> None:
    # A field and an enum value added, and the version raised: whether generated/ was regenerated in between
    # (edit, regenerate, raise, regenerate; or with --amend, once the new version is there) or not, the released
    # entry stays as it was and the new one lists every change.
    released = base_spec()
    field, raised, both = base_spec(), base_spec(), base_spec()
    for doc in (field, both):
        doc["components"]["schemas"]["Thing"]["properties"]["note"] = {"type": "integer"}
    for doc in (raised, both):
        doc["components"]["schemas"]["Status"]["enum"].append("LOST")
        doc["info"]["version"] = "1.1.0"
    log1, _ = changelog.plan(None, yaml.safe_dump(released), "1.0.0.1")
    start = _generated(tmp_path / "start", log1, released, released)
    with pytest.raises(changelog.VersionError):  # edit, then regenerate before raising the version
        changelog.plan(start, yaml.safe_dump(field), "1.0.0.1")
    at_once = changelog.plan(start, yaml.safe_dump(both), "1.1.0.1")
    log2, base2 = changelog.plan(start, yaml.safe_dump(raised), "1.1.0.1")  # raise first, then edit again
    in_two = changelog.plan(
        _generated(tmp_path / "b", log2, raised, yaml.safe_load(base2)), yaml.safe_dump(both), "1.1.0.1", amend=True
    )
    assert in_two == at_once
    entries = changelog.parse(at_once[0])
    assert [e.version for e in entries] == ["1.1.0.1", "1.0.0.1"]
    assert entries[1].text == changelog.parse(log1)[0].text
    assert "0 breaking, 1 announced, 2 compatible" in entries[0].text  # the value; the field, info.version


def test_update_writes_the_changelog_and_the_spec_copies(tmp_path: Path) -> None:
    spec = _write(tmp_path / "spec.yaml", base_spec())
    out = tmp_path / "out"
    out.mkdir()
    changelog.update(out, None, spec, "1.0.0.1")
    assert sorted(p.name for p in out.iterdir()) == [changelog.CHANGELOG, changelog.BASE, changelog.SNAPSHOT]
    snapshot = (out / changelog.SNAPSHOT).read_text()
    assert provenance.without_header(snapshot) == spec.read_text()
    assert provenance.sources_of(snapshot) == ["spec.yaml", changelog.PRODUCER]


def test_the_version_never_goes_backwards(tmp_path: Path) -> None:
    v1, v2 = base_spec(), base_spec()
    v2["info"]["version"] = "1.1.0"
    log1, _ = changelog.plan(None, yaml.safe_dump(v1), "1.0.0.1")
    log2, _ = changelog.plan(_generated(tmp_path / "a", log1, v1, v1), yaml.safe_dump(v2), "1.1.0.1")
    previous = _generated(tmp_path / "b", log2, v2, v1)
    with pytest.raises(changelog.VersionError, match=r"1\.0\.0\.1 is older than the newest CHANGELOG entry 1\.1\.0\.1"):
        changelog.plan(previous, yaml.safe_dump(v1), "1.0.0.1")
    same, _ = changelog.plan(previous, yaml.safe_dump(v2), "1.1.0.1")  # the same version folds, as before
    assert [e.version for e in changelog.parse(same)] == ["1.1.0.1", "1.0.0.1"]


@pytest.mark.parametrize(
    ("version", "newest", "older"),
    [
        ("1.10.0.1", "1.9.0.1", False),  # numerically, not as text
        ("1.9.0.1", "1.10.0.1", True),
        ("1.0.0.2", "1.0.0.10", True),
        ("2.0.0.1", "2.0.0.1", False),
        ("1.0.0.1", "1.0.0", False),
        ("1.0.0-beta.1", "2.0.0.1", False),  # not comparable: allowed
    ],
)
def test_versions_compare_part_by_part(version: str, newest: str, older: bool) -> None:
    if older:
        with pytest.raises(changelog.VersionError):
            changelog.check_not_older(version, newest)
    else:
        changelog.check_not_older(version, newest)
