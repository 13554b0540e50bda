"""Helpers shared by the UI tests (import as ``from ui_helpers import ...``)."""

from __future__ import annotations

import re
import warnings
from typing import Any

from starlette.requests import Request

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
