"""``--suggest-overlay``: the drift of a run as an OpenAPI Overlay 1.0 document (pinned by a snapshot)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from m3ter_contract.conformance.cli import main
from m3ter_contract.conformance.overlay import build, json_path, render
from m3ter_contract.rules.drift import Drift, DriftLog, Sketch
from m3ter_contract.sandbox import Sandbox, SandboxServer
from m3ter_contract.spec_facts import CURATED_SPEC, load

from .test_cli import _args

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNyZXQifQ.c2lnbmF0dXJlc2lnbmF0dXJl"
SIGNED = "https://bucket.example/s.json?X-Amz-Signature=abcdef0123456789"


def _spec_neutral(text: str) -> str:
    """The overlay with the spec's title and version as placeholders (a release of the spec changes them)."""
    info = load(CURATED_SPEC)["info"]
    return text.replace(info["title"], "{spec:title}").replace(f"version: {info['version']}", "version: {spec:version}")


def _overlay(tmp_path: Path, name: str = "drift.yaml") -> dict[str, Any]:
    document = yaml.safe_load((tmp_path / name).read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def test_drift_becomes_an_overlay_matching_its_snapshot(
    sandbox: Sandbox,
    server: SandboxServer[Sandbox],
    environ: dict[str, str],
    tmp_path: Path,
    snapshot: Callable[[str, str], None],
) -> None:
    sandbox.faults.extra_fields()
    sandbox.faults.unknown_enum_values()
    args = _args(server, sandbox, tmp_path, "--suggest-overlay", str(tmp_path / "drift.yaml"))
    assert main(args, environ=environ) == 1  # the unknown enum values are errors
    text = (tmp_path / "drift.yaml").read_text(encoding="utf-8")
    snapshot("drift.overlay.yaml", _spec_neutral(text))
    document = _overlay(tmp_path)
    assert document["overlay"] == "1.0.0"
    targets = [action["target"] for action in document["actions"]]
    assert "$.components.schemas.BillLineItem" in targets  # nested: the line items' own schema
    assert "$.components.schemas.LineItemType.enum" in targets
    assert targets == sorted(targets, key=lambda t: (t.endswith(".enum"), t))  # fields, then enum values

    # The same run as JSON, by the file's extension: the same document.
    json_args = _args(server, sandbox, tmp_path, "--suggest-overlay", str(tmp_path / "drift.json"))
    assert main(json_args, environ=environ) == 1
    assert json.loads((tmp_path / "drift.json").read_text(encoding="utf-8")) == document


def test_an_overlay_is_written_when_the_run_exits_2(
    sandbox: Sandbox, server: SandboxServer[Sandbox], environ: dict[str, str], tmp_path: Path
) -> None:
    sandbox.faults.extra_fields()
    args = _args(server, sandbox, tmp_path, "--bill-id", "no-such-bill", "--suggest-overlay", str(tmp_path / "o.yml"))
    assert main(args, environ=environ) == 2
    document = _overlay(tmp_path, "o.yml")
    assert "futureField" in json.dumps(document)


def test_no_drift_writes_a_valid_overlay_that_changes_nothing(
    sandbox: Sandbox, server: SandboxServer[Sandbox], environ: dict[str, str], tmp_path: Path
) -> None:
    assert (
        main(_args(server, sandbox, tmp_path, "--suggest-overlay", str(tmp_path / "drift.yaml")), environ=environ) == 0
    )
    document = _overlay(tmp_path)
    assert document["info"]["x-m3ter-drift"] == "none"
    assert document["actions"] == [
        {"target": "$", "description": document["actions"][0]["description"], "update": {}}
    ]  # Overlay 1.0 requires at least one action


def test_secret_looking_names_and_values_never_reach_the_overlay(
    sandbox: Sandbox, server: SandboxServer[Sandbox], environ: dict[str, str], tmp_path: Path
) -> None:
    def secrets(body: dict[str, Any]) -> dict[str, Any]:
        if "lineItems" in body:
            body["lineItems"][0]["lineItemType"] = JWT  # an enum value shaped like a bearer token
            body[SIGNED] = "x"  # a member name holding a signed URL
            body["debugInfo"] = {"token": JWT, "link": SIGNED, SIGNED: 1}  # values are never copied
        return body

    sandbox.mutate_responses(sandbox.seeded.bills["monthly"], secrets)
    args = _args(server, sandbox, tmp_path, "--suggest-overlay", str(tmp_path / "drift.yaml"))
    assert main(args, environ=environ) == 1
    text = (tmp_path / "drift.yaml").read_text(encoding="utf-8")
    assert JWT not in text
    assert "abcdef0123456789" not in text
    assert environ["M3TER_API_SECRET"] not in text
    document = _overlay(tmp_path)
    debug = next(a for a in document["actions"] if "debugInfo" in a["update"].get("properties", {}))
    assert debug["update"]["properties"]["debugInfo"]["properties"] == {
        "link": {"type": "string"},
        "token": {"type": "string"},
    }
    assert len(document["x-m3ter-left-out"]) == 3  # the enum value, the member name, the nested member name


def test_an_overlay_path_must_say_yaml_or_json(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--suggest-overlay", "drift.txt"])
    assert exited.value.code == 2
    assert ".yaml, .yml, .json" in capsys.readouterr().err


def test_targets_are_exact_jsonpaths_for_any_name() -> None:
    assert json_path(("components", "schemas", "Bill")) == "$.components.schemas.Bill"
    assert json_path(("paths", "/bills/{id}", "get")) == "$.paths['/bills/{id}'].get"
    assert json_path(("a b", "it's", "back\\slash")) == "$['a b']['it\\'s']['back\\\\slash']"


def test_drift_no_single_place_holds_is_listed_not_guessed() -> None:
    log = DriftLog("3.0.3", "t", "1")
    log.add(Drift("field", None, "extra", "GET /x"), "$.parts[*].extra")
    log.add(Drift("field", ("components", "schemas", "X"), "n", "GET /x", Sketch.of(None)), "$.n")
    log.add(Drift("field", ("components", "schemas", "X"), "n", "GET /x", Sketch.of("a")), "$.n")
    document = build(log, 2)
    assert document["x-m3ter-left-out"] == [
        "drift at $.parts[*].extra (1 time(s)): no single place of the spec holds its schema; edit by hand"
    ]
    (action,) = document["actions"]
    assert action["update"]["properties"]["n"]["type"] == "string"
    assert action["update"]["properties"]["n"]["nullable"] is True  # OpenAPI 3.0 spelling
    assert yaml.safe_load(render(document, "yaml")) == json.loads(render(document, "json")) == document
