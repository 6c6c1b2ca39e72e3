"""Accepted findings: ``--baseline PATH`` reports them as known instead of failing, ``--write-baseline PATH``
writes this run's findings as the next baseline, so a team can switch the check on today and ratchet.

A finding is named by (entity id, rule, path). The file is JSON::

    {"tool": "m3ter-conformance", "baseline_version": 1,
     "findings": [{"entity_id": "...", "rule": "schema.enum", "path": "$.status",
                   "severity": "error", "message": "..."}]}

Only ``entity_id``, ``rule`` and ``path`` are read back; ``severity`` and ``message`` are there for people.
"""

from __future__ import annotations

import json
from pathlib import Path

from .redact import clean
from .runner import FindingKey, RunResult, finding_key

BASELINE_VERSION = 1


class BaselineError(Exception):
    """The baseline file cannot be read or is not a baseline; the message says what to do."""


def load(path: Path) -> frozenset[FindingKey]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BaselineError(f"cannot read --baseline {path}: {exc.strerror or exc}; pass an existing file") from None
    except UnicodeDecodeError:
        raise BaselineError(f"--baseline {path} is not UTF-8 text: write it with --write-baseline") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise BaselineError(f"--baseline {path} is not JSON ({exc}): write it with --write-baseline") from None
    entries = document.get("findings") if isinstance(document, dict) else None
    if not isinstance(entries, list) or document.get("baseline_version") != BASELINE_VERSION:
        raise BaselineError(
            f'--baseline {path} is not a version {BASELINE_VERSION} baseline ({{"baseline_version": 1, "findings": '
            "[...]}): write it with --write-baseline"
        )
    keys: set[FindingKey] = set()
    for number, entry in enumerate(entries):
        values = [entry.get(name) if isinstance(entry, dict) else None for name in ("entity_id", "rule", "path")]
        if not all(isinstance(value, str) for value in values):
            raise BaselineError(
                f"--baseline {path}: findings[{number}] needs string entity_id, rule and path; "
                "write the file with --write-baseline"
            )
        keys.add((str(values[0]), str(values[1]), str(values[2])))
    return frozenset(keys)


def dump(result: RunResult) -> str:
    """This run's findings (known ones included) as a baseline document."""
    findings = [
        {
            **dict(zip(("entity_id", "rule", "path"), finding_key(f), strict=True)),
            "severity": str(f.severity),
            "message": clean(f.message),
        }
        for f in result.findings
    ]
    document = {"tool": "m3ter-conformance", "baseline_version": BASELINE_VERSION, "findings": findings}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def unused(result: RunResult) -> int:
    """How many baseline entries this run did not see (fixed since: rewrite the baseline to ratchet)."""
    seen = {finding_key(f) for f in result.findings}
    return sum(1 for key in result.baseline if key not in seen)


__all__ = ["BASELINE_VERSION", "BaselineError", "dump", "load", "unused"]
