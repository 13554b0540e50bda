"""The API server's background scheduler: one per app, started and stopped by its lifespan.

Every ``settings.scheduler_interval_seconds`` it does, in one worker thread,
one thing after another (so a server runs at most one view refresh at once):

1. view refreshes that are queued (new versions) or due on their schedule,
   at most ``settings.scheduler_max_runs`` per look
   (:func:`views.refreshes.run_due`; each run is recorded on the view);
2. telling requesters whose approved access has expired
   (:meth:`access.requests.AccessRequests.notice_expired`);
3. delivering the notification outbox, retrying what failed
   (:meth:`lake.notify.Notifier.deliver`).

Work is claimed in the catalog, so several API replicas may each run one.
A failing step is logged and the next look tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from api.services import Services

log = logging.getLogger(__name__)


@dataclass
class Tick:
    """What one look did."""

    refreshed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    expired_told: list[int] = field(default_factory=list)
    delivered: int = 0


class Scheduler:
    """Runs :meth:`tick` every ``interval`` seconds in the background.

    Args:
        services: The app's services.
        interval: Seconds between looks.
        max_runs: View refreshes per look.
        clock: Now, aware (tests move it forward).
    """

    def __init__(self, services: Services, *, interval: float, max_runs: int,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self.services = services
        self.interval = interval
        self.max_runs = max_runs
        self.clock = clock
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None
        self._lock = threading.Lock()

    def tick(self) -> Tick:
        """One look (blocking; never two at once in this process)."""
        from views.refreshes import run_due

        done = Tick()
        with self._lock:
            try:
                result = run_due(self.services.lake, now=self.clock(), limit=self.max_runs)
                done.refreshed = [f"{r.view}@v{r.version}" for r in result.runs]
                done.failed = list(result.failed)
            except Exception:
                log.exception("scheduled view refreshes failed")
            try:
                done.expired_told = self.services.access.requests.notice_expired()
            except Exception:
                log.exception("telling requesters of expired access failed")
            done.delivered = len(self.services.notifier.deliver().sent)
            self.ticks += 1
        return done

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await asyncio.to_thread(self.tick)

    def start(self) -> None:
        """Start looking in the background (on the running event loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="lakegate-scheduler")

    async def stop(self) -> None:
        """Stop; a look under way finishes in its thread."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
