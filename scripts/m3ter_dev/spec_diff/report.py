"""The verdict for the package and its renderings: the Markdown pull-request comment, JSON, the kinds table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .differ import compare
from .kinds import CHANGE_KINDS, CLASSES, Change

REPORT_MARKER = "<!-- m3ter-spec-change-report -->"  # the first line: how the workflow finds its own comment


def major(version: str) -> int | None:
    """The major part of ``info.version`` (``v2.1`` -> 2), or None when it is not a number."""
    head = version.split(".", 1)[0].lstrip("v")
    return int(head) if head.isdigit() else None


def _info_version(doc: Mapping[str, Any]) -> str:
    info = doc.get("info")
    return str(info.get("version") if isinstance(info, Mapping) else None)


@dataclass(frozen=True)
class Report:
    """The classified changes between two specs and the verdict for the package."""

    base_label: str
    head_label: str
    base_version: str
    head_version: str
    changes: tuple[Change, ...]

    @classmethod
    def between(cls, base: Mapping[str, Any], head: Mapping[str, Any], base_label: str, head_label: str) -> Report:
        """Compare two parsed specs; the labels name them in the report (a revision, a file)."""
        return cls(base_label, head_label, _info_version(base), _info_version(head), tuple(compare(base, head)))

    @property
    def counts(self) -> dict[str, int]:
        return {cls: sum(1 for c in self.changes if c.classification == cls) for cls in CLASSES}

    @property
    def major_raised(self) -> bool:
        old, new = major(self.base_version), major(self.head_version)
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


def kinds_markdown() -> str:
    """The classification table (one row per kind of change), as documented in the README."""
    lines = ["| Kind of change | In requests | In responses | Why |", "|---|---|---|---|"]
    lines.extend(f"| {name} | {k.request} | {k.response} | {_cell(k.reason)} |" for name, k in CHANGE_KINDS.items())
    return "\n".join(lines) + "\n"
