"""Fixtures for the API and CLI tests: an app on a temporary home (SQLite catalog,
local store), users with tokens made through ``lake.users``, contracts, and a CLI
runner pointed at its own ``LAKEGATE_HOME``."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.app import create_app
from lake.service import Lake
from lake.settings import Settings, get_settings

with warnings.catch_warnings():
    # Starlette asks for the `httpx2` package and warns when it falls back to httpx.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient

API = "/api/v1"
Headers = dict[str, str]

#: Users made for every API test: name -> roles.
USERS: dict[str, list[str]] = {
    "root": ["admin"],
    "alice": ["producer", "sales"],  # owns the sales datasets through the "sales" team role
    "bob": ["producer", "marketing"],
    "victor": [],  # a viewer: no roles at all
}


def bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


def _contract(name: str = "sales.orders", **overrides: Any) -> dict[str, Any]:
    """A small contract owned by the ``sales`` team: a key, a range, an allowed set and PII."""
    doc: dict[str, Any] = {
        "dataset": name,
        "owner": "sales",
        "description": "Orders placed in the web shop.",
        "primary_key": ["order_id"],
        "columns": [
            {"name": "order_id", "type": "int64", "nullable": False},
            {"name": "amount", "type": "decimal(12,2)", "min": 0},
            {"name": "country", "type": "string", "allowed": ["US", "DE", "FR"]},
            {"name": "email", "type": "string", "pii": True},
        ],
    }
    doc.update(overrides)
    return doc


CONTRACT_YAML = """\
dataset: sales.orders
owner: sales
description: Orders placed in the web shop.
primary_key: [order_id]
columns:
  - {name: order_id, type: int64, nullable: false}
  - {name: amount, type: "decimal(12,2)", min: 0}
  - {name: country, type: string, allowed: [US, DE, FR]}
  - {name: email, type: string, pii: true}
"""

GOOD_CSV = b"order_id,amount,country,email\n1,9.99,US,ann@example.com\n2,0,DE,\n"


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Start an app (lifespan included) on its own home; settings overrides as keywords."""
    with contextlib.ExitStack() as stack:

        def make(home: str = "home", **overrides: Any) -> TestClient:
            settings = Settings(home=tmp_path / home, **overrides)
            return stack.enter_context(TestClient(create_app(settings)))

        yield make


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture
def lake(client: TestClient) -> Lake:
    """The Lake the app opened (overrides the core's ``lake`` fixture)."""
    opened: Lake = client.app.state.services.lake  # type: ignore[attr-defined]
    return opened


def _make_users(lake: Lake) -> dict[str, Headers]:
    auth = {}
    for name, roles in USERS.items():
        lake.users.create(name, roles=roles)
        token, _ = lake.users.create_token(name, name="tests")
        auth[name] = bearer(token)
    return auth


@pytest.fixture
def auth(lake: Lake) -> dict[str, Headers]:
    """Authorization headers per user of :data:`USERS`."""
    return _make_users(lake)


@pytest.fixture
def orders(client: TestClient, auth: dict[str, Headers]) -> dict[str, Any]:
    """``sales.orders`` registered by alice through the API."""
    r = client.post(f"{API}/datasets", json=_contract(), headers=auth["alice"])
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


# -- CLI ----------------------------------------------------------------------------------


@pytest.fixture
def cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``LAKEGATE_HOME`` for the CLI; the cached settings are cleared around the test."""
    home = tmp_path / "cli-home"
    monkeypatch.setenv("LAKEGATE_HOME", str(home))
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@contextlib.contextmanager
def _open_cli_lake() -> Iterator[Lake]:
    get_settings.cache_clear()
    lk = Lake(get_settings())
    try:
        yield lk
    finally:
        lk.close()


@pytest.fixture
def cli_lake(cli_home: Path) -> Callable[[], contextlib.AbstractContextManager[Lake]]:
    """Open the CLI's lake from the environment, as the CLI does (``with cli_lake() as lake``)."""
    return _open_cli_lake


# -- data -----------------------------------------------------------------------------------


@pytest.fixture
def make_contract() -> Callable[..., dict[str, Any]]:
    return _contract


@pytest.fixture
def contract_yaml() -> str:
    return CONTRACT_YAML


@pytest.fixture
def good_csv() -> bytes:
    return GOOD_CSV


@pytest.fixture
def users_for() -> Callable[[Lake], dict[str, Headers]]:
    """Make the users of :data:`USERS` in another app's lake; returns their headers."""
    return _make_users
