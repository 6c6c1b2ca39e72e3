"""Small inline specs pin what the generator + our templates produce, independent of the m3ter spec."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from m3ter_dev import layout, regenerate

TINY_SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "tiny", "version": "2.5.0"},
    "paths": {
        "/things/{thingId}": {
            "get": {
                "operationId": "GetThing",
                "tags": ["Thing"],
                "parameters": [
                    {"name": "thingId", "in": "path", "required": True, "schema": {"type": "string"}},
                    {
                        "name": "fields",
                        "in": "query",
                        "style": "form",
                        "explode": False,
                        "schema": {"type": "array", "items": {"type": "string"}},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}},
                    }
                },
            }
        }
    },
    "components": {
        "schemas": {
            "Colour": {"type": "string", "enum": ["RED", "GREEN"]},
            "Part": {"type": "object", "properties": {"colour": {"$ref": "#/components/schemas/Colour"}}},
            "Thing": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": "string"},
                    "colour": {"$ref": "#/components/schemas/Colour"},
                    "made": {"type": "string", "format": "date-time"},
                    "parts": {"type": "array", "items": {"$ref": "#/components/schemas/Part"}},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
        }
    },
}


def _build(tmp_path: Path, spec: dict[str, Any], name: str = "one") -> Path:
    """Generate ``spec`` with our overrides into ``tmp_path/name/project`` (from ``tmp_path/name/tiny.yaml``).

    The package's __init__ and facade are written for the m3ter operations; a tiny spec has none of them, so
    only the generated models, enums and endpoint modules (and the base modules) are kept.
    """
    (tmp_path / name).mkdir()
    spec_path = tmp_path / name / "tiny.yaml"
    spec_path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    project = tmp_path / name / "project"
    regenerate.build(project, spec=spec_path)
    (project / "m3ter_billing" / "__init__.py").write_text("")
    for module in ("_facade.py", "_statements.py", "_auth.py"):
        (project / "m3ter_billing" / module).unlink()
    return project


@pytest.fixture(scope="module")
def tiny_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generate the tiny spec with our overrides into a temporary project."""
    return _build(tmp_path_factory.mktemp("tiny"), TINY_SPEC)


def run_in(project: Path, code: str) -> Any:
    """Run ``code`` with the tiny package first on sys.path; it prints one JSON value."""
    env = {**os.environ, "PYTHONPATH": str(project)}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_version_and_files(tiny_package: Path) -> None:
    assert 'version = "2.5.0.' in (tiny_package / "pyproject.toml").read_text()
    models = sorted(p.name for p in (tiny_package / "m3ter_billing" / "models").glob("*.py"))
    assert models == ["__init__.py", "colour.py", "part.py", "thing.py", "thing_labels.py"]


def test_unknown_enum_value_is_kept_and_detectable(tiny_package: Path) -> None:
    out = run_in(
        tiny_package,
        """
        import json
        from m3ter_billing.models.thing import Thing
        t = Thing.from_json(b'{"id": "1", "colour": "BLUE", "parts": [{"colour": "PURPLE"}]}')
        print(json.dumps([t.colour.value, t.colour.is_known, t.parts[0].colour.is_known, t.to_dict()]))
        """,
    )
    assert out == ["BLUE", False, False, {"id": "1", "colour": "BLUE", "parts": [{"colour": "PURPLE"}]}]


def test_unknown_fields_are_kept_at_every_level(tiny_package: Path) -> None:
    out = run_in(
        tiny_package,
        """
        import json
        from m3ter_billing.models.thing import Thing
        t = Thing.from_json(b'{"id": "1", "new": 1, "parts": [{"deep": [2]}]}')
        print(json.dumps([t.additional_properties, t.parts[0].additional_properties, t.to_dict()]))
        """,
    )
    assert out == [{"new": 1}, {"deep": [2]}, {"id": "1", "new": 1, "parts": [{"deep": [2]}]}]


def test_map_schemas_become_dicts_and_dates_are_typed(tiny_package: Path) -> None:
    out = run_in(
        tiny_package,
        """
        import json
        from m3ter_billing.models.thing import Thing
        t = Thing.from_json(b'{"id": "1", "labels": {"a": "b"}, "made": "2024-02-29T23:59:59.5-05:00"}')
        print(json.dumps([type(t.labels).__name__, t.made.isoformat(), t.made.utcoffset().total_seconds()]))
        """,
    )
    assert out == ["dict", "2024-02-29T23:59:59.500000-05:00", -18000.0]


