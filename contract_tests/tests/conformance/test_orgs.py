"""Many organizations, one run (``m3ter-conformance --config``), and ``merge``: two sandboxes on 127.0.0.1
with their own organization ids and credentials stand for two m3ter organizations."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import selectors
import socket
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from m3ter_contract.conformance import combined, orgs
from m3ter_contract.conformance.combined import OrgResult
from m3ter_contract.conformance.command import main
from m3ter_contract.conformance.embedded import target_for
from m3ter_contract.conformance.multirun import OrgRun, run_orgs
from m3ter_contract.conformance.runner import Options, Problem, RunResult
from m3ter_contract.rules import Finding, Severity, Spec
from m3ter_contract.sandbox import ManualClock, Sandbox, SandboxServer

from .conftest import normalise
from .test_cli import UNLISTED_TYPE, _break
from .test_cli_robustness import _disk_full_for

SECRETS = {"eu": "eu-secret-value-0001", "us": "us-secret-value-0002"}


def _sandbox(seed: int, name: str) -> Sandbox:
    return Sandbox(seed=seed, clock=ManualClock(), rate_limit=None, large_bill_line_items=20, api_secret=SECRETS[name])


@pytest.fixture
def servers() -> Iterator[dict[str, SandboxServer[Sandbox]]]:
    eu, us = _sandbox(1, "eu"), _sandbox(2, "us")
    assert eu.org_id != us.org_id
    assert eu.credentials.api_key != us.credentials.api_key
    with SandboxServer(eu) as eu_server, SandboxServer(us) as us_server:
        yield {"eu": eu_server, "us": us_server}


def _ids(server: SandboxServer[Sandbox]) -> dict[str, list[str]]:
    seeded = server.sandbox.seeded
    return {
        "bills": [seeded.bills["monthly"], seeded.bills["weekly"]],
        "statement_jobs": [seeded.jobs["pending"], seeded.jobs["complete_csv"]],
    }


def _config(tmp_path: Path, servers: dict[str, SandboxServer[Sandbox]], **override: str) -> Path:
    """Two organizations, each with its own variables; ``override`` replaces a table's base_url."""
    tables = []
    for name, server in servers.items():
        (tmp_path / f"ids-{name}.json").write_text(json.dumps(_ids(server)))
        tables.append(
            f'[orgs.{name}]\nbase_url = "{override.get(name, server.url)}"\nids_file = "ids-{name}.json"\nrate = 40\n'
            + "".join(f'{key} = "{name.upper()}_{key.upper()}"\n' for key in orgs.CREDENTIAL_KEYS)
        )
    path = tmp_path / "orgs.toml"
    path.write_text("\n".join(tables))
    return path


