"""The harness of the browser tests (``test_ui_*_browser.py``; import as ``from browser_harness import ...``).

- :func:`serve` runs an app under uvicorn in a thread on a free loopback port;
- :class:`Person` is one person's browser context at one screen size (go, sign in, screenshot);
- :func:`serious_accessibility_violations` runs axe-core on a page;
- :func:`fresh_screenshots` empties the screenshots folder once per test run.

The ``browser`` fixture (Debian's Chromium through Playwright, launched once per session) is in
``conftest.py``. Screenshots go to ``tests/ui/screenshots/`` (ignored by git), or to
``$LAKEGATE_UI_SCREENSHOTS``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from lake.service import Lake

from ui_world import PASSWORDS

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
LAPTOP = {"width": 1366, "height": 900}
SMALL_LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SHOTS = Path(os.environ.get("LAKEGATE_UI_SCREENSHOTS") or Path(__file__).parent / "screenshots")
#: axe-core, the accessibility rules, installed from tests/ui/axe/package-lock.json by the bootstrap.
AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
#: Spark answers samples and metric values; its first query in a process takes a while.
SLOW_PAGE_MS = 120_000

#: The page's sideways overflow in pixels (0 or less: it does not scroll sideways).
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"
#: The form controls that have no label, aria-label or aria-labelledby.
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden')
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
  .map(e => e.outerHTML.slice(0, 120))"""
_AXE_RUN = """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
  .filter(v => v.impact === 'serious' || v.impact === 'critical')
  .map(v => `${v.impact} ${v.id} (${v.help}): ` + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))"""


class Served(NamedTuple):
    """A served lake: the base URL of its app and the lake itself."""

    base: str
    lake: Lake


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(app: Any, *, name: str = "ui-test-server") -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free loopback port; yields its base URL.

    The server stops when the block ends; the caller closes what the app runs on (lake, Spark).
    """
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none",
                                           lifespan="on", access_log=False))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the test server did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def fresh_screenshots(config: pytest.Config) -> None:
    """Empty :data:`SHOTS` once per test run, so that it holds the screenshots of every browser module.

    Under pytest-xdist each worker has its own session (and browser): the first to get here empties
    the folder, under a lock, and marks it with the run's id (the same on every worker); the others
    see the mark and keep what is there.
    """
    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    run = str(workerinput.get("testrunuid") or uuid.uuid4().hex)  # one process: this session is the run
    SHOTS.mkdir(parents=True, exist_ok=True)
    with (SHOTS / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        mark = SHOTS / ".run"
        if mark.exists() and mark.read_text() == run:
            return
        for old in SHOTS.iterdir():
            if old.name == ".lock":
                continue
            if old.is_dir():
                shutil.rmtree(old)
            else:
                old.unlink()
        (SHOTS / ".gitignore").write_text("*\n")
        mark.write_text(run)


class Person:
    """One browser context (cookies of one person) at one screen size."""

    def __init__(self, browser: Any, server: Served, user: str, viewport: dict[str, int] = LAPTOP) -> None:
        self.context = browser.new_context(viewport=viewport, device_scale_factor=1)
        self.context.set_default_timeout(SLOW_PAGE_MS)
        self.page = self.context.new_page()
        self.base = server.base
        self.lake = server.lake
        self.user = user
        self.size = "phone" if viewport["width"] < 600 else "laptop"

    def go(self, path: str, status: int = 200) -> Any:
        """Open ``path`` and check the answer's status (200 unless told)."""
        response = self.page.goto(self.base + path, timeout=SLOW_PAGE_MS)
        assert response is not None and response.status == status, f"{path}: {response and response.status}"
        return response

    def sign_in(self, *, with_token: bool = False) -> None:
        """Sign in through the form, with the password or with a new API token."""
        self.go("/ui/login")
        if with_token:
            token, _ = self.lake.users.create_token(self.user, name="browser test")
            self.page.get_by_role("radio", name="API token").check()
            assert self.page.locator("#password").is_hidden()
            self.page.locator("#token").fill(token)
        else:
            self.page.get_by_label("User name", exact=True).fill(self.user)
            self.page.get_by_label("Password", exact=True).fill(PASSWORDS[self.user])
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(f"{self.base}/ui")
        assert self.page.locator(".whoami .user").inner_text().lower() == self.user

    def shot(self, name: str) -> Path:
        """A full-page screenshot, ``<name>-laptop.png`` or ``<name>-phone.png``."""
        path = SHOTS / f"{name}-{self.size}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


def serious_accessibility_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now, one line each."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run WITH_BROWSER=1 scripts/bootstrap.sh")
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text())  # through the browser's debugging protocol: the page's CSP does not apply
    return list(page.evaluate(_AXE_RUN))