def test_missing_required_field_is_a_typed_error_with_its_path(tiny_package: Path) -> None:
    out = run_in(
        tiny_package,
        """
        import json
        from m3ter_billing.errors import ResponseValidationError
        from m3ter_billing.models.thing import Thing
        try:
            Thing.from_json(b'{"parts": []}')
        except ResponseValidationError as exc:
            print(json.dumps([exc.path, str(exc)]))
        """,
    )
    assert out[0] == "$"
    assert "missing required field `id`" in out[1]


def test_array_query_parameter_is_comma_joined_and_path_is_encoded(tiny_package: Path) -> None:
    out = run_in(
        tiny_package,
        """
        import json
        from m3ter_billing.api.thing.get_thing import _get_kwargs
        print(json.dumps(_get_kwargs("a/b?c", fields=["x", "y"])))
        """,
    )
    assert out == {"method": "get", "url": "/things/a%2Fb%3Fc", "params": {"fields": "x,y"}}


def test_a_property_named_like_a_model_member_is_refused(tmp_path: Path) -> None:
    # The generator renames keywords and names that are not identifiers (class_, field_1st), not these: a field
    # named to_dict would shadow the method of every model.
    spec = json.loads(json.dumps(TINY_SPEC))
    spec["components"]["schemas"]["Part"]["properties"].update({"to_dict": {"type": "string"}, "class": {}})
    spec_path = tmp_path / "tiny.yaml"
    spec_path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    with pytest.raises(regenerate.RegenerationError, match=r"would shadow: Part\.to_dict; ") as caught:
        regenerate.build(tmp_path / "project", spec=spec_path)
    assert "\n" not in str(caught.value)


def test_a_property_named_like_a_name_the_model_bodies_read_is_refused(tmp_path: Path) -> None:
    # Every field is `name: T = msgspec.field(...)`: a field named msgspec shadows the module for the fields after
    # it, and the package fails at import (AttributeError: 'msgspec._core.Field' object has no attribute 'field').
    spec = json.loads(json.dumps(TINY_SPEC))
    spec["components"]["schemas"]["Thing"]["properties"] = {"msgspec": {"type": "string"}, "z": {"type": "string"}}
    spec_path = tmp_path / "tiny.yaml"
    spec_path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    with pytest.raises(regenerate.RegenerationError, match=r"would shadow: Thing\.msgspec; ") as caught:
        regenerate.build(tmp_path / "project", spec=spec_path)
    assert "\n" not in str(caught.value)


BOMB = "\n".join(
    [
        f"x-{level}: &{level} [{', '.join([f'*{previous}'] * 9)}]"
        for previous, level in zip("abcdefg", "bcdefgh", strict=True)
    ]
)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda text: text + "openapi: [\n", "not valid YAML"),
        (lambda text: text.replace("version: 2.5.0", "version: 2.5.0\n  version: 9.0.0"), "given twice"),
        (lambda text: text.replace("version: 2.5.0", "description: none"), "info.version is missing"),
        (lambda text: text + "x-a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\n" + BOMB + "\n", "alias bomb"),
    ],
    ids=["invalid-yaml", "duplicate-key", "no-version", "alias-bomb"],
)
def test_a_spec_the_tools_cannot_read_is_refused_before_generating(tmp_path: Path, edit: Any, message: str) -> None:
    spec_path = tmp_path / "tiny.yaml"
    spec_path.write_text(edit(yaml.safe_dump(TINY_SPEC, sort_keys=False)), encoding="utf-8")
    with pytest.raises(regenerate.RegenerationError, match=message) as caught:
        regenerate.build(tmp_path / "project", spec=spec_path)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "project").exists()


def test_rewrite_swaps_the_whole_tree_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    target = tmp_path / "generated"
    target.mkdir()
    (target / "stale.py").write_text("old = True\n", encoding="utf-8")
    assert regenerate.rewrite(target) is True
    assert not (target / "stale.py").exists()
    assert regenerate.diff(layout.GENERATED, target).stale is False  # the committed tree, byte for byte
    assert sorted(path.name for path in tmp_path.iterdir()) == ["generated"]  # no staging directory left
    assert regenerate.rewrite(target) is False


