"""Reading typed values out of raw JSON without trusting it (the schema rules report wrong types)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def int_at(body: Mapping[str, Any], key: str) -> int | None:
    value = body.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def str_at(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) else None


def date_at(body: Mapping[str, Any], key: str) -> dt.date | None:
    value = body.get(key)
    if not isinstance(value, str) or not _DATE.match(value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def datetime_at(body: Mapping[str, Any], key: str) -> dt.datetime | None:
    value = body.get(key)
    if not isinstance(value, str) or not _DATE_TIME.match(value):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def present(body: Mapping[str, Any], key: str) -> bool:
    """True when ``key`` is there with a value (null counts as absent: the schema rules report the null)."""
    return body.get(key) is not None
