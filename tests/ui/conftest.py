"""Fixtures of the UI tests: the API app with the UI mounted, on a temporary
home, a client that does not follow redirects, and a helper that signs in
through the real sign-in form."""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from api.app import create_app
from lake.service import Lake
from lake.settings import Settings
from ui.app import mount_ui

from ui_world import make_data, make_policy, make_users

with warnings.catch_warnings():
    # Starlette asks for the `httpx2` package and warns when it falls back to httpx.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@pytest.fixture
def make_ui(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Start the app with the UI on its own home; settings overrides and client options as keywords."""
    with contextlib.ExitStack() as stack:

        def make(home: str = "home", base_url: str = "http://testserver", **overrides: Any) -> TestClient:
            app = create_app(Settings(home=tmp_path / home, **overrides))
            mount_ui(app)
            return stack.enter_context(TestClient(app, base_url=base_url, follow_redirects=False))

        yield make


@pytest.fixture
def client(make_ui: Callable[..., TestClient]) -> TestClient:
    return make_ui()


@pytest.fixture
def ui_lake(client: TestClient) -> Lake:
    lake: Lake = client.app.state.lake  # type: ignore[attr-defined]
    return lake


@pytest.fixture
def world(client: TestClient, ui_lake: Lake) -> TestClient:
    """Users, ``sales.orders`` with rows, and the policy of :mod:`ui_world` (no Spark needed)."""
    from ui import services

    make_users(ui_lake)
    make_data(ui_lake)
    make_policy(ui_lake, services.access(app_request(client)))  # the app's own AccessControl
    return client


def app_request(client: TestClient) -> Request:
    """A request scope naming the client's app, for :mod:`ui.services` (which reads ``request.app.state``)."""
    return Request({"type": "http", "app": client.app, "headers": []})


def sign_in(client: TestClient, user: str, password: str, *, next_url: str = "") -> Any:
    """Sign in through the form (dropping any session cookie first); returns the POST response."""
    client.cookies.clear()
    page = client.get("/ui/login")
    assert page.status_code == 200
    data = {"csrf_token": csrf_of(page.text), "method": "password", "username": user, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post("/ui/login", data=data)


@pytest.fixture
def login() -> Callable[..., Any]:
    return sign_in
