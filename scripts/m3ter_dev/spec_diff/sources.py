"""Reading a spec to compare: a file, or the spec at a git revision."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from ..layout import ROOT, SPEC_PATH


class UsageError(Exception):
    """A spec that cannot be read: exit status 2."""


# A spec's nodes with every alias expanded (what the generator and a JSON dump of it see): the spec has about
# 2,000; an alias bomb (anchors of anchors) a billion from a few lines.
MAX_NODES = 1_000_000


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, refusing a mapping key given twice (YAML forbids it; PyYAML keeps the last, and
    the generator, which refuses the file, would then disagree with the diff)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in seen
            except TypeError:  # an unhashable key: construct_mapping says so
                break
            if repeated:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _expanded_size(doc: Any) -> int:
    """How many nodes ``doc`` has with every shared (aliased) node counted each time it is used."""
    sizes: dict[int, int] = {}

    def size(node: Any) -> int:
        if not isinstance(node, dict | list):
            return 1
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = 1  # a node reached again inside itself (a recursive alias): counted once
        children = node.values() if isinstance(node, dict) else node
        total = 1 + sum(size(child) for child in children)
        sizes[id(node)] = total
        return total

    return size(doc)


def parse(text: str, source: str) -> dict[str, Any]:
    """The OpenAPI document in ``text`` (``source`` names it in errors): valid YAML without a key given twice,
    at most :data:`MAX_NODES` nodes once its aliases are expanded, with ``openapi`` and ``info.version``."""
    try:
        doc = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise UsageError(f"{source}: not valid YAML: {' '.join(str(exc).split())}") from exc
    except RecursionError:
        raise UsageError(f"{source}: nested too deeply to read") from None
    if not isinstance(doc, dict) or "openapi" not in doc:
        raise UsageError(f"{source}: not an OpenAPI document")
    try:
        nodes = _expanded_size(doc)
    except RecursionError:
        raise UsageError(f"{source}: nested too deeply to read") from None
    if nodes > MAX_NODES:
        raise UsageError(
            f"{source}: {nodes:,} nodes once its YAML aliases are expanded, more than {MAX_NODES:,} (an alias bomb?)"
        )
    info = doc.get("info")
    version = info.get("version") if isinstance(info, dict) else None
    if not isinstance(version, str | int | float) or isinstance(version, bool) or not str(version).strip():
        raise UsageError(f"{source}: info.version is missing or not a version")
    return doc


def load(source: str, root: Path = ROOT) -> dict[str, Any]:
    """A spec from a file, or from a git revision (``git show REV:spec/m3ter-billing.yaml``) when no such file."""
    path = Path(source)
    if path.is_file():
        return parse(path.read_text(encoding="utf-8"), source)
    result = subprocess.run(
        ["git", "show", f"{source}:{SPEC_PATH}"], cwd=root, capture_output=True, text=True, encoding="utf-8"
    )
    if result.returncode != 0:
        raise UsageError(f"{source}: neither a file nor a git revision with {SPEC_PATH}: {result.stderr.strip()}")
    return parse(result.stdout, f"{source}:{SPEC_PATH}")
