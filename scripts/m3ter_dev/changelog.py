"""generated/CHANGELOG.md: one entry per version of the generated package, from the classified spec changes.

``regenerate.build()`` calls ``update()`` for every build, so the changelog is as deterministic as the rest of
generated/ (no dates) and ``regenerate.py --check`` fails when the spec changed but generated/ was not
regenerated. Next to the changelog, generated/ keeps two copies of the spec:

* ``spec-snapshot.yaml``: the spec generated/ was built from;
* ``spec-changelog-base.yaml``: the spec the newest entry is measured from: the previous version's spec, or
  for the first version the spec it was first generated from.

A build with package version V (``{info.version}.{overrides/REVISION}``, see ``package_version()``):

* V is the newest entry's version and the spec is the one generated/ was built from: that entry is rewritten
  as the changes from spec-changelog-base.yaml to the spec (the same text: regenerating is idempotent);
* V is the newest entry's version but the spec changed (more than its layout or comments): refused with
  VersionError, as that entry may already be released (see below), unless the caller says it is not
  (``amend``, ``regenerate.py --amend``): then the entry is rewritten as above, folding the changes in
  (editing the spec twice in a branch that raised the version keeps one entry);
* V is new: a new entry on top lists the changes from spec-snapshot.yaml (the last version's spec) to the spec;
* V is older than the newest entry's version (compared numerically, part by part): refused with
  VersionError, so a version never goes backwards (and ``regenerate.py``, ``--check`` included, fails);
* there is no changelog or snapshot yet: the changelog starts with V, "initial release".

A version is released once it is on the main branch (the base of scripts/spec_change.py, whose ``--check``
fails when generated/ changed but the package version did not rise above the base's, or when an entry of
the base's changelog was rewritten). This module cannot see the base, so it treats the newest entry as
released unless told otherwise: folding a spec change into a released entry made generated/ depend on the
order of the steps (edit and regenerate, then raise the version: the edit lands in the released entry and
the new one lists only the version; edit and raise, then regenerate: the new entry lists both), and both
trees passed every check. Refusing it leaves one tree per spec, overrides and released generated/.

    python scripts/changelog.py   # print the entry the next regeneration would write
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import provenance, spec_diff
from .layout import GENERATED, OVERRIDES, SPEC, repo_path

CHANGELOG = "CHANGELOG.md"
SNAPSHOT = "spec-snapshot.yaml"
BASE = "spec-changelog-base.yaml"
PRODUCER = "scripts/m3ter_dev/changelog.py"
HEADER = (
    provenance.header(CHANGELOG, ["spec/m3ter-billing.yaml", PRODUCER])
    + """
# Changelog

Written by `scripts/regenerate.py`, do not edit: one entry per version of the generated package
(`{spec info.version}.{overrides/REVISION}`), listing the spec changes as classified by
`scripts/spec_diff.py` for code that uses the package: **breaking** (code may stop working or
type-checking), **announced** (keeps working, but you may want to react, e.g. a new enum value for your
`match` statements) and **compatible** (nothing to do). Changes of the client's hand-written code
(`overrides/`), which the spec does not show, are in the repository's own CHANGELOG.md.
"""
)


class VersionError(Exception):
    """The package version cannot be worked out, or is older than the newest changelog entry's."""


def package_version(spec: Path = SPEC, overrides: Path = OVERRIDES) -> str:
    """The generated package's version: the spec's ``info.version`` and the overrides' revision (a
    :class:`VersionError` for a spec that cannot be read or a revision that is not a whole number)."""
    return read_spec(spec, overrides)[1]


def read_spec(spec: Path = SPEC, overrides: Path = OVERRIDES) -> tuple[dict[str, Any], str]:
    """The spec as the tools read it (no key twice, no alias bomb) and the package version, or a
    :class:`VersionError` as for :func:`package_version`."""
    try:
        doc = spec_diff.parse(spec.read_text(encoding="utf-8"), repo_path(spec))
    except (OSError, UnicodeDecodeError, spec_diff.UsageError) as exc:
        raise VersionError(str(exc)) from None
    text = (overrides / "REVISION").read_text(encoding="utf-8").strip()
    if not text.isdigit():
        raise VersionError(f"{repo_path(overrides / 'REVISION')}: {text!r} is not a whole number")
    return doc, f"{doc['info']['version']}.{int(text)}"


def version_key(version: str) -> tuple[int, ...] | None:
    """``1.10.0.2`` -> (1, 10, 0, 2), compared numerically; None when a part is not a number."""
    parts = version.strip().lstrip("v").split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else None


def check_not_older(version: str, newest: str) -> None:
    """Raise VersionError when ``version`` is older than ``newest`` (not comparable: allowed)."""
    new, old = version_key(version), version_key(newest)
    if new is not None and old is not None and new < old:
        raise VersionError(
            f"package version {version} is older than the newest CHANGELOG entry {newest}: the version must not "
            "go backwards; raise info.version in the spec (or overrides/REVISION) above it"
        )


