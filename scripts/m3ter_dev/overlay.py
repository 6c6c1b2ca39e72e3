"""``scripts/apply_overlay.py``: apply an OpenAPI Overlay 1.0 document to the spec.

    .venv/bin/python scripts/apply_overlay.py drift.yaml                  # spec/m3ter-billing.yaml, in place
    .venv/bin/python scripts/apply_overlay.py drift.yaml --spec other.yaml
    .venv/bin/python scripts/apply_overlay.py drift.yaml --check          # exit 1 when it would change the spec

The overlay is what ``m3ter-conformance --suggest-overlay`` writes, or any Overlay 1.0.x document
(https://spec.openapis.org/overlay/v1.0.0): its actions run in order, each ``target`` an RFC 9535 JSONPath
(python-jsonpath, strict mode) selecting objects or arrays. ``update`` on an object must be an object: it
merges recursively (an object into an object, anything else replaces); on an array it appends the entry
(never null), unless an equal entry is already there, so applying the same overlay twice changes nothing the
second time. ``remove: true`` removes what the target selects. A node the target selects twice (``[1,1]``)
is acted on once. An action changes only the places its target selects: a node the YAML shares with another
place (an ``&anchor`` and its ``*alias``) is copied there first, so the written spec no longer aliases it.

All actions are applied in memory first: a malformed overlay, another overlay version, a target that selects
nothing (or a string, number or null), a JSONPath outside RFC 9535: exit 2 with the action's index and
nothing is written. So is a result that is not valid OpenAPI (openapi-spec-validator) when the spec was.
The spec is rewritten only where it changed: YAML goes through ruamel.yaml's round trip and only the changed
lines are spliced into the original text, so comments, quoting and the wrapping of the hand-curated
descriptions stay as they were (a spec whose text cannot be spliced is written whole).
Exit status: 0 applied (or nothing to change), 1 ``--check`` and the spec would change, 2 an error.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import io
import json
import re
import sys
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonpath import JSONPathEnvironment, JSONPathError
from jsonschema.exceptions import ValidationError
from openapi_spec_validator import validate
from openapi_spec_validator.exceptions import OpenAPISpecValidatorError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError as RuamelError

from .layout import SPEC, repo_path

SUPPORTED = re.compile(r"^1\.0\.\d+$")
_ACTION_KEYS = frozenset({"target", "description", "update", "remove"})
_OVERLAY_KEYS = frozenset({"overlay", "info", "extends", "actions"})
_JSONPATH = JSONPathEnvironment(strict=True)


class OverlayError(Exception):
    """The overlay cannot be applied; the message says what to fix. Nothing was written."""


class MalformedOverlay(OverlayError):
    """Not an Overlay document: a required field missing, a field of the wrong type, an unknown field."""


class UnsupportedOverlayVersion(OverlayError):
    """An ``overlay`` version other than 1.0.x."""


class TargetError(OverlayError):
    """A target that is not a JSONPath, selects nothing, or selects something an action cannot change."""


class SpecFileError(OverlayError):
    """The spec cannot be read or parsed."""


class InvalidResult(OverlayError):
    """The overlay would leave a valid OpenAPI spec invalid."""


@dataclass(frozen=True, slots=True)
class Action:
    index: int
    target: str
    update: Any
    remove: bool
    has_update: bool


def _read(path: Path, what: str, error: type[OverlayError]) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"cannot read the {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise error(f"the {what} {path} is not UTF-8 text (byte {exc.start})") from None


def parse_overlay(text: str, name: str = "the overlay") -> list[Action]:
    """The actions of an Overlay 1.0.x document (YAML or JSON), checked against the specification."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MalformedOverlay(f"{name} is not YAML or JSON: {exc}") from None
    if not isinstance(document, Mapping):
        raise MalformedOverlay(f"{name} is not an Overlay document (an object with overlay, info and actions)")
    version = document.get("overlay")
    if version is None:
        raise MalformedOverlay(f"{name} has no `overlay` field (the Overlay version, e.g. 1.0.0)")
    if not isinstance(version, str) or not SUPPORTED.match(version):
        raise UnsupportedOverlayVersion(
            f"{name} says overlay {version!r}; this tool applies Overlay 1.0.x documents (write `overlay: 1.0.0`)"
        )
    unknown = sorted(str(k) for k in document if k not in _OVERLAY_KEYS and not str(k).startswith("x-"))
    if unknown:
        raise MalformedOverlay(f"{name} has unknown field(s) {', '.join(unknown)} (Overlay 1.0 allows x- ones)")
    info = document.get("info")
    if not isinstance(info, Mapping) or not all(isinstance(info.get(k), str) for k in ("title", "version")):
        raise MalformedOverlay(f"{name} needs `info` with a string `title` and `version`")
    actions = document.get("actions")
    if not isinstance(actions, list) or not actions:
        raise MalformedOverlay(f"{name} needs `actions`: a list of at least one action (Overlay 1.0)")
    return [_action(index, raw, name) for index, raw in enumerate(actions)]


