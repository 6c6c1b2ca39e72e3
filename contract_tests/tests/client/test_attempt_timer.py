"""The one timer that ends async attempts at their deadlines behaves as ``asyncio.timeout`` per attempt did."""

from __future__ import annotations

import asyncio

import pytest
from m3ter_billing._attempt_timer import AttemptTimers

FOREVER = 30.0  # what an attempt waits for when only its deadline can end it
LONGER = 1.0  # work that outlasts a deadline of a few hundredths: done, rather than ended, when the timer is late


async def test_an_attempt_past_its_deadline_leaves_as_timeout_error() -> None:
    timers = AttemptTimers()
    with pytest.raises(TimeoutError), timers.until(0.01) as attempt:
        await asyncio.sleep(FOREVER)
    assert attempt.expired
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_an_attempt_done_in_time_is_not_touched() -> None:
    timers = AttemptTimers()
    with timers.until(FOREVER) as attempt:
        await asyncio.sleep(0)
    assert not attempt.expired
    with timers.until(None) as unbounded:  # no deadline: nothing watched
        await asyncio.sleep(0)
    assert not unbounded.expired


async def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    # The deadline and another canceller in the same loop iteration: as with asyncio.timeout, the task's
    # own cancellation wins and is not turned into a timeout.
    timers = AttemptTimers()

    async def attempt() -> None:
        with timers.until(0):
            asyncio.get_running_loop().call_soon(task.cancel)
            await asyncio.sleep(FOREVER)

    task = asyncio.create_task(attempt())
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_later_attempt_with_an_earlier_deadline_is_ended_first() -> None:
    timers = AttemptTimers()
    first_done = asyncio.Event()

    async def patient() -> str:
        with timers.until(FOREVER):
            await first_done.wait()
        return "finished"

    async def hasty() -> str:
        try:
            with timers.until(0.01):
                await asyncio.sleep(LONGER)
        except TimeoutError:
            return "timed out"
        finally:
            first_done.set()
        return "finished"

    slow = asyncio.create_task(patient())
    await asyncio.sleep(0)  # the patient attempt is watched first
    assert await hasty() == "timed out"
    assert await slow == "finished"


async def test_the_timer_moves_on_to_the_next_deadline_when_nothing_is_due() -> None:
    # The first attempt arms the timer and ends at once; the timer fires with nothing due and must move on
    # to the second attempt's deadline (later than the first's, so it did not re-arm the timer).
    timers = AttemptTimers()
    with timers.until(0.01):
        pass
    with pytest.raises(TimeoutError), timers.until(0.05):
        await asyncio.sleep(LONGER)


async def test_many_attempts_in_flight_end_each_at_its_own_deadline() -> None:
    timers = AttemptTimers()

    async def attempt(delay: float, work: float) -> str:
        try:
            with timers.until(delay):
                await asyncio.sleep(work)
        except TimeoutError:
            return "timed out"
        return "done"

    results = await asyncio.gather(
        *(attempt(FOREVER if n % 2 else 0.01, 0.05 if n % 2 else FOREVER) for n in range(20))
    )
    assert results == ["timed out", "done"] * 10


def test_one_set_of_timers_serves_one_loop_after_another() -> None:
    timers = AttemptTimers()

    async def once() -> None:
        with pytest.raises(TimeoutError), timers.until(0.01):
            await asyncio.sleep(FOREVER)
        with timers.until(FOREVER):  # left armed when the loop closes
            pass

    asyncio.run(once())
    asyncio.run(once())


def test_an_attempt_outside_a_running_loop_is_refused() -> None:
    with pytest.raises(RuntimeError), AttemptTimers().until(1.0):  # no running loop, no task
        pass
