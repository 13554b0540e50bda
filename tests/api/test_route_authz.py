"""Every route of the API refuses a request without a token (401) and one from a
principal lacking the permission (403).

The routes are enumerated from the app, so a new route is checked the moment it
is mounted. The principal lacking the permission holds an explicit deny of
``admin`` on the whole lake (which denies every action), so every route must
ask the access layer before doing anything else (before a lookup that would
answer 404, before reading a body that would answer 422).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from access import Action, Effect, Resource
from api.app import API_PREFIX, create_app
from api.authz import access_for
from api.deps import current_principal
from lake.settings import Settings

#: Routes without a token: the health check and what documents the API (tests/api/test_app.py).
PUBLIC = {"/health", "/api/v1/openapi.json", "/api/docs"}
#: A plausible value per path parameter, so a route reaches its authorization.
PATH_VALUES = {"name": "sales.orders", "member": "vic", "subject": "vic"}


def http_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every HTTP route, including those of included routers."""
    try:  # FastAPI >= 0.16x includes routers lazily
        from fastapi.routing import iter_route_contexts

        routes: Any = list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - older FastAPI
        routes = [r for r in app.routes if isinstance(r, APIRoute)]
    return sorted({(m, r.path) for r in routes for m in (getattr(r, "methods", None) or ())
                   if m not in ("HEAD", "OPTIONS")})


def build_app(settings: Settings) -> FastAPI:
    """The full app; the access routers are mounted here too until the app mounts them itself."""
    from api.routes import access, audit, requests

    app = create_app(settings)
    mounted = {path for _, path in http_routes(app)}
    for module in (access, requests, audit):
        if not any(API_PREFIX + r.path in mounted for r in module.router.routes):  # type: ignore[attr-defined]
            app.include_router(module.router, prefix=API_PREFIX, dependencies=[Depends(current_principal)])
    return app


def _routes() -> list[tuple[str, str]]:
    app = build_app(Settings(home=Path("/nonexistent/lakegate-route-listing")))
    # The web UI (``/`` and ``/ui/...``) answers with a sign-in redirect, not
    # 401/403; tests/ui checks that every UI route needs a session.
    return [(m, p) for m, p in http_routes(app)
            if p not in PUBLIC and p != "/" and not p.startswith("/ui") and not p.startswith("/static")]


ROUTES = _routes()


def _url(path: str) -> str:
    def value(m: re.Match[str]) -> str:
        name = m.group(1).split(":")[0]
        return PATH_VALUES.get(name, "1" if name.endswith("id") else "x")

    return re.sub(r"\{([^}]+)\}", value, path)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Any]]:
    settings = Settings(home=tmp_path_factory.mktemp("route-authz") / "home")
    with TestClient(build_app(settings)) as client:
        lake = client.app.state.services.lake  # type: ignore[attr-defined]
        lake.users.create("root", roles=["admin"])
        lake.users.create_token("root", name="token 1 is not mal's")
        lake.users.create("mal")
        access = access_for(client.app, lake)
        access.ensure_subject("mal")
        access.grant("mal", Action.ADMIN, Resource.lake(), effect=Effect.DENY, reason="locked out")

        def fresh_token() -> dict[str, str]:
            """A new token per test, so a route that wrongly lets mal act cannot spoil the next test."""
            token, _ = lake.users.create_token("mal", name="tests")
            return {"Authorization": f"Bearer {token}"}

        yield client, fresh_token


def _call(client: TestClient, method: str, path: str, headers: dict[str, str] | None) -> Any:
    body: dict[str, Any] = {} if method in {"GET", "DELETE"} else {"json": {}}
    return client.request(method, _url(path), headers=headers or {}, **body)


def test_the_routes_are_enumerated() -> None:
    assert len(ROUTES) >= 20 and any(p.startswith(API_PREFIX + "/access") for _, p in ROUTES)


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_route_needs_a_token(served: tuple[TestClient, Any], method: str, path: str) -> None:
    client, _ = served
    r = _call(client, method, path, None)
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "unauthenticated"
    r = _call(client, method, path, {"Authorization": "Bearer lg_not-a-real-token"})
    assert r.status_code == 401, r.text


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_route_needs_a_permission(served: tuple[TestClient, Any], method: str, path: str) -> None:
    client, locked_out = served
    r = _call(client, method, path, locked_out())
    assert r.status_code == 403, f"{method} {path} answered {r.status_code}: {r.text[:300]}"
    assert r.json()["error"]["code"] == "access_denied"
