"""The spec-change pipeline, the same locally and in CI (.github/workflows/spec-change.yml only wraps it).

    python3 scripts/spec_change.py                         # base: merge-base with origin/main, else HEAD~1
    python3 scripts/spec_change.py --base v1.0.0 --tests   # also run the test suite
    python3 scripts/spec_change.py --check --tests         # generated/ must already be committed
    python3 scripts/spec_change.py --commit                # CI, first job: regenerate, commit what changed
    python3 scripts/spec_change.py --check --checks        # CI, check job: the full check, then classify

Steps: regenerate generated/ (scripts/regenerate.py, which also writes the CHANGELOG entry; with --check,
``regenerate.py --check``, which writes nothing and fails when generated/ is stale); classify the spec
changes against the base (scripts/spec_diff.py); optionally run the tests (``--tests``: pytest; ``--checks``:
every step of scripts/check.py but the regeneration, which is done already). Writes report.md (the
pull-request comment) and report.json into --report-dir and prints the Markdown. Warns (in the report too)
when the spec changed but its info.version did not: the changelog would fold the changes into the entry of
a version that may already be released, which the regeneration refuses unless that version is not released at
the base (not in the base's generated/CHANGELOG.md: then it folds them into its entry, ``regenerate.py
--amend``). With --check and a git revision as the base, fails (the ``version`` step) when generated/ differs
from the base's but the package version (``{info.version}.{overrides/REVISION}``) did not rise above the
base's: a released version would then name two different packages; and (the ``changelog`` step) when an
entry of the base's changelog, a released version's, was rewritten.

``--commit`` only regenerates: when that changes ``REGENERATED`` (generated/), it commits the result (the
workflow bundles it, spec-change-push.yml pushes it to the pull request's branch) and writes
``committed=true`` to $GITHUB_OUTPUT. With ``--cannot-push`` (a pull request from a fork, whose branch the
workflow cannot push to) it commits nothing and exits 3 with the exact command to run instead: ``COMMIT_COMMAND``.

Exit status: 0 fine; 1 a breaking change without a new major version; 2 usage error (unreadable base, e.g.
the all-zero revision of a new branch or a commit gone after a force-push, or a bad spec; report.md says
so); 3 a step failed (regeneration, generated/ stale with --check or --cannot-push, the package version not
raised with --check, tests, checks).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from . import changelog, check, regenerate, spec_diff
from .layout import GENERATED, ROOT, SPEC, SPEC_PATH


@dataclasses.dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    detail: str
    seconds: float


def _git(*args: str) -> str | None:
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def default_base() -> str:
    """The merge-base with origin/main when there is one, else HEAD~1, else HEAD."""
    if _git("rev-parse", "--verify", "--quiet", "origin/main^{commit}"):
        merge_base = _git("merge-base", "origin/main", "HEAD")
        if merge_base:
            return merge_base
    return "HEAD~1" if _git("rev-parse", "--verify", "--quiet", "HEAD~1^{commit}") else "HEAD"


def _run(name: str, command: list[str]) -> tuple[Step, str]:
    print(f"spec_change: {name}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    last = output.strip().splitlines()[-1] if output.strip() else ""
    step = Step(name, result.returncode == 0, last, round(time.perf_counter() - started, 1))
    return step, output


CHANGELOG_PATH = f"generated/{changelog.CHANGELOG}"


def released_entries(base: str) -> list[changelog.Entry] | None:
    """The entries of the changelog at the git revision ``base``: the released versions (None when ``base`` is a
    spec file or has no changelog)."""
    if Path(base).is_file():
        return None
    text = _git("show", f"{base}:{CHANGELOG_PATH}")
    return None if text is None else changelog.parse(text)


def may_amend(base: str) -> bool:
    """Whether the package version is not released at ``base``: a spec change under it may then be folded into
    its changelog entry (``regenerate.py --amend``). False when that cannot be told."""
    released = released_entries(base)
    try:
        version = changelog.package_version()
    except changelog.VersionError:
        return False
    return released is not None and version not in {entry.version for entry in released}


def regenerate_step(check: bool, amend: bool = False) -> Step:
    """Rewrite generated/ (``amend``: see :func:`may_amend`), or with ``check`` only compare it with a fresh
    regeneration (writes nothing)."""
    print(f"spec_change: regenerate{' --check' if check else ''}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        if check:
            drift = regenerate.check()
            if drift.stale:
                sys.stderr.write(drift.diff[-6000:])
                print(drift.advice(), file=sys.stderr)
            ok = not drift.stale
            detail = (
                "generated/ up to date"
                if ok
                else "generated/ was stale: run `python scripts/regenerate.py` and commit generated/"
            )
        else:
            ok, detail = True, "generated/ rewritten" if regenerate.rewrite(amend=amend) else "generated/ up to date"
    except regenerate.RegenerationError as exc:
        print(f"spec_change: regenerate: {exc}", file=sys.stderr)
        ok, detail = False, str(exc).splitlines()[0]
    return Step("regenerate", ok, detail, round(time.perf_counter() - started, 1))


def run_tests(pytest_args: list[str]) -> Step:
    step, output = _run("tests", [sys.executable, "-m", "pytest", "-q", *pytest_args])
    sys.stderr.write(output[-6000:])
    return step


# Every step of scripts/check.py but regen (the regenerate step did it): about 17 minutes on two cores.
CHECK_STEPS = tuple(step for step in check.STEPS if step != "regen")


def run_checks(pytest_args: list[str]) -> Step:
    command = [sys.executable, str(ROOT / "scripts" / "check.py"), "--no-bootstrap", *CHECK_STEPS]
    step, output = _run("checks", [*command, *(["--", *pytest_args] if pytest_args else [])])
    sys.stderr.write(output[-6000:])
    return step


# What a regeneration may rewrite, as git pathspecs: --commit commits these and nothing else.
REGENERATED = ("generated",)
COMMIT_COMMAND = "python3 scripts/spec_change.py --commit && git push"
COMMIT_MESSAGE = "Regenerate the client from spec/ and overrides/\n\nWritten by scripts/spec_change.py --commit."
BOT = ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com")


def _changed(paths: tuple[str, ...]) -> list[str]:
    """The changed or new files under ``paths`` (``git status``; NUL-separated, so any name is exact)."""
    result = subprocess.run(
        ["git", "status", "--porcelain", "-z", "--untracked-files=all", "--", *paths],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise regenerate.RegenerationError(f"git status failed: {result.stderr.decode(errors='replace').strip()}")
    return [entry[3:].decode(errors="replace") for entry in result.stdout.split(b"\0") if entry]


def _github_output(**values: str) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a", encoding="utf-8") as output:
            output.writelines(f"{key}={value}\n" for key, value in values.items())


def commit_regeneration(*, can_push: bool, base: str = "HEAD") -> int:
    """Regenerate (folding spec changes into the newest changelog entry only when its version is not released at
    ``base``); commit what changed in ``REGENERATED`` (or, when it cannot be pushed, say how to)."""
    try:
        before = _changed(REGENERATED)
        if before:
            print(
                f"spec_change: uncommitted changes in {', '.join(before[:5])}; commit or stash them first",
                file=sys.stderr,
            )
            return 2
        regenerate.rewrite(amend=may_amend(base))
        changed = _changed(REGENERATED)
    except regenerate.RegenerationError as exc:
        print(f"spec_change: regenerate: {exc}", file=sys.stderr)
        return 3
    if not changed:
        print("spec_change: generated/ is current: nothing to commit")
        _github_output(committed="false")
        return 0
    listed = "\n".join(f"  {path}" for path in changed[:20]) + ("\n  ..." if len(changed) > 20 else "")
    if not can_push:
        message = (
            f"generated/ is stale ({len(changed)} file(s) differ from a regeneration) and this workflow cannot "
            f"push to the pull request's branch (a fork). Run this in your branch and push:\n\n    {COMMIT_COMMAND}"
        )
        print(f"spec_change: {message}\n\n{listed}", file=sys.stderr)
        if os.environ.get("GITHUB_ACTIONS") == "true":
            print(f"::error title=generated/ is stale::{message.replace(chr(10), ' ')}")
        _github_output(committed="false")
        return 3
    name, email = BOT
    if _git("add", "--all", "--", *REGENERATED) is None or (
        _git(
            "-c",
            f"user.name={name}",
            "-c",
            f"user.email={email}",
            "-c",
            "commit.gpgsign=false",
            "commit",
            "-q",
            "-m",
            COMMIT_MESSAGE,
        )
        is None
    ):
        print("spec_change: git could not commit the regenerated files", file=sys.stderr)
        return 3
    print(f"spec_change: committed the regeneration ({len(changed)} file(s)):\n{listed}")
    _github_output(committed="true", sha=_git("rev-parse", "HEAD") or "")
    return 0


def pipeline_markdown(steps: list[Step]) -> str:
    lines = ["### Pipeline", "", "| Step | Result | Details |", "|---|---|---|"]
    for step in steps:
        result = "ok" if step.ok else "**failed**"
        lines.append(f"| {step.name} | {result} ({step.seconds}s) | {step.detail.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


NULL_REVISION = "0" * 40


def version_warning(result: spec_diff.Report) -> str | None:
    """A warning when the spec changed but its info.version did not."""
    if not result.changes or result.base_version != result.head_version:
        return None
    return (
        f"the spec changed but its info.version did not ({result.head_version}): raise info.version in the "
        "spec. The regeneration refuses a spec change under a released version's changelog entry; under a "
        "package version this branch introduced (a raised overrides/REVISION) it folds it into that entry, "
        "and the spec's own version then does not say that the spec changed"
    )


REVISION_PATH = "overrides/REVISION"


def version_step(base: str, result: spec_diff.Report) -> Step | None:
    """When generated/ differs from the one of the git revision ``base``, the package version (the spec's
    info.version and overrides/REVISION: :func:`changelog.package_version`) must be higher than the base's.
    None when there is nothing to judge: ``base`` is a spec file, or generated/ or a version is the same."""
    started = time.perf_counter()
    if Path(base).is_file() or _git("rev-parse", "--verify", "--quiet", f"{base}^{{commit}}") is None:
        return None
    diff = subprocess.run(["git", "diff", "--quiet", base, "--", *REGENERATED], cwd=ROOT, check=False)
    base_revision = _git("show", f"{base}:{REVISION_PATH}")
    if diff.returncode != 1 or base_revision is None or not base_revision.isdigit():
        return None  # the same generated/ (0), git failed, or the base has no revision to compare with
    before = f"{result.base_version}.{int(base_revision)}"
    try:
        after = changelog.package_version()
    except changelog.VersionError as exc:
        return Step("version", False, str(exc), round(time.perf_counter() - started, 1))
    old, new = changelog.version_key(before), changelog.version_key(after)
    raised = new > old if old is not None and new is not None else after != before
    if raised:
        detail = f"generated/ changed; package version {before} → {after}"
    else:
        detail = (
            f"generated/ changed but the package version did not rise from the base's {before}: raise info.version "
            f"in the spec (its major for a breaking change), or {REVISION_PATH} for a change of overrides/ or the "
            "generator alone"
        )
        print(f"spec_change: version: {detail}", file=sys.stderr)
    return Step("version", raised, detail, round(time.perf_counter() - started, 1))


def changelog_step(base: str) -> Step | None:
    """Every entry of the base's changelog (released) must be in generated/CHANGELOG.md unchanged: a spec change
    folded into a released version's entry (``regenerate.py --amend`` on a released version, an edit by hand)
    would otherwise pass. None when ``base`` has no changelog to compare with."""
    started = time.perf_counter()
    released = released_entries(base)
    if released is None:
        return None
    path = GENERATED / changelog.CHANGELOG
    current = {entry.version: entry.text for entry in changelog.parse(path.read_text(encoding="utf-8"))}
    rewritten = [entry.version for entry in released if current.get(entry.version) != entry.text]
    if not rewritten:
        return Step("changelog", True, "released entries unchanged", round(time.perf_counter() - started, 1))
    detail = (
        f"{CHANGELOG_PATH} rewrites the entry of {', '.join(rewritten)}, released in the base: a spec change was "
        f"regenerated under a released version; restore generated/ from the base (`git checkout {base} -- "
        "generated/`), raise info.version in the spec, and regenerate"
    )
    print(f"spec_change: changelog: {detail}", file=sys.stderr)
    return Step("changelog", False, detail, round(time.perf_counter() - started, 1))


def write_report(report_dir: Path, markdown: str, payload: dict[str, object]) -> None:
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "report.md").write_text(markdown, encoding="utf-8")
    (report_dir / "report.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def failure_markdown(base: str, error: str, steps: list[Step]) -> str:
    lines = [
        spec_diff.REPORT_MARKER,
        "## Spec change report",
        "",
        f"**The spec diff could not run: the base `{base}` or the spec could not be read.**",
        "",
        f"> {error}",
        "",
        "A new branch (all-zero base revision) or a force-push (base commit gone) leaves no base to compare "
        "with; run `python3 scripts/spec_change.py --base <revision>` with a revision that exists.",
        "",
    ]
    return "\n".join(lines) + "\n" + (pipeline_markdown(steps) if steps else "")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args: list[str] = []
    if "--" in argv:
        pytest_args, argv = argv[argv.index("--") + 1 :], argv[: argv.index("--")]
    parser = argparse.ArgumentParser(
        prog="spec_change.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", help="git revision or spec file to compare with (default: see above)")
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=ROOT / "build" / "spec-change",
        help="where to write report.md and report.json",
    )
    parser.add_argument("--tests", action="store_true", help="run the test suite (arguments after -- go to pytest)")
    parser.add_argument(
        "--checks", action="store_true", help="run scripts/check.py's steps but regen (arguments after -- go to pytest)"
    )
    parser.add_argument("--commit", action="store_true", help="only regenerate, and commit what changed (CI)")
    parser.add_argument(
        "--cannot-push", action="store_true", help="with --commit: fail with the command to run instead (a fork)"
    )
    parser.add_argument("--check", action="store_true", help="fail when regeneration changes generated/ (CI)")
    parser.add_argument("--no-regenerate", action="store_true", help="skip the regeneration (diff only)")
    parser.add_argument("--no-bootstrap", action="store_true", help="use this interpreter, not .venv (scripts/)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    if args.cannot_push and not args.commit:
        print("spec_change: --cannot-push goes with --commit", file=sys.stderr)
        return 2
    if args.commit:
        if args.check or args.tests or args.checks:
            print("spec_change: --commit only regenerates; run --check/--tests/--checks separately", file=sys.stderr)
            return 2
        return commit_regeneration(can_push=not args.cannot_push, base=args.base or default_base())
    base = args.base or default_base()
    steps: list[Step] = []
    if not args.no_regenerate:
        steps.append(regenerate_step(args.check, amend=not args.check and may_amend(base)))
    started = time.perf_counter()
    try:
        if base.strip("0") == "" and len(base) == len(NULL_REVISION):
            raise spec_diff.UsageError(f"{base}: the null revision (a new branch has no previous commit)")
        result = spec_diff.Report.between(spec_diff.load(base, ROOT), spec_diff.load(str(SPEC)), base, SPEC_PATH)
    except spec_diff.UsageError as exc:
        print(f"spec_change: cannot read the base spec: {exc}", file=sys.stderr)
        error = str(exc)
        payload: dict[str, object] = {
            "base": {"source": base},
            "error": error,
            "exit_code": 2,
            "pipeline": [dataclasses.asdict(step) for step in steps],
        }
        write_report(args.report_dir, failure_markdown(base, error, steps), payload)
        return 2
    steps.append(Step("spec diff", result.exit_code == 0, result.summary(), round(time.perf_counter() - started, 1)))
    version = version_step(base, result) if args.check else None
    if version is not None:
        steps.append(version)
    released = changelog_step(base) if args.check else None
    if released is not None:
        steps.append(released)
    if args.tests:
        steps.append(run_tests(pytest_args))
    if args.checks:
        steps.append(run_checks(pytest_args))
    warning = version_warning(result)
    markdown = result.markdown()
    if warning:
        print(f"spec_change: warning: {warning}", file=sys.stderr)
        markdown = markdown.replace("\n\n", f"\n\n**Warning:** {warning}.\n\n", 1)
    markdown += "\n" + pipeline_markdown(steps)
    payload = {
        **result.to_json(),
        "warnings": [warning] if warning else [],
        "pipeline": [dataclasses.asdict(step) for step in steps],
    }
    write_report(args.report_dir, markdown, payload)
    sys.stdout.write(markdown)
    failed = [step.name for step in steps if not step.ok and step.name != "spec diff"]
    if failed:
        print(f"spec_change: failed: {', '.join(failed)}", file=sys.stderr)
        return 3
    print(f"spec_change: {result.summary()}", file=sys.stderr)
    return result.exit_code
