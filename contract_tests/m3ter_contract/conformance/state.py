"""What earlier runs saw, in SQLite: the last observation of every entity, per base URL and organization.

The next run judges its first read of an entity against the remembered one, so a version that goes back
between two runs is caught. Presigned URLs are stored redacted (the rules compare them by presence only), and
so is every string and member name, in any field, known or not, that holds a known secret (the API secret, a
bearer token of the run), a signed URL, a token or URL user-info.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..rules import EntityKind, Observation
from ..rules._values import version_at
from ..rules.identity import canonical_id, is_uuid
from ..rules.registry import EntityKey
from ..rules.versioning import VOLATILE_VALUES
from ..rules.wire import INT64
from .redact import redact_json

DEFAULT_STATE = Path(".m3ter-conformance") / "state.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS observations (
    scope TEXT NOT NULL,
    kind TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    body TEXT NOT NULL,
    version INTEGER,
    seen_at REAL NOT NULL,
    PRIMARY KEY (scope, kind, entity_id)
)
"""
_COLUMNS = ("scope", "kind", "entity_id", "body", "version", "seen_at")
_REDACTED_URL = "[REDACTED presigned URL]"
BUSY_TIMEOUT = 5.0
"""Seconds to wait for another process's lock on the state file before giving up."""


class StateError(Exception):
    """The state file cannot be opened or is not a state file."""


def _stored_body(body: Mapping[str, Any]) -> str:
    kept = redact_json(
        {key: (_REDACTED_URL if key in VOLATILE_VALUES and value is not None else value) for key, value in body.items()}
    )
    return json.dumps(kept, sort_keys=True, separators=(",", ":"))


def stored_form(body: Any) -> Any:
    """``body`` as the state file keeps it (what :meth:`State.save` writes, read back): a later run compares
    its reads with a remembered body in this form, so the redaction is never taken for a change."""
    return json.loads(_stored_body(body)) if isinstance(body, dict) else body


def _stored_version(body: Mapping[str, Any]) -> int | None:
    """The version column: an integer SQLite can hold (int64), else None (the body keeps the value)."""
    version = version_at(body)
    return version if version is not None and INT64[0] <= version <= INT64[1] else None


class State:
    """The remembered observations for one target (``scope``: base URL and organization).

    Every SQLite failure (a locked file, a foreign table layout, a file that is not a database) becomes a
    :class:`StateError` whose message says what to do; a damaged row is skipped with a note in :attr:`notes`.
    """

    def __init__(self, path: Path | str, base_url: str, org_id: str) -> None:
        self.path = str(path)
        self.scope = f"{base_url.rstrip('/')}|{org_id}"
        self._org_id = org_id
        self.notes: list[str] = []
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT)
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"cannot use the state file {self.path}: {exc}; pass another --state PATH") from exc
        try:
            self._db.execute(_SCHEMA)
            self._db.commit()
            columns = tuple(row[1] for row in self._db.execute("PRAGMA table_info(observations)"))
        except sqlite3.Error as exc:
            self._db.close()
            raise StateError(self._advice(exc)) from exc
        if columns != _COLUMNS:
            self._db.close()
            raise StateError(
                f"the state file {self.path} has an observations table this tool did not write (columns "
                f"{', '.join(columns)}): pass another --state PATH, or --no-state"
            )

    def _advice(self, exc: sqlite3.Error) -> str:
        if "locked" in str(exc) or "busy" in str(exc):
            return (
                f"the state file {self.path} is locked by another process ({exc}) after waiting {BUSY_TIMEOUT:g}s: "
                "wait for the other run to finish, or pass another --state PATH / --no-state"
            )
        return f"cannot use the state file {self.path}: {exc}; pass another --state PATH, or --no-state"

    def remembered(self) -> dict[EntityKey, Observation]:
        try:
            rows = self._db.execute(
                # the latest last: a file written before ids were stored canonically may hold one UUID in two cases
                "SELECT kind, entity_id, body FROM observations WHERE scope = ? ORDER BY seen_at",
                (self.scope,),
            ).fetchall()
        except sqlite3.Error as exc:
            raise StateError(self._advice(exc)) from exc
        out: dict[EntityKey, Observation] = {}
        skipped = 0
        for kind, entity_id, body in rows:
            try:
                entity_kind = EntityKind(kind)
                decoded = json.loads(body)
            except (ValueError, TypeError):
                skipped += 1
                continue
            if not isinstance(entity_id, str) or not isinstance(decoded, dict):
                skipped += 1
                continue
            out[(kind, canonical_id(entity_id))] = Observation(
                entity_kind, entity_id, self._org_id, decoded, seq=0, remembered=True, stored_as=stored_form
            )
        if skipped:
            self.notes.append(
                f"skipped {skipped} damaged row(s) of the state file {self.path}: those entities are judged without "
                "their earlier observation"
            )
        return out

    def save(self, observations: Iterable[Observation]) -> int:
        now = time.time()
        rows = [
            (
                self.scope,
                str(obs.kind),
                canonical_id(obs.entity_id),
                _stored_body(obs.obj),
                _stored_version(obs.obj),
                now,
            )
            for obs in observations
            if not obs.remembered and isinstance(obs.body, dict)
        ]
        try:
            with self._db:
                # Another spelling of a UUID (stored before ids were stored canonically) is the same entity.
                self._db.executemany(
                    "DELETE FROM observations WHERE scope = ? AND kind = ? AND lower(entity_id) = ? AND entity_id != ?",
                    [(scope, kind, entity_id, entity_id) for scope, kind, entity_id, *_ in rows if is_uuid(entity_id)],
                )
                self._db.executemany("INSERT OR REPLACE INTO observations VALUES (?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.Error as exc:
            raise StateError(self._advice(exc)) from exc
        except (OverflowError, ValueError, UnicodeEncodeError) as exc:  # a value SQLite cannot store
            raise StateError(f"could not store this run in {self.path}: {exc}") from exc
        return len(rows)

    def close(self) -> None:
        self._db.close()


__all__ = ["BUSY_TIMEOUT", "DEFAULT_STATE", "State", "StateError", "stored_form"]
