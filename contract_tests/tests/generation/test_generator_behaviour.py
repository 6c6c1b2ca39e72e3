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


@pytest.fixture(scope="module")
def tiny_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generate the tiny spec with our overrides into a temporary project."""
    spec_path = tmp_path_factory.mktemp("spec") / "tiny.yaml"
    spec_path.write_text(yaml.safe_dump(TINY_SPEC))
    out = tmp_path_factory.mktemp("gen") / "project"
    regenerate.build(out, spec=spec_path)
    # The package's __init__ and facade are written for the m3ter operations; the tiny spec has none of
    # them, so only the generated models, enums and endpoint modules (and the base modules) are kept.
    package = out / "m3ter_billing"
    (package / "__init__.py").write_text("")
    for name in ("_facade.py", "_statements.py", "_auth.py"):
        (package / name).unlink()
    return out


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
