"""A catalog migrated once per session that every new SQLite catalog of a test copies.

``tests/conftest.py`` imports the fixtures. Running the seven migrations into a new
SQLite file costs 0.2-0.6 s; copying a migrated file takes a few milliseconds. So
while a test runs, :func:`lake.catalog.database.migrate` copies the session's
template into a SQLite file that does not exist yet (the same schema, since the
template ran the same migrations; a file of its own, so tests stay isolated) and
migrates every other catalog (an existing file, PostgreSQL) as usual. The template
is made on first use, once per session, so once per xdist worker. Tests marked
``fresh_catalog`` run the migrations themselves.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine

from lake.catalog import database

#: The catalog's own migration step (tests replace ``database.migrate`` with a copy of the template).
MIGRATE = database.migrate


class CatalogTemplate:
    """A SQLite catalog at the newest migration, made on first use, that new catalogs copy."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "catalog.db"
        self._lock = threading.Lock()
        self._ready = False

    def copy_to(self, target: Path) -> None:
        with self._lock:
            if not self._ready:
                engine = database.make_engine(f"sqlite:///{self.path}")
                MIGRATE(engine)
                engine.dispose()
                # One self-contained file: the log folded in, no -wal beside it.
                with contextlib.closing(sqlite3.connect(self.path)) as conn:
                    conn.execute("PRAGMA journal_mode=DELETE")
                self._ready = True
            if target.exists():  # made by another opener meanwhile
                return
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
            shutil.copyfile(self.path, partial)
            partial.replace(target)


def new_sqlite_file(engine: Engine) -> Path | None:
    """The file of a SQLite catalog that does not exist yet, else None."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database)
    return None if path.exists() else path


@pytest.fixture(scope="session")
def catalog_template(tmp_path_factory: pytest.TempPathFactory) -> CatalogTemplate:
    return CatalogTemplate(tmp_path_factory.mktemp("catalog-template"))


@pytest.fixture(autouse=True)
def _catalog_from_template(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                           catalog_template: CatalogTemplate) -> None:
    """A new SQLite catalog starts as a copy of the session's migrated template."""
    if request.node.get_closest_marker("fresh_catalog"):
        return

    def migrate_or_copy(engine: Engine) -> None:
        path = new_sqlite_file(engine)
        if path is None:
            MIGRATE(engine)
        else:
            catalog_template.copy_to(path)

    monkeypatch.setattr(database, "migrate", migrate_or_copy)
