"""The catalog database: engine, sessions and migrations applied on start.

SQLite (WAL mode, a busy timeout so several producer processes can share it)
is the embedded default; PostgreSQL is the production catalog.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from lake.catalog.locks import TableLocks

_MIGRATIONS = Path(__file__).parent / "migrations"
_migrate_lock = threading.Lock()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str) -> Engine:
    """Create an engine for a catalog URL, creating the SQLite file's folder."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def head_revision() -> str:
    """The newest migration's revision, read from the file names.

    Each migration ``versions/NNNN_<what>.py`` has revision ``NNNN`` and follows
    the one before it (a test holds the files to this against Alembic's own
    reading of them), so the head is known without loading Alembic.
    """
    return max(p.name[:4] for p in (_MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def _at_head(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            applied = list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except DBAPIError:  # no version table yet: a new catalog
        return False
    return applied == [head_revision()]


def migrate(engine: Engine) -> None:
    """Apply every Alembic migration not yet applied (``upgrade head``).

    A catalog already at the head is left alone without loading Alembic (its
    import and script scan are most of the time a short CLI command spends
    opening the lake).
    """
    if _at_head(engine):
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["upgrade_only"] = True  # no autogenerate: env.py need not import every package's models
    with _migrate_lock, engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Catalog:
    """The catalog database of one deployment.

    Args:
        url: SQLAlchemy URL (``sqlite:///...`` or ``postgresql+psycopg://...``).
        apply_migrations: Upgrade the schema to the newest migration on open.
    """

    def __init__(self, url: str, *, apply_migrations: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if apply_migrations:
            migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._locks = TableLocks(self.engine)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self._sessions() as s, s.begin():
            yield s

    def table_lock(self, table_id: int, *, timeout: float,
                   what: str = "the table") -> contextlib.AbstractContextManager[None]:
        """The exclusive write lock of one table, shared by every process of this catalog.

        Args:
            table_id: The dataset's id.
            timeout: Seconds to wait for another holder; 0 tries once.
            what: How the table is named if the wait fails.

        Raises:
            TableBusy: the lock was not free within ``timeout``.
        """
        return self._locks.hold(table_id, timeout=timeout, what=what)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()
