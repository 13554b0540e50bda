"""Admission control: how many gateway queries run at once, per server and per user.

A query is admitted at once while fewer than ``max_running`` run and nobody
waits; otherwise it waits in a short first-in-first-out queue (at most
``max_queued`` queries, each for at most ``queue_timeout_seconds``). A query
past those bounds, or a user who already has ``max_per_user`` queries running
or waiting, is refused with :class:`~lake.errors.TooManyRequests` (429 with
``Retry-After``) instead of piling up threads, memory and Spark jobs until
everything times out.

Waiting costs no thread: :meth:`Admission.enter` is a coroutine, and a waiter
whose task is cancelled (its client went away) leaves the queue. Pages that
show sample rows use :meth:`Admission.try_enter` from a worker thread and
skip the rows when no slot is free right now.

Example::

    admission = Admission(AdmissionLimits(max_running=4, max_queued=16, max_per_user=4))
    await admission.enter("ana")
    try:
        ...  # run the query
    finally:
        admission.leave("ana")
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter, deque
from dataclasses import dataclass, field

from lake.errors import TooManyRequests


@dataclass(frozen=True)
class AdmissionLimits:
    """Bounds on concurrent gateway queries.

    Attributes:
        max_running: Queries running at once in this server.
        max_queued: Queries waiting for a slot.
        max_per_user: Queries one user may have running or waiting.
        queue_timeout_seconds: Longest wait in the queue.
        retry_after_seconds: What ``Retry-After`` tells a refused client.
    """

    max_running: int = 4
    max_queued: int = 16
    max_per_user: int = 4
    queue_timeout_seconds: float = 10.0
    retry_after_seconds: float = 5.0


@dataclass(eq=False)
class _Waiter:
    loop: asyncio.AbstractEventLoop
    wake: asyncio.Future[None]
    granted: bool = field(default=False)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Admission:
    """The slots and the queue of one server (thread-safe; waiting is async)."""

    def __init__(self, limits: AdmissionLimits | None = None) -> None:
        self.limits = limits or AdmissionLimits()
        self._lock = threading.Lock()
        self._running = 0
        self._users: Counter[str] = Counter()
        self._queue: deque[_Waiter] = deque()
        self._arrived = 0

    @property
    def running(self) -> int:
        return self._running

    @property
    def queued(self) -> int:
        return len(self._queue)

    def full(self) -> bool:
        """Whether every slot is taken and the queue is full (a new query would be refused)."""
        with self._lock:
            return self._running >= self.limits.max_running and len(self._queue) >= self.limits.max_queued

    def arrive(self) -> bool:
        """Count a query request at the server's door, before any work; ``False``: refuse it.

        At most ``max_running + max_queued`` query requests are inside the
        server at once, counting those still being authenticated, so a burst
        is shed at the door instead of all of it reaching the catalog first.
        Every ``True`` must be matched by :meth:`depart`.
        """
        with self._lock:
            if self._arrived >= self.limits.max_running + self.limits.max_queued:
                return False
            self._arrived += 1
            return True

    def depart(self) -> None:
        """A request counted by :meth:`arrive` is done."""
        with self._lock:
            self._arrived -= 1

    def _refusal(self, reason: str, message: str) -> TooManyRequests:
        return TooManyRequests(message, retry_after=self.limits.retry_after_seconds, reason=reason)

    def refuse_busy(self) -> TooManyRequests:
        """The refusal for a server whose slots and queue are full."""
        return self._refusal("server_busy", f"the server is running {self.limits.max_running} queries and "
                                            f"{self.limits.max_queued} more are waiting; retry later")

    async def enter(self, user: str) -> None:
        """Take a slot for ``user``, waiting in the queue if need be.

        Raises:
            TooManyRequests: ``user`` has ``max_per_user`` queries in flight, the
                queue is full, or the wait passed ``queue_timeout_seconds``.
            asyncio.CancelledError: The waiting task was cancelled (it left the queue).
        """
        limits = self.limits
        with self._lock:
            if self._users[user] >= limits.max_per_user:
                raise self._refusal("user_limit", f"you have {limits.max_per_user} queries running or waiting "
                                                  "already; wait for one to finish")
            if self._running < limits.max_running and not self._queue:
                self._running += 1
                self._users[user] += 1
                return
            if len(self._queue) >= limits.max_queued:
                raise self.refuse_busy()
            loop = asyncio.get_running_loop()
            waiter = _Waiter(loop, loop.create_future())
            self._queue.append(waiter)
            self._users[user] += 1
        try:
            await asyncio.wait([waiter.wake], timeout=limits.queue_timeout_seconds)
        except BaseException:
            with self._lock:
                if waiter.granted:
                    self._release()
                else:
                    self._queue.remove(waiter)
                self._drop_user(user)
            raise
        with self._lock:
            if waiter.granted:
                return
            self._queue.remove(waiter)
            self._drop_user(user)
        raise self._refusal("queue_timeout", f"no query slot became free within {limits.queue_timeout_seconds:g} "
                                             "seconds; retry later")

    def try_enter(self, user: str) -> bool:
        """Take a slot only if one is free now, without queueing (callable from any thread)."""
        with self._lock:
            if (self._users[user] >= self.limits.max_per_user or self._queue
                    or self._running >= self.limits.max_running):
                return False
            self._running += 1
            self._users[user] += 1
            return True

    def leave(self, user: str) -> None:
        """Give back ``user``'s slot (to the first waiter, if any)."""
        with self._lock:
            self._drop_user(user)
            self._release()

    def _drop_user(self, user: str) -> None:
        self._users[user] -= 1
        if self._users[user] <= 0:
            del self._users[user]

    def _release(self) -> None:
        """Hand the slot to the first waiter, or free it (the lock is held)."""
        if self._queue:
            waiter = self._queue.popleft()
            waiter.granted = True
            waiter.loop.call_soon_threadsafe(_wake, waiter.wake)
            return
        self._running -= 1
