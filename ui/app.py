"""Mounting the web UI on the API app.

``api.app.create_app`` calls :func:`mount_ui` once; the UI then lives under
``/ui`` (``/`` redirects there) with its static files under ``/ui/static``.
"""

from __future__ import annotations

import functools

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute

from lake.errors import NotFound
from ui.routes import (
    admin,
    auth,
    catalogue,
    datasets,
    inbox,
    meetings,
    metric_authoring,
    metrics,
    producers,
    search,
    subscribers,
    views,
    workspace,
)
from ui.routing import Me, UiRoute
from ui.templating import STATIC, UI_PREFIX

_fallback = APIRouter(prefix=UI_PREFIX, route_class=UiRoute, include_in_schema=False)


@_fallback.get("/{path:path}")
def not_found(path: str, request: Request, me: Me) -> Response:
    """Any other path under the UI: a 404 page (``/ui/`` goes home)."""
    if not path:
        return RedirectResponse(UI_PREFIX, status_code=307)
    raise NotFound(f"there is no page at {UI_PREFIX}/{path}")


@functools.cache
def page_routes() -> tuple[BaseRoute, ...]:
    """The UI's page routes, built once per process and shared by every app (see ``api.app.api_routes``)."""
    pages = APIRouter()
    for module in (auth, search, catalogue, datasets, producers, views, metric_authoring, metrics, meetings, workspace, inbox,
                   admin, subscribers):
        pages.include_router(module.router)
    pages.include_router(_fallback)
    return tuple(pages.routes)


def mount_ui(app: FastAPI) -> None:
    """Add the UI pages (under ``/ui``), their static files and a ``/`` → ``/ui`` redirect to ``app``."""
    app.mount(f"{UI_PREFIX}/static", StaticFiles(directory=STATIC), name="ui-static")
    app.router.routes.extend(page_routes())  # after the static files: the 404 page takes any other path

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(UI_PREFIX, status_code=307)
