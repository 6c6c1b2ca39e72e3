"""scripts/apply_overlay.py: Overlay 1.0 actions applied to the spec, strictly, idempotently, formatting kept."""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from m3ter_dev.layout import ROOT, SPEC
from m3ter_dev.overlay import (
    MalformedOverlay,
    OverlayError,
    TargetError,
    UnsupportedOverlayVersion,
    apply_to_file,
    main,
    splice,
)

INFO = {"title": "t", "version": "1"}


def _overlay(tmp_path: Path, *actions: dict[str, Any], **top: Any) -> Path:
    path = tmp_path / "overlay.yaml"
    path.write_text(yaml.safe_dump({"overlay": "1.0.0", "info": INFO, "actions": list(actions), **top}))
    return path


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    copy = tmp_path / "spec.yaml"
    copy.write_text(SPEC.read_text(encoding="utf-8"), encoding="utf-8")
    return copy


# Names no spec will ever have (the spec-change test adds fields and values of its own to a scratch copy).
FIELD, VALUE = "notInTheSpecCode", "NOT_IN_THE_SPEC_VALUE"
ADD_FIELD = {
    "target": "$.components.schemas.BillLineItem",
    "update": {"properties": {FIELD: {"type": "string", "description": "New."}}},
}
ADD_VALUE = {"target": "$.components.schemas.LineItemType.enum", "update": VALUE}


def test_fields_and_enum_values_are_added_once_and_nothing_else_changes(tmp_path: Path, spec: Path) -> None:
    original = spec.read_text(encoding="utf-8")
    overlay = _overlay(tmp_path, ADD_FIELD, ADD_VALUE, ADD_VALUE)
    assert apply_to_file(overlay, spec) is True
    changed = spec.read_text(encoding="utf-8")
    document = yaml.safe_load(changed)
    schemas = document["components"]["schemas"]
    assert schemas["BillLineItem"]["properties"][FIELD] == {"type": "string", "description": "New."}
    assert schemas["LineItemType"]["enum"].count(VALUE) == 1  # an equal entry is not appended again
    # Formatting kept: the original text is all there, in order, and only the new lines were added.
    old, new = original.splitlines(), changed.splitlines()
    opcodes = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    assert {tag for tag, *_ in opcodes} == {"equal", "insert"}
    added = [line for tag, _, _, j1, j2 in opcodes if tag == "insert" for line in new[j1:j2]]
    assert added == [f"        {FIELD}:", "          description: New.", "          type: string", f"      - {VALUE}"]
    keys = list(schemas["BillLineItem"]["properties"])
    at = keys.index(FIELD)
    assert keys[at - 1] < FIELD < keys[at + 1]  # in its sorted place
    # Idempotent: the second application changes nothing.
    assert apply_to_file(overlay, spec) is False
    assert spec.read_text(encoding="utf-8") == changed


def test_remove_and_check(tmp_path: Path, spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    overlay = _overlay(tmp_path, {"target": "$.components.schemas.BillLineItem.properties.reasonId", "remove": True})
    before = spec.read_text(encoding="utf-8")
    assert main([str(overlay), "--spec", str(spec), "--check"]) == 1
    assert spec.read_text(encoding="utf-8") == before  # --check writes nothing
    assert main([str(overlay), "--spec", str(spec)]) == 0
    assert "reasonId" not in yaml.safe_load(spec.read_text())["components"]["schemas"]["BillLineItem"]["properties"]
    assert "changed" in capsys.readouterr().out


def test_a_json_spec_is_rewritten_as_json(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"components": {"schemas": {"LineItemType": {"enum": ["A"]}}}}))
    assert apply_to_file(_overlay(tmp_path, ADD_VALUE), spec) is True
    assert json.loads(spec.read_text())["components"]["schemas"]["LineItemType"]["enum"] == ["A", VALUE]


