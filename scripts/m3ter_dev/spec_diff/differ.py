"""The differ: walks two parsed OpenAPI documents side by side and records every change as a ``Change``.

Each change is classified by its kind (``kinds.CHANGE_KINDS``) and by where the changed part travels, which
the differ carries down the document as a ``Site`` (pointer, request/response context, label).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .kinds import Change, Context, Side, classify

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DOC_KEYWORDS = frozenset({"description", "summary", "title", "example", "examples", "externalDocs", "$comment"})
LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains")
UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains")
OTHER_CONSTRAINTS = ("pattern", "multipleOf", "uniqueItems", "contentEncoding", "contentMediaType")
# string formats openapi-python-client 0.29 maps to their own Python type; any other format is a plain str
STRING_FORMAT_TYPES = {"date-time": "datetime.datetime", "date": "datetime.date", "binary": "File", "uuid": "UUID"}


def pointer(*parts: str | int) -> str:
    """A JSON pointer (URI fragment form) from unescaped reference tokens."""
    return "#" + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _join(base: str, *parts: str | int) -> str:
    return base + pointer(*parts)[1:]


@dataclass(frozen=True)
class Site:
    """Where the differ is: a JSON pointer, whether the part there is sent (request), read (response) or
    both, the label messages name it by, the ``$ref`` pairs followed to get there (a cycle guard), and
    whether the schema there is an optional property's own (its model field is ``T | None | Unset`` whether
    or not the spec allows null: ``model.py.jinja`` adds None to every optional field)."""

    pointer: str
    context: Context = "both"
    label: str = ""
    followed: frozenset[tuple[str, str]] = frozenset()
    optional_property: bool = False

    def at(
        self,
        *parts: str | int,
        label: str | None = None,
        context: Context | None = None,
        optional_property: bool = False,
    ) -> Site:
        """A place below this one (same label and context unless given; an optional property's only when said)."""
        return replace(
            self,
            pointer=_join(self.pointer, *parts),
            label=self.label if label is None else label,
            context=self.context if context is None else context,
            optional_property=optional_property,
        )

    def following(self, pair: tuple[str, str]) -> Site:
        return replace(self, followed=self.followed | {pair})


def top(*parts: str | int, label: str = "") -> Site:
    """A site at the given reference tokens from the document's root, in both contexts."""
    return Site(pointer(*parts), label=label)


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
                top("info", "version"),
                f"info.version {old_info.get('version')} → {new_info.get('version')}",
            )
        self.generic(
            {k: v for k, v in old_info.items() if k != "version"},
            {k: v for k, v in new_info.items() if k != "version"},
            top("info"),
            "doc-changed",
        )
        self.generic(self.old.get("servers"), self.new.get("servers"), top("servers"), "server-changed")
        self.generic(self.old.get("security"), self.new.get("security"), top("security"), "security-changed")
        self.paths()
        self.component_schemas()
        self.component_responses()
        old_c, new_c = _mapping(self.old.get("components")), _mapping(self.new.get("components"))
        self.generic(
            old_c.get("securitySchemes"),
            new_c.get("securitySchemes"),
            top("components", "securitySchemes"),
            "security-changed",
        )
        self.generic(old_c.get("examples"), new_c.get("examples"), top("components", "examples"), "doc-changed")
        handled = {"schemas", "responses", "securitySchemes", "examples", "parameters", "requestBodies"}
        for key in sorted((set(old_c) | set(new_c)) - handled):
            self.generic(old_c.get(key), new_c.get(key), top("components", key), "other-changed")
        for key in sorted((set(self.old) | set(self.new)) - {"openapi", "info", "servers", "security", "paths"}):
            if key != "components":
                self.generic(self.old.get(key), self.new.get(key), top(key), "other-changed")
        return sorted(set(self.changes), key=Change.sort_key)

    # -- bookkeeping ------------------------------------------------------------------------------------------

    def add(self, kind: str, at: Site, message: str, side: Side = "head") -> None:
        self.changes.append(Change(classify(kind, at.context), at.pointer, kind, message, side))

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

    def generic(self, old: object, new: object, at: Site, default: str) -> None:
        """Any structure: documentation keys are doc changes, x-* extensions, everything else ``default``."""
        if old == new:
            return
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            for key in sorted(set(old) | set(new), key=str):
                if old.get(key) == new.get(key):
                    continue
                sub = at.at(str(key))
                if key in DOC_KEYWORDS:
                    self.add("doc-changed", sub, f"{key} changed")
                elif str(key).startswith("x-"):
                    self.add("extension-changed", sub, f"{key} changed")
                elif key not in new:
                    self.add(default, sub, f"`{key}` removed", side="base")
                else:
                    self.generic(old.get(key), new.get(key), sub, default)
            return
        message = "added" if old is None else "removed" if new is None else f"{_show(old)} → {_show(new)}"
        self.add(default, at, message, side="base" if new is None else "head")

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
                    top("paths", *moved_to),
                    f"{op_id}: {key[1].upper()} {key[0]} → {moved_to[1].upper()} {moved_to[0]}",
                )
            else:
                self.add(
                    "operation-removed", top("paths", *key), f"{key[1].upper()} {key[0]} ({op_id}) removed", "base"
                )
        for key in added:
            self.add(
                "operation-added",
                top("paths", *key),
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
                top("paths", path),
                "other-changed",
            )

    def operation(
        self, old_key: tuple[str, str], new_key: tuple[str, str], old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> None:
        op = top("paths", *new_key, label=f"{new_key[1].upper()} {new_key[0]}")
        label = op.label
        if old.get("operationId") != new.get("operationId"):
            self.add(
                "operation-id-changed",
                op.at("operationId"),
                f"{label}: operationId {old.get('operationId')} → {new.get('operationId')}",
            )
        if (old.get("tags") or [None])[0] != (new.get("tags") or [None])[0]:
            self.add("tags-changed", op.at("tags"), f"{label}: tags {old.get('tags')} → {new.get('tags')}")
        elif old.get("tags") != new.get("tags"):
            self.add("doc-changed", op.at("tags"), f"{label}: secondary tags changed")
        for key, kind in (("deprecated", "deprecated-changed"), ("security", "security-changed")):
            if old.get(key) != new.get(key):
                self.add(kind, op.at(key), f"{label}: {key} {_show(old.get(key))} → {_show(new.get(key))}")
        self.generic(old.get("servers"), new.get("servers"), op.at("servers"), "server-changed")
        self.parameters(old_key, new_key, label)
        old_order, new_order = _placeholders(old_key[0]), _placeholders(new_key[0])
        old_common = [name for name in old_order if name in new_order]
        new_common = [name for name in new_order if name in old_order]
        if old_common != new_common:
            self.add(
                "path-parameter-order-changed",
                top("paths", new_key[0]),
                f"{label}: path parameters {', '.join(old_common)} → {', '.join(new_common)}",
            )
        self.request_body(old.get("requestBody"), new.get("requestBody"), op.at("requestBody", context="request"))
        self.responses(_mapping(old.get("responses")), _mapping(new.get("responses")), op.at("responses"))
        handled = {"operationId", "tags", "deprecated", "security", "servers", "parameters", "requestBody", "responses"}
        self.generic(
            {k: v for k, v in old.items() if k not in handled},
            {k: v for k, v in new.items() if k not in handled},
            op,
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
            gone = Site(old[(where, name)][1])
            self.add("parameter-removed", gone, f"{label}: {where} parameter `{name}` removed", side="base")
        for where, name in sorted(set(new) - set(old)):
            param, ptr = new[(where, name)]
            required = bool(param.get("required")) or where == "path"
            kind = "parameter-added-required" if required else "parameter-added-optional"
            adjective = "required" if required else "optional"
            self.add(kind, Site(ptr), f"{label}: {adjective} {where} parameter `{name}` added")
        for pkey in sorted(set(old) & set(new)):
            (o, _), (n, ptr) = old[pkey], new[pkey]
            at = Site(ptr, label=f"{label}: {pkey[0]} parameter `{pkey[1]}`")
            was, now = bool(o.get("required")) or pkey[0] == "path", bool(n.get("required")) or pkey[0] == "path"
            if was != now:
                kind = "parameter-became-required" if now else "parameter-became-optional"
                self.add(kind, at.at("required"), f"{at.label} became {'required' if now else 'optional'}")
            for key in ("style", "explode", "allowReserved", "allowEmptyValue"):
                if o.get(key) != n.get(key):
                    self.add(
                        "parameter-serialization-changed",
                        at.at(key),
                        f"{at.label}: {key} {_show(o.get(key))} → {_show(n.get(key))}",
                    )
            if o.get("deprecated") != n.get("deprecated"):
                self.add("deprecated-changed", at.at("deprecated"), f"{at.label}: deprecated {n.get('deprecated')}")
            sent = replace(at, context="request")
            self.schema(o.get("schema"), n.get("schema"), sent.at("schema"))
            self.content(o.get("content"), n.get("content"), sent.at("content"))
            handled = {"in", "name", "required", "style", "explode", "allowReserved", "allowEmptyValue"}
            handled |= {"deprecated", "schema", "content"}
            self.generic(
                {k: v for k, v in o.items() if k not in handled},
                {k: v for k, v in n.items() if k not in handled},
                sent,
                "other-changed",
            )

    def request_body(self, old_raw: object, new_raw: object, at: Site) -> None:
        if old_raw is None and new_raw is None:
            return
        label = at.label
        old, new = self.resolve(self.old, old_raw), self.resolve(self.new, new_raw)
        if old_raw is None:
            required = bool(new.get("required"))
            kind = "request-body-added-required" if required else "request-body-added-optional"
            self.add(kind, at, f"{label}: {'required' if required else 'optional'} request body added")
            return
        if new_raw is None:
            self.add("request-body-removed", at, f"{label}: request body removed", side="base")
            return
        if bool(old.get("required")) != bool(new.get("required")):
            now = bool(new.get("required"))
            kind = "request-body-became-required" if now else "request-body-became-optional"
            self.add(kind, at.at("required"), f"{label}: request body became {'required' if now else 'optional'}")
        self.content(old.get("content"), new.get("content"), at.at("content", label=f"{label} request"))
        old_first = next(iter(_mapping(old.get("content"))), None)
        new_first = next(iter(_mapping(new.get("content"))), None)
        if old_first is not None and new_first is not None and old_first != new_first:
            self.add(
                "request-media-type-order-changed",
                at.at("content"),
                f"{label}: the request is sent as {new_first} instead of {old_first} (the first content type)",
            )
        self.generic(
            {k: v for k, v in old.items() if k not in ("required", "content")},
            {k: v for k, v in new.items() if k not in ("required", "content")},
            at,
            "other-changed",
        )

    def content(self, old_raw: object, new_raw: object, at: Site) -> None:
        old, new = _mapping(old_raw), _mapping(new_raw)
        for media in sorted(set(old) - set(new)):
            self.add("media-type-removed", at.at(media), f"{at.label}: {media} removed", side="base")
        for media in sorted(set(new) - set(old)):
            self.add("media-type-added", at.at(media), f"{at.label}: {media} added")
        for media in sorted(set(old) & set(new)):
            o, n, sub = _mapping(old[media]), _mapping(new[media]), at.at(media)
            self.schema(o.get("schema"), n.get("schema"), sub.at("schema", label=f"{at.label} {media}"))
            self.generic(
                {k: v for k, v in o.items() if k != "schema"},
                {k: v for k, v in n.items() if k != "schema"},
                sub,
                "other-changed",
            )

    def responses(self, old_raw: Mapping[str, Any], new_raw: Mapping[str, Any], at: Site) -> None:
        # YAML reads an unquoted 200 as an int: the same status as '200'
        old, new = {str(k): v for k, v in old_raw.items()}, {str(k): v for k, v in new_raw.items()}
        label = at.label
        parsed = _parsed_status(old)
        for status in sorted(set(old) - set(new), key=str):
            kind = "error-response-removed" if not _is_success(status) else "response-removed"
            what = "parsed response" if str(status) == parsed else "response"
            self.add(kind, at.at(status), f"{label}: {what} {status} removed", side="base")
        for status in sorted(set(new) - set(old), key=str):
            self.add("response-added", at.at(status), f"{label}: response {status} added")
        for status in sorted(set(old) & set(new), key=str):
            o, n = _mapping(old[status]), _mapping(new[status])
            if "$ref" in o and o == n:
                continue  # the shared component response is compared once, by component_responses()
            if o.get("$ref") != n.get("$ref"):
                self.add(
                    "response-ref-changed",
                    at.at(status, context="response"),
                    f"{label} {status}: {o.get('$ref', 'inline')} → {n.get('$ref', 'inline')}",
                )
            self.response(
                self.resolve(self.old, o), self.resolve(self.new, n), at.at(status, label=f"{label} {status}")
            )

    def response(self, old: Mapping[str, Any], new: Mapping[str, Any], at: Site) -> None:
        read = replace(at, context="response")
        self.content(old.get("content"), new.get("content"), read.at("content"))
        self.generic(
            {k: v for k, v in old.items() if k != "content"},
            {k: v for k, v in new.items() if k != "content"},
            read,
            "other-changed",
        )

    def component_responses(self) -> None:
        old = _mapping(_mapping(self.old.get("components")).get("responses"))
        new = _mapping(_mapping(self.new.get("components")).get("responses"))
        for name in sorted(set(old) - set(new)):
            self.add(
                "response-removed", top("components", "responses", name), f"component response {name} removed", "base"
            )
        for name in sorted(set(new) - set(old)):
            self.add("response-added", top("components", "responses", name), f"component response {name} added")
        for name in sorted(set(old) & set(new)):
            self.response(
                self.resolve(self.old, old[name]),
                self.resolve(self.new, new[name]),
                top("components", "responses", name, label=f"response {name}"),
            )

    # -- schemas ----------------------------------------------------------------------------------------------

    def component_schemas(self) -> None:
        old = _mapping(_mapping(self.old.get("components")).get("schemas"))
        new = _mapping(_mapping(self.new.get("components")).get("schemas"))
        removed, added = set(old) - set(new), set(new) - set(old)
        renames = _pair_renames(removed, added, old, new)
        for name in sorted(removed):
            if name in renames:
                at = Site(pointer("components", "schemas", renames[name]), self.context_of(name))
                self.add("schema-renamed", at, f"schema {name} renamed to {renames[name]}")
            else:
                at = Site(pointer("components", "schemas", name), self.context_of(name))
                self.add("schema-removed", at, f"schema {name} removed", side="base")
        for name in sorted(added - set(renames.values())):
            self.add("schema-added", top("components", "schemas", name), f"schema {name} added")
        for name in sorted(set(old) & set(new)):
            self.schema(old[name], new[name], Site(pointer("components", "schemas", name), self.context_of(name), name))

    def schema(self, old: object, new: object, at: Site) -> None:
        if old == new:
            return
        label = at.label
        if old is None or new is None:
            self.add("type-changed", at, f"`{label}`: schema {'added' if old is None else 'removed'}")
            return
        if not isinstance(old, Mapping) or not isinstance(new, Mapping):
            self.add("type-changed", at, f"`{label}`: schema {_show(old)} → {_show(new)}")
            return
        old_ref, new_ref = old.get("$ref"), new.get("$ref")
        if old_ref is None and new_ref is None:
            self.keywords(old, new, at)
            return
        if old_ref == new_ref:  # the target is compared by component_schemas(); compare the siblings only
            self.keywords(
                {k: v for k, v in old.items() if k != "$ref"}, {k: v for k, v in new.items() if k != "$ref"}, at
            )
            return
        pair = (str(old_ref), str(new_ref))
        if pair in at.followed:
            return
        old_resolved, new_resolved = self.resolve(self.old, old), self.resolve(self.new, new)
        if _names_class(old_resolved) or _names_class(new_resolved):
            self.add(
                "schema-ref-target-changed",
                at,
                f"`{label}`: {old_ref or 'inline schema'} → {new_ref or 'inline schema'}",
            )
        # else a plain str/int/array alias: the Python type is the resolved one, compared below
        self.keywords(old_resolved, new_resolved, at.following(pair))

    def keywords(self, old: Mapping[str, Any], new: Mapping[str, Any], at: Site) -> None:
        label = at.label
        old_types, new_types = _types(old), _types(new)
        if old_types != new_types:
            if old_types - {"null"} == new_types - {"null"}:
                kind = "nullable-added" if "null" in new_types else "nullable-removed"
                if kind == "nullable-added" and at.optional_property:
                    kind = "nullable-added-optional"
                self.add(kind, at, f"`{label}`: {'now' if 'null' in new_types else 'no longer'} nullable")
            else:
                shown = ", ".join(sorted(old_types)) or "any", ", ".join(sorted(new_types)) or "any"
                self.add("type-changed", at, f"`{label}`: type {shown[0]} → {shown[1]}")
                return  # everything below would be noise
        if old.get("format") != new.get("format"):
            kind = "format-changed" if _python_type(old) != _python_type(new) else "format-changed-same-type"
            self.add(kind, at.at("format"), f"`{label}`: format {old.get('format')} → {new.get('format')}")
        self.enum(old, new, at)
        self.properties(old, new, at)
        if "items" in old or "items" in new:
            self.schema(old.get("items", {}), new.get("items", {}), at.at("items", label=f"{label}[]"))
        old_ap, new_ap = _additional_properties(old), _additional_properties(new)
        if isinstance(old_ap, Mapping) and isinstance(new_ap, Mapping):
            self.schema(old_ap, new_ap, at.at("additionalProperties", label=f"{label}{{*}}"))
        elif old_ap != new_ap:
            self.add(
                "additional-properties-changed",
                at.at("additionalProperties"),
                f"`{label}`: additionalProperties {_show(old_ap)} → {_show(new_ap)}",
            )
        for key in ("allOf", "anyOf", "oneOf"):
            o, n = old.get(key), new.get(key)
            if o == n:
                continue
            if isinstance(o, list) and isinstance(n, list) and len(o) == len(n):
                for i, (a, b) in enumerate(zip(o, n, strict=True)):
                    self.schema(a, b, at.at(key, i, label=f"{label}.{key}[{i}]"))
            else:
                self.add("composition-changed", at.at(key), f"`{label}`: {key} changed")
        for key in ("not", "discriminator", "prefixItems", "if", "then", "else", "dependentSchemas"):
            if old.get(key) != new.get(key):
                self.add("composition-changed", at.at(key), f"`{label}`: {key} changed")
        self.constraints(old, new, at)
        for key, kind in (("default", "default-changed"), ("deprecated", "deprecated-changed")):
            if old.get(key) != new.get(key):
                self.add(kind, at.at(key), f"`{label}`: {key} {_show(old.get(key))} → {_show(new.get(key))}")
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
            self.add(kind, at.at(str(key)), f"`{label}`: {key} changed")

    def enum(self, old: Mapping[str, Any], new: Mapping[str, Any], at: Site) -> None:
        def values(schema: Mapping[str, Any]) -> list[Any] | None:
            if "const" in schema:
                return [schema["const"]]
            enum = schema.get("enum")
            return list(enum) if isinstance(enum, list) else None

        label, where = at.label, at.at("enum")
        old_values, new_values = values(old), values(new)
        if old_values == new_values:
            return
        if old_values is None or new_values is None:
            kind = "enum-introduced" if old_values is None else "enum-dropped"
            self.add(kind, where, f"`{label}`: {'now' if old_values is None else 'no longer'} an enum")
            return
        for value in [v for v in old_values if v not in new_values]:
            self.add("enum-value-removed", where, f"`{label}`: value {_show(value)} removed")
        for value in [v for v in new_values if v not in old_values]:
            self.add("enum-value-added", where, f"`{label}`: new value {_show(value)}")
        if sorted(map(str, old_values)) == sorted(map(str, new_values)):
            self.add("doc-changed", where, f"`{label}`: enum values reordered")

    def properties(self, old: Mapping[str, Any], new: Mapping[str, Any], at: Site) -> None:
        label = at.label
        old_props, new_props = _mapping(old.get("properties")), _mapping(new.get("properties"))
        old_req, new_req = set(old.get("required") or ()), set(new.get("required") or ())
        removed, added = set(old_props) - set(new_props), set(new_props) - set(old_props)
        renames = _pair_renames(removed, added, old_props, new_props)
        for name in sorted(removed):
            if name in renames:
                self.add(
                    "property-renamed",
                    at.at("properties", renames[name]),
                    f"`{label}.{name}` renamed to `{renames[name]}`? (removed and added with the same schema)",
                )
            else:
                self.add("property-removed", at.at("properties", name), f"`{label}.{name}` removed", side="base")
        for name in sorted(added - set(renames.values())):
            kind = "property-added-required" if name in new_req else "property-added-optional"
            adjective = "required" if name in new_req else "optional"
            self.add(kind, at.at("properties", name), f"`{label}.{name}` added ({adjective})")
        for name in sorted(set(old_props) & set(new_props)):
            if (name in old_req) != (name in new_req):
                now = name in new_req
                kind = "property-became-required" if now else "property-became-optional"
                self.add(kind, at.at("required"), f"`{label}.{name}` became {'required' if now else 'optional'}")
            optional = name not in old_req and name not in new_req
            site = at.at("properties", name, label=f"{label}.{name}", optional_property=optional)
            self.schema(old_props[name], new_props[name], site)

    def constraints(self, old: Mapping[str, Any], new: Mapping[str, Any], at: Site) -> None:
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
                self.add("constraint-changed", at.at(key), f"`{at.label}`: {key} {_show(o)} → {_show(n)}")
                continue
            kind = "constraint-tightened" if tighter else "constraint-loosened"
            self.add(kind, at.at(key), f"`{at.label}`: {key} {_show(o)} → {_show(n)}")


def compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Every change from ``old`` to ``new`` (parsed OpenAPI documents), classified, most severe first."""
    return Differ(old, new).run()
