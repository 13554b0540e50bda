"""Fixtures of the UI tests: the API app with the UI mounted, on a temporary
home, a client that does not follow redirects, a helper that signs in
through the real sign-in form, and the browser tests' Chromium (the rest of
their harness is in :mod:`browser_harness`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from lake.service import Lake
from lake.settings import Settings

from browser_harness import CHROMIUM, CHROMIUM_ARGS, fresh_screenshots
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


@pytest.fixture(scope="session")
def session_chromium(pytestconfig: pytest.Config) -> Iterator[tuple[Any, asyncio.AbstractEventLoop]]:
    """Debian's Chromium through Playwright, launched once per test session (once per xdist worker),
    and Playwright's event loop; the screenshots folder is emptied once per run."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian packages chromium and chromium-driver")
    from playwright.sync_api import sync_playwright

    fresh_screenshots(pytestconfig)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        loop = asyncio.get_running_loop()
        try:
            yield chromium, loop
        finally:
            asyncio._set_running_loop(loop)  # as the module fixture below leaves it while a module runs
            chromium.close()


@pytest.fixture(scope="module")
def browser(session_chromium: tuple[Any, asyncio.AbstractEventLoop]) -> Iterator[Any]:
    """The session's Chromium, for the tests of one module.

    Between two calls, Playwright's sync API leaves its event loop marked as the thread's running loop
    (its dispatcher resumes in it), and ``asyncio.run`` refuses to start under that mark: it is set
    while a browser module runs and taken off after it, so the tests that follow can use asyncio.
    """
    chromium, loop = session_chromium
    asyncio._set_running_loop(loop)
    try:
        yield chromium
    finally:
        asyncio._set_running_loop(None)
