"""Hatchling metadata hook: the harness's dependency on the client (m3ter-billing, built from generated/).

The client is on no package index, so how the harness names it depends on what is being built:

- from a checkout (``pip install .``, ``pip install -e .``, ``scripts/bootstrap.py``): a path dependency,
  ``m3ter-billing @ file:///<checkout>/generated``, which pip builds from the folder next to this file;
- with ``M3TER_CLIENT_REQUIREMENT=version``: a version range, ``m3ter-billing>=<the generated version>,<next
  major>``. ``scripts/build_dists.py`` sets it, so a wheel installs next to the client's wheel or from an
  index and names no path of the machine that built it; so does ``scripts/bootstrap.py``, which installs
  generated/ itself, editable (pip refuses a path dependency and an editable install of the same folder).

The other dependencies are the ``dependencies`` list of ``[tool.hatch.metadata.hooks.custom]`` in
pyproject.toml. A wheel built from the sdist takes its dependencies from the sdist's PKG-INFO, so this hook
does not run there (and generated/ need not be in the sdist).
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface

CLIENT = "m3ter-billing"
REQUIREMENT_ENV = "M3TER_CLIENT_REQUIREMENT"  # "path" (the default) or "version"


def client_requirement(root: Path, kind: str) -> str:
    generated = root / "generated"
    if kind not in ("path", "version"):
        raise ValueError(f"{REQUIREMENT_ENV}={kind!r}: use 'path' (the default) or 'version'")
    if kind == "path":
        return f"{CLIENT} @ {generated.resolve().as_uri()}"
    version = tomllib.loads((generated / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    major = re.match(r"\d+", version)
    if major is None:
        raise ValueError(f"generated/pyproject.toml: version {version!r} does not start with a major number")
    return f"{CLIENT}>={version},<{int(major.group()) + 1}"


class ClientDependencyHook(MetadataHookInterface):
    PLUGIN_NAME = "custom"

    def update(self, metadata: dict[str, Any]) -> None:
        metadata["dependencies"] = [
            client_requirement(Path(self.root), os.environ.get(REQUIREMENT_ENV) or "path"),
            *self.config.get("dependencies", []),
        ]
