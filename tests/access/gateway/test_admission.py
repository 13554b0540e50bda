"""Admission control of gateway queries: slots, a first-in-first-out queue with a
time limit, a per-user bound, and waiters that leave when their task is cancelled."""

from __future__ import annotations

import asyncio

import pytest

from access.gateway import Admission, AdmissionLimits
from lake.errors import TooManyRequests


def _admission(**limits: float) -> Admission:
    return Admission(AdmissionLimits(**{"max_running": 1, "max_queued": 2, "max_per_user": 2,
                                        "queue_timeout_seconds": 5.0, "retry_after_seconds": 3.0,
                                        **limits}))  # type: ignore[arg-type]


def test_waiters_get_slots_in_order() -> None:
    async def scenario() -> list[str]:
        admission = _admission()
        order: list[str] = []
        await admission.enter("a")

        async def wait(user: str) -> None:
            await admission.enter(user)
            order.append(user)

        b = asyncio.create_task(wait("b"))
        await asyncio.sleep(0.01)
        c = asyncio.create_task(wait("c"))
        await asyncio.sleep(0.01)
        assert (admission.running, admission.queued) == (1, 2)
        with pytest.raises(TooManyRequests) as refused:
            await admission.enter("d")
        assert refused.value.reason == "server_busy" and refused.value.retry_after == 3
        assert admission.full()
        admission.leave("a")
        await b
        assert order == ["b"] and admission.running == 1
        admission.leave("b")
        await c
        admission.leave("c")
        assert (admission.running, admission.queued) == (0, 0)
        return order

    assert asyncio.run(scenario()) == ["b", "c"]


def test_a_user_has_a_bound_of_their_own() -> None:
    async def scenario() -> None:
        admission = _admission(max_running=5)
        await admission.enter("a")
        await admission.enter("a")
        with pytest.raises(TooManyRequests) as refused:
            await admission.enter("a")
        assert refused.value.reason == "user_limit"
        await admission.enter("b")
        assert admission.running == 3

    asyncio.run(scenario())


def test_a_waiter_gives_up_after_the_queue_timeout() -> None:
    async def scenario() -> None:
        admission = _admission(queue_timeout_seconds=0.2)
        await admission.enter("a")
        with pytest.raises(TooManyRequests) as refused:
            await admission.enter("b")
        assert refused.value.reason == "queue_timeout"
        assert (admission.running, admission.queued) == (1, 0)
        admission.leave("a")
        await admission.enter("b")  # the slot was not lost

    asyncio.run(scenario())


def test_a_cancelled_waiter_leaves_the_queue_and_a_granted_one_passes_its_slot_on() -> None:
    async def scenario() -> None:
        admission = _admission()
        await admission.enter("a")
        gone = asyncio.create_task(admission.enter("b"))
        await asyncio.sleep(0.01)
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        assert admission.queued == 0
        # Granted and cancelled before it resumed: the slot goes to the next waiter.
        granted = asyncio.create_task(admission.enter("b"))
        await asyncio.sleep(0.01)
        nxt = asyncio.create_task(admission.enter("c"))
        await asyncio.sleep(0.01)
        admission.leave("a")
        granted.cancel()
        with pytest.raises(asyncio.CancelledError):
            await granted
        await nxt
        assert (admission.running, admission.queued) == (1, 0)
        admission.leave("c")
        assert admission.running == 0

    asyncio.run(scenario())


def test_try_enter_never_queues() -> None:
    admission = _admission()
    assert admission.try_enter("a")
    assert not admission.try_enter("b")
    admission.leave("a")
    assert admission.try_enter("b")


def test_the_door_lets_in_as_many_requests_as_slots_and_queue_places() -> None:
    admission = _admission(max_running=1, max_queued=2)
    assert [admission.arrive() for _ in range(4)] == [True, True, True, False]
    admission.depart()
    assert admission.arrive()
