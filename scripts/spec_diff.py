"""Classify the changes between two versions of the spec for consumers of the generated package.

    python scripts/spec_diff.py --base origin/main                 # a git revision against the working tree
    python scripts/spec_diff.py --base old.yaml --head new.yaml    # two files
    python scripts/spec_diff.py --base HEAD --markdown report.md --json report.json

Every change is one of three classes (the table RULES below, one row per kind of change):

* breaking    - code that uses the generated package may stop working or type-checking;
* announced   - existing code keeps working, but consumers may need to react (a new response enum value
                their ``match`` statements do not handle, a new status code, a moved endpoint);
* compatible  - nothing to do (a new optional field, a doc change).

A rule classifies by where the changed schema travels: only in requests (the client writes it), only in
responses (the client reads it) or both (the stricter class wins). The generated client is forward
compatible (open enums, unknown fields kept), so a response change is breaking only when the *generated
types* change: msgspec models are constructed by consumers too (in their tests), so a field that becomes
required (``X | Unset`` -> ``X``) or optional (``X`` -> ``X | Unset``) is breaking either way.

Exit status: 0 no breaking change (or the major of ``info.version`` was raised), 1 breaking change without
a major bump, 2 usage error (unreadable file, unknown revision, invalid YAML).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = "spec/m3ter-billing.yaml"
REPORT_MARKER = "<!-- m3ter-spec-change-report -->"

Classification = Literal["breaking", "announced", "compatible"]
Context = Literal["request", "response", "both"]
CLASSES: tuple[Classification, ...] = ("breaking", "announced", "compatible")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DOC_KEYWORDS = frozenset({"description", "summary", "title", "example", "examples", "externalDocs", "$comment"})
LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains")
UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains")
OTHER_CONSTRAINTS = ("pattern", "multipleOf", "uniqueItems", "contentEncoding", "contentMediaType")
# string formats openapi-python-client 0.29 maps to their own Python type; any other format is a plain str
STRING_FORMAT_TYPES = {"date-time": "datetime.datetime", "date": "datetime.date", "binary": "File", "uuid": "UUID"}


@dataclass(frozen=True)
class Rule:
    """How a kind of change is classified when the changed part is sent (request) or read (response)."""

    request: Classification
    response: Classification
    reason: str


def _rule(request: Classification, response: Classification | None, reason: str) -> Rule:
    return Rule(request, request if response is None else response, reason)


B: Classification = "breaking"
A: Classification = "announced"
C: Classification = "compatible"

RULES: dict[str, Rule] = {
    # operations
    "operation-removed": _rule(B, None, "its endpoint module and facade method disappear"),
    "operation-added": _rule(C, None, "a new endpoint module; existing code is unaffected"),
    "operation-moved": _rule(A, None, "same operationId (same generated function) at another path or method"),
    "operation-id-changed": _rule(B, None, "generated endpoint modules and functions are named after operationId"),
    "tags-changed": _rule(B, None, "generated endpoint modules live under api/<first tag>/: import paths change"),
    "path-parameter-order-changed": _rule(
        B, None, "path parameters are positional in path order: sync(org_id, id) becomes sync(id, org_id)"
    ),
    # parameters
    "parameter-removed": _rule(B, None, "callers passing the argument get a TypeError"),
    "parameter-added-required": _rule(B, None, "a new required argument: existing calls fail"),
    "parameter-added-optional": _rule(C, None, "a new keyword argument with a default"),
    "parameter-became-required": _rule(B, None, "the argument loses its default: calls without it fail"),
    "parameter-became-optional": _rule(C, None, "the argument gains a default: existing calls still work"),
    "parameter-serialization-changed": _rule(A, None, "same Python signature, another wire format (style/explode)"),
    # request bodies
    "request-body-removed": _rule(B, None, "the body argument disappears"),
    "request-body-added-required": _rule(B, None, "a new required body argument"),
    "request-body-added-optional": _rule(C, None, "a new optional body argument"),
    "request-body-became-required": _rule(B, None, "the body argument loses its default"),
    "request-body-became-optional": _rule(C, None, "the body argument gains a default"),
    "request-media-type-order-changed": _rule(
        A, None, "the generated endpoint sends the first listed request content type: the wire format changes"
    ),
    # responses and media types
    "response-removed": _rule(B, None, "the parsed (first 2xx) response or a shared one: the return type changes"),
    "error-response-removed": _rule(
        A, None, "a non-2xx status: the client still raises for it, as an unexpected status instead of a typed error"
    ),
    "response-added": _rule(A, None, "the client may return or raise for a status code it never did before"),
    "response-ref-changed": _rule(
        A, None, "the response now comes from another components/responses entry or inline (names no class)"
    ),
    "media-type-removed": _rule(B, None, "no more generated code for that content type"),
    "media-type-added": _rule(C, A, "a response may come in a content type consumers never saw"),
    # component schemas (= generated model classes)
    "schema-removed": _rule(B, None, "the generated model class disappears"),
    "schema-added": _rule(C, None, "a new model class; existing code is unaffected"),
    "schema-renamed": _rule(B, None, "the generated model class is renamed (same structure, other name)"),
    "schema-ref-target-changed": _rule(
        B, None, "the schema now comes from another component or inline: the generated class / type changes"
    ),
    # types
    "type-changed": _rule(B, None, "the generated Python type changes"),
    "nullable-added": _rule(C, B, "the type widens to `X | None`: readers must handle None"),
    "nullable-removed": _rule(B, B, "the type narrows: code passing or constructing None breaks"),
    "format-changed": _rule(B, None, "the format maps to another Python type (str, datetime, date, UUID, File)"),
    "format-changed-same-type": _rule(C, None, "both formats map to the same Python type"),
    "additional-properties-changed": _rule(B, None, "the generated map / model type changes"),
    "composition-changed": _rule(B, None, "allOf/anyOf/oneOf/not changed: the generated union or model changes"),
    # enums
    "enum-value-added": _rule(C, A, "open enums parse it, but consumers' `match` statements may need a case"),
    "enum-value-removed": _rule(B, None, "the enum member disappears; code referencing it breaks"),
    "enum-introduced": _rule(B, None, "a free value becomes an enum class"),
    "enum-dropped": _rule(B, None, "an enum class becomes a free value"),
    # properties (= model attributes)
    "property-removed": _rule(B, None, "the model attribute disappears"),
    "property-renamed": _rule(B, None, "removed + added with the same schema: the model attribute is renamed"),
    "property-added-optional": _rule(C, None, "a new attribute defaulting to UNSET"),
    "property-added-required": _rule(B, None, "a new required constructor argument (request models, test fixtures)"),
    "property-became-required": _rule(
        B, None, "the type narrows from `X | Unset` to `X`: constructing the model without it fails"
    ),
    "property-became-optional": _rule(C, B, "the type widens to `X | Unset`: readers must handle UNSET"),
    # validation keywords (not enforced by the generated client)
    "constraint-tightened": _rule(B, C, "the server rejects values it accepted; responses only get narrower"),
    "constraint-loosened": _rule(C, A, "requests may send more; responses may carry values never seen before"),
    "constraint-changed": _rule(B, A, "a pattern or similar changed: the accepted values differ"),
    # everything else
    "default-changed": _rule(A, None, "what the server assumes for an omitted value changed"),
    "deprecated-changed": _rule(A, None, "deprecation flag changed: plan the migration"),
    "security-changed": _rule(A, None, "authentication requirements or flows changed"),
    "server-changed": _rule(A, None, "the default base URL changed"),
    "info-version-changed": _rule(C, None, "the version of the spec, and so of the package, changed"),
    "doc-changed": _rule(C, None, "descriptions, summaries and examples only change docstrings"),
    "extension-changed": _rule(C, None, "x-* extensions do not change the generated code"),
    "other-changed": _rule(A, None, "not classified more precisely: review it"),
}

_SEVERITY = {cls: i for i, cls in enumerate(CLASSES)}


def classify(kind: str, context: Context) -> Classification:
    """The class of a ``kind`` of change to a part sent in requests, read from responses, or both."""
    rule = RULES[kind]
    if context == "request":
        return rule.request
    if context == "response":
        return rule.response
    return min(rule.request, rule.response, key=_SEVERITY.__getitem__)


@dataclass(frozen=True, order=True)
class Change:
    """One classified change. ``pointer`` is a JSON pointer into the head spec (``side='head'``) or, for
    something that is gone, into the base spec (``side='base'``)."""

    classification: Classification
    pointer: str
    kind: str
    message: str
    side: Literal["base", "head"] = "head"

    def to_json(self) -> dict[str, str]:
        return {
            "classification": self.classification,
            "kind": self.kind,
            "pointer": self.pointer,
            "side": self.side,
            "message": self.message,
            "reason": RULES[self.kind].reason,
        }


def _sort_key(change: Change) -> tuple[int, str, str, str]:
    return (_SEVERITY[change.classification], change.pointer, change.kind, change.message)


def pointer(*parts: str | int) -> str:
    """A JSON pointer (URI fragment form) from unescaped reference tokens."""
    return "#" + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _join(base: str, *parts: str | int) -> str:
    return base + pointer(*parts)[1:]


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _show(value: object) -> str:
    return json.dumps(value, default=str, sort_keys=True) if not isinstance(value, str) else value


def _refs(node: object) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def schema_contexts(doc: Mapping[str, Any]) -> dict[str, set[str]]:
    """For each component schema, whether it is reachable from requests, responses or both."""
    components = _mapping(doc.get("components"))
    found: dict[str, set[str]] = {}

    def walk(node: object, side: str, seen: set[str]) -> None:
        for ref in _refs(node):
            if ref in seen or not ref.startswith("#/components/"):
                continue
            seen.add(ref)
            section, _, name = ref[len("#/components/") :].partition("/")
            if section == "schemas":
                found.setdefault(name, set()).add(side)
            walk(_mapping(components.get(section)).get(name), side, seen)

    for item in _mapping(doc.get("paths")).values():
        item = _mapping(item)
        for method in HTTP_METHODS:
            if method not in item:
                continue
            op = _mapping(item[method])
            walk([item.get("parameters"), op.get("parameters"), op.get("requestBody")], "request", set())
            walk(op.get("responses"), "response", set())
    return found


def _types(schema: Mapping[str, Any]) -> frozenset[str]:
    declared = schema.get("type")
    types = {declared} if isinstance(declared, str) else set(declared) if isinstance(declared, list) else set()
    if schema.get("nullable") is True:
        types.add("null")
    return frozenset(str(t) for t in types)


def _python_type(schema: Mapping[str, Any]) -> str:
    """The Python type a format maps to: only some string formats have their own; the rest is unchanged."""
    fmt = schema.get("format")
    if "string" in _types(schema):
        return STRING_FORMAT_TYPES.get(fmt, "str") if isinstance(fmt, str) else "str"
    return "same"


def _additional_properties(schema: Mapping[str, Any]) -> object:
    """``additionalProperties`` with its equivalent spellings made equal: absent, ``true`` and ``{}``."""
    value = schema.get("additionalProperties", True)
    return True if isinstance(value, Mapping) and not _shape(value) else value


def _names_class(schema: Mapping[str, Any]) -> bool:
    """Whether openapi-python-client generates a named class (model, enum) or union for the schema; a plain
    string, number, boolean or array component is inlined as its Python type."""
    return bool(
        "object" in _types(schema)
        or schema.get("properties")
        or "enum" in schema
        or any(key in schema for key in ("allOf", "anyOf", "oneOf"))
    )


def _placeholders(path: str) -> list[str]:
    return re.findall(r"\{([^{}]+)\}", path)


def _is_success(status: object) -> bool:
    return str(status).upper().startswith("2")


def _parsed_status(responses: Mapping[str, Any]) -> str | None:
    """The status whose response the generated client parses: the first 2xx one, in document order."""
    return next((str(status) for status in responses if _is_success(status)), None)


def _shape(schema: object) -> object:
    """A schema without its documentation: what decides the generated type."""
    if isinstance(schema, Mapping):
        return {k: _shape(v) for k, v in schema.items() if k not in DOC_KEYWORDS and not str(k).startswith("x-")}
    if isinstance(schema, list):
        return [_shape(item) for item in schema]
    return schema


def _pair_renames(
    removed: Iterable[str], added: Iterable[str], old: Mapping[str, Any], new: Mapping[str, Any]
) -> dict[str, str]:
    """Removed name -> added name, for removed and added entries with the same shape (one to one)."""
    pairs: dict[str, str] = {}
    free = sorted(added)
    for name in sorted(removed):
        for candidate in free:
            if _shape(old[name]) == _shape(new[candidate]):
                pairs[name] = candidate
                free.remove(candidate)
                break
    return pairs


@dataclass
class Differ:
    """Compares two parsed OpenAPI documents; ``run()`` returns the classified changes."""

    old: Mapping[str, Any]
    new: Mapping[str, Any]
    changes: list[Change] = field(default_factory=list)
    contexts: dict[str, set[str]] = field(default_factory=dict)

    def run(self) -> list[Change]:
        for doc in (self.old, self.new):
            for name, sides in schema_contexts(doc).items():
                self.contexts.setdefault(name, set()).update(sides)
        old_info, new_info = _mapping(self.old.get("info")), _mapping(self.new.get("info"))
        if old_info.get("version") != new_info.get("version"):
            self.add(
                "info-version-changed",
                pointer("info", "version"),
                f"info.version {old_info.get('version')} → {new_info.get('version')}",
            )
        self.generic(
            {k: v for k, v in old_info.items() if k != "version"},
            {k: v for k, v in new_info.items() if k != "version"},
            pointer("info"),
            "doc-changed",
        )
        self.generic(self.old.get("servers"), self.new.get("servers"), pointer("servers"), "server-changed")
        self.generic(self.old.get("security"), self.new.get("security"), pointer("security"), "security-changed")
        self.paths()
        self.component_schemas()
        self.component_responses()
        old_c, new_c = _mapping(self.old.get("components")), _mapping(self.new.get("components"))
        self.generic(
            old_c.get("securitySchemes"),
            new_c.get("securitySchemes"),
            pointer("components", "securitySchemes"),
            "security-changed",
        )
        self.generic(old_c.get("examples"), new_c.get("examples"), pointer("components", "examples"), "doc-changed")
        handled = {"schemas", "responses", "securitySchemes", "examples", "parameters", "requestBodies"}
        for key in sorted((set(old_c) | set(new_c)) - handled):
            self.generic(old_c.get(key), new_c.get(key), pointer("components", key), "other-changed")
        for key in sorted((set(self.old) | set(self.new)) - {"openapi", "info", "servers", "security", "paths"}):
            if key != "components":
                self.generic(self.old.get(key), self.new.get(key), pointer(key), "other-changed")
        return sorted(set(self.changes), key=_sort_key)

    # -- bookkeeping ------------------------------------------------------------------------------------------

    def add(
        self, kind: str, ptr: str, message: str, context: Context = "both", side: Literal["base", "head"] = "head"
    ) -> None:
        self.changes.append(Change(classify(kind, context), ptr, kind, message, side))

    def resolve(self, doc: Mapping[str, Any], node: object) -> Mapping[str, Any]:
        """``node`` with local ``$ref`` chains followed (siblings of ``$ref`` override the target)."""
        node = _mapping(node)
        seen: set[str] = set()
        while isinstance(node.get("$ref"), str) and node["$ref"] not in seen:
            ref = node["$ref"]
            seen.add(ref)
            target: object = doc
            if ref.startswith("#/"):
                for token in ref[2:].split("/"):
                    target = _mapping(target).get(token.replace("~1", "/").replace("~0", "~"))
            else:
                target = None
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            node = {**_mapping(target), **siblings}
        return node

    def context_of(self, name: str) -> Context:
        sides = self.contexts.get(name, set())
        if sides == {"request"}:
            return "request"
        if sides == {"response"}:
            return "response"
        return "both"

    def generic(self, old: object, new: object, ptr: str, default: str, context: Context = "both") -> None:
        """Any structure: documentation keys are doc changes, x-* extensions, everything else ``default``."""
        if old == new:
            return
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            for key in sorted(set(old) | set(new), key=str):
                if old.get(key) == new.get(key):
                    continue
                sub = _join(ptr, str(key))
                if key in DOC_KEYWORDS:
                    self.add("doc-changed", sub, f"{key} changed", context)
                elif str(key).startswith("x-"):
                    self.add("extension-changed", sub, f"{key} changed", context)
                elif key not in new:
                    self.add(default, _join(ptr, str(key)), f"`{key}` removed", context, side="base")
                else:
                    self.generic(old.get(key), new.get(key), sub, default, context)
            return
        message = "added" if old is None else "removed" if new is None else f"{_show(old)} → {_show(new)}"
        self.add(default, ptr, message, context, side="base" if new is None else "head")

    # -- paths, operations, parameters, bodies, responses -----------------------------------------------------

    def _operations(self, doc: Mapping[str, Any]) -> dict[tuple[str, str], Mapping[str, Any]]:
        ops: dict[tuple[str, str], Mapping[str, Any]] = {}
        for path, item in _mapping(doc.get("paths")).items():
            for method in HTTP_METHODS:
                if method in _mapping(item):
                    ops[(str(path), method)] = _mapping(_mapping(item)[method])
        return ops

    def paths(self) -> None:
        old_ops, new_ops = self._operations(self.old), self._operations(self.new)
        removed = sorted(set(old_ops) - set(new_ops))
        added = sorted(set(new_ops) - set(old_ops))
        by_id = {new_ops[key].get("operationId"): key for key in added if new_ops[key].get("operationId")}
        pairs: list[tuple[tuple[str, str], tuple[str, str]]] = [
            (key, key) for key in sorted(set(old_ops) & set(new_ops))
        ]
        for key in removed:
            op_id = old_ops[key].get("operationId")
            if op_id in by_id:
                moved_to = by_id.pop(op_id)
                added.remove(moved_to)
                pairs.append((key, moved_to))
                self.add(
                    "operation-moved",
                    pointer("paths", moved_to[0], moved_to[1]),
                    f"{op_id}: {key[1].upper()} {key[0]} → {moved_to[1].upper()} {moved_to[0]}",
                )
            else:
                self.add(
                    "operation-removed",
                    pointer("paths", *key),
                    f"{key[1].upper()} {key[0]} ({op_id}) removed",
                    side="base",
                )
        for key in added:
            self.add(
                "operation-added",
                pointer("paths", *key),
                f"{key[1].upper()} {key[0]} ({new_ops[key].get('operationId')}) added",
            )
        for old_key, new_key in pairs:
            self.operation(old_key, new_key, old_ops[old_key], new_ops[new_key])
        old_paths, new_paths = _mapping(self.old.get("paths")), _mapping(self.new.get("paths"))
        for path in sorted(set(old_paths) & set(new_paths)):
            skip = {*HTTP_METHODS, "parameters"}
            self.generic(
                {k: v for k, v in _mapping(old_paths[path]).items() if k not in skip},
                {k: v for k, v in _mapping(new_paths[path]).items() if k not in skip},
                pointer("paths", path),
                "other-changed",
            )

    def operation(
        self, old_key: tuple[str, str], new_key: tuple[str, str], old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> None:
        ptr = pointer("paths", *new_key)
        label = f"{new_key[1].upper()} {new_key[0]}"
        if old.get("operationId") != new.get("operationId"):
            self.add(
                "operation-id-changed",
                _join(ptr, "operationId"),
                f"{label}: operationId {old.get('operationId')} → {new.get('operationId')}",
            )
        if (old.get("tags") or [None])[0] != (new.get("tags") or [None])[0]:
            self.add("tags-changed", _join(ptr, "tags"), f"{label}: tags {old.get('tags')} → {new.get('tags')}")
        elif old.get("tags") != new.get("tags"):
            self.add("doc-changed", _join(ptr, "tags"), f"{label}: secondary tags changed")
        for key, kind in (("deprecated", "deprecated-changed"), ("security", "security-changed")):
            if old.get(key) != new.get(key):
                self.add(kind, _join(ptr, key), f"{label}: {key} {_show(old.get(key))} → {_show(new.get(key))}")
        self.generic(old.get("servers"), new.get("servers"), _join(ptr, "servers"), "server-changed")
        self.parameters(old_key, new_key, label)
        old_order, new_order = _placeholders(old_key[0]), _placeholders(new_key[0])
        old_common = [name for name in old_order if name in new_order]
        new_common = [name for name in new_order if name in old_order]
        if old_common != new_common:
            self.add(
                "path-parameter-order-changed",
                pointer("paths", new_key[0]),
                f"{label}: path parameters {', '.join(old_common)} → {', '.join(new_common)}",
            )
        self.request_body(old.get("requestBody"), new.get("requestBody"), _join(ptr, "requestBody"), label)
        self.responses(_mapping(old.get("responses")), _mapping(new.get("responses")), _join(ptr, "responses"), label)
        handled = {"operationId", "tags", "deprecated", "security", "servers", "parameters", "requestBody", "responses"}
        self.generic(
            {k: v for k, v in old.items() if k not in handled},
            {k: v for k, v in new.items() if k not in handled},
            ptr,
            "other-changed",
        )

    def _parameters(self, doc: Mapping[str, Any], key: tuple[str, str]) -> dict[tuple[str, str], tuple[Any, str]]:
        """(in, name) -> (resolved parameter, pointer); operation-level parameters override path-level ones."""
        item = _mapping(_mapping(doc.get("paths")).get(key[0]))
        found: dict[tuple[str, str], tuple[Any, str]] = {}
        levels = ((pointer("paths", key[0]), item), (pointer("paths", *key), _mapping(item.get(key[1]))))
        for base, holder in levels:
            params = holder.get("parameters")
            for index, raw in enumerate(params if isinstance(params, list) else []):
                param = self.resolve(doc, raw)
                found[(str(param.get("in")), str(param.get("name")))] = (param, _join(base, "parameters", index))
        return found

    def parameters(self, old_key: tuple[str, str], new_key: tuple[str, str], label: str) -> None:
        old, new = self._parameters(self.old, old_key), self._parameters(self.new, new_key)
        for where, name in sorted(set(old) - set(new)):
            self.add(
                "parameter-removed", old[(where, name)][1], f"{label}: {where} parameter `{name}` removed", side="base"
            )
        for where, name in sorted(set(new) - set(old)):
            param, ptr = new[(where, name)]
            required = bool(param.get("required")) or where == "path"
            kind = "parameter-added-required" if required else "parameter-added-optional"
            self.add(kind, ptr, f"{label}: {'required' if required else 'optional'} {where} parameter `{name}` added")
        for pkey in sorted(set(old) & set(new)):
            (o, _), (n, ptr) = old[pkey], new[pkey]
            what = f"{label}: {pkey[0]} parameter `{pkey[1]}`"
            was, now = bool(o.get("required")) or pkey[0] == "path", bool(n.get("required")) or pkey[0] == "path"
            if was != now:
                kind = "parameter-became-required" if now else "parameter-became-optional"
                self.add(kind, _join(ptr, "required"), f"{what} became {'required' if now else 'optional'}")
            for key in ("style", "explode", "allowReserved", "allowEmptyValue"):
                if o.get(key) != n.get(key):
                    self.add(
                        "parameter-serialization-changed",
                        _join(ptr, key),
                        f"{what}: {key} {_show(o.get(key))} → {_show(n.get(key))}",
                    )
            if o.get("deprecated") != n.get("deprecated"):
                self.add("deprecated-changed", _join(ptr, "deprecated"), f"{what}: deprecated {n.get('deprecated')}")
            self.schema(o.get("schema"), n.get("schema"), _join(ptr, "schema"), "request", f"{what}")
            self.content(o.get("content"), n.get("content"), _join(ptr, "content"), "request", what)
            handled = {"in", "name", "required", "style", "explode", "allowReserved", "allowEmptyValue"}
            handled |= {"deprecated", "schema", "content"}
            self.generic(
                {k: v for k, v in o.items() if k not in handled},
                {k: v for k, v in n.items() if k not in handled},
                ptr,
                "other-changed",
                "request",
            )

    def request_body(self, old_raw: object, new_raw: object, ptr: str, label: str) -> None:
        if old_raw is None and new_raw is None:
            return
        old, new = self.resolve(self.old, old_raw), self.resolve(self.new, new_raw)
        if old_raw is None:
            required = bool(new.get("required"))
            kind = "request-body-added-required" if required else "request-body-added-optional"
            self.add(kind, ptr, f"{label}: {'required' if required else 'optional'} request body added")
            return
        if new_raw is None:
            self.add("request-body-removed", ptr, f"{label}: request body removed", side="base")
            return
        if bool(old.get("required")) != bool(new.get("required")):
            now = bool(new.get("required"))
            kind = "request-body-became-required" if now else "request-body-became-optional"
            self.add(kind, _join(ptr, "required"), f"{label}: request body became {'required' if now else 'optional'}")
        self.content(old.get("content"), new.get("content"), _join(ptr, "content"), "request", f"{label} request")
        old_first = next(iter(_mapping(old.get("content"))), None)
        new_first = next(iter(_mapping(new.get("content"))), None)
        if old_first is not None and new_first is not None and old_first != new_first:
            self.add(
                "request-media-type-order-changed",
                _join(ptr, "content"),
                f"{label}: the request is sent as {new_first} instead of {old_first} (the first content type)",
                "request",
            )
        self.generic(
            {k: v for k, v in old.items() if k not in ("required", "content")},
            {k: v for k, v in new.items() if k not in ("required", "content")},
            ptr,
            "other-changed",
            "request",
        )

    def content(self, old_raw: object, new_raw: object, ptr: str, context: Context, label: str) -> None:
        old, new = _mapping(old_raw), _mapping(new_raw)
        for media in sorted(set(old) - set(new)):
            self.add("media-type-removed", _join(ptr, media), f"{label}: {media} removed", context, side="base")
        for media in sorted(set(new) - set(old)):
            self.add("media-type-added", _join(ptr, media), f"{label}: {media} added", context)
        for media in sorted(set(old) & set(new)):
            o, n, sub = _mapping(old[media]), _mapping(new[media]), _join(ptr, media)
            self.schema(o.get("schema"), n.get("schema"), _join(sub, "schema"), context, f"{label} {media}")
            self.generic(
                {k: v for k, v in o.items() if k != "schema"},
                {k: v for k, v in n.items() if k != "schema"},
                sub,
                "other-changed",
                context,
            )

    def responses(self, old_raw: Mapping[str, Any], new_raw: Mapping[str, Any], ptr: str, label: str) -> None:
        # YAML reads an unquoted 200 as an int: the same status as '200'
        old, new = {str(k): v for k, v in old_raw.items()}, {str(k): v for k, v in new_raw.items()}
        parsed = _parsed_status(old)
        for status in sorted(set(old) - set(new), key=str):
            kind = "error-response-removed" if not _is_success(status) else "response-removed"
            what = "parsed response" if str(status) == parsed else "response"
            self.add(kind, _join(ptr, str(status)), f"{label}: {what} {status} removed", side="base")
        for status in sorted(set(new) - set(old), key=str):
            self.add("response-added", _join(ptr, str(status)), f"{label}: response {status} added")
        for status in sorted(set(old) & set(new), key=str):
            o, n = _mapping(old[status]), _mapping(new[status])
            if "$ref" in o and o == n:
                continue  # the shared component response is compared once, by component_responses()
            if o.get("$ref") != n.get("$ref"):
                self.add(
                    "response-ref-changed",
                    _join(ptr, str(status)),
                    f"{label} {status}: {o.get('$ref', 'inline')} → {n.get('$ref', 'inline')}",
                    "response",
                )
            self.response(
                self.resolve(self.old, o), self.resolve(self.new, n), _join(ptr, str(status)), f"{label} {status}"
            )

    def response(self, old: Mapping[str, Any], new: Mapping[str, Any], ptr: str, label: str) -> None:
        self.content(old.get("content"), new.get("content"), _join(ptr, "content"), "response", label)
        self.generic(
            {k: v for k, v in old.items() if k != "content"},
            {k: v for k, v in new.items() if k != "content"},
            ptr,
            "other-changed",
            "response",
        )

    def component_responses(self) -> None:
        old = _mapping(_mapping(self.old.get("components")).get("responses"))
        new = _mapping(_mapping(self.new.get("components")).get("responses"))
        for name in sorted(set(old) - set(new)):
            ptr = pointer("components", "responses", name)
            self.add("response-removed", ptr, f"component response {name} removed", side="base")
        for name in sorted(set(new) - set(old)):
            self.add("response-added", pointer("components", "responses", name), f"component response {name} added")
        for name in sorted(set(old) & set(new)):
            self.response(
                self.resolve(self.old, old[name]),
                self.resolve(self.new, new[name]),
                pointer("components", "responses", name),
                f"response {name}",
            )

    # -- schemas ----------------------------------------------------------------------------------------------

    def component_schemas(self) -> None:
        old = _mapping(_mapping(self.old.get("components")).get("schemas"))
        new = _mapping(_mapping(self.new.get("components")).get("schemas"))
        removed, added = set(old) - set(new), set(new) - set(old)
        renames = _pair_renames(removed, added, old, new)
        for name in sorted(removed):
            if name in renames:
                ptr = pointer("components", "schemas", renames[name])
                self.add("schema-renamed", ptr, f"schema {name} renamed to {renames[name]}", self.context_of(name))
            else:
                ptr = pointer("components", "schemas", name)
                self.add("schema-removed", ptr, f"schema {name} removed", self.context_of(name), side="base")
        for name in sorted(added - set(renames.values())):
            self.add("schema-added", pointer("components", "schemas", name), f"schema {name} added")
        for name in sorted(set(old) & set(new)):
            self.schema(old[name], new[name], pointer("components", "schemas", name), self.context_of(name), name)

    def schema(
        self,
        old: object,
        new: object,
        ptr: str,
        context: Context,
        label: str,
        seen: frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        if old == new:
            return
        if old is None or new is None:
            kind = "type-changed"
            self.add(kind, ptr, f"`{label}`: schema {'added' if old is None else 'removed'}", context)
            return
        if not isinstance(old, Mapping) or not isinstance(new, Mapping):
            self.add("type-changed", ptr, f"`{label}`: schema {_show(old)} → {_show(new)}", context)
            return
        old_ref, new_ref = old.get("$ref"), new.get("$ref")
        if old_ref is None and new_ref is None:
            self.keywords(old, new, ptr, context, label, seen)
            return
        if old_ref == new_ref:  # the target is compared by component_schemas(); compare the siblings only
            self.keywords(
                {k: v for k, v in old.items() if k != "$ref"},
                {k: v for k, v in new.items() if k != "$ref"},
                ptr,
                context,
                label,
                seen,
            )
            return
        pair = (str(old_ref), str(new_ref))
        if pair in seen:
            return
        old_resolved, new_resolved = self.resolve(self.old, old), self.resolve(self.new, new)
        if _names_class(old_resolved) or _names_class(new_resolved):
            self.add(
                "schema-ref-target-changed",
                ptr,
                f"`{label}`: {old_ref or 'inline schema'} → {new_ref or 'inline schema'}",
                context,
            )
        # else a plain str/int/array alias: the Python type is the resolved one, compared below
        self.keywords(old_resolved, new_resolved, ptr, context, label, seen | {pair})

    def keywords(
        self,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        ptr: str,
        context: Context,
        label: str,
        seen: frozenset[tuple[str, str]],
    ) -> None:
        old_types, new_types = _types(old), _types(new)
        if old_types != new_types:
            if old_types - {"null"} == new_types - {"null"}:
                kind = "nullable-added" if "null" in new_types else "nullable-removed"
                self.add(kind, ptr, f"`{label}`: {'now' if 'null' in new_types else 'no longer'} nullable", context)
            else:
                shown = ", ".join(sorted(old_types)) or "any", ", ".join(sorted(new_types)) or "any"
                self.add("type-changed", ptr, f"`{label}`: type {shown[0]} → {shown[1]}", context)
                return  # everything below would be noise
        if old.get("format") != new.get("format"):
            kind = "format-changed" if _python_type(old) != _python_type(new) else "format-changed-same-type"
            self.add(
                kind, _join(ptr, "format"), f"`{label}`: format {old.get('format')} → {new.get('format')}", context
            )
        self.enum(old, new, ptr, context, label)
        self.properties(old, new, ptr, context, label, seen)
        if "items" in old or "items" in new:
            self.schema(old.get("items", {}), new.get("items", {}), _join(ptr, "items"), context, f"{label}[]", seen)
        old_ap, new_ap = _additional_properties(old), _additional_properties(new)
        if isinstance(old_ap, Mapping) and isinstance(new_ap, Mapping):
            self.schema(old_ap, new_ap, _join(ptr, "additionalProperties"), context, f"{label}{{*}}", seen)
        elif old_ap != new_ap:
            self.add(
                "additional-properties-changed",
                _join(ptr, "additionalProperties"),
                f"`{label}`: additionalProperties {_show(old_ap)} → {_show(new_ap)}",
                context,
            )
        for key in ("allOf", "anyOf", "oneOf"):
            o, n = old.get(key), new.get(key)
            if o == n:
                continue
            if isinstance(o, list) and isinstance(n, list) and len(o) == len(n):
                for i, (a, b) in enumerate(zip(o, n, strict=True)):
                    self.schema(a, b, _join(ptr, key, i), context, f"{label}.{key}[{i}]", seen)
            else:
                self.add("composition-changed", _join(ptr, key), f"`{label}`: {key} changed", context)
        for key in ("not", "discriminator", "prefixItems", "if", "then", "else", "dependentSchemas"):
            if old.get(key) != new.get(key):
                self.add("composition-changed", _join(ptr, key), f"`{label}`: {key} changed", context)
        self.constraints(old, new, ptr, context, label)
        for key, kind in (("default", "default-changed"), ("deprecated", "deprecated-changed")):
            if old.get(key) != new.get(key):
                self.add(
                    kind, _join(ptr, key), f"`{label}`: {key} {_show(old.get(key))} → {_show(new.get(key))}", context
                )
        handled = {"type", "nullable", "format", "enum", "const", "properties", "required", "items"}
        handled |= {"additionalProperties", "allOf", "anyOf", "oneOf", "not", "discriminator", "prefixItems"}
        handled |= {"if", "then", "else", "dependentSchemas", "default", "deprecated"}
        handled |= {*LOWER_BOUNDS, *UPPER_BOUNDS, *OTHER_CONSTRAINTS}
        for key in sorted((set(old) | set(new)) - handled, key=str):
            if old.get(key) == new.get(key):
                continue
            if key in DOC_KEYWORDS:
                kind = "doc-changed"
            elif str(key).startswith("x-"):
                kind = "extension-changed"
            else:
                kind = "other-changed"
            self.add(kind, _join(ptr, str(key)), f"`{label}`: {key} changed", context)

    def enum(self, old: Mapping[str, Any], new: Mapping[str, Any], ptr: str, context: Context, label: str) -> None:
        def values(schema: Mapping[str, Any]) -> list[Any] | None:
            if "const" in schema:
                return [schema["const"]]
            enum = schema.get("enum")
            return list(enum) if isinstance(enum, list) else None

        old_values, new_values = values(old), values(new)
        if old_values == new_values:
            return
        if old_values is None or new_values is None:
            kind = "enum-introduced" if old_values is None else "enum-dropped"
            self.add(
                kind, _join(ptr, "enum"), f"`{label}`: {'now' if old_values is None else 'no longer'} an enum", context
            )
            return
        for value in [v for v in old_values if v not in new_values]:
            self.add("enum-value-removed", _join(ptr, "enum"), f"`{label}`: value {_show(value)} removed", context)
        for value in [v for v in new_values if v not in old_values]:
            self.add("enum-value-added", _join(ptr, "enum"), f"`{label}`: new value {_show(value)}", context)
        if sorted(map(str, old_values)) == sorted(map(str, new_values)):
            self.add("doc-changed", _join(ptr, "enum"), f"`{label}`: enum values reordered", context)

    def properties(
        self,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        ptr: str,
        context: Context,
        label: str,
        seen: frozenset[tuple[str, str]],
    ) -> None:
        old_props, new_props = _mapping(old.get("properties")), _mapping(new.get("properties"))
        old_req, new_req = set(old.get("required") or ()), set(new.get("required") or ())
        removed, added = set(old_props) - set(new_props), set(new_props) - set(old_props)
        renames = _pair_renames(removed, added, old_props, new_props)
        for name in sorted(removed):
            if name in renames:
                self.add(
                    "property-renamed",
                    _join(ptr, "properties", renames[name]),
                    f"`{label}.{name}` renamed to `{renames[name]}`? (removed and added with the same schema)",
                    context,
                )
            else:
                self.add(
                    "property-removed",
                    _join(ptr, "properties", name),
                    f"`{label}.{name}` removed",
                    context,
                    side="base",
                )
        for name in sorted(added - set(renames.values())):
            kind = "property-added-required" if name in new_req else "property-added-optional"
            adjective = "required" if name in new_req else "optional"
            self.add(kind, _join(ptr, "properties", name), f"`{label}.{name}` added ({adjective})", context)
        for name in sorted(set(old_props) & set(new_props)):
            sub = _join(ptr, "properties", name)
            if (name in old_req) != (name in new_req):
                now = name in new_req
                kind = "property-became-required" if now else "property-became-optional"
                self.add(
                    kind,
                    _join(ptr, "required"),
                    f"`{label}.{name}` became {'required' if now else 'optional'}",
                    context,
                )
            self.schema(old_props[name], new_props[name], sub, context, f"{label}.{name}", seen)

    def constraints(
        self, old: Mapping[str, Any], new: Mapping[str, Any], ptr: str, context: Context, label: str
    ) -> None:
        for key in (*LOWER_BOUNDS, *UPPER_BOUNDS, *OTHER_CONSTRAINTS):
            o, n = old.get(key), new.get(key)
            if o == n:
                continue
            numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (o, n) if v is not None)
            if key in LOWER_BOUNDS and numeric:
                tighter = o is None or (n is not None and n > o)
            elif key in UPPER_BOUNDS and numeric:
                tighter = o is None or (n is not None and n < o)
            elif key == "uniqueItems":
                tighter = bool(n)
            else:
                self.add("constraint-changed", _join(ptr, key), f"`{label}`: {key} {_show(o)} → {_show(n)}", context)
                continue
            kind = "constraint-tightened" if tighter else "constraint-loosened"
            self.add(kind, _join(ptr, key), f"`{label}`: {key} {_show(o)} → {_show(n)}", context)


def compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Every change from ``old`` to ``new`` (parsed OpenAPI documents), classified, most severe first."""
    return Differ(old, new).run()


