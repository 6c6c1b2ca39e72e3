"""What earlier runs saw, in SQLite: the last observation of every entity, per base URL and organization.

The next run judges its first read of an entity against the remembered one, so a version that goes back
between two runs is caught. Presigned URLs are stored redacted (the rules compare them by presence only).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..rules import EntityKind, Observation
from ..rules.registry import EntityKey
from ..rules.versioning import VOLATILE_VALUES

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
_REDACTED_URL = "[REDACTED presigned URL]"


class StateError(Exception):
    """The state file cannot be opened or is not a state file."""


def _stored_body(body: Mapping[str, Any]) -> str:
    kept = {
        key: (_REDACTED_URL if key in VOLATILE_VALUES and value is not None else value) for key, value in body.items()
    }
    return json.dumps(kept, sort_keys=True, separators=(",", ":"))


class State:
    """The remembered observations for one target (``scope``: base URL and organization)."""

    def __init__(self, path: Path | str, base_url: str, org_id: str) -> None:
        self.path = str(path)
        self.scope = f"{base_url.rstrip('/')}|{org_id}"
        self._org_id = org_id
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path)
            self._db.execute(_SCHEMA)
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"cannot use the state file {self.path}: {exc}; pass another --state PATH") from exc

    def remembered(self) -> dict[EntityKey, Observation]:
        rows = self._db.execute("SELECT kind, entity_id, body FROM observations WHERE scope = ?", (self.scope,))
        out: dict[EntityKey, Observation] = {}
        for kind, entity_id, body in rows:
            try:
                entity_kind = EntityKind(kind)
            except ValueError:
                continue
            out[(kind, entity_id)] = Observation(
                entity_kind, entity_id, self._org_id, json.loads(body), seq=0, remembered=True
            )
        return out

    def save(self, observations: Iterable[Observation]) -> int:
        now = time.time()
        rows = [
            (
                self.scope,
                str(obs.kind),
                obs.entity_id,
                _stored_body(obs.obj),
                obs.obj.get("version") if isinstance(obs.obj.get("version"), int) else None,
                now,
            )
            for obs in observations
            if not obs.remembered and isinstance(obs.body, dict)
        ]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO observations VALUES (?, ?, ?, ?, ?, ?)", rows)
        return len(rows)

    def close(self) -> None:
        self._db.close()


__all__ = ["DEFAULT_STATE", "State", "StateError"]
