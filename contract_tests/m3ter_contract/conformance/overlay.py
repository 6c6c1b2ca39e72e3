"""``--suggest-overlay PATH``: the drift of a run as an OpenAPI Overlay 1.0.0 document for the spec it judged by.

One action per unknown field (``target`` the schema object that lacks it, ``update`` ``{properties: {name:
schema}}`` with the schema inferred from every value seen, see :mod:`m3ter_contract.rules.drift`) and one per
unknown enum value (``target`` the enum array, ``update`` the value: Overlay 1.0 appends it). Actions are
sorted by target, then name, so the same drift always writes the same document; YAML or JSON by the file's
extension. ``scripts/apply_overlay.py`` applies it to ``spec/``.

No value of the server's is copied, only types, formats and names. A field name or enum value that the
reports' redaction would change (it looks like a secret, a signed URL, or holds control characters) is left
out and counted under ``x-m3ter-left-out``. Drift that no single place of the spec holds is listed there too.
Overlay 1.0.0 requires at least one action: a run without drift writes one that changes nothing (target
``$``, an empty ``update``), and ``info.x-m3ter-drift`` says ``none``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from ..rules.drift import DriftLog, Pointer
from .redact import shown
from .runner import RunResult

OVERLAY_VERSION = "1.0.0"
EXTENSIONS = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}
LEARNED = "Not in the spec: learned from responses by m3ter-conformance --suggest-overlay (check it with m3ter)."
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def overlay_format(path: Path) -> str:
    """``yaml`` or ``json`` for ``path``'s extension; ValueError naming the ones accepted."""
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path} must end in {', '.join(EXTENSIONS)} (the overlay's format follows it)")
    return fmt


def json_path(pointer: Pointer) -> str:
    """The RFC 9535 JSONPath selecting exactly ``pointer``: ``$.components.schemas.BillResponse``, names that
    are not plain identifiers in brackets (``$.paths['/bills/{id}']``)."""
    out = "$"
    for name in pointer:
        if _NAME.match(name):
            out += f".{name}"
        else:
            escaped = name.replace("\\", "\\\\").replace("'", "\\'")
            out += "['" + "".join(ch if ord(ch) >= 0x20 else f"\\u{ord(ch):04x}" for ch in escaped) + "']"
    return out


def _safe(text: str) -> bool:
    """True when ``text`` passes the reports' redaction unchanged (no secret, no signed URL, printable)."""
    return shown(text) == text


def build(drift: DriftLog, responses: int) -> dict[str, Any]:
    """The overlay document for ``drift`` (``responses``: how many the run judged, for the summary)."""
    actions: list[dict[str, Any]] = []
    left_out: list[str] = []
    for (pointer, name), seen in sorted(drift.fields.items()):
        where = ".".join(pointer)
        if not _safe(name) or not all(map(_safe, pointer)):
            left_out.append(f"a field of {where} whose name looks like a secret (left out)")
            continue
        sketch = seen.sketch
        hidden = frozenset(n for n in sketch.names() if not _safe(n))
        if hidden:
            sketch = sketch.without(hidden)
            left_out.append(f"{len(hidden)} member name(s) inside {where}.{name} that look like secrets (left out)")
        schema = {**sketch.schema(openapi=drift.openapi), "description": LEARNED}
        endpoints = ", ".join(sorted(seen.endpoints))
        actions.append(
            {
                "target": json_path(pointer),
                "description": f"Add field {name!r} to {where}: seen {seen.seen} time(s) in {endpoints}",
                "update": {"properties": {name: schema}},
            }
        )
    for (pointer, value), seen in sorted(drift.enums.items()):
        where = ".".join(pointer)
        if not _safe(value) or not all(map(_safe, pointer)):
            left_out.append(f"a value of the enum {where} that looks like a secret (left out)")
            continue
        actions.append(
            {
                "target": json_path((*pointer, "enum")),
                "description": f"Add {value!r} to the enum {where}: seen {seen.seen} time(s) in "
                f"{', '.join(sorted(seen.endpoints))}",
                "update": value,
            }
        )
    for path, count in sorted(drift.unplaced.items()):
        left_out.append(
            f"drift at {shown(path)} ({count} time(s)): no single place of the spec holds its schema; edit by hand"
        )
    fields, values = len(drift.fields), len(drift.enums)
    summary = (
        f"{fields} unknown field(s) and {values} unknown enum value(s) in {responses} response(s)"
        if fields or values or drift.unplaced
        else "none"
    )
    if not actions:
        actions.append(
            {
                "target": "$",
                "description": "No drift to apply (an Overlay 1.0 document needs one action; this one changes nothing)",
                "update": {},
            }
        )
    title = f"Drift seen by m3ter-conformance against {drift.spec_title or 'the spec'}"
    info: dict[str, Any] = {"title": title, "version": drift.spec_version or "0", "x-m3ter-drift": summary}
    document: dict[str, Any] = {"overlay": OVERLAY_VERSION, "info": info, "actions": actions}
    if left_out:
        document["x-m3ter-left-out"] = left_out
    return document


def render(document: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)


def text(result: RunResult, path: Path) -> str:
    """The overlay of a run, as ``path``'s extension says (YAML or JSON)."""
    return render(build(result.drift, result.observations), overlay_format(path))


def combined_text(results: Sequence[RunResult], path: Path) -> str:
    """One overlay for the drift of several runs against the same spec (``--config``: every organization)."""
    drift = DriftLog()
    for result in results:
        drift.merge(result.drift)
    return render(build(drift, sum(result.observations for result in results)), overlay_format(path))


__all__ = ["EXTENSIONS", "OVERLAY_VERSION", "build", "combined_text", "json_path", "overlay_format", "render", "text"]
