"""Fixtures of the UI tests: the API app with the UI mounted, on a temporary
home, a client that does not follow redirects, and a helper that signs in
through the real sign-in form."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from lake.service import Lake
from lake.settings import Settings

from ui_helpers import TestClient, app_request, sign_in
from ui_world import make_data, make_policy, make_users


@pytest.fixture
def make_ui(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Start the app with the UI on its own home; settings overrides and client options as keywords."""
    with contextlib.ExitStack() as stack:

        def make(home: str = "home", base_url: str = "http://testserver", **overrides: Any) -> TestClient:
            app = create_app(Settings(home=tmp_path / home, **overrides))
            return stack.enter_context(TestClient(app, base_url=base_url, follow_redirects=False))

        yield make


@pytest.fixture
def client(make_ui: Callable[..., TestClient]) -> TestClient:
    return make_ui()


@pytest.fixture
def ui_lake(client: TestClient) -> Lake:
    lake: Lake = client.app.state.services.lake  # type: ignore[attr-defined]
    return lake


@pytest.fixture
def world(client: TestClient, ui_lake: Lake) -> TestClient:
    """Users, ``sales.orders`` with rows, and the policy of :mod:`ui_world` (no Spark needed)."""
    from ui import services

    make_users(ui_lake)
    make_data(ui_lake)
    make_policy(ui_lake, services.access(app_request(client)))  # the app's own AccessControl
    return client


@pytest.fixture
def login() -> Callable[..., Any]:
    return sign_in
