"""Reading typed values out of raw JSON without trusting it (the schema rules report wrong types)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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
    if not isinstance(value, str) or not _INSTANT.fullmatch(value):  # RFC 3339's grammar, as instant_at reads it
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


_INSTANT = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))", re.ASCII
)
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

Instant = tuple[int, str]
"""An RFC 3339 date-time as the instant it names: whole seconds since 0000-01-01T00:00:00Z and the digits of
its fraction without trailing zeros. Instants compare as the tuples do."""


def _days_before(year: int, month: int, day: int) -> int:
    """Days from 0000-01-01 to the date, in the proleptic Gregorian calendar (year 0000 is a leap year)."""
    days = 365 * year + (year + 3) // 4 - (year + 99) // 100 + (year + 399) // 400
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return days + sum(_MONTH_DAYS[: month - 1]) + (1 if leap and month > 2 else 0) + day - 1


def instant_at(body: Mapping[str, Any], key: str) -> Instant | None:
    """The instant an RFC 3339 date-time names, for ordering: every date-time the grammar allows, years 0000
    to 9999 and a leap second (``:60``) included, where ``datetime`` stops at year 1 and second 59. None
    for anything else (the schema rules report it)."""
    value = body.get(key)
    match = _INSTANT.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(group) for group in match.groups()[:6])
    fraction, sign, offset_hours, offset_minutes = match.groups()[6:]
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if not 1 <= month <= 12 or not 1 <= day <= _MONTH_DAYS[month - 1] + (1 if leap and month == 2 else 0):
        return None
    if hour > 23 or minute > 59 or second > 60:
        return None
    offset = 0
    if sign is not None:
        if int(offset_hours) > 23 or int(offset_minutes) > 59:
            return None
        offset = (int(offset_hours) * 60 + int(offset_minutes)) * 60 * (1 if sign == "+" else -1)
    seconds = _days_before(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second - offset
    return seconds, (fraction or "").rstrip("0")


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