def _environ(servers: dict[str, SandboxServer[Sandbox]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for name, server in servers.items():
        creds = server.sandbox.credentials
        env[f"{name.upper()}_ORG_ID_ENV"] = creds.org_id
        env[f"{name.upper()}_API_KEY_ENV"] = creds.api_key
        env[f"{name.upper()}_API_SECRET_ENV"] = creds.api_secret
    return env


def _outputs(tmp_path: Path, stem: str = "all") -> list[str]:
    return [
        "--report-json",
        str(tmp_path / f"{stem}.json"),
        "--junit-xml",
        str(tmp_path / f"{stem}.xml"),
        "--markdown",
        str(tmp_path / f"{stem}.md"),
    ]


def _read(tmp_path: Path, servers: dict[str, SandboxServer[Sandbox]], stem: str = "all") -> dict[str, str]:
    out = {}
    for ext in ("json", "xml", "md"):
        text = (tmp_path / f"{stem}.{ext}").read_text(encoding="utf-8")
        for server in servers.values():
            text = normalise(text, server.url)
        out[ext] = text
    return out


# One worker: an organization whose credentials are refused sends exactly one token request. (Reads already
# waiting for the token share the refusal, but with more workers a read that begins after the refusal and
# before the run stops would send one of its own, and the snapshot counts requests.)
READING = ["--observe", "2", "--interval", "0", "--quiet", "--concurrency", "1"]


def test_two_orgs_at_once_one_report_with_a_section_each(
    servers: dict[str, SandboxServer[Sandbox]], tmp_path: Path, snapshot: Callable[[str, str], None]
) -> None:
    _break(servers["eu"].sandbox)
    env = _environ(servers)
    env["US_API_SECRET_ENV"] = "not-the-us-secret"
    state = tmp_path / "state.sqlite"
    args = ["--config", str(_config(tmp_path, servers)), *READING, "--state", str(state), *_outputs(tmp_path)]
    assert main(args, environ=env) == 2  # the worst: us could not be checked (2) over eu's error findings (1)
    reports = _read(tmp_path, servers)
    snapshot("orgs.summary.md", reports["md"])
    snapshot("orgs.junit.xml", reports["xml"])
    document = json.loads(reports["json"])
    assert document["kind"] == "combined"
    assert document["exit_code"] == 2
    eu, us = document["orgs"]
    assert (eu["name"], eu["exit_code"], us["name"], us["exit_code"]) == ("eu", 1, "us", 2)
    assert eu["target"]["org_id"] == servers["eu"].sandbox.org_id
    assert any(f["rule"] == "schema.enum" and UNLISTED_TYPE in f["message"] for f in eu["findings"])
    assert [p["kind"] for p in us["problems"]] == ["auth"]
    # the problem names the variables the table names, not the single run's M3TER_*
    assert "check US_API_KEY_ENV and US_API_SECRET_ENV, and that US_ORG_ID_ENV (" in us["problems"][0]["message"]
    assert "M3TER_" not in us["problems"][0]["message"]
    assert document["summary"]["errors"] == eu["summary"]["errors"] >= 1
    everything = "".join(reports.values())
    assert not any(secret in everything for secret in (*SECRETS.values(), "not-the-us-secret"))
    # one state file, one scope per organization: only what was read (us was refused) is remembered
    with contextlib.closing(sqlite3.connect(state)) as db:  # a connection's own `with` does not close it
        scopes = {row[0] for row in db.execute("SELECT DISTINCT scope FROM observations")}
    assert scopes == {f"{servers['eu'].url}|{servers['eu'].sandbox.org_id}"}


def test_a_server_down_is_a_problem_of_that_org_only(
    servers: dict[str, SandboxServer[Sandbox]], tmp_path: Path
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    config = _config(tmp_path, servers, us=closed)
    args = ["--config", str(config), *READING, "--no-state", "--max-retries", "0", *_outputs(tmp_path)]
    assert main(args, environ=_environ(servers)) == 2
    eu, us = json.loads((tmp_path / "all.json").read_text())["orgs"]
    assert eu["exit_code"] == 0
    assert eu["summary"]["observations"] == 8
    assert [p["kind"] for p in us["problems"]] == ["connection"]


def test_an_unset_variable_is_named_and_the_other_org_still_runs(
    servers: dict[str, SandboxServer[Sandbox]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = _environ(servers)
    del env["US_API_SECRET_ENV"]
    code = main(["--config", str(_config(tmp_path, servers)), *READING, "--no-state", *_outputs(tmp_path)], environ=env)
    assert code == 2
    eu, us = json.loads((tmp_path / "all.json").read_text())["orgs"]
    assert eu["exit_code"] == 0
    assert eu["summary"]["observations"] == 8
    [problem] = us["problems"]
    assert problem["kind"] == "config"
    assert problem["message"].startswith("[orgs.us]: set US_API_SECRET_ENV")
    printed = capsys.readouterr()
    assert "US_API_SECRET_ENV" in printed.err
    assert not any(value in printed.out + printed.err for value in env.values())


def test_org_runs_one_and_an_unknown_name_lists_the_known_ones(
    servers: dict[str, SandboxServer[Sandbox]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, servers)
    env = _environ(servers)
    del env["US_API_KEY_ENV"]  # not needed to check eu alone
    assert main(["--config", str(config), "--org", "eu", *READING, "--no-state", *_outputs(tmp_path)], environ=env) == 0
    assert [org["name"] for org in json.loads((tmp_path / "all.json").read_text())["orgs"]] == ["eu"]
    capsys.readouterr()
    assert main(["--config", str(config), "--org", "asia", "--no-state"], environ=env) == 2
    err = capsys.readouterr().err
    assert "no [orgs.asia]" in err
    assert "(eu, us)" in err


def test_merging_the_shards_gives_the_report_of_one_run(
    servers: dict[str, SandboxServer[Sandbox]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _break(servers["eu"].sandbox)
    config, env = _config(tmp_path, servers), _environ(servers)
    common = ["--config", str(config), *READING, "--no-state"]
    assert main([*common, *_outputs(tmp_path, "all")], environ=env) == 1
    for name in servers:
        assert main([*common, "--org", name, *_outputs(tmp_path, name)], environ=env) in (0, 1)
    shards = [str(tmp_path / f"{name}.json") for name in servers]
    assert main(["merge", "--quiet", *_outputs(tmp_path, "merged"), *shards]) == 1
    assert _read(tmp_path, servers, "merged") == _read(tmp_path, servers, "all")
    # the same section twice (a re-run job uploading again) is kept once
    capsys.readouterr()
    assert main(["merge", "--report-json", str(tmp_path / "again.json"), *shards, shards[0]]) == 1
    terminal = capsys.readouterr().out
    assert "organization eu" in terminal
    assert "FAIL: 1 error(s), 2 warning(s), 0 problem(s) over 2 organization(s)" in terminal
    assert len(json.loads((tmp_path / "again.json").read_text())["orgs"]) == 2


def _mutated(source: Path, target: Path, change: Callable[[dict[str, Any]], None]) -> str:
    document = json.loads(source.read_text())
    change(document)
    target.write_text(json.dumps(document))
    return str(target)


def test_merge_keeps_every_readable_report_and_names_the_others(
    servers: dict[str, SandboxServer[Sandbox]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, env = _config(tmp_path, servers), _environ(servers)
    assert main(["--config", str(config), "--org", "eu", *READING, "--no-state", *_outputs(tmp_path)], environ=env) == 0
    report = tmp_path / "all.json"
    single = tmp_path / "single.json"
    one = {"M3TER_ORG_ID": "EU_ORG_ID_ENV", "M3TER_API_KEY": "EU_API_KEY_ENV", "M3TER_API_SECRET": "EU_API_SECRET_ENV"}
    args = ["--base-url", servers["eu"].url, "--bill-id", "x", "--no-state", "--quiet", "--report-json", str(single)]
    assert main(args, environ={name: env[variable] for name, variable in one.items()}) == 2

    def version(document: dict[str, Any]) -> None:
        document["report_version"] = 99

    def different(document: dict[str, Any]) -> None:
        document["orgs"][0]["summary"]["observations"] += 1

    (tmp_path / "text.json").write_text("not json")
    cases = {
        _mutated(report, tmp_path / "v99.json", version): "[other-version]: the file is report version 99",
        _mutated(report, tmp_path / "other.json", different): "[conflict]: organization eu is in",
        str(single): "[wrong-shape]: the file is the report of a single run",
        str(tmp_path / "text.json"): "[not-json]: it is not JSON",
        str(tmp_path / "missing.json"): "[missing]: no such file",
    }
    merged = tmp_path / "merged.json"
    for path, message in cases.items():
        capsys.readouterr()
        assert main(["merge", "--quiet", "--report-json", str(merged), str(report), path]) == 2, path
        assert f"{path} not merged {message}" in capsys.readouterr().err
        document = json.loads(merged.read_text())
        assert [org["name"] for org in document["orgs"]] == ["eu"]  # the readable report is merged
        assert [p["kind"] for p in document["problems"]] == ["shard"]
    assert main(["merge", "--report-json", str(report), str(report)]) == 2
    assert "is one of the reports to merge" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ('[orgs.eu]\nids_file = "x"\napi_secret = "s3cr3t"\n', "unknown key 'api_secret'"),
        ('[orgs."eu sandbox"]\nids_file = "x"\n', "letters, digits, - and _"),
        ("[orgs.eu]\nrate = 5\n", "[orgs.eu]: ids_file is required"),
        ('[orgs.eu]\nids_file = "x"\nrate = 0\n', "[orgs.eu]: rate must be a finite number at least 0.1"),
        ('[orgs.eu]\nids_file = "x"\nrate = "fast"\n', "[orgs.eu]: rate must be a number"),
        ('[orgs.eu]\nids_file = "x"\napi_key_env = "EU KEY"\n', "api_key_env must be an environment variable name"),
        ('[orgs.eu]\nids_file = "x"\nbase_url = "api.m3ter.com"\n', "base_url must be an http(s) URL"),
        ('[orgs.eu]\nembedded = true\nbase_url = "https://api.m3ter.com"\n', "base_url does not apply to an embedded"),
        ('[orgs.eu]\nids_file = "x"\nseed = 3\n', "seed applies only with embedded = true"),
        ('[org.eu]\nids_file = "x"\n', "unknown top-level key 'org'"),
        ("[orgs.eu\n", "is not valid TOML"),
        ("", "lists no organization"),
    ],
)
def test_config_mistakes_exit_2_with_what_to_fix(
    tmp_path: Path, config: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "orgs.toml"
    path.write_text(config)
    assert main(["--config", str(path), "--no-state"], environ={}) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "s3cr3t" not in err


def test_every_mistake_of_a_config_file_is_a_line_of_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "orgs.toml"
    path.write_text('[orgs.a]\nids_file = "x"\nbogus = 1\nrate = 0\n')
    assert main(["--config", str(path), "--no-state"], environ={}) == 2
    lines = capsys.readouterr().err.splitlines()
    assert any("unknown key 'bogus'" in line and "rate must" not in line for line in lines)
    assert any(line.startswith("  ") and "rate must be" in line for line in lines)  # indented under the first
    assert not any("\\x0a" in line for line in lines)


def test_single_run_options_and_rates_are_refused_with_config(
    servers: dict[str, SandboxServer[Sandbox]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, servers)
    assert main(["--config", str(config), "--bill-id", "b1"], environ={}) == 2
    assert "--bill-id does not go with --config: set `ids_file`" in capsys.readouterr().err
    assert main(["--config", str(config), "--write-baseline", str(tmp_path / "b.json")], environ={}) == 2
    assert "add --org NAME" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--org", "eu"])
    fast = tmp_path / "fast.toml"
    fast.write_text(config.read_text().replace("rate = 40", "rate = 80"))
    args = ["--config", str(fast), "--org", "eu", "--no-state", "--quiet", *_outputs(tmp_path)]
    assert main(args, environ=_environ(servers)) == 2
    [problem] = json.loads((tmp_path / "all.json").read_text())["orgs"][0]["problems"]
    assert problem["kind"] == "config"
    assert "above m3ter's limit of 50" in problem["message"]


def test_two_tables_for_one_organization_are_refused(
    servers: dict[str, SandboxServer[Sandbox]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, servers)
    text = config.read_text()
    config.write_text(text + "\n" + text.split("\n\n")[0].replace("[orgs.eu]", "[orgs.eu-again]"))
    assert main(["--config", str(config), "--no-state"], environ=_environ(servers)) == 2
    assert "[orgs.eu] and [orgs.eu-again] both check organization" in capsys.readouterr().err


def test_list_orgs_json_is_the_workflow_matrix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "orgs.toml"
    path.write_text('[orgs.eu]\nids_file = "ids.json"\nrate = 10\n\n[orgs.demo]\nembedded = true\nseed = 7\n')
    assert main(["--config", str(path), "--list-orgs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {
            "name": "eu",
            "environment": "m3ter-eu",
            "embedded": False,
            "base_url": "https://api.m3ter.com",
            "ids_file": "ids.json",
            "rate": 10.0,
            "baseline": "",
            "org_id_env": "M3TER_ORG_ID",
            "api_key_env": "M3TER_API_KEY",
            "api_secret_env": "M3TER_API_SECRET",
        },
        {
            "name": "demo",
            "environment": "m3ter-demo",
            "embedded": True,
            "base_url": "",
            "ids_file": "",
            "rate": None,
            "baseline": "",
            "org_id_env": "M3TER_ORG_ID",
            "api_key_env": "M3TER_API_KEY",
            "api_secret_env": "M3TER_API_SECRET",
        },
    ]
    assert main(["--config", str(path), "--list-orgs", "--org", "demo"]) == 0
    assert "embedded sandbox" in capsys.readouterr().out


def test_an_embedded_org_needs_no_credentials(tmp_path: Path) -> None:
    path = tmp_path / "orgs.toml"
    path.write_text("[orgs.demo]\nembedded = true\nseed = 5\nrate = 1000\n")
    assert main(["--config", str(path), "--quiet", "--no-statement-downloads", *_outputs(tmp_path)], environ={}) == 0
    [demo] = json.loads((tmp_path / "all.json").read_text())["orgs"]
    assert demo["target"]["embedded"] is True
    assert demo["summary"]["observations"] > 0


def test_paths_in_the_file_are_relative_to_its_folder(tmp_path: Path) -> None:
    [org] = orgs.parse('[orgs.eu]\nids_file = "ids/eu.json"\nbaseline = "b.json"\n', folder=tmp_path / "ci")
    assert org.ids_file == tmp_path / "ci" / "ids" / "eu.json"
    assert org.baseline == tmp_path / "ci" / "b.json"


# ---- per-organization rate limits, at once, on virtual time ------------------------------------------------


class _VirtualSelector(selectors.DefaultSelector):
    """A selector whose waits take no time: the event loop's clock jumps to the next timer instead."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 1_000.0  # small: the loop adds its clock resolution (1 ns), which a large float would absorb

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is not None and timeout > 0:
            self.now += timeout
            timeout = 0
        return super().select(timeout)


class _VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.virtual = _VirtualSelector()
        super().__init__(self.virtual)

    def time(self) -> float:
        return self.virtual.now


class _Recording(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, log: list[float], clock: Callable[[], float]) -> None:
        self.inner, self.log, self.clock = inner, log, clock

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.log.append(self.clock())
        return await self.inner.handle_async_request(request)


def _most_in_one_second(times: list[float]) -> int:
    return max(sum(1 for t in times if start <= t < start + 1.0) for start in times)


def test_each_org_keeps_its_own_rate_while_all_run_at_once() -> None:
    loop = _VirtualLoop()
    rates = {"eu": 4.0, "us": 16.0}
    sent: dict[str, list[float]] = {name: [] for name in rates}
    items = []
    entities = 0
    for seed, (name, rate) in enumerate(rates.items(), 1):
        sandbox = _sandbox(seed, name)
        entities = len(sandbox.bill_ids) + len(sandbox.statement_job_ids)
        app = httpx.ASGITransport(app=sandbox.asgi_app())
        items.append(
            OrgRun(
                name,
                target_for(sandbox, f"http://{name}.sandbox.invalid"),
                Options(rate=rate, observe=2, interval=0.0, statement_downloads=False),
                transport=_Recording(app, sent[name], loop.time),
            )
        )
    try:
        started = loop.time()
        results = loop.run_until_complete(
            asyncio.wait_for(run_orgs(items, Spec.load(), clock=loop.time), timeout=3_600)
        )
    finally:
        loop.close()
    assert [(r.name, r.result.exit_code) for r in results] == [("eu", 0), ("us", 0)]
    eu, us = sent["eu"], sent["us"]
    assert len(eu) == len(us) == 2 * entities + 1  # every entity read twice, and the token
    assert _most_in_one_second(eu) <= 4
    assert _most_in_one_second(us) <= 16
    assert max(eu[0], us[0]) < min(eu[-1], us[-1])  # at the same time, not one after the other
    assert us[-1] - started < len(us) / rates["eu"]  # us was never held to eu's rate
    assert eu[-1] - started >= (len(eu) - 1) / rates["eu"]  # eu kept its own


def test_the_readme_org_list_example_parses() -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    start = readme.index("#### The organizations")
    match = re.compile(r"^```toml\n(.*?)^```$", re.S | re.M).search(readme, start)
    assert match
    parsed = orgs.parse(match.group(1))
    assert len(parsed) >= 2
    assert len({org.api_key_env for org in parsed if not org.embedded}) >= 2  # distinct variables per org


def _document() -> dict[str, Any]:
    finding = Finding("b1", "GET /bills/{id}", "schema.enum", Severity.ERROR, "$.status", "bad value", "add it")
    result = RunResult(
        "https://api.m3ter.com",
        "org-1",
        False,
        {"bill": 1, "statement_job": 0},
        findings=[finding, replace(finding, rule="drift.unknown-field", severity=Severity.WARNING, suggestion=None)],
        problems=[Problem("status", "the server answered 500", "b2", "GET /bills/{id}")],
        notes=["a note"],
        observations=2,
        requests={"GET": 3},
        duration=1.25,
        baseline=frozenset({("b1", "schema.enum", "$.status")}),
        statements=0,
    )
    return combined.to_json([OrgResult("eu", result)])


def test_the_json_report_holds_everything_the_other_reports_show() -> None:
    document = _document()
    [org] = combined.from_json(document, "r.json")
    assert combined.to_json([org]) == document
    assert org.result.known == 1
    assert combined.markdown([org]) == combined.markdown(combined.from_json(document, "again"))


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = document
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("tool", "other"), "is not a m3ter-conformance JSON report"),
        (_set("summary.rules_checked", 3), "was written with 3 rules"),
        (_set("orgs", {}), "`orgs` is missing or not list"),
        (_set("orgs.0", []), "an organization's section must be an object"),
        (_set("orgs.0.name", "e u"), "orgs[0]: the organization's name is not letters, digits, - and _"),
        (_set("orgs.0.target.org_id", 7), "`org_id` is missing or not a string"),
        (_set("orgs.0.findings.0", "x"), "findings[0]: expected an object"),
        (_set("orgs.0.findings.0.severity", "fatal"), "findings[0]: `severity` is not error or warning"),
        (_set("orgs.0.problems.0", 1), "problems[0]: expected an object"),
        (_set("orgs.0.problems.0.kind", None), "`kind` is missing or not a string"),
        (_set("orgs.0.notes", [1]), "notes: expected strings"),
        (_set("orgs.0.summary.duration_seconds", "1"), "`duration_seconds` is missing or not a number"),
        (_set("orgs.0.summary.requests", {"GET": True}), "requests: expected an object of whole numbers"),
        (_set("orgs.0.summary.observations", True), "`observations` is missing or not int"),
    ],
)
def test_a_damaged_report_is_refused_with_where(change: Callable[[dict[str, Any]], None], message: str) -> None:
    document = _document()
    change(document)
    with pytest.raises(combined.ReportError, match=re.escape(message)):
        combined.from_json(document, "r.json")


def test_a_failure_of_the_check_in_one_org_is_its_internal_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    sandboxes = {name: _sandbox(seed, name) for seed, name in enumerate(SECRETS, 1)}
    from m3ter_contract.conformance.runner import Runner

    real = Runner.run

    async def broken_for_eu(self: Runner) -> RunResult:
        if self.target.org_id == sandboxes["eu"].org_id:
            raise RuntimeError("boom")
        return await real(self)

    monkeypatch.setattr(Runner, "run", broken_for_eu)
    items = [
        OrgRun(
            name,
            target_for(sandbox, f"http://{name}.sandbox.invalid"),
            Options(rate=1_000, interval=0.0, statement_downloads=False),
            transport=httpx.ASGITransport(app=sandbox.asgi_app()),
        )
        for name, sandbox in sandboxes.items()
    ]
    eu, us = asyncio.run(run_orgs(items, Spec.load()))
    assert [p.kind for p in eu.result.problems] == ["internal"]
    assert "RuntimeError: boom" in eu.result.problems[0].message
    assert us.result.exit_code == 0
    assert us.result.observations == len(sandboxes["us"].bill_ids) + len(sandboxes["us"].statement_job_ids)


def test_one_overlay_holds_the_drift_of_every_org(servers: dict[str, SandboxServer[Sandbox]], tmp_path: Path) -> None:
    # eu adds fields, us adds enum values: both organizations are judged by one spec, so one overlay.
    servers["eu"].sandbox.faults.extra_fields()
    servers["us"].sandbox.faults.unknown_enum_values()
    overlay_path = tmp_path / "drift.yaml"
    args = ["--config", str(_config(tmp_path, servers)), *READING, "--no-state", "--suggest-overlay", str(overlay_path)]
    assert main(args, environ=_environ(servers)) == 1
    document = yaml.safe_load(overlay_path.read_text(encoding="utf-8"))
    targets = {action["target"] for action in document["actions"]}
    assert "$.components.schemas.BillResponse" in targets  # eu's fields (futureField)
    assert "$.components.schemas.LineItemType.enum" in targets  # us's enum values

    # The same overlay as two single runs' drift merged by hand (no org's drift is lost or counted twice).
    alone = []
    for name, code in (("eu", 0), ("us", 1)):  # eu's drift is warnings only, us's enum values are errors
        path = tmp_path / f"{name}.yaml"
        single = ["--config", str(_config(tmp_path, servers)), "--org", name, *READING, "--no-state"]
        assert main([*single, "--suggest-overlay", str(path)], environ=_environ(servers)) == code
        alone.append(yaml.safe_load(path.read_text(encoding="utf-8")))
    merged_targets = {action["target"] for document_ in alone for action in document_["actions"]}
    assert targets == merged_targets


def test_an_overlay_path_that_is_an_input_is_refused(
    servers: dict[str, SandboxServer[Sandbox]], tmp_path: Path
) -> None:
    config = _config(tmp_path, servers)
    args = ["--config", str(config), *READING, "--no-state", "--suggest-overlay", str(tmp_path / "ids-eu.json")]
    assert main(args, environ=_environ(servers)) == 2
    assert json.loads((tmp_path / "ids-eu.json").read_text())["bills"]  # the ids file is intact


def test_a_report_that_fails_at_the_end_makes_the_verdict_over_the_orgs_say_exit_2(
    servers: dict[str, SandboxServer[Sandbox]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The paths passed the check before the run, and the disk filled up meanwhile."""
    markdown, report = tmp_path / "all.md", tmp_path / "all.json"
    full = f"cannot write --markdown {markdown}: No space left on device; pass a writable path"
    _disk_full_for(markdown, monkeypatch)
    args = ["--config", str(_config(tmp_path, servers)), *READING, "--no-state", "--markdown", str(markdown)]
    assert main([*args, "--report-json", str(report)], environ=_environ(servers)) == 2
    document = json.loads(report.read_text(encoding="utf-8"))  # written again with the problem
    assert [problem["message"] for problem in document["problems"]] == [full]
    out = capsys.readouterr()
    assert out.out.strip().splitlines()[-1].startswith("INCOMPLETE: 0 error(s), 0 warning(s), 1 problem(s) over 2")
    assert "(exit 2, the worst of theirs)" in out.out
    assert full in " ".join(out.err.split())