@dataclass(frozen=True)
class Entry:
    version: str
    text: str  # from its "## " heading to the next, ending with one newline


def parse(changelog: str) -> list[Entry]:
    """The entries of a changelog, newest first (the header before the first entry is dropped)."""
    entries: list[Entry] = []
    for chunk in ("\n" + changelog).split("\n## ")[1:]:
        heading, _, _ = chunk.partition("\n")
        entries.append(Entry(heading.strip(), "## " + chunk.rstrip("\n") + "\n"))
    return entries


def render_entry(version: str, since: str | None, base: str, spec: str) -> str:
    """The entry for ``version``: the changes from the ``base`` spec text (of version ``since``; None when
    ``version`` is the first) to ``spec``."""
    head = spec_diff.parse(spec, SNAPSHOT)
    info_version = str(head.get("info", {}).get("version"))
    result = spec_diff.Report.between(spec_diff.parse(base, BASE), head, since or version, version)
    counts = result.counts
    summary = ", ".join(f"{counts[cls]} {cls}" for cls in spec_diff.CLASSES)
    lines = [f"## {version}", ""]
    if since is None:
        lines.append(f"Initial release, generated from the spec's info.version {info_version}.")
        if result.changes:
            lines.extend(["", f"Spec changes since this version was first generated: {summary}."])
    elif not result.changes:
        lines.append(f"No spec changes since {since} (a new revision of the generator overrides).")
    else:
        lines.append(f"Spec changes since {since} (info.version {result.base_version} → {info_version}): {summary}.")
    if counts["breaking"]:
        lines.append("")
        lines.append(
            "The major version was raised for the breaking changes."
            if result.major_raised
            else "**Warning:** breaking changes without a new major version."
        )
    for cls in spec_diff.CLASSES:
        group = [c for c in result.changes if c.classification == cls]
        if group:
            lines.extend(["", f"### {cls.capitalize()}", ""])
            lines.extend(
                f"- {c.message} ({c.kind}; `{c.pointer}`{' in the old spec' if c.side == 'base' else ''})"
                for c in group
            )
    return "\n".join(lines) + "\n"


def _read(path: Path) -> str | None:
    """A file of a previous generated/ without its provenance header (None when absent)."""
    return provenance.without_header(path.read_text(encoding="utf-8")) if path.is_file() else None


def plan(previous: Path | None, spec_text: str, version: str, amend: bool = False) -> tuple[str, str]:
    """The new changelog and the spec its newest entry is measured from.

    ``previous`` is the generated/ directory the changelog continues (None: start a new one); ``amend``: its
    newest entry is not released, so a spec change under its version may be folded into it."""
    entries = parse(_read(previous / CHANGELOG) or "") if previous else []
    snapshot = _read(previous / SNAPSHOT) if previous else None
    since: str | None
    if not entries or snapshot is None:
        entries, base, since = [], spec_text, None
    elif entries[0].version == version:
        if (
            not amend
            and spec_text != snapshot
            and spec_diff.parse(spec_text, SNAPSHOT) != spec_diff.parse(snapshot, SNAPSHOT)
        ):
            raise VersionError(
                f"the spec changed since generated/ was built for {version} ({SNAPSHOT}), whose changelog entry may "
                "already be released: raise info.version (its major for a breaking change, see scripts/spec_diff.py "
                "--kinds), then regenerate; only for a version not released yet (one this branch introduced) does "
                "`scripts/regenerate.py --amend` fold the changes into its entry"
            )
        entries = entries[1:]
        base = _read(previous / BASE) or snapshot if previous else snapshot
        since = entries[0].version if entries else None
    else:
        check_not_older(version, entries[0].version)
        base, since = snapshot, entries[0].version
    entry = render_entry(version, since, base, spec_text)
    return "\n".join([HEADER, entry, *(e.text for e in entries)]), base


def update(destination: Path, previous: Path | None, spec: Path, version: str, amend: bool = False) -> None:
    """Write CHANGELOG.md and the spec copies into ``destination``, continuing the ones in ``previous``
    (``amend``: see :func:`plan`)."""
    spec_text = spec.read_text(encoding="utf-8")
    changelog, base = plan(previous, spec_text, version, amend)
    sources = [repo_path(spec), PRODUCER]
    (destination / CHANGELOG).write_text(changelog, encoding="utf-8")
    (destination / SNAPSHOT).write_text(provenance.with_header(SNAPSHOT, spec_text, sources), encoding="utf-8")
    (destination / BASE).write_text(provenance.with_header(BASE, base, sources), encoding="utf-8")


def main() -> int:
    """Print the entry the next regeneration would write."""
    try:
        changelog, _ = plan(GENERATED, SPEC.read_text(encoding="utf-8"), package_version())
    except VersionError as exc:
        print(f"changelog: {exc}", file=sys.stderr)
        return 1
    entries = parse(changelog)
    sys.stdout.write(entries[0].text if entries else "")
    return 0
