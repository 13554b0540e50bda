"""Per-table write locks held through the catalog, across threads and processes.

One writer at a time commits to a dataset's table: the check of primary keys
against the table, the Delta commit and the catalog's record of it happen
under the lock, so two producers cannot both land the same key and the
catalog never trails the table for a live writer.

Each lock is released by the operating system or the database when its holder
dies (a ``kill -9`` included), so a crash never leaves a table locked:

- PostgreSQL: a session-level advisory lock on a connection of its own, keyed
  by the catalog's schema and the table's id; several API processes and hosts
  share it.
- SQLite: an exclusive ``flock`` on a file beside the database file; every
  process that can open the catalog (one host) shares it.
- Any other catalog (SQLite in memory): a lock inside this process.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from lake.errors import TableBusy

#: Polling intervals while waiting: short at first, then at most this long.
_FIRST_WAIT, _LONGEST_WAIT = 0.005, 0.1

_local_locks: dict[tuple[str, int], threading.Lock] = {}
_local_guard = threading.Lock()


def _sleeps(deadline: float) -> Iterator[None]:
    """Yields until the deadline, sleeping a little longer each time."""
    wait = _FIRST_WAIT
    while True:
        yield
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(wait, left))
        wait = min(wait * 2, _LONGEST_WAIT)


def sqlite_lock_dir(url_path: str) -> Path:
    """The folder of lock files for the SQLite catalog at ``url_path``."""
    return Path(url_path).with_name(Path(url_path).name + ".locks")


class TableLocks:
    """Exclusive per-table locks for one catalog database.

    Args:
        engine: The catalog's engine.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        database = engine.url.database or ""
        self._lock_dir = (sqlite_lock_dir(database)
                          if self.dialect == "sqlite" and database not in ("", ":memory:") else None)

    @contextlib.contextmanager
    def hold(self, table_id: int, *, timeout: float, what: str = "the table") -> Iterator[None]:
        """Hold the lock of table ``table_id`` for the duration of the ``with`` block.

        Args:
            table_id: The id of the locked table (a dataset's catalog id).
            timeout: Seconds to wait for another holder; 0 tries once.
            what: How the table is named in the error.

        Raises:
            TableBusy: the lock was not free within ``timeout``.
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        if self.dialect == "postgresql":
            cm = self._postgres(table_id, deadline)
        elif self._lock_dir is not None:
            cm = self._file(table_id, deadline)
        else:
            cm = self._local(table_id, deadline)
        with cm as acquired:
            if not acquired:
                raise TableBusy(what, timeout)
            yield

    @contextlib.contextmanager
    def _postgres(self, table_id: int, deadline: float) -> Iterator[bool]:
        # A waiter holds no connection between attempts (many waiters must not
        # drain the pool); the holder keeps its connection, in autocommit so no
        # transaction (and no snapshot) stays open while it writes.
        key = {"id": table_id}
        conn: Connection | None = None
        for _ in _sleeps(deadline):
            attempt = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                got = attempt.execute(text("SELECT pg_try_advisory_lock(hashtext(current_schema()), :id)"),
                                      key).scalar()
            except BaseException:
                attempt.close()
                raise
            if got:
                conn = attempt
                break
            attempt.close()
        if conn is None:
            yield False
            return
        try:
            yield True
        finally:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(hashtext(current_schema()), :id)"), key)
            except BaseException:
                conn.invalidate()  # never hand a connection that may hold the lock back to the pool
                raise
            finally:
                conn.close()

    @contextlib.contextmanager
    def _file(self, table_id: int, deadline: float) -> Iterator[bool]:
        assert self._lock_dir is not None
        self._lock_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_dir / f"table-{table_id}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            acquired = False
            for _ in _sleeps(deadline):
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                acquired = True
                break
            try:
                yield acquired
            finally:
                if acquired:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _local(self, table_id: int, deadline: float) -> Iterator[bool]:
        with _local_guard:
            lock = _local_locks.setdefault((str(self.engine.url), table_id), threading.Lock())
        left = deadline - time.monotonic()
        acquired = lock.acquire(timeout=left) if left > 0 else lock.acquire(blocking=False)
        try:
            yield acquired
        finally:
            if acquired:
                lock.release()


__all__ = ["TableLocks", "sqlite_lock_dir"]