def _action(index: int, raw: Any, name: str) -> Action:
    where = f"{name}: actions[{index}]"
    if not isinstance(raw, Mapping):
        raise MalformedOverlay(f"{where} is not an object with target and update or remove")
    unknown = sorted(str(k) for k in raw if k not in _ACTION_KEYS and not str(k).startswith("x-"))
    if unknown:
        raise MalformedOverlay(f"{where} has unknown field(s) {', '.join(unknown)}")
    target = raw.get("target")
    if not isinstance(target, str) or not target:
        raise MalformedOverlay(f"{where} needs a `target` (a JSONPath string)")
    remove = raw.get("remove", False)
    if not isinstance(remove, bool):
        raise MalformedOverlay(f"{where}: `remove` must be true or false")
    if not remove and "update" not in raw:
        raise MalformedOverlay(f"{where} has neither `update` nor `remove: true`: it would do nothing")
    if not remove and raw["update"] is None:
        raise MalformedOverlay(
            f"{where}: `update` is null: give an object to merge, or an entry to append to an array "
            "(`remove: true` removes)"
        )
    if "description" in raw and not isinstance(raw["description"], str):
        raise MalformedOverlay(f"{where}: `description` must be a string")
    try:
        _JSONPATH.compile(target)
    except JSONPathError as exc:
        first = str(exc).splitlines()[0]
        raise TargetError(f"{where}: target {target!r} is not an RFC 9535 JSONPath ({first})") from None
    return Action(index, target, raw.get("update"), remove, "update" in raw)


def _merge(node: MutableMapping[Any, Any], update: Mapping[Any, Any], shared: set[int]) -> None:
    """Merge ``update`` into ``node``: objects recursively, anything else replaces (new keys in sorted place
    when the object's keys are sorted, else at the end). An object merged into that is also reachable elsewhere
    (``shared``) is replaced by a copy first, so the merge changes only this place."""
    for key, value in update.items():
        current = node.get(key)
        if isinstance(current, MutableMapping) and isinstance(value, Mapping):
            if id(current) in shared:
                current = node[key] = copy.deepcopy(current)
            _merge(current, value, shared)
        elif key in node:
            if current != value:
                node[key] = copy.deepcopy(value)
        else:
            _insert(node, key, copy.deepcopy(value))


def _insert(node: MutableMapping[Any, Any], key: Any, value: Any) -> None:
    keys = [str(k) for k in node]
    insert = getattr(node, "insert", None)
    if insert is not None and keys and keys == sorted(keys):
        position = next((i for i, k in enumerate(keys) if k > str(key)), len(keys))
        insert(position, key, value)
    else:
        node[key] = value


def _shared(document: Any) -> set[int]:
    """The ids of the objects and arrays the document holds in more than one place (a YAML anchor and its
    aliases: one Python object under several paths)."""
    seen: set[int] = set()
    shared: set[int] = set()
    stack = [document]
    while stack:
        node = stack.pop()
        children = node.values() if isinstance(node, Mapping) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, MutableMapping | MutableSequence):
                if id(child) in seen:
                    shared.add(id(child))
                else:
                    seen.add(id(child))
                    stack.append(child)
    return shared