@pytest.mark.parametrize(
    ("document", "error", "says"),
    [
        ("- a list", MalformedOverlay, "not an Overlay document"),
        ("{info: {title: t, version: '1'}, actions: []}", MalformedOverlay, "no `overlay` field"),
        ("{overlay: 2.0.0, info: {title: t, version: '1'}, actions: []}", UnsupportedOverlayVersion, "1.0.x"),
        ("{overlay: 1.1.0, info: {title: t, version: '1'}, actions: []}", UnsupportedOverlayVersion, "1.0.x"),
        ("{overlay: 1.0, info: {title: t, version: '1'}, actions: []}", UnsupportedOverlayVersion, "1.0.x"),
        ("{overlay: 1.0.0, actions: [{target: $, update: {}}]}", MalformedOverlay, "`info`"),
        ("{overlay: 1.0.0, info: {title: t, version: '1'}, actions: []}", MalformedOverlay, "at least one action"),
        (
            "{overlay: 1.0.0, info: {title: t, version: '1'}, actions: [{target: $}], extra: 1}",
            MalformedOverlay,
            "unknown field(s) extra",
        ),
        ("{overlay: 1.0.0, info: {title: t, version: '1'}, actions: [{target: $}]}", MalformedOverlay, "neither"),
        ("{overlay: 1.0.0, info: {title: t, version: '1'}, actions: [7]}", MalformedOverlay, "actions[0]"),
        (
            "{overlay: 1.0.0, info: {title: t, version: '1'}, actions: [{target: $, remove: 'yes'}]}",
            MalformedOverlay,
            "`remove`",
        ),
        ("overlay: [unclosed", MalformedOverlay, "not YAML or JSON"),
        (
            "{overlay: 1.0.0, info: {title: t, version: '1'}, actions: [{target: $.tags, update: null}]}",
            MalformedOverlay,
            "`update` is null",
        ),
        (
            "{overlay: 1.0.0, info: {title: t, version: '1'}, actions: [{target: $.info, update: 7}]}",
            TargetError,
            "must be an object",
        ),
        (
            "{overlay: 1.0.0, info: {title: t, version: '1'}, actions: [{target: '$.a[', update: {}}]}",
            TargetError,
            "not an RFC 9535 JSONPath",
        ),
        (
            "{overlay: 1.0.0, info: {title: t, version: '1'}, actions: [{target: components.schemas, update: {}}]}",
            TargetError,
            "not an RFC 9535 JSONPath",
        ),
        (
            "{overlay: 1.0.0, info: {title: t, version: '1'}, actions: [{target: $.components.schemas.Nope, update: "
            "{}}]}",
            TargetError,
            "selects nothing",
        ),
        (
            "{overlay: 1.0.0, info: {title: t, version: '1'}, actions: [{target: $.openapi, update: {}}]}",
            TargetError,
            "targets select objects or arrays",
        ),
        (
            "{overlay: 1.0.0, info: {title: t, version: '1'}, actions: [{target: $.info, update: [1]}]}",
            TargetError,
            "must be an object",
        ),
        (
            "{overlay: 1.0.0, info: {title: t, version: '1'}, actions: [{target: $, remove: true}]}",
            TargetError,
            "whole document",
        ),
    ],
)
def test_a_bad_overlay_is_a_typed_error_and_nothing_is_written(
    tmp_path: Path, spec: Path, document: str, error: type[OverlayError], says: str
) -> None:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(document)
    before = spec.read_text(encoding="utf-8")
    with pytest.raises(error) as raised:
        apply_to_file(overlay, spec)
    assert says in str(raised.value)
    assert spec.read_text(encoding="utf-8") == before


def test_a_later_action_that_fails_leaves_the_spec_untouched(tmp_path: Path, spec: Path) -> None:
    before = spec.read_text(encoding="utf-8")
    overlay = _overlay(tmp_path, ADD_FIELD, {"target": "$.nowhere", "update": {}})
    assert main([str(overlay), "--spec", str(spec)]) == 2
    assert spec.read_text(encoding="utf-8") == before


