"""``m3ter-conformance merge`` with damaged shards: every readable report is merged, each other one is a
``shard`` problem naming the file and a short reason (never what it holds), and the run is incomplete
(exit 2) with its reports written. Reports are built in memory: no server needed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from m3ter_contract import rules
from m3ter_contract.conformance import combined
from m3ter_contract.conformance.combined import OrgResult
from m3ter_contract.conformance.command import main
from m3ter_contract.conformance.merge import SHARD, Damage
from m3ter_contract.conformance.runner import RunResult
from m3ter_contract.rules import Finding, Severity

SECRET = "sig=do-not-show-0123456789abcdef"


def _shard(path: Path, name: str, *, error: bool = False) -> Path:
    """A --config run's report of one organization (``error``: with an error finding)."""
    findings = [Finding("bill-1", "GET /bills/{id}", "schema.type", Severity.ERROR, "$.total", "not a number")]
    result = RunResult(
        base_url=f"https://{name}.example",
        org_id=f"org-{name}",
        embedded=False,
        entities={"bill": 1, "statement_job": 0},
        findings=findings if error else [],
        observations=2,
        requests={"GET": 2, "POST /oauth/token": 1},
        duration=0.5,
    )
    with path.open("w", encoding="utf-8") as handle:
        combined.write_json([OrgResult(name, result)], handle)
    return path


def _outputs(tmp_path: Path) -> list[str]:
    return [
        f"--{option}={tmp_path / 'merged'}.{ext}"
        for option, ext in (("report-json", "json"), ("junit-xml", "xml"), ("markdown", "md"))
    ]