def _own(document: Any, parts: Sequence[str | int], shared: set[int]) -> Any:
    """The node at ``parts``, every object or array on the way there (itself included) that is also held
    elsewhere replaced by a copy of its own: changing it then changes only what the target selected (the YAML
    no longer aliases it there)."""
    node = document
    for part in parts:
        child = node[part]
        if id(child) in shared:
            child = node[part] = copy.deepcopy(child)
        node = child
    return node


def _deepest_last_first(parts: Sequence[str | int]) -> tuple[int, list[tuple[int, int, str]]]:
    """The sort key that removes the deepest, then the last, node first (indexes numerically; a mapping's
    keys of mixed types still compare)."""
    return len(parts), [(0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in parts]


def apply(document: Any, actions: Sequence[Action]) -> None:
    """Apply ``actions`` to ``document`` in place, in order (each sees the result of the ones before)."""
    for action in actions:
        where = f"actions[{action.index}] (target {action.target!r})"
        # a node selected twice (`[1,1]`, overlapping filters) is acted on once
        unique = {tuple(match.parts): match for match in _JSONPATH.compile(action.target).finditer(document)}
        matches = list(unique.values())
        if not matches:
            raise TargetError(f"{where} selects nothing in the spec: check the target (or the spec it was made for)")
        for match in matches:
            if not isinstance(match.obj, MutableMapping | MutableSequence):
                raise TargetError(
                    f"{where} selects {match.path}, a {type(match.obj).__name__}: targets select objects or arrays"
                )
        shared = _shared(document)
        if action.remove:
            if any(not match.parts for match in matches):
                raise TargetError(f"{where} selects the whole document: it cannot be removed")
            # the deepest (then the last) first, so removing one never moves another
            for match in sorted(matches, key=lambda m: _deepest_last_first(m.parts), reverse=True):
                parent = _own(document, match.parts[:-1], shared)
                try:
                    del parent[match.parts[-1]]
                except (KeyError, IndexError) as exc:
                    raise TargetError(f"{where}: {match.path} cannot be removed ({type(exc).__name__})") from None
                if shared:
                    shared = _shared(document)
            continue
        for match in matches:
            node = _own(document, match.parts, shared)
            if isinstance(node, MutableMapping):
                if not isinstance(action.update, Mapping):
                    raise TargetError(f"{where} selects the object {match.path}: `update` must be an object to merge")
                _merge(node, action.update, shared)
            elif isinstance(node, MutableSequence) and action.update not in list(node):
                node.append(copy.deepcopy(action.update))
            if shared:
                shared = _shared(document)


def _yaml() -> YAML:
    handler = YAML()
    handler.preserve_quotes = True
    handler.width = 120
    handler.indent(mapping=2, sequence=2, offset=0)
    return handler


def _dump(handler: YAML, document: Any) -> str:
    out = io.StringIO()
    handler.dump(document, out)
    return out.getvalue()


def splice(original: str, before: str, after: str) -> str | None:
    """``original`` with the line changes from ``before`` to ``after``, where ``before`` is ``original`` as the
    YAML library writes it (other wrapping of long lines); None when a change touches a line that differs."""
    source, old, new = (text.splitlines(keepends=True) for text in (original, before, after))
    mapped: dict[int, int] = {}
    for block in difflib.SequenceMatcher(None, source, old, autojunk=False).get_matching_blocks():
        mapped.update({block.b + k: block.a + k for k in range(block.size)})
    out: list[str] = []
    position = 0  # next line of source to copy
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if i1 < i2:  # replace or delete: every old line must be a source line, in one run
            lines = [mapped.get(i) for i in range(i1, i2)]
            if None in lines or lines != list(range(lines[0] or 0, (lines[0] or 0) + len(lines))):
                return None
            start, end = lines[0] or 0, (lines[-1] or 0) + 1
        elif i1 in mapped:  # insert before old line i1
            start = end = mapped[i1]
        elif i1 - 1 in mapped:  # insert after old line i1 - 1
            start = end = mapped[i1 - 1] + 1
        else:
            return None
        if start < position:
            return None
        out.extend(source[position:start])
        out.extend(new[j1:j2])
        position = end
    out.extend(source[position:])
    return "".join(out)


def _invalid(document: Any) -> str | None:
    """Why ``document`` is not a valid OpenAPI description (openapi-spec-validator, as the spec's tests check
    it), in one line; None when it is."""
    version = document.get("openapi") if isinstance(document, Mapping) else None
    if not isinstance(version, str):
        return f"`openapi` is {version!r}, not an OpenAPI version string"
    try:
        validate(document)
    except ValidationError as exc:
        where = getattr(exc, "json_path", None) or "$"
        message = exc.message.splitlines()[0] if exc.message else type(exc).__name__
        return f"{message[:160]} at {where}"
    except OpenAPISpecValidatorError as exc:
        return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    except Exception as exc:  # the validator fails on some invalid documents instead of saying so
        return f"the validator cannot read it ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
    return None


def apply_to_file(overlay_path: Path, spec_path: Path, *, check: bool = False) -> bool:
    """Apply the overlay at ``overlay_path`` to the spec at ``spec_path``; True when the spec changed (with
    ``check``: would change; nothing is written)."""
    actions = parse_overlay(_read(overlay_path, "overlay", MalformedOverlay), str(overlay_path))
    original = _read(spec_path, "spec", SpecFileError)
    if spec_path.suffix.lower() == ".json":
        try:
            document = json.loads(original)
        except ValueError as exc:
            raise SpecFileError(f"the spec {spec_path} is not JSON: {exc}") from None
        apply(document, actions)
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        changed = bool(json.loads(text) != json.loads(original))
    else:
        handler = _yaml()
        try:
            document = handler.load(original)
        except RuamelError as exc:
            raise SpecFileError(f"the spec {spec_path} is not YAML: {exc}") from None
        before = _dump(handler, document)
        apply(document, actions)
        after = _dump(handler, document)
        changed = after != before
        spliced = splice(original, before, after) if changed else original
        # the splice must say exactly what the library wrote, else the library's text is written
        text = spliced if spliced is not None and yaml.safe_load(spliced) == yaml.safe_load(after) else after
    if changed:
        load = json.loads if spec_path.suffix.lower() == ".json" else yaml.safe_load
        problem = _invalid(load(text))
        # only a spec that was valid OpenAPI must stay so (a fragment, a work in progress is not judged)
        if problem is not None and _invalid(load(original)) is None:
            raise InvalidResult(f"the overlay would leave {spec_path} invalid OpenAPI: {problem}")
    if changed and not check:
        spec_path.write_text(text, encoding="utf-8")
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="apply_overlay.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("overlay", type=Path, help="the Overlay 1.0 document (YAML or JSON)")
    parser.add_argument("--spec", type=Path, default=SPEC, help=f"the spec to change (default {repo_path(SPEC)})")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when the spec would change")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    try:
        changed = apply_to_file(args.overlay, args.spec, check=args.check)
    except OverlayError as exc:
        print(f"apply_overlay: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    spec = repo_path(args.spec)
    if args.check:
        print(f"apply_overlay: {spec} {'would change' if changed else 'already has every change'}")
        return 1 if changed else 0
    if changed:
        print(
            f"apply_overlay: {spec} changed; next: raise its info.version, then .venv/bin/python scripts/regenerate.py"
        )
    else:
        print(f"apply_overlay: {spec} unchanged (every change was already there)")
    return 0


__all__ = [
    "Action",
    "InvalidResult",
    "MalformedOverlay",
    "OverlayError",
    "SpecFileError",
    "TargetError",
    "UnsupportedOverlayVersion",
    "apply",
    "apply_to_file",
    "main",
    "parse_overlay",
    "splice",
]
