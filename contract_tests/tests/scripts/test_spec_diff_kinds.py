"""One case per kind of change in spec_diff.CHANGE_KINDS: a small edit of an inline spec and the exact verdicts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from m3ter_dev import spec_diff

from .support import base_spec

Doc = dict[str, Any]


def thing(doc: Doc) -> Doc:
    schema: Doc = doc["components"]["schemas"]["Thing"]
    return schema


def props(doc: Doc, name: str = "Thing") -> Doc:
    properties: Doc = doc["components"]["schemas"][name]["properties"]
    return properties


def get_op(doc: Doc) -> Doc:
    op: Doc = doc["paths"]["/things/{id}"]["get"]
    return op


def token_op(doc: Doc) -> Doc:
    op: Doc = doc["paths"]["/tokens"]["post"]
    return op


def param(doc: Doc, name: str) -> Doc:
    return next(p for p in get_op(doc)["parameters"] if p["name"] == name)


def nothing(doc: Doc) -> None:
    pass


@dataclass(frozen=True)
class Case:
    id: str
    edit: Callable[[Doc], object]
    expected: set[tuple[str, str]]
    setup: Callable[[Doc], object] = nothing  # applied to both sides first


def _rename_error(doc: Doc) -> None:
    schemas = doc["components"]["schemas"]
    schemas["Problem"] = schemas.pop("Error")
    doc["components"]["responses"]["NotFound"]["content"]["application/json"]["schema"] = {
        "$ref": "#/components/schemas/Problem"
    }


def _colour_component(doc: Doc) -> None:
    doc["components"]["schemas"]["Colour"] = {"type": "string"}
    props(doc)["colour"] = {"$ref": "#/components/schemas/Colour"}


def _labels_component(doc: Doc) -> None:
    doc["components"]["schemas"]["Labels"] = props(doc)["labels"]
    props(doc)["labels"] = {"$ref": "#/components/schemas/Labels"}


def _org_path(path: str) -> Callable[[Doc], None]:
    def move(doc: Doc) -> None:
        item = doc["paths"].pop(next(p for p in doc["paths"] if p.endswith("/things/{id}") or "{org}" in p))
        doc["paths"][path] = item
        params = item["get"]["parameters"]
        if not any(p["name"] == "org" for p in params):
            params.append({"name": "org", "in": "path", "required": True, "schema": {"type": "string"}})

    return move


def _form_token_request(doc: Doc) -> None:
    content = token_op(doc)["requestBody"]["content"]
    content["application/x-www-form-urlencoded"] = dict(content["application/json"])


def _form_first(doc: Doc) -> None:
    body = token_op(doc)["requestBody"]
    body["content"] = dict(reversed(list(body["content"].items())))


CASES = [
    # operations
    Case("operation-removed", lambda d: d["paths"].pop("/tokens"), {("operation-removed", "breaking")}),
    Case(
        "operation-added",
        lambda d: d["paths"].__setitem__(
            "/others", {"get": {"operationId": "ListOthers", "responses": {"204": {"description": "none"}}}}
        ),
        {("operation-added", "compatible")},
    ),
    Case(
        "operation-moved",
        lambda d: d["paths"].__setitem__("/v2/things/{id}", d["paths"].pop("/things/{id}")),
        {("operation-moved", "announced")},
    ),
    Case(
        "operation-id-changed",
        lambda d: get_op(d).__setitem__("operationId", "FetchThing"),
        {("operation-id-changed", "breaking")},
    ),
    Case("tags-changed", lambda d: get_op(d).__setitem__("tags", ["Things"]), {("tags-changed", "breaking")}),
    Case(
        "path-parameter-order-changed",
        _org_path("/things/{id}/orgs/{org}"),
        {("path-parameter-order-changed", "breaking"), ("operation-moved", "announced")},
        setup=_org_path("/orgs/{org}/things/{id}"),
    ),
    Case(
        "path-parameter-order-kept",
        _org_path("/v2/orgs/{org}/things/{id}"),
        {("operation-moved", "announced")},
        setup=_org_path("/orgs/{org}/things/{id}"),
    ),
    # parameters
    Case(
        "parameter-removed",
        lambda d: get_op(d)["parameters"].remove(param(d, "fields")),
        {("parameter-removed", "breaking")},
    ),
    Case(
        "parameter-added-required",
        lambda d: get_op(d)["parameters"].append({"name": "org", "in": "query", "required": True, "schema": {}}),
        {("parameter-added-required", "breaking")},
    ),
    Case(
        "parameter-added-optional",
        lambda d: get_op(d)["parameters"].append({"name": "page", "in": "query", "schema": {"type": "integer"}}),
        {("parameter-added-optional", "compatible")},
    ),
    Case(
        "parameter-became-required",
        lambda d: param(d, "fields").__setitem__("required", True),
        {("parameter-became-required", "breaking")},
    ),
    Case(
        "parameter-became-optional",
        lambda d: param(d, "mode").__setitem__("required", False),
        {("parameter-became-optional", "compatible")},
    ),
    Case(
        "parameter-serialization-changed",
        lambda d: param(d, "fields").__setitem__("explode", True),
        {("parameter-serialization-changed", "announced")},
    ),
    Case(
        "parameter-type-changed",
        lambda d: param(d, "mode").__setitem__("schema", {"type": "integer"}),
        {("type-changed", "breaking")},
    ),
    Case(
        "parameter-enum-value-added",
        lambda d: param(d, "mode")["schema"]["enum"].append("slow"),
        {("enum-value-added", "compatible")},
        setup=lambda d: param(d, "mode")["schema"].__setitem__("enum", ["fast"]),
    ),
    # request bodies
    Case("request-body-removed", lambda d: token_op(d).pop("requestBody"), {("request-body-removed", "breaking")}),
    Case(
        "request-body-added-required",
        lambda d: get_op(d).__setitem__("requestBody", {"required": True, "content": {}}),
        {("request-body-added-required", "breaking")},
    ),
    Case(
        "request-body-added-optional",
        lambda d: get_op(d).__setitem__("requestBody", {"content": {}}),
        {("request-body-added-optional", "compatible")},
    ),
    Case(
        "request-body-became-required",
        lambda d: token_op(d)["requestBody"].__setitem__("required", True),
        {("request-body-became-required", "breaking")},
        setup=lambda d: token_op(d)["requestBody"].__setitem__("required", False),
    ),
    Case(
        "request-body-became-optional",
        lambda d: token_op(d)["requestBody"].__setitem__("required", False),
        {("request-body-became-optional", "compatible")},
    ),
    Case(
        "request-media-type-order-changed",
        _form_first,
        {("request-media-type-order-changed", "announced")},
        setup=_form_token_request,
    ),
    # responses and media types
    Case("response-removed", lambda d: get_op(d)["responses"].pop("200"), {("response-removed", "breaking")}),
    Case(
        "error-response-removed",
        lambda d: get_op(d)["responses"].pop("404"),
        {("error-response-removed", "announced")},
    ),
    Case(
        "response-ref-changed",
        lambda d: get_op(d)["responses"].__setitem__("404", dict(d["components"]["responses"]["NotFound"])),
        {("response-ref-changed", "announced")},
    ),
    Case(
        "response-added",
        lambda d: get_op(d)["responses"].__setitem__("409", {"description": "conflict"}),
        {("response-added", "announced")},
    ),
    Case(
        "media-type-removed",
        lambda d: get_op(d)["responses"]["200"].__setitem__("content", {}),
        {("media-type-removed", "breaking")},
    ),
    Case(
        "media-type-added-response",
        lambda d: get_op(d)["responses"]["200"]["content"].__setitem__("text/csv", {"schema": {"type": "string"}}),
        {("media-type-added", "announced")},
    ),
    Case(
        "media-type-added-request",
        lambda d: token_op(d)["requestBody"]["content"].__setitem__(
            "application/x-www-form-urlencoded", {"schema": {"$ref": "#/components/schemas/TokenRequest"}}
        ),
        {("media-type-added", "compatible")},
    ),
    # component schemas
    Case(
        "schema-removed",
        lambda d: d["components"]["schemas"].pop("Error"),
        {("schema-removed", "breaking")},
    ),
    Case(
        "schema-added",
        lambda d: d["components"]["schemas"].__setitem__("Extra", {"type": "object"}),
        {("schema-added", "compatible")},
    ),
    Case("schema-renamed", _rename_error, {("schema-renamed", "breaking"), ("schema-ref-target-changed", "breaking")}),
    Case(
        "schema-ref-target-changed",
        _labels_component,
        {("schema-ref-target-changed", "breaking"), ("schema-added", "compatible")},
    ),
    Case(
        "schema-ref-target-changed-between-components",
        lambda d: [
            d["components"]["schemas"].__setitem__("Status2", {"type": "string", "enum": ["NEW", "DONE"]}),
            props(d)["status"].__setitem__("$ref", "#/components/schemas/Status2"),
        ],
        {("schema-ref-target-changed", "breaking"), ("schema-added", "compatible")},
    ),
    Case(  # a plain string component is inlined as `str`: no class, no change of type
        "schema-ref-to-a-plain-alias",
        _colour_component,
        {("schema-added", "compatible")},
    ),
    # types
    Case("type-changed", lambda d: props(d)["count"].__setitem__("type", "string"), {("type-changed", "breaking")}),
    Case(
        "nullable-added-response",
        lambda d: props(d)["id"].__setitem__("type", ["string", "null"]),
        {("nullable-added", "breaking")},
    ),
    # an optional field is `str | None | Unset` whether or not the spec allows null: its type does not change
    Case(
        "nullable-added-optional",
        lambda d: props(d)["name"].__setitem__("type", ["string", "null"]),
        {("nullable-added-optional", "compatible")},
    ),
    Case(
        "nullable-added-optional-3.0-style",
        lambda d: props(d)["name"].__setitem__("nullable", True),
        {("nullable-added-optional", "compatible")},
    ),
    Case(  # but a value inside it is typed by the spec alone: labels is dict[str, str], then dict[str, str | None]
        "nullable-added-inside-an-optional-property",
        lambda d: props(d)["labels"]["additionalProperties"].__setitem__("type", ["string", "null"]),
        {("nullable-added", "breaking")},
    ),
    Case(
        "nullable-added-request",
        lambda d: props(d, "TokenRequest")["grant_type"].__setitem__("type", ["string", "null"]),
        {("nullable-added", "compatible")},
    ),
    Case(
        "nullable-removed",
        lambda d: props(d)["name"].__setitem__("type", "string"),
        {("nullable-removed", "breaking")},
        setup=lambda d: props(d)["name"].__setitem__("type", ["string", "null"]),
    ),
    Case(
        "nullable-3.0-style",
        lambda d: props(d)["id"].__setitem__("nullable", True),
        {("nullable-added", "breaking")},
    ),
    Case("format-changed", lambda d: props(d)["made"].__setitem__("format", "date"), {("format-changed", "breaking")}),
    Case(
        "format-changed-same-type",
        lambda d: props(d)["count"].__setitem__("format", "int64"),
        {("format-changed-same-type", "compatible")},
    ),
    Case(
        "unmapped-string-format-added",
        lambda d: props(d)["colour"].__setitem__("format", "email"),
        {("format-changed-same-type", "compatible")},
    ),
    Case(
        "mapped-string-format-removed",
        lambda d: props(d)["made"].pop("format"),
        {("format-changed", "breaking")},
    ),
    Case(
        "additional-properties-changed",
        lambda d: props(d)["labels"].__setitem__("additionalProperties", True),
        {("additional-properties-changed", "breaking")},
    ),
    Case(
        "additional-properties-true-is-empty-schema",
        lambda d: props(d)["labels"].__setitem__("additionalProperties", {}),
        set(),
        setup=lambda d: props(d)["labels"].__setitem__("additionalProperties", True),
    ),
    Case(
        "additional-properties-absent-is-true",
        lambda d: props(d)["labels"].pop("additionalProperties"),
        set(),
        setup=lambda d: props(d)["labels"].__setitem__("additionalProperties", {"description": "anything"}),
    ),
    Case(
        "additional-properties-type-changed",
        lambda d: props(d)["labels"].__setitem__("additionalProperties", {"type": "integer"}),
        {("type-changed", "breaking")},
    ),
    Case(
        "composition-changed",
        lambda d: props(d)["colour"]["anyOf"].append({"type": "integer"}),
        {("composition-changed", "breaking")},
        setup=lambda d: props(d).__setitem__("colour", {"anyOf": [{"type": "string"}]}),
    ),
    # enums
    Case(
        "enum-value-added-response",
        lambda d: d["components"]["schemas"]["Status"]["enum"].append("LOST"),
        {("enum-value-added", "announced")},
    ),
    Case(
        "enum-value-added-request",
        lambda d: props(d, "TokenRequest")["grant_type"]["enum"].append("refresh_token"),
        {("enum-value-added", "compatible")},
    ),
    Case(
        "enum-value-removed",
        lambda d: d["components"]["schemas"]["Status"]["enum"].remove("DONE"),
        {("enum-value-removed", "breaking")},
    ),
    Case(
        "enum-introduced", lambda d: props(d)["colour"].__setitem__("enum", ["RED"]), {("enum-introduced", "breaking")}
    ),
    Case(
        "enum-dropped",
        lambda d: d["components"]["schemas"]["Status"].pop("enum"),
        {("enum-dropped", "breaking")},
    ),
    # properties
    Case("property-removed", lambda d: props(d).pop("colour"), {("property-removed", "breaking")}),
    Case(
        "property-renamed",
        lambda d: props(d).__setitem__("color", props(d).pop("colour")),
        {("property-renamed", "breaking")},
    ),
    Case(
        "property-added-optional",
        lambda d: props(d).__setitem__("note", {"type": "string"}),
        {("property-added-optional", "compatible")},
    ),
    Case(
        "property-added-required",
        lambda d: [props(d).update(kind={"type": "string"}), thing(d)["required"].append("kind")],
        {("property-added-required", "breaking")},
    ),
    Case(
        "property-became-required",
        lambda d: thing(d)["required"].append("name"),
        {("property-became-required", "breaking")},
    ),
    Case(
        "property-became-optional-response",
        lambda d: thing(d)["required"].remove("id"),
        {("property-became-optional", "breaking")},
    ),
    Case(
        "property-became-optional-request",
        lambda d: d["components"]["schemas"]["TokenRequest"]["required"].remove("grant_type"),
        {("property-became-optional", "compatible")},
    ),
    # validation keywords
    Case(
        "constraint-tightened-response",
        lambda d: props(d)["name"].__setitem__("maxLength", 5),
        {("constraint-tightened", "compatible")},
    ),
    Case(
        "constraint-tightened-request",
        lambda d: props(d, "TokenRequest")["scope"].__setitem__("maxLength", 5),
        {("constraint-tightened", "breaking")},
    ),
    Case(
        "constraint-loosened",
        lambda d: props(d)["name"].pop("minLength"),
        {("constraint-loosened", "announced")},
    ),
    Case(
        "constraint-changed",
        lambda d: props(d, "TokenRequest")["scope"].__setitem__("pattern", "^[a-z]+$"),
        {("constraint-changed", "breaking")},
    ),
    # everything else
    Case("default-changed", lambda d: props(d)["name"].__setitem__("default", "x"), {("default-changed", "announced")}),
    Case(
        "deprecated-changed",
        lambda d: get_op(d).__setitem__("deprecated", True),
        {("deprecated-changed", "announced")},
    ),
    Case("security-changed", lambda d: get_op(d).__setitem__("security", []), {("security-changed", "announced")}),
    Case(
        "security-scheme-changed",
        lambda d: d["components"]["securitySchemes"]["OAuth2"]["flows"]["clientCredentials"].__setitem__(
            "tokenUrl", "/token"
        ),
        {("security-changed", "announced")},
    ),
    Case(
        "server-changed",
        lambda d: d["servers"][0].__setitem__("url", "https://eu.example.com"),
        {("server-changed", "announced")},
    ),
    Case(
        "info-version-changed",
        lambda d: d["info"].__setitem__("version", "1.1.0"),
        {("info-version-changed", "compatible")},
    ),
    Case(
        "doc-changed",
        lambda d: [props(d)["id"].update(description="The UUID."), get_op(d).update(summary="Get")],
        {("doc-changed", "compatible")},
    ),
    Case(
        "doc-changed-shared-response",
        lambda d: d["components"]["responses"]["NotFound"].__setitem__("description", "gone"),
        {("doc-changed", "compatible")},
    ),
    Case("extension-changed", lambda d: thing(d).__setitem__("x-note", "hi"), {("extension-changed", "compatible")}),
    Case("other-changed", lambda d: props(d)["name"].__setitem__("readOnly", True), {("other-changed", "announced")}),
]


def _verdicts(case: Case) -> set[tuple[str, str]]:
    old, new = base_spec(), base_spec()
    case.setup(old)
    case.setup(new)
    case.edit(new)
    return {(c.kind, c.classification) for c in spec_diff.compare(old, new)}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_kind_of_change_gets_its_verdict(case: Case) -> None:
    assert _verdicts(case) == case.expected


def test_every_change_kind_has_a_case() -> None:
    covered = {kind for case in CASES for kind, _ in case.expected}
    assert covered == set(spec_diff.CHANGE_KINDS)


def test_no_change_no_report() -> None:
    assert spec_diff.compare(base_spec(), base_spec()) == []


def test_the_real_spec_equals_itself() -> None:
    from .support import ROOT

    doc = spec_diff.parse((ROOT / "spec" / "m3ter-billing.yaml").read_text(), "spec")
    assert spec_diff.compare(doc, doc) == []


def test_a_schema_used_in_requests_and_responses_gets_the_stricter_verdict() -> None:
    old, new = base_spec(), base_spec()
    for doc in (old, new):  # Status now also travels in a request
        param(doc, "mode")["schema"] = {"$ref": "#/components/schemas/Status"}
    new["components"]["schemas"]["Status"]["enum"].append("LOST")
    assert {(c.kind, c.classification) for c in spec_diff.compare(old, new)} == {("enum-value-added", "announced")}
    assert spec_diff.classify("property-became-optional", "both") == "breaking"
    assert spec_diff.classify("constraint-tightened", "both") == "breaking"


def test_rename_message_names_both_properties_and_points_at_the_new_one() -> None:
    old, new = base_spec(), base_spec()
    props(new)["color"] = props(new).pop("colour")
    [change] = spec_diff.compare(old, new)
    assert "`Thing.colour` renamed to `color`" in change.message
    assert change.pointer == "#/components/schemas/Thing/properties/color"


def test_removed_things_point_into_the_base_spec() -> None:
    old, new = base_spec(), base_spec()
    props(new).pop("colour")
    [change] = spec_diff.compare(old, new)
    assert (change.side, change.pointer) == ("base", "#/components/schemas/Thing/properties/colour")


def test_pointers_escape_slashes_and_tildes() -> None:
    assert spec_diff.pointer("paths", "/a/{b}", "get", "x~y") == "#/paths/~1a~1{b}/get/x~0y"


def test_recursive_schemas_terminate() -> None:
    old, new = base_spec(), base_spec()
    for doc in (old, new):
        doc["components"]["schemas"]["Node"] = {
            "type": "object",
            "properties": {"children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}},
        }
        doc["components"]["schemas"]["Node2"] = {
            "type": "object",
            "properties": {"children": {"type": "array", "items": {"$ref": "#/components/schemas/Node2"}}},
        }
    props(new, "Node")["children"]["items"] = {"$ref": "#/components/schemas/Node2"}
    kinds = {c.kind for c in spec_diff.compare(old, new)}
    assert kinds == {"schema-ref-target-changed"}


def test_changes_are_sorted_most_severe_first() -> None:
    old, new = base_spec(), base_spec()
    props(new).pop("colour")
    props(new)["note"] = {"type": "integer"}  # not a rename candidate: another type
    new["components"]["schemas"]["Status"]["enum"].append("LOST")
    classes = [c.classification for c in spec_diff.compare(old, new)]
    assert classes == ["breaking", "announced", "compatible"]


@pytest.mark.parametrize(
    ("old_version", "new_version", "exit_code", "verdict"),
    [
        ("1.0.0", "1.0.0", 1, "breaking"),
        ("1.0.0", "1.9.0", 1, "breaking"),
        ("1.0.0", "2.0.0", 0, "breaking (major version raised)"),
        ("v1.2", "v2.0", 0, "breaking (major version raised)"),
        ("1.0.0", "unknown", 1, "breaking"),
    ],
)
def test_breaking_changes_pass_only_with_a_new_major(
    old_version: str, new_version: str, exit_code: int, verdict: str
) -> None:
    old, new = base_spec(), base_spec()
    old["info"]["version"], new["info"]["version"] = old_version, new_version
    props(new).pop("colour")
    result = spec_diff.Report.between(old, new, "old", "new")
    assert (result.exit_code, result.verdict) == (exit_code, verdict)


def test_the_kinds_table_lists_every_kind() -> None:
    table = spec_diff.kinds_markdown()
    assert all(f"| {kind} |" in table for kind in spec_diff.CHANGE_KINDS)


def test_unquoted_status_codes_are_the_same_status() -> None:
    old, new = base_spec(), base_spec()
    responses = get_op(new)["responses"]
    get_op(new)["responses"] = {int(k): v for k, v in responses.items()}  # YAML reads `200:` as an int
    assert spec_diff.compare(old, new) == []


def test_only_the_parsed_success_response_is_breaking_to_remove() -> None:
    old, new = base_spec(), base_spec()
    for doc in (old, new):
        get_op(doc)["responses"]["202"] = {"description": "accepted"}
        get_op(doc)["responses"]["default"] = {"description": "anything else"}
    for status in ("200", "default"):
        get_op(new)["responses"].pop(status)
    changes = {(c.kind, c.classification, c.message) for c in spec_diff.compare(old, new)}
    assert changes == {
        ("response-removed", "breaking", "GET /things/{id}: parsed response 200 removed"),
        ("error-response-removed", "announced", "GET /things/{id}: response default removed"),
    }


def test_a_new_first_request_media_type_changes_what_is_sent() -> None:
    old, new = base_spec(), base_spec()
    body = token_op(new)["requestBody"]
    body["content"] = {"application/x-www-form-urlencoded": {"schema": {}}, **body["content"]}
    kinds = {(c.kind, c.classification) for c in spec_diff.compare(old, new)}
    assert kinds == {("media-type-added", "compatible"), ("request-media-type-order-changed", "announced")}