def _major(doc: Mapping[str, Any]) -> int | None:
    version = str(_mapping(doc.get("info")).get("version", ""))
    head = version.split(".", 1)[0].lstrip("v")
    return int(head) if head.isdigit() else None


@dataclass(frozen=True)
class Report:
    """The classified changes between two specs and the verdict for the package."""

    base_label: str
    head_label: str
    base_version: str
    head_version: str
    changes: tuple[Change, ...]

    @property
    def counts(self) -> dict[str, int]:
        return {cls: sum(1 for c in self.changes if c.classification == cls) for cls in CLASSES}

    @property
    def major_raised(self) -> bool:
        old, new = _major({"info": {"version": self.base_version}}), _major({"info": {"version": self.head_version}})
        return old is not None and new is not None and new > old

    @property
    def verdict(self) -> str:
        counts = self.counts
        if counts["breaking"]:
            return "breaking (major version raised)" if self.major_raised else "breaking"
        if counts["announced"]:
            return "announced"
        return "compatible" if self.changes else "unchanged"

    @property
    def exit_code(self) -> int:
        return 1 if self.counts["breaking"] and not self.major_raised else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "base": {"source": self.base_label, "info_version": self.base_version},
            "head": {"source": self.head_label, "info_version": self.head_version},
            "verdict": self.verdict,
            "major_raised": self.major_raised,
            "exit_code": self.exit_code,
            "counts": self.counts,
            "changes": [c.to_json() for c in self.changes],
        }

    def summary(self) -> str:
        counts = self.counts
        parts = ", ".join(f"{counts[cls]} {cls}" for cls in CLASSES)
        return f"{self.verdict}: {parts} (info.version {self.base_version} → {self.head_version})"

    def markdown(self, heading: str = "## Spec change report") -> str:
        lines = [REPORT_MARKER, heading, ""]
        lines.append(
            f"Base `{self.base_label}` (info.version {self.base_version}) → head `{self.head_label}` "
            f"(info.version {self.head_version})."
        )
        lines.append("")
        lines.append(f"**Verdict: {self.verdict}** ({', '.join(f'{n} {cls}' for cls, n in self.counts.items())}).")
        if self.counts["breaking"]:
            lines.append("")
            if self.major_raised:
                lines.append("The major version of `info.version` was raised, so the breaking changes may ship.")
            else:
                lines.append(
                    "Breaking changes need a new major version: raise the major of `info.version` in the spec "
                    "(the package version is `{info.version}.{overrides/REVISION}`)."
                )
        lines.extend(["", *changes_markdown(self.changes, level="###")])
        return "\n".join(lines).rstrip() + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def changes_markdown(changes: Iterable[Change], level: str = "###") -> list[str]:
    """The changes as Markdown tables, one section per classification (empty sections left out)."""
    lines: list[str] = []
    changes = list(changes)
    if not changes:
        return ["No changes."]
    for cls in CLASSES:
        group = [c for c in changes if c.classification == cls]
        if not group:
            continue
        lines.extend(
            [f"{level} {cls.capitalize()} ({len(group)})", "", "| Change | Where | Details |", "|---|---|---|"]
        )
        for c in group:
            where = f"`{_cell(c.pointer)}`" + (" (base)" if c.side == "base" else "")
            lines.append(f"| {c.kind} | {where} | {_cell(c.message)} |")
        lines.append("")
    return lines


