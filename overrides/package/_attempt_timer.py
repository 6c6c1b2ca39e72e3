"""The timer that ends an async attempt at its call's deadline: one loop timer for every attempt in flight.

``asyncio.timeout`` per attempt did the same with a timer handle of its own each time: two coroutines, a
state machine and a handle pushed onto the loop's heap and cancelled again, which cost more per API call
than the rest of the bounded transport. Here an attempt only enters a dict and leaves it; the one handle is
armed at the earliest deadline in flight, and when it fires it cancels the tasks whose deadline has passed
and arms itself at the next one. Deadlines of one client mostly come in the order they end, so the handle is
rarely moved.

The cancellation is ``asyncio.timeout``'s: the task is cancelled, and when the attempt is left with that
cancellation and no other (``Task.cancelling``/``uncancel``), it leaves as ``TimeoutError``; a cancellation
from elsewhere stays a ``CancelledError``.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class AttemptTimers:
    """The attempts in flight on one event loop and the one timer handle that watches their deadlines."""

    def __init__(self) -> None:
        self._attempts: dict[Attempt, None] = {}  # insertion order: mostly the order the deadlines end
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None

    def until(self, delay: float | None) -> Attempt:
        """A context manager for one attempt that must be done within ``delay`` seconds (loop time); None:
        no deadline, nothing watched."""
        return Attempt(self, delay)

    def _add(self, attempt: Attempt, loop: asyncio.AbstractEventLoop) -> None:
        if loop is not self._loop:  # a client's transports serve one loop; a new loop starts afresh
            self._loop, self._handle, self._attempts = loop, None, {}
        self._attempts[attempt] = None
        if self._handle is None or attempt.at < self._armed_at:
            self._arm(attempt.at, loop)

    def _remove(self, attempt: Attempt) -> None:
        self._attempts.pop(attempt, None)  # the handle stays: when it fires with nothing due, it moves on

    def _arm(self, at: float, loop: asyncio.AbstractEventLoop) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = loop.call_at(at, self._fire, loop)
        self._armed_at = at

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop is not self._loop:
            return  # a handle of a loop these timers no longer serve
        self._handle = None
        now = loop.time()
        waiting = [attempt for attempt in self._attempts if not attempt.expired]
        for attempt in waiting:
            if attempt.at <= now:
                attempt.expire()
        later = [attempt.at for attempt in waiting if not attempt.expired]
        if later:
            self._arm(min(later), loop)


class Attempt:
    """One attempt's place among the watched ones, entered and left as a (synchronous) context manager
    inside the attempt's task; ``expired`` says whether its deadline ended it."""

    __slots__ = ("_cancelling", "_delay", "_task", "_timers", "at", "expired")

    def __init__(self, timers: AttemptTimers, delay: float | None) -> None:
        self._timers = timers
        self._delay = delay
        self.expired = False

    def __enter__(self) -> Attempt:
        if self._delay is None:
            return self
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("an attempt's deadline is watched only inside a task")
        loop = task.get_loop()
        self._task = task
        self._cancelling = task.cancelling()
        self.at = loop.time() + self._delay
        self._timers._add(self, loop)
        return self

    def expire(self) -> None:
        self.expired = True
        self._task.cancel()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._delay is None:
            return
        self._timers._remove(self)
        if (
            self.expired
            and self._task.uncancel() <= self._cancelling
            and exc_type is not None
            and issubclass(exc_type, asyncio.CancelledError)
        ):
            raise TimeoutError from exc


__all__ = ["Attempt", "AttemptTimers"]