def _damaged(tmp_path: Path) -> dict[Damage, Path]:
    """One shard of each kind of damage; several hold the secret, none of them in a way a report may show."""
    shards = tmp_path / "shards"
    shards.mkdir()
    whole = _shard(shards / "apac.json", "apac").read_text(encoding="utf-8")
    truncated = shards / "truncated.json"
    truncated.write_text(whole[: len(whole) // 2].replace("apac.example", f"apac.example/?{SECRET}"))
    not_utf8 = shards / "latin1.json"
    not_utf8.write_bytes(b'{"tool": "m3ter-conformance", "note": "caf\xe9 ' + SECRET.encode() + b'"}')
    wrong = shards / "wrong-shape.json"
    document = json.loads(whole)
    document["orgs"][0]["target"]["org_id"] = 7
    document["orgs"][0]["notes"] = [SECRET]
    wrong.write_text(json.dumps(document))
    not_json = shards / "not-json.json"
    not_json.write_text(f"<html>{SECRET}</html>")
    empty = shards / "empty.json"
    empty.write_text("\n")
    directory = shards / "a-directory.json"
    directory.mkdir()
    other = shards / "other-version.json"
    other.write_text(json.dumps({**json.loads(whole), "report_version": SECRET}))
    return {
        Damage.TRUNCATED: truncated,
        Damage.NOT_UTF8: not_utf8,
        Damage.WRONG_SHAPE: wrong,
        Damage.NOT_JSON: not_json,
        Damage.EMPTY: empty,
        Damage.NOT_A_FILE: directory,
        Damage.OTHER_VERSION: other,
        Damage.MISSING: shards / "missing.json",
    }


def _stable(text: str, tmp_path: Path) -> str:
    text = text.replace(str(tmp_path), "TMP")
    text = re.sub(r'(time=")[0-9.]+(")', r"\g<1>0.0\2", text)
    return re.sub(r"reads in [0-9.]+s", "reads in N.Ns", text)


def test_every_readable_shard_is_merged_and_each_damaged_one_named(
    tmp_path: Path, snapshot: Callable[[str, str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    eu, us = _shard(tmp_path / "eu.json", "eu", error=True), _shard(tmp_path / "us.json", "us")
    damaged = _damaged(tmp_path)
    shards = [str(eu), *map(str, damaged.values()), str(us), str(us)]  # us twice: merged once
    assert main(["merge", "--quiet", *_outputs(tmp_path), *shards]) == 2
    printed = capsys.readouterr()
    document = json.loads((tmp_path / "merged.json").read_text(encoding="utf-8"))
    assert [org["name"] for org in document["orgs"]] == ["eu", "us"]
    assert (document["result"], document["exit_code"]) == ("incomplete", 2)
    assert document["summary"]["errors"] == 1  # eu's finding is kept, not lost to the damaged shards
    problems = document["problems"]
    assert [p["kind"] for p in problems] == [SHARD] * len(damaged)
    for (damage, path), problem in zip(damaged.items(), problems, strict=True):
        assert problem["message"].startswith(f"{path} not merged [{damage}]: "), problem
    junit = (tmp_path / "merged.xml").read_text(encoding="utf-8")
    markdown = (tmp_path / "merged.md").read_text(encoding="utf-8")
    for text in (junit, markdown, printed.out, printed.err, json.dumps(document)):
        assert SECRET not in text
        assert "do-not-show" not in text
    assert '<testsuite name="m3ter-conformance (eu)"' in junit
    assert '<testsuite name="m3ter-conformance (run)"' in junit  # the damaged shards: the run's error
    assert f"{us} is given more than once: merged once" in printed.err
    snapshot("merge-damaged.summary.md", _stable(markdown, tmp_path))
    snapshot("merge-damaged.quiet.txt", _stable("--- stdout\n" + printed.out + "--- stderr\n" + printed.err, tmp_path))


def test_nothing_readable_writes_problem_only_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    damaged = _damaged(tmp_path)
    assert main(["merge", *_outputs(tmp_path), *map(str, damaged.values())]) == 2
    err = capsys.readouterr().err
    for damage, path in damaged.items():
        assert f"{path} not merged [{damage}]" in err
    document = json.loads((tmp_path / "merged.json").read_text(encoding="utf-8"))
    assert (document["orgs"], document["exit_code"]) == ([], 2)
    assert len(document["problems"]) == len(damaged)
    junit = (tmp_path / "merged.xml").read_text(encoding="utf-8")
    assert f'skipped="{len(rules.RULES)}"' in junit  # nothing merged: no rule passed
    assert "### Problems of the run (exit code 2)" in (tmp_path / "merged.md").read_text(encoding="utf-8")


def test_the_same_shard_twice_is_the_same_report(tmp_path: Path) -> None:
    eu = _shard(tmp_path / "eu.json", "eu", error=True)
    once, twice = tmp_path / "once.json", tmp_path / "twice.json"
    assert main(["merge", "--report-json", str(once), str(eu)]) == 1
    same = tmp_path / "." / "eu.json"  # another spelling of the same file
    assert main(["merge", "--report-json", str(twice), str(eu), str(same), str(eu)]) == 1
    read = [json.loads(path.read_text(encoding="utf-8")) for path in (once, twice)]
    for document in read:
        document["summary"]["duration_seconds"] = 0
        for org in document["orgs"]:
            org["summary"]["duration_seconds"] = 0
    assert read[0] == read[1]


def test_an_unreadable_file_is_named_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    eu, locked = _shard(tmp_path / "eu.json", "eu"), _shard(tmp_path / "locked.json", "us")
    read_bytes = Path.read_bytes

    def refuse(path: Path) -> bytes:  # as chmod 0 would (a test run as root reads any file)
        if path == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    assert main(["merge", "--quiet", str(eu), str(locked)]) == 2
    assert f"{locked} not merged [unreadable]: cannot read it (Permission denied)" in capsys.readouterr().err


def test_a_shard_nested_too_deeply_is_named_and_the_others_merged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    eu = _shard(tmp_path / "eu.json", "eu")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    assert main(["merge", "--report-json", str(tmp_path / "merged.json"), str(eu), str(deep)]) == 2
    document = json.loads((tmp_path / "merged.json").read_text(encoding="utf-8"))
    assert [org["name"] for org in document["orgs"]] == ["eu"]
    [problem] = document["problems"]
    assert problem["message"].startswith(f"{deep} not merged [{Damage.NOT_JSON}]: it is nested too deeply")
    assert "Traceback" not in capsys.readouterr().err


def test_one_report_with_an_organization_twice_and_different_results_is_a_conflict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passing = json.loads(_shard(tmp_path / "pass.json", "apac").read_text(encoding="utf-8"))
    failing = json.loads(_shard(tmp_path / "fail.json", "apac", error=True).read_text(encoding="utf-8"))
    both = tmp_path / "both.json"
    both.write_text(json.dumps({**passing, "orgs": [*passing["orgs"], *failing["orgs"]]}), encoding="utf-8")
    eu = _shard(tmp_path / "eu.json", "eu")
    assert main(["merge", "--report-json", str(tmp_path / "merged.json"), str(eu), str(both)]) == 2
    document = json.loads((tmp_path / "merged.json").read_text(encoding="utf-8"))
    assert [org["name"] for org in document["orgs"]] == ["eu"]
    [problem] = document["problems"]
    assert problem["message"].startswith(f"{both} not merged [{Damage.CONFLICT}]: organization apac is in it twice")
    assert "Traceback" not in capsys.readouterr().err


def test_an_expected_organization_no_report_holds_makes_the_merge_incomplete(
    tmp_path: Path, snapshot: Callable[[str, str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    # apac's job died before writing its report: without --expect the merge would pass without it
    eu, us = _shard(tmp_path / "eu.json", "eu"), _shard(tmp_path / "us.json", "us")
    assert main(["merge", "--report-json", str(tmp_path / "unexpected.json"), str(eu), str(us)]) == 0
    expect = ["--expect", "eu", "--expect", "apac", "--expect", "us", "--expect", "apac"]  # apac twice: once
    assert main(["merge", *_outputs(tmp_path), *expect, str(eu), str(us)]) == 2
    err = capsys.readouterr().err
    document = json.loads((tmp_path / "merged.json").read_text(encoding="utf-8"))
    assert [org["name"] for org in document["orgs"]] == ["eu", "us"]
    assert (document["result"], document["exit_code"]) == ("incomplete", 2)
    assert (document["summary"]["errors"], document["summary"]["warnings"]) == (0, 0)  # nothing about the API
    [problem] = document["problems"]
    assert problem["kind"] == SHARD
    assert problem["message"].startswith(f"organization apac not merged [{Damage.NO_REPORT}]: no report holds it")
    assert "Traceback" not in err
    junit = (tmp_path / "merged.xml").read_text(encoding="utf-8")
    assert '<testsuite name="m3ter-conformance (run)"' in junit
    assert "organization apac not merged" in junit
    snapshot("merge-missing.summary.md", _stable((tmp_path / "merged.md").read_text(encoding="utf-8"), tmp_path))


def test_every_expected_organization_there_keeps_the_worst_exit_code(tmp_path: Path) -> None:
    eu, us = _shard(tmp_path / "eu.json", "eu", error=True), _shard(tmp_path / "us.json", "us")
    merged = tmp_path / "merged.json"
    assert main(["merge", "--report-json", str(merged), "--expect", "us", "--expect", "eu", str(eu), str(us)]) == 1
    assert json.loads(merged.read_text(encoding="utf-8"))["problems"] == []


def test_an_expected_organization_in_a_damaged_report_is_named_twice(tmp_path: Path) -> None:
    eu = _shard(tmp_path / "eu.json", "eu")
    us = tmp_path / "us.json"
    us.write_text(_shard(tmp_path / "whole.json", "us").read_text(encoding="utf-8")[:100], encoding="utf-8")
    merged = tmp_path / "merged.json"
    assert main(["merge", "--report-json", str(merged), "--expect", "eu", "--expect", "us", str(eu), str(us)]) == 2
    messages = [problem["message"] for problem in json.loads(merged.read_text(encoding="utf-8"))["problems"]]
    assert [message.split(":")[0] for message in messages] == [
        f"{us} not merged [{Damage.TRUNCATED}]",
        f"organization us not merged [{Damage.NO_REPORT}]",
    ]


def test_an_expected_name_that_no_organization_can_have_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    eu = _shard(tmp_path / "eu.json", "eu")
    merged = tmp_path / "merged.json"
    assert main(["merge", "--report-json", str(merged), "--expect", "eu sandbox", str(eu)]) == 2
    assert "--expect 'eu sandbox': organization names are letters, digits, - and _" in capsys.readouterr().err
    document = json.loads(merged.read_text(encoding="utf-8"))
    assert (document["orgs"], document["exit_code"]) == ([], 2)
