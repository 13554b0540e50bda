"""Shared fixtures: settings on a temporary home, a Lake, catalogs on SQLite
and PostgreSQL, and factories for contracts and datasets.

Every new SQLite catalog a test opens is a copy of one catalog migrated once
per session (``catalog_fixtures.py``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from lake.service import Lake
from lake.settings import Settings, get_settings

from catalog_fixtures import _catalog_from_template, catalog_template  # noqa: F401  (fixtures)
from child_env import use_test_jvm_options
from factories import contract_doc
from mail_fixtures import smtp  # noqa: F401  (fixture)
from s3_fixtures import moto_iam_server, moto_server, s3_settings  # noqa: F401  (fixtures)

# The server and role scripts/ensure-postgres.sh starts and creates.
PG_ADMIN_URL = os.environ.get("LAKEGATE_TEST_PG", "postgresql://lakegate:lakegate@127.0.0.1:5432/postgres")


#: Markers of tests that start something heavy; each of them is also ``slow``.
SLOW_KINDS = ("spark", "s3")


def pytest_configure(config: pytest.Config) -> None:
    """Every JVM the tests start runs with the suite's options (``child_env.TEST_JVM_OPTIONS``)."""
    use_test_jvm_options()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Spark and S3 (moto server) tests are slow, so ``-m "not slow"`` leaves them out."""
    for item in items:
        if any(item.get_closest_marker(kind) for kind in SLOW_KINDS):
            item.add_marker(pytest.mark.slow)
    _slow_modules_first(items)


def _slow_modules_first(items: list[pytest.Item]) -> None:
    """Put the modules that hold a slow test first, each kept whole and in order.

    ``scripts/test.sh`` hands modules to its processes in this order
    (``--dist loadfile --no-loadscope-reorder``): the long ones start at once,
    and the many short ones fill the end, so both processes finish together.
    """
    def module(item: pytest.Item) -> str:
        return item.nodeid.split("::", 1)[0]

    slow = {module(item) for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: module(item) not in slow)  # a stable sort: the order within each group stays


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashes() -> Iterator[None]:
    """New password hashes cost 2**10 in the tests (1 MiB, ~2 ms) instead of the platform's 2**14
    (16 MiB, ~40 ms each, about a fifth of the UI tests' time). Each stored hash names its cost,
    so checking a password works the same; ``test_catalog.py`` checks the platform's cost."""
    from lake import auth

    saved, auth.SCRYPT_N = auth.SCRYPT_N, 2**10
    yield
    auth.SCRYPT_N = saved


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads the developer's own ~/.lakegate or LAKEGATE_* variables."""
    for key in list(os.environ):
        if key.startswith("LAKEGATE_") and key != "LAKEGATE_TEST_PG":
            monkeypatch.delenv(key)
    monkeypatch.setenv("LAKEGATE_HOME", str(tmp_path / "default-home"))
    # No background scheduler in an app a test starts: a test that wants one says so
    # (Settings(scheduler_interval_seconds=...)) or calls Scheduler.tick itself.
    monkeypatch.setenv("LAKEGATE_SCHEDULER_INTERVAL_SECONDS", "0")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
def lake(settings: Settings) -> Iterator[Lake]:
    lk = Lake(settings)
    yield lk
    lk.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    name = f"lakegate_test_{uuid.uuid4().hex[:10]}"
    try:
        conn = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=30)
    except psycopg.OperationalError as exc:  # pragma: no cover - CI starts the server
        pytest.fail(f"PostgreSQL is not reachable at {make_url(PG_ADMIN_URL)!r} ({exc}); "
                    "scripts/ensure-postgres.sh starts it")
    conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield str(make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
                  .render_as_string(hide_password=False))
    finally:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each catalog test runs on SQLite and on PostgreSQL (a fresh schema each time)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    base: str = request.getfixturevalue("pg_url")
    return _fresh_pg_schema(base, request)


def _fresh_pg_schema(base: str, request: pytest.FixtureRequest) -> str:
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:10]}"
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    request.addfinalizer(drop)
    return f"{base}?options=-csearch_path%3D{schema}"


@pytest.fixture
def any_lake(catalog_url: str, tmp_path: Path) -> Iterator[Lake]:
    """A Lake whose catalog is SQLite or PostgreSQL (parametrized)."""
    lk = Lake(Settings(home=tmp_path / "home", database_url=catalog_url))
    yield lk
    lk.close()


@pytest.fixture
def make_dataset(lake: Lake) -> Callable[..., Any]:
    def make(name: str = "ads.conversions", *, actor: str = "alice", **overrides: Any) -> Any:
        return lake.register(contract_doc(name, **overrides), actor=actor)

    return make
