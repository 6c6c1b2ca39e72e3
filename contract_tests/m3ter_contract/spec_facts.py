"""Flatten an OpenAPI document into comparable facts, so two specs can be compared property by property.

Used by the spec-parity test: ``facts(upstream) `` and ``facts(curated)`` must agree everywhere except
where spec/deviations.yaml lists the difference with its reason. Both OpenAPI 3.0 and 3.1 idioms are
normalised (``exclusiveMinimum: true`` + ``minimum`` becomes ``exclusiveMinimum: <number>``; ``type`` is
always a sorted list, ``nullable: true`` adding ``null``; ``allOf`` is merged; a ``$ref`` records the
referenced component's name).

Every keyword counts, with OpenAPI's defaults filled in (a parameter's ``required``, ``style``, ``explode``,
``allowEmptyValue``, ``allowReserved``, ``deprecated``; a request body's ``required``), for every parameter,
request body and response (each code's media types, headers and body schema) of the three operations.
Only documentation (``description``, ``summary``, ``title``, ``example``, ``examples``, ``externalDocs``) and
vendor extensions (``x-*``: hints for m3ter's SDK generator, or ours) are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CURATED_SPEC = ROOT / "spec" / "m3ter-billing.yaml"
# A committed copy of m3ter's published OpenAPI subset, so the parity test needs nothing outside the repo;
# a test checks it still equals ../shared/reference/ when that folder is present.
UPSTREAM_SPEC = ROOT / "spec" / "upstream" / "m3ter-upstream-subset.json"
# The shared reference folder beside the checkout (or beside the folder of worktrees it is one of).
SHARED_REFERENCE = next(
    (parent / "shared" / "reference" for parent in ROOT.parents if (parent / "shared" / "reference").is_dir()),
    ROOT.parent / "shared" / "reference",
)
SHARED_UPSTREAM_SPEC = SHARED_REFERENCE / "m3ter-upstream-subset.json"
DEVIATIONS = ROOT / "spec" / "deviations.yaml"

# The component schemas the curated spec must carry faithfully (issue 2).
COMPARED_SCHEMAS = (
    "BillResponse",
    "BillLineItem",
    "BillLineItemPricingBandUsage",
    "CurrencyConversion",
    "StatementJobResponse",
    "StatementJobFilters",
    "BearerAccessTokenRequest",
    "BearerAccessTokenResponse",
    "BillStatus",
    "BillingFrequency",
    "LineItemType",
    "StatementJobStatus",
    "StatementStatus",
)
# Schema keywords that are structure (compared through their parts) or documentation (not compared).
_SCHEMA_STRUCTURE = frozenset({"type", "nullable", "enum", "properties", "required", "items", "additionalProperties"})
_DOCUMENTATION = frozenset({"description", "summary", "title", "example", "examples", "externalDocs"})
_NONE: frozenset[str] = frozenset()
_PARAMETER_DEFAULTS: dict[str, Any] = {"required": False, "deprecated": False, "allowEmptyValue": False}

Facts = dict[str, Any]


def load(path: Path) -> dict[str, Any]:
    """Load a JSON or YAML OpenAPI document."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _resolve(doc: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        node = doc["components"]["schemas"][_ref_name(node["$ref"])]
    return node