def test_the_entry_point_exits_2_with_the_error(tmp_path: Path, spec: Path) -> None:
    overlay = _overlay(tmp_path, {"target": "$.nowhere", "update": {}})
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "apply_overlay.py"), str(overlay), "--spec", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2
    assert "TargetError: actions[0] (target '$.nowhere') selects nothing" in run.stderr
    missing = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "apply_overlay.py"), str(tmp_path / "none.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2
    assert "cannot read the overlay" in missing.stderr


def test_splice_refuses_a_change_inside_rewrapped_text() -> None:
    original = "a: one\n  two\nb: 1\n"
    before = "a: one two\nb: 1\n"
    assert splice(original, before, "a: one two\nb: 1\nc: 2\n") == "a: one\n  two\nb: 1\nc: 2\n"
    assert splice(original, before, "a: three\nb: 1\n") is None  # the changed line is not in the original


GET_BILL = '$.paths["/organizations/{orgId}/bills/{id}"].get'


EXTRA = {"name": "extra", "in": "query", "schema": {"type": "string"}}


@pytest.mark.parametrize(
    ("target", "at", "added"),
    [
        (f"{GET_BILL}.parameters[2,2]", ("paths", "/organizations/{orgId}/bills/{id}", "get", "parameters"), [EXTRA]),
        ('$.paths["/oauth/token"].post.security[0,0]', ("paths", "/oauth/token", "post", "security"), []),
    ],
)
def test_a_node_selected_twice_is_removed_once(
    tmp_path: Path, spec: Path, target: str, at: tuple[str, ...], added: list[Any]
) -> None:
    def entries(document: Any) -> list[Any]:
        for key in at:
            document = document[key]
        return list(document)

    before = entries(yaml.safe_load(spec.read_text(encoding="utf-8"))) + added
    index = int(target[-2])
    adds = [{"target": f"{GET_BILL}.parameters", "update": entry} for entry in added]
    assert apply_to_file(_overlay(tmp_path, *adds, {"target": target, "remove": True}), spec) is True
    assert entries(yaml.safe_load(spec.read_text(encoding="utf-8"))) == before[:index] + before[index + 1 :]


def test_an_update_changes_only_the_place_its_target_selects_not_an_alias_of_it(tmp_path: Path, spec: Path) -> None:
    text = spec.read_text(encoding="utf-8")
    assert "- &id001\n        name: orgId" in text  # one parameter, shared by two operations
    assert "- *id001" in text
    overlay = _overlay(tmp_path, {"target": f"{GET_BILL}.parameters[0]", "update": {"description": "Changed."}})
    assert apply_to_file(overlay, spec) is True
    paths = yaml.safe_load(spec.read_text(encoding="utf-8"))["paths"]
    assert paths["/organizations/{orgId}/bills/{id}"]["get"]["parameters"][0]["description"] == "Changed."
    assert paths["/organizations/{orgId}/statementjobs/{id}"]["get"]["parameters"][0]["description"] == (
        "The UUID of your Organization."
    )


ALIASED = """\
openapi: 3.1.0
info:
  title: t
  version: '1'
paths: {}
components:
  schemas:
    A:
      type: object
      properties:
        x: &id001
          type: object
          properties:
            s:
              type: string
            n:
              type: integer
        y: *id001
"""


@pytest.mark.parametrize(
    ("target", "x", "y"),
    [
        ("$.components.schemas.A.properties.x.properties.s", ["n"], ["s", "n"]),
        ("$..[?@.type=='string']", ["n"], ["n"]),  # the one node under both paths: removed from each
    ],
)
def test_a_removal_changes_only_what_its_target_selects_through_an_alias(
    tmp_path: Path, target: str, x: list[str], y: list[str]
) -> None:
    spec = tmp_path / "aliased.yaml"
    spec.write_text(ALIASED, encoding="utf-8")
    assert apply_to_file(_overlay(tmp_path, {"target": target, "remove": True}), spec) is True
    properties = yaml.safe_load(spec.read_text(encoding="utf-8"))["components"]["schemas"]["A"]["properties"]
    assert (list(properties["x"]["properties"]), list(properties["y"]["properties"])) == (x, y)


def test_a_merge_into_an_aliased_object_below_the_target_changes_only_that_place(tmp_path: Path) -> None:
    spec = tmp_path / "aliased.yaml"
    spec.write_text(ALIASED, encoding="utf-8")
    update = {"x": {"description": "Only x."}}
    assert apply_to_file(_overlay(tmp_path, {"target": "$.components.schemas.A.properties", "update": update}), spec)
    properties = yaml.safe_load(spec.read_text(encoding="utf-8"))["components"]["schemas"]["A"]["properties"]
    assert properties["x"]["description"] == "Only x."
    assert "description" not in properties["y"]


@pytest.mark.parametrize(
    ("action", "says"),
    [
        ({"target": "$", "update": {"openapi": 9}}, "`openapi` is 9"),
        ({"target": "$.components.schemas", "update": {"BillLineItem": 7}}, "$.components.schemas.BillLineItem"),
        ({"target": '$.paths["/oauth/token"].post.security', "update": "bearer"}, "security[1]"),
    ],
)
@pytest.mark.parametrize("check", [False, True])
def test_an_overlay_that_leaves_the_spec_invalid_openapi_is_refused(
    tmp_path: Path, spec: Path, capsys: pytest.CaptureFixture[str], action: dict[str, Any], says: str, check: bool
) -> None:
    before = spec.read_text(encoding="utf-8")
    assert main([str(_overlay(tmp_path, action)), "--spec", str(spec), *(["--check"] if check else [])]) == 2
    assert spec.read_text(encoding="utf-8") == before
    err = capsys.readouterr().err
    assert err.startswith("apply_overlay: InvalidResult: the overlay would leave")
    assert says in err
    assert err.count("\n") == 1
