"""Reading typed values out of raw JSON without trusting it (the schema rules report wrong types)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


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


def version_at(body: Mapping[str, Any]) -> int | None:
    """The ``version`` as an integer: JSON does not tell 2 from 2.0, so an integral float counts too
    (jsonschema's ``integer`` accepts it as well); a boolean, a fraction or anything else is no version."""
    value = body.get("version")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def parse_datetime(value: str) -> dt.datetime | None:
    """An RFC 3339 date-time as an aware datetime, else None."""
    return datetime_at({"v": value}, "v")


def normalise_datetimes(value: Any) -> Any:
    """``value`` with every RFC 3339 date-time string respelled canonically (the instant it names, in UTC,
    ISO 8601), so the same instant spelled differently (``.000Z``, ``Z``, ``+01:00``) compares equal; everything
    else as it is. The result is still JSON."""
    if isinstance(value, str):
        parsed = parse_datetime(value)
        try:
            return parsed.astimezone(dt.UTC).isoformat() if parsed is not None else value
        except OverflowError:  # an instant before year 1 or after year 9999 in UTC: compared as spelled
            return value
    if isinstance(value, dict):
        return {key: normalise_datetimes(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalise_datetimes(item) for item in value]
    return value


def same_value(left: Any, right: Any) -> bool:
    """Equal as JSON values, date-times compared as instants."""
    return bool(normalise_datetimes(left) == normalise_datetimes(right))
