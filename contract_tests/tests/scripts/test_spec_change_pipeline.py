"""scripts/spec_change.py end to end, on a temporary copy of the repo with the spec edited in each way.

The copy (spec/, overrides/, scripts/, generated/, pyproject.toml, LICENSE) is a fresh git repository whose first
commit is the base revision; each case edits the working tree's spec and checks the pipeline's verdict.
Three cases run the full regeneration; the others classify only (--no-regenerate).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from m3ter_dev import check, provenance, spec_change

from .support import ROOT

Doc = dict[str, Any]
SPEC = Path("spec") / "m3ter-billing.yaml"
# Read from the spec, never written down: the spec may have grown or moved on since these tests were written.
_CURRENT = yaml.safe_load((ROOT / SPEC).read_text())
VERSION = _CURRENT["info"]["version"]
NEXT_MAJOR = f"{int(VERSION.split('.')[0]) + 1}.0.0"
REVISION = int((ROOT / "overrides" / "REVISION").read_text().strip())
NEXT_MINOR = f"{VERSION.split('.')[0]}.{int(VERSION.split('.')[1]) + 1}.0"
PROBE_FIELD, PROBE_ATTRIBUTE = "pipelineProbeNote", "pipeline_probe_note"  # names no spec will learn
PROBE_VALUE = "PIPELINE_PROBE"
assert PROBE_FIELD not in _CURRENT["components"]["schemas"]["BillResponse"]["properties"]
assert PROBE_VALUE not in _CURRENT["components"]["schemas"]["BillStatus"]["enum"]


GIT = shutil.which("git") or "git"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        [GIT, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("template") / "repo"
    repo.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ruff_cache", ".mypy_cache")
    for name in ("spec", "overrides", "scripts", "generated"):
        shutil.copytree(ROOT / name, repo / name, ignore=ignore)
    for name in ("pyproject.toml", "LICENSE"):
        shutil.copyfile(ROOT / name, repo / name)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    return repo


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(template, copy, symlinks=True)
    return copy


def _edit(repo: Path, change: Callable[[Doc], object]) -> None:
    doc = yaml.safe_load((repo / SPEC).read_text())
    change(doc)
    (repo / SPEC).write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120))


def _run(repo: Path, *args: str) -> tuple[int, Doc, str]:
    result = subprocess.run(
        [
            sys.executable,
            str(repo / "scripts" / "spec_change.py"),
            "--no-bootstrap",
            "--base",
            "HEAD",
            "--report-dir",
            str(repo / "report"),
            *args,
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    report_path = repo / "report" / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    return result.returncode, report, result.stdout + result.stderr


def schemas(doc: Doc) -> Doc:
    found: Doc = doc["components"]["schemas"]
    return found


def bill(doc: Doc) -> Doc:
    found: Doc = schemas(doc)["BillResponse"]
    return found


EDITS: dict[str, tuple[Callable[[Doc], object], str, int, set[str]]] = {
    "new-optional-field": (
        lambda d: bill(d)["properties"].__setitem__(PROBE_FIELD, {"type": "integer", "description": "A note."}),
        "compatible",
        0,
        {"property-added-optional"},
    ),
    "new-enum-value": (
        lambda d: schemas(d)["BillStatus"]["enum"].append(PROBE_VALUE),
        "announced",
        0,
        {"enum-value-added"},
    ),
    "removed-enum-value": (
        lambda d: schemas(d)["LineItemType"]["enum"].pop(),
        "breaking",
        1,
        {"enum-value-removed"},
    ),
    "type-change": (
        lambda d: bill(d)["properties"]["billTotal"].__setitem__("type", "string"),
        "breaking",
        1,
        {"type-changed"},
    ),
    "newly-required": (
        lambda d: bill(d)["required"].append("accountId"),
        "breaking",
        1,
        {"property-became-required"},
    ),
    "removed-field": (
        lambda d: bill(d)["properties"].pop("locked"),
        "breaking",
        1,
        {"property-removed"},
    ),
    "doc-change": (
        lambda d: bill(d)["properties"]["billTotal"].__setitem__("description", "The total, in the Bill currency."),
        "compatible",
        0,
        {"doc-changed"},
    ),
    "major-bump-and-breaking": (
        lambda d: [d["info"].update(version=NEXT_MAJOR), bill(d)["properties"].pop("locked")],
        "breaking (major version raised)",
        0,
        {"property-removed", "info-version-changed"},
    ),
}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_verdict_for_each_kind_of_spec_edit(repo: Path, name: str) -> None:
    edit, verdict, code, kinds = EDITS[name]
    _edit(repo, edit)
    returncode, report, output = _run(repo, "--no-regenerate")
    assert (returncode, report.get("verdict")) == (code, verdict), output
    assert {c["kind"] for c in report["changes"]} == kinds
    markdown = (repo / "report" / "report.md").read_text()
    assert f"**Verdict: {verdict}**" in markdown
    assert "| spec diff |" in markdown
    version_kept = "info-version-changed" not in kinds  # the changelog folds the edit into a released entry
    warning = f"**Warning:** the spec changed but its info.version did not ({VERSION})"
    assert (warning in markdown) == version_kept
    assert len(report["warnings"]) == int(version_kept)
    assert ("warning: the spec changed but its info.version did not" in output) == version_kept


def test_no_warning_without_spec_changes(repo: Path) -> None:
    returncode, report, output = _run(repo, "--no-regenerate")
    assert (returncode, report["verdict"], report["warnings"]) == (0, "unchanged", []), output
    assert "Warning" not in (repo / "report" / "report.md").read_text()


def _regenerate_check(repo: Path) -> int:
    return subprocess.run(
        [sys.executable, str(repo / "scripts" / "regenerate.py"), "--check"], cwd=repo, capture_output=True, check=False
    ).returncode


def _counts(entry: str) -> tuple[int, int, int]:
    """(breaking, announced, compatible) of a changelog entry's summary line; zeros when it has none."""
    found = re.search(r"(\d+) breaking, (\d+) announced, (\d+) compatible", entry)
    return (int(found[1]), int(found[2]), int(found[3])) if found else (0, 0, 0)