def _spec_with(schemas: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(json.dumps(TINY_SPEC))
    spec["components"]["schemas"].update(schemas)
    spec["components"]["schemas"]["Thing"]["properties"].update(properties)
    return spec


def test_consts_and_integer_enums_are_open_enums_and_booleans_literals(tmp_path: Path) -> None:
    # A string or integer const generates a one-member open enum, and an integer enum an open one, so a value
    # m3ter adds later is kept, as for string enums; a boolean const is a bool (the generator's reading). A
    # property *named* const is a property.
    spec = _spec_with(
        {"Kind": {"type": "string", "const": "THING"}, "Level": {"type": "integer", "enum": [1, 2]}},
        {
            "kind": {"$ref": "#/components/schemas/Kind"},
            "inline": {"type": "string", "const": "INLINE"},
            "count": {"type": "integer", "const": 3},
            "level": {"$ref": "#/components/schemas/Level"},
            "flag": {"type": "boolean", "const": True},
            "const": {"type": "string", "example": {"const": 2.5}},
        },
    )
    project = _build(tmp_path, spec)
    out = run_in(
        project,
        """
        import json
        from m3ter_billing.errors import ResponseValidationError
        from m3ter_billing.models.thing import Thing
        t = Thing.from_json(
            b'{"id": "1", "kind": "THING", "inline": "LATER", "count": 4, "level": 2, "flag": true, "const": "c"}'
        )
        result = [type(t.kind).__name__, t.kind.is_known, t.inline.value, t.inline.is_known]
        result += [t.count.value, t.count.is_known, t.level.is_known, repr(t.level), t.flag, t.const, t.to_dict()]
        try:
            Thing.from_json(b'{"id": "1", "level": true}')
        except ResponseValidationError as exc:
            result.append(exc.path)
        print(json.dumps(result))
        """,
    )
    wire = {"id": "1", "kind": "THING", "inline": "LATER", "count": 4, "level": 2, "flag": True, "const": "c"}
    assert out == ["Kind", True, "LATER", False, 4, False, True, "<Level.VALUE_2: 2>", True, "c", wire, "$.level"]


def test_a_string_const_generates_what_the_same_one_value_enum_does(tmp_path: Path) -> None:
    # spec_diff calls enum: [X] -> const: X "unchanged": the generated package must agree, byte for byte.
    as_enum = _build(tmp_path, _spec_with({"Kind": {"type": "string", "enum": ["THING"]}}, {}), "enum")
    as_const = _build(tmp_path, _spec_with({"Kind": {"type": "string", "const": "THING"}}, {}), "const")
    files = sorted(p.relative_to(as_enum) for p in (as_enum / "m3ter_billing").rglob("*.py"))
    assert files == sorted(p.relative_to(as_const) for p in (as_const / "m3ter_billing").rglob("*.py"))
    assert [(as_enum / f).read_bytes() for f in files] == [(as_const / f).read_bytes() for f in files]


@pytest.mark.parametrize(
    ("schema", "const"),
    [({}, 2.5), ({}, {"a": 1}), ({}, [1]), ({"type": "number"}, 3), ({}, 3)],
    ids=["fraction", "object", "array", "number", "untyped integer"],
)
def test_a_const_no_model_can_type_is_refused(tmp_path: Path, schema: dict[str, Any], const: Any) -> None:
    # An integer const of a number schema would become an integer enum, which refuses 3.0 (equal to 3 there).
    spec = _spec_with({}, {"odd": {**schema, "const": const}})
    spec_path = tmp_path / "tiny.yaml"
    spec_path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    with pytest.raises(regenerate.RegenerationError) as caught:
        regenerate.build(tmp_path / "project", spec=spec_path)
    assert str(caught.value).startswith("#/components/schemas/Thing/properties/odd/const: ")
    assert "cannot be typed in a model" in str(caught.value)
    assert not (tmp_path / "project").exists()


@pytest.mark.parametrize(
    ("existing", "added"),
    [("startDateTimeUTC", "startDateTimeUtc"), ("billTotal", "bill-total"), ("billTotal", "bill_total")],
)
def test_two_properties_with_one_python_name_are_refused(tmp_path: Path, existing: str, added: str) -> None:
    # The generator would name both after their wire names, renaming the attribute code already uses (a new
    # optional property, "compatible" to spec_diff): refused from the spec, before generating.
    spec = _spec_with({}, {existing: {"type": "string"}, added: {"type": "string", "format": "date-time"}})
    spec_path = tmp_path / "tiny.yaml"
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    python = "start_date_time_utc" if existing.startswith("start") else "bill_total"
    with pytest.raises(regenerate.RegenerationError) as caught:
        regenerate.build(tmp_path / "project", spec=spec_path)
    message = str(caught.value)
    assert message.startswith(
        f'#/components/schemas/Thing: properties "{existing}" and "{added}" map to one Python attribute, {python}'
    )
    assert "\n" not in message
    assert not (tmp_path / "project").exists()


def test_a_python_name_clash_through_all_of_is_refused(tmp_path: Path) -> None:
    spec = _spec_with(
        {"Both": {"allOf": [{"$ref": "#/components/schemas/Thing"}, {"properties": {"Made": {"type": "string"}}}]}},
        {},
    )
    spec_path = tmp_path / "tiny.yaml"
    spec_path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    with pytest.raises(regenerate.RegenerationError, match=r'^#/components/schemas/Both: properties "made" and "Made"'):
        regenerate.build(tmp_path / "project", spec=spec_path)


def test_a_schema_named_like_a_generated_class_is_refused_with_the_generators_reason(tmp_path: Path) -> None:
    # Thing.labels generates the class ThingLabels; a schema of that name made the generator drop Thing and the
    # operation's 200 response, and the endpoint template then failed with "'None' has no attribute 'prop'".
    spec = _spec_with({"ThingLabels": {"type": "object", "properties": {"x": {"type": "string"}}}}, {})
    spec["components"]["schemas"]["Part"]["properties"]["labels"] = {"$ref": "#/components/schemas/ThingLabels"}
    spec_path = tmp_path / "tiny.yaml"
    spec_path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    with pytest.raises(regenerate.RegenerationError) as caught:
        regenerate.build(tmp_path / "project", spec=spec_path)
    assert 'duplicate models with name "ThingLabels"' in str(caught.value)
    assert "UndefinedError" not in str(caught.value)


def test_an_operation_without_a_success_response_is_refused(tmp_path: Path) -> None:
    spec = _spec_with({}, {})
    spec["paths"]["/things/{thingId}"]["get"]["responses"] = {"404": {"description": "not found"}}
    spec_path = tmp_path / "tiny.yaml"
    spec_path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    with pytest.raises(regenerate.RegenerationError) as caught:
        regenerate.build(tmp_path / "project", spec=spec_path)
    assert str(caught.value).startswith("operations without a 2xx response with a JSON body: get_thing (GET /things/")


def test_enum_members_are_named_after_their_values_whatever_comes_before(tmp_path: Path) -> None:
    # The generator names a value that does not start with a letter after its position (30DAY, third: VALUE_2), so
    # inserting a value before it renamed the member; members are named after the value instead.
    names = {}
    for label, values in [("before", ["RED", "GREEN", "30DAY"]), ("after", ["RED", "7-day", "GREEN", "30DAY"])]:
        project = _build(tmp_path, _spec_with({"Colour": {"type": "string", "enum": values}}, {}), label)
        names[label] = run_in(
            project,
            """
            import json
            from m3ter_billing.models.colour import Colour
            print(json.dumps({member.value: name for name, member in Colour.__members__.items()}))
            """,
        )
    assert names["before"] == {"RED": "RED", "GREEN": "GREEN", "30DAY": "VALUE_30DAY"}
    assert names["after"] == {**names["before"], "7-day": "VALUE_7_DAY"}


def test_two_enum_values_with_one_member_name_are_refused(tmp_path: Path) -> None:
    spec = _spec_with({"Colour": {"type": "string", "enum": ["RED", "7-day", "7_day"]}}, {})
    spec_path = tmp_path / "tiny.yaml"
    spec_path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    with pytest.raises(regenerate.RegenerationError) as caught:
        regenerate.build(tmp_path / "project", spec=spec_path)
    assert str(caught.value).startswith(
        '#/components/schemas/Colour/enum: values "7-day" and "7_day" would both be the member VALUE_7_DAY'
    )
    assert not (tmp_path / "project").exists()
