"""The GitHub workflows (.github/workflows): actionlint and zizmor pass (both from wheels, offline), every
action is pinned by commit, every job has least-privilege permissions, the conformance workflow restores
its state before the check and saves it after, its org matrix (read from .ci/m3ter-orgs.toml by
``m3ter-conformance --list-orgs --json``, through the workflow's own step, run here as written) is what the
README documents, and its last job merges the organizations' JSON reports; the spec-change workflow holds no
secret, and the regeneration is pushed by a ``workflow_run`` workflow (the default branch's definition) whose
push step, run here as written, refuses whatever the triggering run reports unless it is well-formed."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml
from m3ter_contract.conformance import combined
from m3ter_contract.conformance.combined import OrgResult
from m3ter_contract.conformance.orgs import NAME
from m3ter_contract.conformance.runner import RunResult
from m3ter_dev import spec_change
from m3ter_dev.layout import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
CONFORMANCE = WORKFLOWS / "conformance.yml"
SPEC_CHANGE = WORKFLOWS / "spec-change.yml"
SPEC_CHANGE_PUSH = WORKFLOWS / "spec-change-push.yml"
ORGS = ROOT / ".ci" / "m3ter-orgs.toml"
BIN = Path(sys.executable).parent
BASH = shutil.which("bash") or "bash"


def _bash(
    script: str, env: Mapping[str, str], *, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """A workflow step's ``run`` script under ``bash -e`` (as GitHub runs it), its output captured."""
    return subprocess.run(
        [BASH, "-e", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=timeout
    )


GIT = shutil.which("git") or "git"
SHA_PIN = re.compile(r"^\s*(?:-\s+)?uses:\s+([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+\.\d+\.\d+$")

Workflow = dict[str, Any]


def _load(path: Path) -> Workflow:
    # BaseLoader builds only strings, lists and dicts: `on` stays the key "on", `false` the string "false".
    workflow: Workflow = yaml.load(path.read_text(), Loader=yaml.BaseLoader)  # noqa: S506
    return workflow


def _workflows() -> dict[str, Workflow]:
    return {path.name: _load(path) for path in sorted(WORKFLOWS.glob("*.yml"))}


def _tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    binary = BIN / name
    assert binary.exists(), f"{name} is not installed in {BIN}: run python3 scripts/bootstrap.py"
    return subprocess.run([str(binary), *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)


def test_the_four_workflows_are_there() -> None:
    assert set(_workflows()) == {"ci.yml", "spec-change.yml", "spec-change-push.yml", "conformance.yml"}


def test_actionlint_passes_with_shellcheck() -> None:
    result = _tool("actionlint", "-shellcheck", str(BIN / "shellcheck"), *map(str, sorted(WORKFLOWS.glob("*.yml"))))
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_passes_offline() -> None:
    result = _tool("zizmor", "--offline", "--no-progress", "--persona", "auditor", str(WORKFLOWS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout + result.stderr


def test_every_action_is_pinned_by_commit_with_its_version() -> None:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.match(r"^\s*(-\s+)?uses:", line):
                assert SHA_PIN.match(line), f"{path.name}:{number}: pin by full commit SHA and name the version"


def test_every_job_asks_for_the_least_it_needs() -> None:
    writes: dict[tuple[str, str], dict[str, str]] = {}
    for name, workflow in _workflows().items():
        assert workflow["permissions"] == {}, f"{name}: no permission for the whole workflow"
        for job_name, job in workflow["jobs"].items():
            permissions = job.get("permissions")
            assert isinstance(permissions, dict), f"{name}/{job_name}: permissions of its own"
            assert permissions.get("contents") in ("read", "write"), f"{name}/{job_name}"
            extra = {scope: level for scope, level in permissions.items() if level == "write"}
            if extra:
                writes[(name, job_name)] = extra
    assert writes == {
        ("spec-change.yml", "check"): {"pull-requests": "write"},
        ("conformance.yml", "conformance"): {"checks": "write"},
    }


def test_no_checkout_keeps_the_token() -> None:
    for name, workflow in _workflows().items():
        for job_name, job in workflow["jobs"].items():
            for step in job["steps"]:
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] == "false", f"{name}/{job_name}"


def test_ci_runs_the_check_on_every_supported_python_and_the_lowest_dependencies() -> None:
    workflow = _load(WORKFLOWS / "ci.yml")
    assert set(workflow["on"]) == {"push", "pull_request", "merge_group"}  # a merge queue needs its checks
    jobs = workflow["jobs"]
    assert jobs["check"]["strategy"]["matrix"]["python"] == ["3.11", "3.12", "3.13"]
    assert jobs["check"]["steps"][-1]["run"] == "bash .ci/run"
    assert jobs["lowest"]["steps"][-1]["run"] == 'python3 scripts/lowest.py run "$DISTRIBUTION"'
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    classifiers = {c.rsplit(" ", 1)[-1] for c in project["classifiers"] if re.search(r":: 3\.\d+$", c)}
    assert classifiers == set(jobs["check"]["strategy"]["matrix"]["python"])


def _steps(job: Workflow) -> list[str]:
    return [step.get("uses", "").split("@")[0] or step.get("name", "") for step in job["steps"]]


def test_the_conformance_workflow_restores_state_before_the_check_and_saves_it_after() -> None:
    workflow = _load(CONFORMANCE)
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    job = workflow["jobs"]["conformance"]
    steps = _steps(job)
    order = [
        steps.index("Install m3ter-conformance"),
        steps.index("actions/cache/restore"),
        steps.index("Decrypt the state"),
        next(i for i, s in enumerate(steps) if s.startswith("Check ")),
        steps.index("Encrypt the state"),
        steps.index("actions/cache/save"),
    ]
    assert order == sorted(order), steps
    restore = job["steps"][steps.index("actions/cache/restore")]
    save = job["steps"][steps.index("actions/cache/save")]
    assert save["if"].startswith("always()")
    assert job["steps"][order[4]]["if"].startswith("always()")
    assert restore["with"]["key"] == save["with"]["key"]
    assert save["with"]["key"].startswith(restore["with"]["restore-keys"])
    # only the encrypted state is cached: any pull request's run may restore main's caches
    assert restore["with"]["path"] == save["with"]["path"] == ".m3ter-conformance-sealed"
    check = job["steps"][order[3]]
    assert "--state .m3ter-conformance/state.sqlite" in check["run"]
    assert '--markdown "$GITHUB_STEP_SUMMARY"' in check["run"]
    assert "--junit-xml reports/m3ter-conformance.xml" in check["run"]
    assert "mikepenz/action-junit-report" in steps
    # credentials from the org's environment, never on the command line
    assert check["env"]["M3TER_API_SECRET"] == "${{ secrets.M3TER_API_SECRET }}"
    assert "secrets." not in check["run"]
    assert job["environment"] == "${{ matrix.org.environment }}"


def _matrix_script() -> str:
    [step] = [s for s in _load(CONFORMANCE)["jobs"]["orgs"]["steps"] if s.get("id") == "orgs"]
    script: str = step["run"]
    return script


def run_matrix(config: Path, tmp_path: Path, only: str = "") -> tuple[int, list[dict[str, Any]], str]:
    """Run the workflow's own step on ``config``: exit code, matrix, and what it printed."""
    output = tmp_path / "github_output"
    output.write_text("")
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "CONFIG": str(config),
        "ONLY": only,
        "GITHUB_OUTPUT": str(output),
    }
    result = _bash(_matrix_script(), env)
    lines = [line for line in output.read_text().splitlines() if line.startswith("matrix=")]
    matrix = json.loads(lines[0].removeprefix("matrix=")) if lines else []
    return result.returncode, matrix, result.stdout + result.stderr


TWO_ORGS = """
[orgs.eu-sandbox]
ids_file = "ci/eu.json"
rate = 10

[orgs.us]
base_url = "https://api.m3ter.com"
ids_file = "ci/us.json"
environment = "m3ter-us-prod-like"
api_key_env = "US_M3TER_API_KEY"
baseline = "ci/us-baseline.json"
"""


def test_the_matrix_lists_each_org_with_its_environment(tmp_path: Path) -> None:
    config = tmp_path / "orgs.toml"
    config.write_text(TWO_ORGS)
    code, matrix, printed = run_matrix(config, tmp_path)
    assert code == 0, printed
    assert [(org["name"], org["environment"], org["base_url"], org["ids_file"], org["rate"]) for org in matrix] == [
        ("eu-sandbox", "m3ter-eu-sandbox", "https://api.m3ter.com", "ci/eu.json", 10),
        ("us", "m3ter-us-prod-like", "https://api.m3ter.com", "ci/us.json", None),
    ]
    assert matrix[1]["baseline"] == "ci/us-baseline.json"
    assert [org["api_key_env"] for org in matrix] == ["M3TER_API_KEY", "US_M3TER_API_KEY"]
    code, matrix, printed = run_matrix(config, tmp_path, only="us")
    assert code == 0, printed
    assert [org["name"] for org in matrix] == ["us"]


@pytest.mark.parametrize(
    ("config", "only", "problem"),
    [
        (TWO_ORGS, "asia", "no [orgs.asia]"),
        ("[orgs.eu]\nrate = 5\n", "", "ids_file is required"),
        ('[orgs.eu]\nids_file = "x"\napi_key_env = "EU KEY"\n', "", "must be an environment variable name"),
        ('[orgs.eu]\nids_file = "x"\napi_secret = "s3cr3t"\n', "", "unknown key 'api_secret'"),
        ('[orgs."eu sandbox"]\nids_file = "x"\n', "", "letters, digits"),
    ],
)
def test_a_bad_org_list_fails_with_what_to_fix(tmp_path: Path, config: str, only: str, problem: str) -> None:
    path = tmp_path / "orgs.toml"
    path.write_text(config)
    code, _, printed = run_matrix(path, tmp_path, only=only)
    assert code == 2
    assert problem in printed
    assert "::error file=" in printed
    assert "s3cr3t" not in printed


def test_the_shipped_org_list_is_empty_and_the_nightly_run_checks_nothing(tmp_path: Path) -> None:
    code, matrix, printed = run_matrix(ORGS, tmp_path)
    assert code == 0, printed
    assert matrix == []
    assert "no organizations listed" in printed
    assert _load(CONFORMANCE)["jobs"]["conformance"]["if"] == "needs.orgs.outputs.matrix != '[]'"


def _readme_block(language: str, after: str) -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index(after)
    match = re.compile(rf"^```{language}\n(.*?)^```$", re.S | re.M).search(readme, start)
    assert match, f"no ```{language} block after {after!r} in README.md"
    return match.group(1)


def test_the_readme_shows_the_conformance_workflow_as_it_is() -> None:
    block = _readme_block("yaml", "#### The workflow")
    assert block == CONFORMANCE.read_text()


def test_the_readme_org_list_example_runs_through_the_workflows_matrix(tmp_path: Path) -> None:
    config = tmp_path / "orgs.toml"
    config.write_text(_readme_block("toml", "#### The organizations"))
    code, matrix, printed = run_matrix(config, tmp_path)
    assert code == 0, printed
    assert len(matrix) >= 2
    assert all(org["environment"].startswith("m3ter-") for org in matrix)
    assert all(org["ids_file"] for org in matrix if not org["embedded"])


def test_the_conformance_workflow_checks_each_org_with_its_table_and_merges_the_reports() -> None:
    jobs = _load(CONFORMANCE)["jobs"]
    [check] = [s for s in jobs["conformance"]["steps"] if s.get("name", "").startswith("Check ")]
    assert '--config .ci/m3ter-orgs.toml --org "$ORG"' in check["run"]
    assert "--report-json reports/m3ter-conformance.json" in check["run"]
    assert check["env"]["API_SECRET_ENV"] == "${{ matrix.org.api_secret_env }}"
    [upload] = [s for s in jobs["conformance"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    report = jobs["report"]
    assert report["needs"] == ["orgs", "conformance"]
    assert report["if"].startswith("always()")
    assert report["permissions"] == {"contents": "read"}
    steps = _steps(report)
    download = report["steps"][steps.index("actions/download-artifact")]
    assert upload["with"]["name"].replace("${{ matrix.org.name }}", "*") == download["with"]["pattern"]
    merge = report["steps"][steps.index("Merge them into one report")]
    assert "m3ter-conformance merge" in merge["run"]
    assert '--markdown "$GITHUB_STEP_SUMMARY"' in merge["run"]


def test_the_spec_change_workflow_holds_no_secret_and_only_reads() -> None:
    # a pull request's run uses the pull request's copy of the file: whatever it could reach, a branch could
    text = SPEC_CHANGE.read_text()
    assert "secrets." not in text
    assert "github.token" not in text
    jobs = _load(SPEC_CHANGE)["jobs"]
    assert set(jobs) == {"regenerate", "check"}
    for name, job in jobs.items():
        assert "environment" not in job, name
        assert {scope for scope, level in job["permissions"].items() if level == "write"} <= {"pull-requests"}, name
    # the check of a regeneration commit is the run its push starts
    assert "needs.regenerate.outputs.committed != 'true'" in jobs["check"]["if"]
    # a regeneration refused (a spec change under a released version) still gets its report and comment
    assert "needs.regenerate.result == 'failure'" in jobs["check"]["if"]
    # the regenerate job sees origin/main: whether the branch's version is released decides amend or refuse
    [checkout] = [s for s in jobs["regenerate"]["steps"] if s.get("uses", "").startswith("actions/checkout@")]
    assert str(checkout["with"]["fetch-depth"]) == "0"
    [notice] = [s for s in jobs["regenerate"]["steps"] if s.get("name", "").startswith("Bundle the commit")]
    assert spec_change.COMMIT_COMMAND in notice["run"]  # the pull request's run says what to do if no push comes


def test_the_regeneration_is_pushed_by_a_workflow_run_of_the_default_branchs_definition() -> None:
    workflow = _load(SPEC_CHANGE_PUSH)
    assert workflow["on"] == {"workflow_run": {"workflows": [_load(SPEC_CHANGE)["name"]], "types": ["completed"]}}
    assert workflow["concurrency"]["cancel-in-progress"] == "false"
    [(name, push)] = workflow["jobs"].items()
    assert (name, push["environment"]) == ("push", "spec-change-push")
    assert push["permissions"] == {"contents": "read", "actions": "read"}  # the push uses the App's or PAT's token
    condition = " ".join(push["if"].split())
    assert "github.event.workflow_run.event == 'pull_request'" in condition
    assert "github.event.workflow_run.conclusion == 'success'" in condition
    assert "github.event.workflow_run.head_repository.full_name == github.repository" in condition  # no fork
    assert _steps(push) == [
        "actions/download-artifact",
        "Find the bundle",
        "actions/checkout",
        "actions/create-github-app-token",
        "Push to the pull request's branch",
    ]
    download, _, checkout, app, step = push["steps"]
    [upload] = [
        s for s in _load(SPEC_CHANGE)["jobs"]["regenerate"]["steps"] if s.get("uses", "").startswith("actions/upload")
    ]
    assert download["with"]["pattern"] == upload["with"]["name"]  # a pattern: a run without it is no error
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    assert download["with"]["github-token"] == "${{ github.token }}"  # read the artifact: the only use of it
    assert SPEC_CHANGE_PUSH.read_text().count("github.token") == 1
    assert checkout["with"]["ref"] == "${{ github.event.workflow_run.head_sha }}"
    assert app["with"]["private-key"] == "${{ secrets.SPEC_CHANGE_APP_PRIVATE_KEY }}"
    assert step["env"]["TOKEN"] == "${{ steps.app.outputs.token || secrets.SPEC_CHANGE_PUSH_TOKEN }}"
    assert step["env"]["BRANCH"] == "${{ github.event.workflow_run.head_branch }}"
    assert step["env"]["HEAD_SHA"] == "${{ github.event.workflow_run.head_sha }}"
    script = _push_script()
    assert spec_change.COMMIT_COMMAND in script  # what to run when nothing can push
    assert "python" not in script.replace(spec_change.COMMIT_COMMAND, "")


def test_the_push_workflow_uses_the_download_artifact_pinned_elsewhere() -> None:
    def pins(path: Path) -> set[str]:
        return {f"{m[1]}@{m[2]}" for line in path.read_text().splitlines() if (m := SHA_PIN.match(line))}

    download = {pin for pin in pins(SPEC_CHANGE_PUSH) if "download-artifact@" in pin}
    assert download
    assert download <= pins(CONFORMANCE)


def test_no_run_step_expands_an_expression() -> None:
    # values reach a script through env: (an expression in run: is pasted into the script before it runs)
    for name, workflow in _workflows().items():
        for job_name, job in workflow["jobs"].items():
            for step in job["steps"]:
                assert "${{" not in step.get("run", ""), f"{name}/{job_name}/{step.get('name')}"


def _push_script() -> str:
    [step] = [
        s
        for s in _load(SPEC_CHANGE_PUSH)["jobs"]["push"]["steps"]
        if s.get("name") == "Push to the pull request's branch"
    ]
    script: str = step["run"]
    return script


def _git(cwd: Path, *args: str) -> str:
    identity = ("-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false")
    result = subprocess.run([GIT, *identity, *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60)
    return result.stdout.strip()


def _regeneration(tmp_path: Path, *, outside: bool = False) -> tuple[Path, Path, str, str]:
    """A remote with a pull request's branch ``pr``, a shallow checkout of its head (as the push job has) and
    the bundle of a regeneration commit on it (``outside``: also changing a file out of generated/)."""
    remote, source = tmp_path / "remote.git", tmp_path / "source"
    _git(tmp_path, "init", "-q", "--bare", str(remote))
    _git(tmp_path, "init", "-q", str(source))
    (source / "spec.yaml").write_text("info: {}\n")
    _git(source, "add", "-A")
    _git(source, "commit", "-q", "-m", "Edit the spec")
    _git(source, "push", "-q", str(remote), "HEAD:refs/heads/pr")
    head = _git(source, "rev-parse", "HEAD")
    (source / "generated").mkdir()
    (source / "generated" / "model.py").write_text("x = 1\n")
    if outside:
        (source / "spec.yaml").write_text("info: {version: 9}\n")
    _git(source, "add", "-A")
    _git(source, "commit", "-q", "-m", "Regenerate")
    _git(source, "bundle", "create", str(tmp_path / "regeneration.bundle"), "HEAD", f"^{head}")
    checkout = tmp_path / "checkout"
    _git(tmp_path, "clone", "-q", "--depth", "1", "--branch", "pr", f"file://{remote}", str(checkout))
    return remote, checkout, head, _git(source, "rev-parse", "HEAD")


def _push(
    tmp_path: Path, remote: Path, checkout: Path, head: str, token: str, **event: str
) -> subprocess.CompletedProcess[str]:
    """The push step as written, with github.com's URL of the repository pointing at ``remote``; ``event``
    overrides what the triggering run reports (HEAD_REPOSITORY, BRANCH, ...)."""
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("GIT_")},
        "TOKEN": token,
        "BUNDLE": str(tmp_path / "regeneration.bundle"),
        "REPOSITORY": "owner/repo",
        "DEFAULT_BRANCH": "main",
        "HEAD_SHA": head,
        "HEAD_REPOSITORY": "owner/repo",
        "BRANCH": "pr",
        **event,
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.file://{remote}.insteadOf",
        "GIT_CONFIG_VALUE_0": "https://github.com/owner/repo.git",
    }
    return _bash(_push_script(), env, cwd=checkout)


def test_the_push_step_pushes_the_regeneration_with_the_token_in_a_header(tmp_path: Path) -> None:
    remote, checkout, head, regenerated = _regeneration(tmp_path)
    result = _push(tmp_path, remote, checkout, head, "ghs_not-a-real-token")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _git(remote, "rev-parse", "refs/heads/pr") == regenerated
    assert "ghs_not-a-real-token" not in result.stdout + result.stderr
    assert "::add-mask::" in result.stdout


def test_the_push_step_without_a_token_pushes_nothing_and_names_the_command(tmp_path: Path) -> None:
    remote, checkout, head, _ = _regeneration(tmp_path)
    result = _push(tmp_path, remote, checkout, head, "")
    assert result.returncode == 1
    assert result.stdout.startswith("::error title=generated/ is stale::")
    assert spec_change.COMMIT_COMMAND in result.stdout
    assert _git(remote, "rev-parse", "refs/heads/pr") == head


def test_the_push_step_refuses_a_bundle_that_changes_more_than_generated(tmp_path: Path) -> None:
    remote, checkout, head, _ = _regeneration(tmp_path, outside=True)
    result = _push(tmp_path, remote, checkout, head, "ghs_not-a-real-token")
    assert result.returncode == 1
    assert "changes generated/ alone: not pushed" in result.stdout
    assert _git(remote, "rev-parse", "refs/heads/pr") == head


def test_the_push_step_refuses_a_bundle_on_another_head(tmp_path: Path) -> None:
    remote, checkout, head, regenerated = _regeneration(tmp_path)
    result = _push(tmp_path, remote, checkout, regenerated, "ghs_not-a-real-token")  # the run reports another head
    assert result.returncode == 1
    assert f"not one commit on {regenerated}" in result.stdout
    assert _git(remote, "rev-parse", "refs/heads/pr") == head


def test_the_push_step_pushes_nothing_once_the_branch_has_moved(tmp_path: Path) -> None:
    remote, checkout, head, _ = _regeneration(tmp_path)
    (checkout / "spec.yaml").write_text("info: {version: 2}\n")  # the author pushed again meanwhile
    _git(checkout, "commit", "-q", "-am", "Edit the spec again")
    _git(checkout, "push", "-q", "origin", "HEAD:refs/heads/pr")
    moved = _git(checkout, "rev-parse", "HEAD")
    _git(checkout, "checkout", "-q", head)
    result = _push(tmp_path, remote, checkout, head, "ghs_not-a-real-token")
    assert result.returncode == 1
    assert f"the branch is no longer at {head}" in result.stdout
    assert _git(remote, "rev-parse", "refs/heads/pr") == moved


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ({"HEAD_REPOSITORY": "someone/repo"}, "is not in this repository (a fork): not pushed"),
        ({"BRANCH": "main"}, "is not a pull request's branch this workflow pushes to"),
        ({"BRANCH": "-pr"}, "is not a pull request's branch this workflow pushes to"),
        ({"BRANCH": "pr$(touch pwned)"}, "is not a pull request's branch this workflow pushes to"),
        ({"BRANCH": "pr/../main"}, "is not a pull request's branch this workflow pushes to"),
        ({"BRANCH": "pr.lock"}, "is not a pull request's branch this workflow pushes to"),
        ({"BRANCH": "pr\n::add-mask::x"}, "is not a pull request's branch this workflow pushes to"),
        ({"HEAD_SHA": "HEAD"}, "is not a commit SHA: not pushed"),
        ({"HEAD_SHA": "--upload-pack=touch pwned"}, "is not a commit SHA: not pushed"),
    ],
)
def test_the_push_step_refuses_what_the_triggering_run_reports_unless_well_formed(
    tmp_path: Path, event: dict[str, str], problem: str
) -> None:
    remote, checkout, head, _ = _regeneration(tmp_path)
    _git(remote, "branch", "main", "refs/heads/pr")
    result = _push(tmp_path, remote, checkout, head, "ghs_not-a-real-token", **event)
    assert result.returncode == 1, result.stdout + result.stderr
    assert problem in result.stdout
    assert result.stdout.count("\n") == 1  # nothing of the untrusted value is echoed
    assert not (checkout / "pwned").exists()
    assert _git(remote, "for-each-ref", "--format=%(refname) %(objectname)").splitlines() == [
        f"refs/heads/main {head}",
        f"refs/heads/pr {head}",
    ]


def _glob_matches(pattern: str, path: str) -> bool:
    """GitHub's path filter for the two forms the workflows use: a file, or a folder and all below it."""
    if pattern.endswith("/**"):
        return path.startswith(pattern.removesuffix("**"))
    assert "*" not in pattern, pattern
    return path == pattern


def _relative_imports(path: Path) -> set[Path]:
    """The files of m3ter_dev that ``path`` imports (``from . import x``, ``from .x import y``), transitively."""
    import ast

    package = ROOT / "scripts" / "m3ter_dev"
    seen: set[Path] = set()
    pending = [path]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        for node in ast.walk(ast.parse(current.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("m3ter_dev")):
                base = (node.module or "").removeprefix("m3ter_dev").lstrip(".")
                where = current.parent if node.level else package
                names = [base] if base else [alias.name for alias in node.names]
                for name in names:
                    target = where.joinpath(*name.split("."))
                    if target.is_dir():
                        pending.extend(sorted(target.glob("*.py")))
                    elif target.with_suffix(".py").is_file():
                        pending.append(target.with_suffix(".py"))
    return seen


def test_the_spec_change_workflow_runs_when_a_generator_input_changes() -> None:
    triggers = _load(SPEC_CHANGE)["on"]
    paths = triggers["pull_request"]["paths"]
    assert triggers["push"]["paths"] == paths
    inputs = _relative_imports(ROOT / "scripts" / "regenerate.py") | _relative_imports(
        ROOT / "scripts" / "spec_change.py"
    )
    files = sorted(path.relative_to(ROOT).as_posix() for path in inputs)
    files += ["spec/m3ter-billing.yaml", "overrides/REVISION", "scripts/constraints.txt", "pyproject.toml"]
    for file in files:
        assert any(_glob_matches(pattern, file) for pattern in paths), f"{file} is not in spec-change.yml's paths"


def test_only_pull_request_runs_cancel_each_other() -> None:
    for workflow in (SPEC_CHANGE, WORKFLOWS / "ci.yml"):
        assert _load(workflow)["concurrency"]["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    # a push to main classifies its own changes: no run of main may wait in a shared group (and be cancelled)
    group = _load(SPEC_CHANGE)["concurrency"]["group"]
    assert group == "spec-change-${{ github.event_name == 'pull_request' && github.ref || github.run_id }}"


def test_a_pull_request_whose_base_is_missing_fails_instead_of_comparing_with_the_last_commit(tmp_path: Path) -> None:
    [step] = [s for s in _load(SPEC_CHANGE)["jobs"]["check"]["steps"] if s.get("id") == "pipeline"]
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "commit", "-q", "--allow-empty", "-m", "base")
    env = {**os.environ, "EVENT": "pull_request", "BASE": "1234567" * 5 + "89abc"}  # gone after a force-push
    result = _bash(step["run"], env, cwd=tmp_path)
    assert result.returncode == 2
    assert "::error::the pull request's base revision" in result.stdout


def _merge_script() -> str:
    [step] = [s for s in _load(CONFORMANCE)["jobs"]["report"]["steps"] if s.get("name") == "Merge them into one report"]
    script: str = step["run"]
    return script


def _org_report(path: Path, name: str) -> None:
    """A passing report of organization ``name``, as its job's --config --org run writes it."""
    result = RunResult(
        base_url=f"https://{name}.example",
        org_id=f"org-{name}",
        embedded=False,
        entities={"bill": 1, "statement_job": 0},
        observations=2,
        requests={"GET": 2},
    )
    path.parent.mkdir(parents=True)
    with path.open("w", encoding="utf-8") as handle:
        combined.write_json([OrgResult(name, result)], handle)


@pytest.mark.skipif(shutil.which("jq") is None, reason="the step reads the matrix with jq (on every GitHub runner)")
def test_the_merge_step_fails_when_an_org_of_the_matrix_has_no_report(tmp_path: Path) -> None:
    _org_report(tmp_path / "shards" / "m3ter-conformance-org-eu" / "m3ter-conformance.json", "eu")
    matrix = json.dumps([{"name": "eu"}, {"name": "eu-sandbox"}])  # eu-sandbox's job wrote nothing
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "MATRIX": matrix,
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }

    def merge() -> subprocess.CompletedProcess[str]:
        return _bash(_merge_script(), env, cwd=tmp_path, timeout=120)

    result = merge()
    assert result.returncode == 2, result.stdout + result.stderr
    merged = json.loads((tmp_path / "merged" / "m3ter-conformance.json").read_text(encoding="utf-8"))
    assert [org["name"] for org in merged["orgs"]] == ["eu"]
    [problem] = merged["problems"]
    assert problem["message"].startswith("organization eu-sandbox not merged [no-report]")
    assert "eu-sandbox not merged" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    env["MATRIX"] = json.dumps([{"name": "eu"}])
    result = merge()
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_conformance_artifacts_are_replaced_on_a_re_run_kept_14_days_and_never_missing() -> None:
    jobs = _load(CONFORMANCE)["jobs"]
    for job in ("conformance", "report"):
        [upload] = [s for s in jobs[job]["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
        assert upload["with"]["overwrite"] == "true", job
        assert upload["with"]["if-no-files-found"] == "error", job
        assert upload["with"]["retention-days"] == "14", job


def test_one_orgs_state_cache_never_restores_another_orgs() -> None:
    job = _load(CONFORMANCE)["jobs"]["conformance"]
    [restore] = [s for s in job["steps"] if s.get("uses", "").startswith("actions/cache/restore@")]

    def rendered(expression: str, name: str) -> str:
        return expression.replace("${{ matrix.org.name }}", name).replace("${{ github.run_id }}", "7")

    key, prefix = restore["with"]["key"], restore["with"]["restore-keys"]
    names = ["eu", "eu-sandbox", "eu_2", "EU"]
    assert all(NAME.fullmatch(name) for name in names)
    for name in names:
        for other in names:
            other_key = rendered(key, other).replace("${{ github.run_attempt }}", "1")
            assert other_key.startswith(rendered(prefix, name)) == (name == other), (name, other)


def _state_step(name: str, cwd: Path, key: str) -> subprocess.CompletedProcess[str]:
    """The conformance job's step ``name`` as written, with ``key`` as the environment's M3TER_STATE_KEY."""
    [step] = [s for s in _load(CONFORMANCE)["jobs"]["conformance"]["steps"] if s.get("name") == name]
    assert step["env"]["STATE_KEY"] == "${{ secrets.M3TER_STATE_KEY }}"
    env = {**os.environ, "STATE_KEY": key, "ENVIRONMENT": "m3ter-eu"}
    return _bash(step["run"], env, cwd=cwd)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the steps use openssl (on every GitHub runner)")
def test_the_state_is_cached_encrypted_with_the_environments_key(tmp_path: Path) -> None:
    state = tmp_path / ".m3ter-conformance" / "state.sqlite"
    state.parent.mkdir()
    with closing(sqlite3.connect(state)) as db, db:
        db.execute("CREATE TABLE observations (body TEXT)")
        db.execute("INSERT INTO observations VALUES ('live-bill-body-0123')")
    original = state.read_bytes()
    sealed = tmp_path / ".m3ter-conformance-sealed" / "state.tar.enc"

    assert _state_step("Encrypt the state", tmp_path, "k3y-of-the-environment").returncode == 0
    assert sealed.is_file()
    assert b"live-bill-body" not in sealed.read_bytes()
    assert b"SQLite format 3" not in sealed.read_bytes()

    shutil.rmtree(state.parent)  # a new run: the cache restored, nothing else
    result = _state_step("Decrypt the state", tmp_path, "k3y-of-the-environment")
    assert (result.returncode, result.stdout) == (0, ""), result.stderr
    assert state.read_bytes() == original

    shutil.rmtree(state.parent)  # another key (rotated): the run starts without the state
    result = _state_step("Decrypt the state", tmp_path, "another-key")
    assert result.returncode == 0, result.stderr
    assert "does not open with M3TER_STATE_KEY" in result.stdout
    assert not state.parent.exists()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the steps use openssl (on every GitHub runner)")
def test_without_a_state_key_no_state_is_cached(tmp_path: Path) -> None:
    state = tmp_path / ".m3ter-conformance" / "state.sqlite"
    state.parent.mkdir()
    state.write_bytes(b"SQLite format 3\x00")
    sealed = tmp_path / ".m3ter-conformance-sealed" / "state.tar.enc"
    sealed.parent.mkdir()
    sealed.write_bytes(b"an earlier run's")
    assert _state_step("Encrypt the state", tmp_path, "").returncode == 0
    assert not sealed.parent.exists()  # nothing to save: never the state in the clear
    result = _state_step("Decrypt the state", tmp_path, "")
    assert result.returncode == 0
    assert "::warning::no secret M3TER_STATE_KEY in the environment m3ter-eu" in result.stdout
