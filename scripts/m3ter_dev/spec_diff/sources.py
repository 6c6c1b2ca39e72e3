"""Reading a spec to compare: a file, or the spec at a git revision."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from ..layout import ROOT, SPEC_PATH


class UsageError(Exception):
    """A spec that cannot be read: exit status 2."""


def parse(text: str, source: str) -> dict[str, Any]:
    """The OpenAPI document in ``text`` (``source`` names it in errors)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or "openapi" not in doc:
        raise UsageError(f"{source}: not an OpenAPI document")
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