def test_regeneration_writes_the_field_and_a_changelog_entry(repo: Path) -> None:
    assert (repo / "generated" / "CHANGELOG.md").read_text() == (ROOT / "generated" / "CHANGELOG.md").read_text()
    _edit(repo, EDITS["new-optional-field"][0])
    # the same package version, released at the base: its entry is not rewritten, the regeneration is refused
    assert _regenerate_check(repo) == 2
    returncode, report, output = _run(repo)
    assert returncode == 3, output
    assert report["pipeline"][0]["detail"].startswith(f"the spec changed since generated/ was built for {VERSION}.")
    assert (repo / "generated" / "CHANGELOG.md").read_text() == (ROOT / "generated" / "CHANGELOG.md").read_text()
    _edit(repo, lambda d: d["info"].update(version=NEXT_MINOR))
    assert _regenerate_check(repo) == 1  # the spec changed, generated/ not yet
    returncode, report, output = _run(repo)
    assert returncode == 0, output
    assert report["pipeline"][0]["detail"] == "generated/ rewritten"
    model = (repo / "generated" / "m3ter_billing" / "models" / "bill_response.py").read_text()
    assert f'{PROBE_ATTRIBUTE}: int | None | Unset = msgspec.field(name="{PROBE_FIELD}", default=UNSET)' in model
    log = (repo / "generated" / "CHANGELOG.md").read_text()
    entries = log.split("\n## ")[1:]
    before = (ROOT / "generated" / "CHANGELOG.md").read_text().split("\n## ")[1:]
    # a new entry on top (the field and info.version), the released ones as they were
    assert entries[1:] == before
    entry = entries[0]
    assert entry.startswith(f"{NEXT_MINOR}.{REVISION}\n")
    assert _counts(entry) == (0, 0, 2)
    assert f"`BillResponse.{PROBE_FIELD}` added (optional) (property-added-optional;" in entry
    assert _regenerate_check(repo) == 0  # deterministic: a second regeneration changes nothing
    snapshot = (repo / "generated" / "spec-snapshot.yaml").read_text()
    assert provenance.without_header(snapshot) == (repo / SPEC).read_text()