def _merged(doc: Mapping[str, Any], schema: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Properties and required names of ``schema`` with every ``allOf`` part merged in."""
    properties: dict[str, Any] = {}
    required: set[str] = set()
    for part in schema.get("allOf", []):
        part_properties, part_required = _merged(doc, _resolve(doc, part))
        properties.update(part_properties)
        required |= part_required
    properties.update(schema.get("properties", {}))
    required |= set(schema.get("required", []))
    return properties, required


def _types(node: Mapping[str, Any]) -> list[str] | None:
    kind = node.get("type")
    if kind is None:
        return None
    kinds = [kind] if isinstance(kind, str) else list(kind)
    if node.get("nullable") is True:
        kinds.append("null")
    return sorted(set(kinds))


def _keyword_facts(
    node: Mapping[str, Any], prefix: str, out: Facts, *, structure: frozenset[str] = _SCHEMA_STRUCTURE
) -> None:
    """Every keyword of ``node`` that is neither ``structure`` (compared through its parts) nor documentation,
    3.0 forms normalised. Parameters, responses and security schemes pass ``structure=frozenset()``."""
    for keyword, value in node.items():
        if keyword in structure or keyword in _DOCUMENTATION or keyword.startswith("x-"):
            continue
        if keyword in ("allOf", "anyOf", "oneOf", "not", "$ref"):
            continue
        out[f"{prefix}.{keyword}"] = value
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(node.get(exclusive), bool):  # OpenAPI 3.0 boolean form
            out.pop(f"{prefix}.{exclusive}")
            if node[exclusive]:
                out[f"{prefix}.{exclusive}"] = node.get(bound)
                out.pop(f"{prefix}.{bound}", None)


def _schema_facts(doc: Mapping[str, Any], node: Mapping[str, Any], prefix: str, out: Facts) -> None:
    if "allOf" in node and "properties" not in node and len(node["allOf"]) <= 2:
        # `allOf: [{$ref}, {description}]` is how 3.0 documents put a description next to a $ref.
        refs = [part for part in node["allOf"] if "$ref" in part]
        if len(refs) == 1:
            node = refs[0]
    if "$ref" in node:
        target = _resolve(doc, node)
        if "enum" in target:  # a named enum and an inline one with the same values are the same contract
            out[f"{prefix}.enum"] = sorted(target["enum"])
            out[f"{prefix}.type"] = _types(target)
            _keyword_facts(target, prefix, out)
        else:
            out[f"{prefix}.$ref"] = _ref_name(node["$ref"])
        return
    out[f"{prefix}.type"] = _types(node)
    _keyword_facts(node, prefix, out)
    for combinator in ("anyOf", "oneOf", "not"):
        if combinator in node:
            out[f"{prefix}.{combinator}"] = node[combinator]
    if "enum" in node:
        out[f"{prefix}.enum"] = sorted(node["enum"])
    if "items" in node:
        _schema_facts(doc, node["items"], f"{prefix}[]", out)
    extra = node.get("additionalProperties")
    if isinstance(extra, Mapping):
        _schema_facts(doc, extra, f"{prefix}{{}}", out)
    elif extra is not None:
        out[f"{prefix}.additionalProperties"] = extra


def schema_facts(doc: Mapping[str, Any], name: str) -> Facts:
    """Facts about one component schema: its required set, and each property's type, format, enum..."""
    schema = doc["components"]["schemas"][name]
    out: Facts = {}
    if "enum" in schema:
        out[f"{name}.enum"] = sorted(schema["enum"])
        out[f"{name}.type"] = _types(schema)
        return out
    properties, required = _merged(doc, schema)
    out[f"{name}.required"] = sorted(required)
    out[f"{name}.properties"] = sorted(properties)
    for prop, node in properties.items():
        _schema_facts(doc, node, f"{name}.{prop}", out)
    return out


def _body_facts(doc: Mapping[str, Any], schema: Mapping[str, Any], prefix: str, out: Facts) -> None:
    """A request or response body: a compared component by name; any other component (an error body) or
    inline schema by its content, so ``$ref: Error`` and the same schema written inline agree."""
    if "$ref" in schema and _ref_name(schema["$ref"]) not in COMPARED_SCHEMAS:
        schema = _resolve(doc, schema)
    if "$ref" in schema or "properties" not in schema:
        _schema_facts(doc, schema, prefix, out)
        return
    properties, required = _merged(doc, schema)
    out[f"{prefix}.type"] = _types(schema)
    out[f"{prefix}.required"] = sorted(required)
    out[f"{prefix}.properties"] = sorted(properties)
    for prop, node in properties.items():
        _schema_facts(doc, node, f"{prefix}.{prop}", out)


def _response(doc: Mapping[str, Any], response: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in response:
        response = doc["components"]["responses"][_ref_name(response["$ref"])]
    return response


def _response_facts(doc: Mapping[str, Any], response: Mapping[str, Any], prefix: str) -> Facts:
    out: Facts = {}
    response = _response(doc, response)
    content = response.get("content", {})
    out[f"{prefix}.content"] = sorted(content)
    out[f"{prefix}.headers"] = sorted(response.get("headers", {}))
    plain = {k: v for k, v in response.items() if k not in ("content", "headers", "links")}
    _keyword_facts(plain, prefix, out, structure=_NONE)
    for media, body in content.items():
        if "schema" in body:
            _body_facts(doc, body["schema"], f"{prefix}.{media}", out)
        _keyword_facts({k: v for k, v in body.items() if k != "schema"}, f"{prefix}.{media}", out, structure=_NONE)
    return out


def operation_facts(doc: Mapping[str, Any]) -> Facts:
    """Facts about each operation: path, method, every keyword of every parameter (OpenAPI's defaults filled
    in), the request body, every response, security."""
    out: Facts = {}
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            op = operation["operationId"]
            out[f"{op}.path"] = f"{method.upper()} {path}"
            out[f"{op}.parameters"] = [f"{param['in']}:{param['name']}" for param in operation.get("parameters", [])]
            for param in operation.get("parameters", []):
                key = f"{op}.param.{param['name']}"
                style = param.get("style", "form" if param["in"] in ("query", "cookie") else "simple")
                values = {
                    **_PARAMETER_DEFAULTS,
                    "style": style,
                    "explode": style == "form",
                    **({"allowReserved": False} if param["in"] == "query" else {}),
                    **param,
                }
                plain = {k: v for k, v in values.items() if k not in ("name", "schema", "content")}
                _keyword_facts(plain, key, out, structure=_NONE)
                if "schema" in param:
                    _schema_facts(doc, param["schema"], f"{key}.schema", out)
            body = operation.get("requestBody")
            if body is not None:
                out[f"{op}.requestBody.required"] = bool(body.get("required", False))
                out[f"{op}.requestBody.content"] = sorted(body.get("content", {}))
                for media, content in body.get("content", {}).items():
                    _body_facts(doc, content["schema"], f"{op}.requestBody.{media}", out)
                    plain = {k: v for k, v in content.items() if k != "schema"}
                    _keyword_facts(plain, f"{op}.requestBody.{media}", out, structure=_NONE)
            responses = operation["responses"]
            out[f"{op}.responses"] = sorted(responses)
            errors: dict[str, set[str]] = {}
            for code, response in responses.items():
                if code.startswith("2"):
                    out.update(_response_facts(doc, response, f"{op}.responses.{code}"))
                    continue
                # Every error code carries the same {message} body: compared once, whatever the codes are.
                for fact, value in _response_facts(doc, response, f"{op}.responses.error").items():
                    errors.setdefault(fact, set()).add(repr(value))
                    out[fact] = value if len(errors[fact]) == 1 else sorted(errors[fact])
            security = operation.get("security", doc.get("security", []))
            out[f"{op}.security"] = sorted(name for requirement in security for name in requirement)
    return out


def security_facts(doc: Mapping[str, Any]) -> Facts:
    """Every keyword of every security scheme and OAuth2 flow (documentation and extensions left out)."""
    out: Facts = {}
    for name, scheme in doc["components"].get("securitySchemes", {}).items():
        plain = {k: v for k, v in scheme.items() if k != "flows"}
        _keyword_facts(plain, f"securityScheme.{name}", out, structure=_NONE)
        for flow, details in scheme.get("flows", {}).items():
            prefix = f"securityScheme.{name}.flows.{flow}"
            _keyword_facts({k: v for k, v in details.items() if k != "scopes"}, prefix, out, structure=_NONE)
            out[f"{prefix}.scopes"] = sorted(details.get("scopes", {}))
    return out


def facts(doc: Mapping[str, Any]) -> Facts:
    """Every comparable fact of a document."""
    out: Facts = {}
    for name in COMPARED_SCHEMAS:
        out.update(schema_facts(doc, name))
    out.update(operation_facts(doc))
    out.update(security_facts(doc))
    return out


def differences(upstream: Mapping[str, Any], curated: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{fact: (upstream value, curated value)}`` for every fact on which the two documents disagree."""
    a, b = facts(upstream), facts(curated)
    return {key: (a.get(key), b.get(key)) for key in sorted(a.keys() | b.keys()) if a.get(key) != b.get(key)}
