"""The API's documentation: the OpenAPI document and Swagger UI, readable without a token.

Reading what the API offers needs no token; every operation still does (the
"Authorize" button of Swagger UI takes an API token). Swagger UI's script and
style sheet are served from the installed ``swagger-ui-py`` package under
``/api/docs/static``, so the page loads offline; it carries the web UI's
strict Content-Security-Policy, with its one inline script (FastAPI's
``get_swagger_ui_html`` start-up call) allowed by its SHA-256 hash.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import re
from functools import cache
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from lake.errors import ConfigError

DOCS_PATH = "/api/docs"
STATIC_PATH = f"{DOCS_PATH}/static"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)

router = APIRouter(include_in_schema=False)


def swagger_ui_files() -> Path:
    """The folder of Swagger UI's files in the installed ``swagger-ui-py`` package (not imported)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the swagger-ui-py package is missing: reinstall Lakegate's dependencies (uv.lock)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    if not (folder / "swagger-ui-bundle.js").is_file():
        raise ConfigError(f"{folder} has no swagger-ui-bundle.js: the swagger-ui-py package is incomplete")
    return folder


@cache
def _page(openapi_url: str) -> tuple[bytes, dict[str, str]]:
    from ui.routing import SECURITY_HEADERS  # the UI's strict policy, the one home of it

    html = bytes(get_swagger_ui_html(
        openapi_url=openapi_url, title="Lakegate API",
        swagger_js_url=f"{STATIC_PATH}/swagger-ui-bundle.js", swagger_css_url=f"{STATIC_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{STATIC_PATH}/favicon-32x32.png",
        # No badge from the public validator: the page asks nothing of another host.
        swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": False},
    ).body)
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html.decode()))
    headers = dict(SECURITY_HEADERS)
    headers["Content-Security-Policy"] = headers["Content-Security-Policy"].replace(
        "script-src 'self'", f"script-src 'self' {hashes}")
    return html, headers


@router.get("/api/v1/openapi.json")
def openapi(request: Request) -> JSONResponse:
    """The OpenAPI document (public: it describes the operations, each of which needs a token)."""
    return JSONResponse(request.app.openapi())


@router.get(DOCS_PATH)
def docs() -> HTMLResponse:
    """Swagger UI over the OpenAPI document."""
    body, headers = _page("/api/v1/openapi.json")
    return HTMLResponse(body, headers=headers)


def install(app: FastAPI) -> None:
    """Serve Swagger UI's files on ``app`` (the pages themselves, :data:`router`, are in ``api.app.api_routes``)."""
    app.mount(STATIC_PATH, StaticFiles(directory=swagger_ui_files()), name="api-docs-static")

