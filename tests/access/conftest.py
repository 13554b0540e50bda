"""Fixtures of the access layer tests: an AccessControl on a fresh lake, a clock
that tests move forward, and the users most tests need."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import Depends, FastAPI

from access import AccessControl
from lake.service import Lake
from lake.settings import Settings

with warnings.catch_warnings():
    # Starlette asks for the `httpx2` package and warns when it falls back to httpx.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient

API = "/api/v1"


class Clock:
    """Seconds since the epoch; starts at the real time and moves only when told."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ac(lake: Lake, clock: Clock) -> AccessControl:
    """An AccessControl on the core's ``lake`` fixture (SQLite)."""
    return AccessControl(lake, clock=clock)


@pytest.fixture
def any_ac(any_lake: Lake, clock: Clock) -> Iterator[AccessControl]:
    """An AccessControl on SQLite and on PostgreSQL (parametrized)."""
    return AccessControl(any_lake, clock=clock)


def access_app(settings: Settings) -> FastAPI:
    """The full app with the access routers mounted under /api/v1 behind authentication."""
    from api.app import API_PREFIX, create_app
    from api.deps import current_principal
    from api.routes import access, audit, requests

    app = create_app(settings)
    for module in (access, requests, audit):
        app.include_router(module.router, prefix=API_PREFIX, dependencies=[Depends(current_principal)])
    return app


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    """A client of :func:`access_app` on a fresh home (lifespan included)."""
    with TestClient(access_app(Settings(home=tmp_path / "api-home"))) as client:
        yield client


@pytest.fixture
def tokens(api: TestClient) -> Callable[..., dict[str, str]]:
    """``tokens(name, roles=[...])``: create a user in the app's lake, return its auth header."""
    lake: Lake = api.app.state.services.lake  # type: ignore[attr-defined]

    def make(name: str, roles: list[str] | None = None) -> dict[str, str]:
        lake.users.create(name, roles=roles or [])
        token, _ = lake.users.create_token(name, name="tests")
        return {"Authorization": f"Bearer {token}"}

    return make
