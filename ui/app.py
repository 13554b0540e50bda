"""Mounting the web UI on the API app.

``api.app.create_app`` calls :func:`mount_ui` once; the UI then lives under
``/ui`` (``/`` redirects there) with its static files under ``/ui/static``.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from starlette.responses import RedirectResponse

from lake.errors import NotFound
from ui.routes import admin, auth, datasets, inbox, metrics, search, views
from ui.routing import Me, UiRoute
from ui.templating import STATIC, UI_PREFIX

_fallback = APIRouter(prefix=UI_PREFIX, route_class=UiRoute, include_in_schema=False)


@_fallback.get("/{path:path}")
def not_found(path: str, request: Request, me: Me) -> Response:
    """Any other path under the UI: a 404 page (``/ui/`` goes home)."""
    if not path:
        return RedirectResponse(UI_PREFIX, status_code=307)
    raise NotFound(f"there is no page at {UI_PREFIX}/{path}")


def mount_ui(app: FastAPI) -> None:
    """Add the UI pages (under ``/ui``), their static files and a ``/`` → ``/ui`` redirect to ``app``."""
    app.mount(f"{UI_PREFIX}/static", StaticFiles(directory=STATIC), name="ui-static")
    for module in (auth, search, datasets, views, metrics, inbox, admin):
        app.include_router(module.router)
    app.include_router(_fallback)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(UI_PREFIX, status_code=307)