def rules_markdown() -> str:
    """The classification table, as documented in the README and the report."""
    lines = ["| Kind of change | In requests | In responses | Why |", "|---|---|---|---|"]
    lines.extend(f"| {kind} | {r.request} | {r.response} | {_cell(r.reason)} |" for kind, r in RULES.items())
    return "\n".join(lines) + "\n"


class UsageError(Exception):
    """A spec that cannot be read: exit status 2."""


def parse(text: str, source: str) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or "openapi" not in doc:
        raise UsageError(f"{source}: not an OpenAPI document")
    return doc


def load(source: str, root: Path = ROOT, spec_path: str = SPEC_PATH) -> dict[str, Any]:
    """A spec from a file, or from a git revision (``git show REV:spec/m3ter-billing.yaml``) when no such file."""
    path = Path(source)
    if path.is_file():
        return parse(path.read_text(encoding="utf-8"), source)
    result = subprocess.run(
        ["git", "show", f"{source}:{spec_path}"], cwd=root, capture_output=True, text=True, encoding="utf-8"
    )
    if result.returncode != 0:
        raise UsageError(f"{source}: neither a file nor a git revision with {spec_path}: {result.stderr.strip()}")
    return parse(result.stdout, f"{source}:{spec_path}")


def report(base: Mapping[str, Any], head: Mapping[str, Any], base_label: str, head_label: str) -> Report:
    return Report(
        base_label=base_label,
        head_label=head_label,
        base_version=str(_mapping(base.get("info")).get("version")),
        head_version=str(_mapping(head.get("info")).get("version")),
        changes=tuple(compare(base, head)),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="spec_diff.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", help="git revision (reads REV:spec/m3ter-billing.yaml) or a file")
    parser.add_argument("--head", default=str(ROOT / SPEC_PATH), help="the new spec file (default: the working tree's)")
    parser.add_argument("--markdown", type=Path, help="write the Markdown report here (default: stdout)")
    parser.add_argument("--json", type=Path, help="write the JSON report here")
    parser.add_argument("--rules", action="store_true", help="print the classification table and exit")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    if args.rules:
        sys.stdout.write(rules_markdown())
        return 0
    if args.base is None:
        parser.print_usage(sys.stderr)
        print("spec_diff.py: error: --base is required", file=sys.stderr)
        return 2
    try:
        head_path = Path(args.head)
        if not head_path.is_file():
            raise UsageError(f"{args.head}: no such file")
        result = report(load(args.base), parse(head_path.read_text(encoding="utf-8"), args.head), args.base, args.head)
    except UsageError as exc:
        print(f"spec_diff: {exc}", file=sys.stderr)
        return 2
    markdown = result.markdown()
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown, encoding="utf-8")
    else:
        sys.stdout.write(markdown)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"spec_diff: {result.summary()}", file=sys.stderr)
    return result.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
