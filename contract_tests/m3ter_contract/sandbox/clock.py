"""Clocks for the sandbox: the real one, and a manual one tests move by hand (no sleeping)."""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, date, datetime
from typing import Protocol, runtime_checkable

# Where a ManualClock starts unless told otherwise: after every seeded billing period.
DEFAULT_START = datetime(2025, 1, 15, 12, 0, 0, tzinfo=UTC)


@runtime_checkable
class Clock(Protocol):
    """Anything that tells the time as seconds since the Unix epoch."""

    def now(self) -> float: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> float:
        return time.time()

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that only moves when told to: lifecycles, token and URL expiry are tested without sleeping."""

    def __init__(self, start: float | datetime = DEFAULT_START) -> None:
        self._now = _to_epoch(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (never backwards) and return the new time."""
        if not math.isfinite(seconds):
            raise ValueError(f"a ManualClock advances by a finite number of seconds, not {seconds!r}")
        if seconds < 0:
            raise ValueError("a ManualClock never goes backwards")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, when: float | datetime) -> None:
        """Jump to ``when``, which must not be earlier than now."""
        target = _to_epoch(when)
        with self._lock:
            if target < self._now:
                raise ValueError("a ManualClock never goes backwards")
            self._now = target

    def __repr__(self) -> str:
        return f"ManualClock({iso_datetime(self._now)!r})"


def _to_epoch(when: float | datetime) -> float:
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise ValueError("a naive datetime is ambiguous; give it a timezone")
        return when.timestamp()
    epoch = float(when)
    if not math.isfinite(epoch):
        raise ValueError(f"a ManualClock's time is a finite number of seconds, not {when!r}")
    return epoch


def iso_datetime(epoch: float) -> str:
    """RFC 3339 in UTC with milliseconds, as m3ter writes date-times: ``2023-10-02T10:00:07.250Z``."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_date_start(day: date) -> str:
    """Midnight UTC of ``day`` as an RFC 3339 date-time."""
    return f"{day.isoformat()}T00:00:00Z"


def epoch_of(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


__all__ = ["DEFAULT_START", "Clock", "ManualClock", "SystemClock", "epoch_of", "iso_date_start", "iso_datetime"]