def test_check_mode_fails_when_generated_is_stale(repo: Path) -> None:
    _edit(repo, lambda d: [EDITS["new-enum-value"][0](d), d["info"].update(version=NEXT_MINOR)])
    returncode, report, output = _run(repo, "--check")
    assert returncode == 3, output
    assert report["verdict"] == "announced"
    assert report["pipeline"][0]["ok"] is False
    assert "generated/ was stale" in (repo / "report" / "report.md").read_text()
    # --check runs `regenerate.py --check`: generated/ is left as committed
    status = subprocess.run(
        [GIT, "status", "--porcelain", "--", "generated"], cwd=repo, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""


def _version_step(report: Doc) -> Doc:
    steps: list[Doc] = [step for step in report["pipeline"] if step["name"] == "version"]
    [step] = steps
    return step


def _regenerate(repo: Path, *args: str) -> None:
    subprocess.run([sys.executable, str(repo / "scripts" / "regenerate.py"), *args], cwd=repo, check=True)


def test_check_mode_fails_when_generated_changed_but_the_package_version_did_not_rise(repo: Path) -> None:
    _edit(repo, EDITS["doc-change"][0])
    _regenerate(repo, "--amend")  # folded into the released entry, against --amend's rule
    returncode, report, output = _run(repo, "--check")
    assert returncode == 3, output
    assert report["pipeline"][0]["ok"] is True  # generated/ is current: only the version fails
    step = _version_step(report)
    assert step["ok"] is False
    assert f"did not rise from the base's {VERSION}.{REVISION}: raise info.version" in step["detail"]
    assert "| version | **failed**" in (repo / "report" / "report.md").read_text()
    assert "spec_change: failed: version" in output


def test_check_mode_fails_when_a_released_changelog_entry_was_rewritten(repo: Path) -> None:
    # Edit and regenerate (folding the edit into the released entry), then raise the version and regenerate: the
    # version rose and generated/ is current, but the released entry now lists the edit and the new one does not.
    _edit(repo, EDITS["new-optional-field"][0])
    _regenerate(repo, "--amend")
    _edit(repo, lambda d: d["info"].update(version=NEXT_MINOR))
    _regenerate(repo)
    returncode, report, output = _run(repo, "--check")
    assert returncode == 3, output
    assert _version_step(report)["ok"] is True
    [step] = [step for step in report["pipeline"] if step["name"] == "changelog"]
    assert step["ok"] is False
    assert step["detail"].startswith(f"generated/CHANGELOG.md rewrites the entry of {VERSION}.{REVISION}, released ")


@pytest.mark.parametrize("bump", ["info.version", "overrides/REVISION"])
def test_check_mode_passes_when_the_package_version_rose(repo: Path, bump: str) -> None:
    if bump == "info.version":
        _edit(repo, lambda d: [EDITS["doc-change"][0](d), d["info"].update(version=NEXT_MINOR)])
        expected = f"{NEXT_MINOR}.{REVISION}"
    else:  # a change of overrides/ or the generator alone
        (repo / "overrides" / "REVISION").write_text(f"{REVISION + 1}\n")
        expected = f"{VERSION}.{REVISION + 1}"
    assert _run(repo)[0] == 0
    returncode, report, output = _run(repo, "--check")
    assert returncode == 0, output
    step = _version_step(report)
    assert (step["ok"], step["detail"]) == (
        True,
        f"generated/ changed; package version {VERSION}.{REVISION} → {expected}",
    )


def test_check_mode_judges_no_version_when_generated_is_unchanged(repo: Path) -> None:
    returncode, report, output = _run(repo, "--check")
    assert returncode == 0, output
    assert [step["name"] for step in report["pipeline"]] == ["regenerate", "spec diff", "changelog"]


def test_major_bump_starts_a_new_changelog_entry(repo: Path) -> None:
    _edit(repo, EDITS["major-bump-and-breaking"][0])
    returncode, report, output = _run(repo)
    assert returncode == 0, output
    assert report["verdict"] == "breaking (major version raised)"
    pyproject = (repo / "generated" / "pyproject.toml").read_text()
    revision = (repo / "overrides" / "REVISION").read_text().strip()
    assert f'version = "{NEXT_MAJOR}.{revision}"' in pyproject
    log = (repo / "generated" / "CHANGELOG.md").read_text()
    top = log.split("\n## ")[1]
    assert top.startswith(f"{NEXT_MAJOR}.{revision}\n")
    assert "The major version was raised for the breaking changes." in top
    assert "### Breaking\n\n- `BillResponse.locked` removed (property-removed;" in top
    base = provenance.without_header((repo / "generated" / "spec-changelog-base.yaml").read_text())
    assert (
        base
        == subprocess.run(
            [GIT, "show", f"HEAD:{SPEC.as_posix()}"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout
    )
    assert _regenerate_check(repo) == 0


def test_an_unknown_base_is_a_usage_error(repo: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(repo / "scripts" / "spec_change.py"),
            "--no-bootstrap",
            "--no-regenerate",
            "--base",
            "nope",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "neither a file nor a git revision" in result.stderr


@pytest.mark.parametrize(
    ("base", "message"),
    [
        ("0" * 40, "the null revision"),  # a push that creates a branch
        ("1234567" * 5 + "89abc", "neither a file nor a git revision"),  # a commit gone after a force-push
    ],
)
def test_an_unreadable_base_still_writes_a_report(repo: Path, base: str, message: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(repo / "scripts" / "spec_change.py"),
            "--no-bootstrap",
            "--no-regenerate",
            "--base",
            base,
            "--report-dir",
            str(repo / "report"),
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert f"cannot read the base spec: {base}" in result.stderr
    markdown = (repo / "report" / "report.md").read_text()
    assert markdown.startswith("<!-- m3ter-spec-change-report -->\n")
    assert f"the base `{base}` or the spec could not be read" in markdown
    assert message in markdown
    report = json.loads((repo / "report" / "report.json").read_text())
    assert report["exit_code"] == 2
    assert message in report["error"]


def _commit_mode(repo: Path, *args: str) -> tuple[int, str, dict[str, str]]:
    """``spec_change.py --commit`` as the workflow runs it: exit code, output, what it wrote to GITHUB_OUTPUT."""
    github_output = repo.parent / "github_output"
    github_output.write_text("")
    env = {key: value for key, value in os.environ.items() if key not in ("GITHUB_ACTIONS", "GITHUB_OUTPUT")}
    result = subprocess.run(
        [sys.executable, str(repo / "scripts" / "spec_change.py"), "--no-bootstrap", "--commit", *args],
        cwd=repo,
        env={**env, "GITHUB_OUTPUT": str(github_output)},
        capture_output=True,
        text=True,
        check=False,
    )
    outputs = dict(line.split("=", 1) for line in github_output.read_text().splitlines())
    return result.returncode, result.stdout + result.stderr, outputs


def _head(repo: Path) -> str:
    return subprocess.run([GIT, "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True).stdout


def test_commit_mode_commits_the_regeneration_once(repo: Path) -> None:
    _edit(repo, lambda d: [EDITS["new-optional-field"][0](d), d["info"].update(version=NEXT_MINOR)])
    _git(repo, "commit", "-q", "-am", "Add a field")  # the author's spec change, without generated/
    before = _head(repo)
    returncode, output, outputs = _commit_mode(repo)
    assert returncode == 0, output
    assert outputs["committed"] == "true"
    assert outputs["sha"] == _head(repo).strip() != before.strip()
    author = subprocess.run(
        [GIT, "log", "-1", "--format=%an <%ae>%n%s"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout
    assert author == f"{spec_change.BOT[0]} <{spec_change.BOT[1]}>\n{spec_change.COMMIT_MESSAGE.splitlines()[0]}\n"
    files = subprocess.run(
        [GIT, "diff-tree", "--no-commit-id", "--name-only", "-r", "HEAD"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "generated/m3ter_billing/models/bill_response.py" in files
    assert all(name.startswith("generated/") for name in files), files  # the regeneration, nothing else
    assert _regenerate_check(repo) == 0
    # run again: nothing left to commit
    after = _head(repo)
    returncode, output, outputs = _commit_mode(repo)
    assert (returncode, outputs, _head(repo)) == (0, {"committed": "false"}, after), output


def test_commit_mode_folds_a_later_edit_into_an_unreleased_entry_only(repo: Path) -> None:
    base = _head(repo).strip()
    _edit(repo, lambda d: [EDITS["new-optional-field"][0](d), d["info"].update(version=NEXT_MINOR)])
    _git(repo, "commit", "-q", "-am", "Add a field")
    assert _commit_mode(repo, "--base", base)[0] == 0
    _edit(repo, EDITS["new-enum-value"][0])  # a second edit, the version raised already
    _git(repo, "commit", "-q", "-am", "Add an enum value")
    returncode, output, _ = _commit_mode(repo, "--base", "HEAD")  # the new version counts as released there
    assert returncode == 3, output
    assert f"the spec changed since generated/ was built for {NEXT_MINOR}.{REVISION}" in output
    returncode, output, outputs = _commit_mode(repo, "--base", base)  # not released at the base: folded in
    assert (returncode, outputs["committed"]) == (0, "true"), output
    log = (repo / "generated" / "CHANGELOG.md").read_text()
    before = (ROOT / "generated" / "CHANGELOG.md").read_text().split("\n## ")[1:]
    assert log.split("\n## ")[2:] == before
    assert _counts(log.split("\n## ")[1]) == (0, 1, 2)
    assert _regenerate_check(repo) == 0


def test_commit_mode_for_a_fork_names_the_command_and_commits_nothing(repo: Path) -> None:
    _edit(repo, lambda d: [EDITS["new-enum-value"][0](d), d["info"].update(version=NEXT_MINOR)])
    _git(repo, "commit", "-q", "-am", "Add an enum value")
    before = _head(repo)
    returncode, output, outputs = _commit_mode(repo, "--cannot-push")
    assert returncode == 3, output
    assert outputs == {"committed": "false"}
    assert spec_change.COMMIT_COMMAND in output
    assert "generated/m3ter_billing/models/bill_status.py" in output
    assert _head(repo) == before


def test_commit_mode_refuses_uncommitted_changes_to_generated(repo: Path) -> None:
    (repo / "generated" / "README.md").write_text("edited by hand\n")
    returncode, output, _ = _commit_mode(repo)
    assert returncode == 2
    assert "uncommitted changes in generated/README.md" in output


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--cannot-push"], "--cannot-push goes with --commit"),
        (["--commit", "--tests"], "--commit only regenerates"),
        (["--commit", "--check"], "--commit only regenerates"),
    ],
)
def test_spec_change_refuses_commit_mode_mixes(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert spec_change.main(argv) == 2
    assert message in capsys.readouterr().err


def test_checks_runs_every_step_of_the_check_but_the_regeneration(monkeypatch: pytest.MonkeyPatch) -> None:
    assert tuple(step for step in check.STEPS if step != "regen") == spec_change.CHECK_STEPS
    assert {"lint", "format", "types", "imports", "tests", "coverage", "floors", "newest"} <= set(
        spec_change.CHECK_STEPS
    )
    ran: list[list[str]] = []

    def fake_run(name: str, command: list[str]) -> tuple[spec_change.Step, str]:
        ran.append(command)
        return spec_change.Step(name, True, "", 0.0), ""

    monkeypatch.setattr(spec_change, "_run", fake_run)
    spec_change.run_checks([])
    [command] = ran
    assert command[2:] == ["--no-bootstrap", *spec_change.CHECK_STEPS]
