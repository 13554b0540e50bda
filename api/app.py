"""The HTTP API: one app factory, one lifespan, one error envelope.

Every error answer has the same shape::

    {"error": {"code": "contract_violation", "message": "...", "details": {...}}}

``code`` is stable and machine-readable (the ``code`` of the
:class:`~lake.errors.LakegateError` subclass, ``invalid_request`` for a request
FastAPI could not validate); ``message`` says what to do.
"""

from __future__ import annotations

import functools
import http
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute

from access.gateway.admission import Admission, AdmissionLimits
from api import docs, openapi
from api.authz import BASELINE, audit_failure, audit_shed, audit_token_use
from api.deps import current_principal
from api.guards import BodyLimit, ShedWhenFull, error_response
from api.routes import (
    access,
    audit,
    datasets,
    gateway,
    inbox,
    meetings,
    meta,
    metrics,
    queries,
    requests,
    search,
    subscribers,
    tokens,
    users,
    views,
)
from api.scheduler import Scheduler
from api.services import Services, build_services
from lake.errors import AuthenticationError, LakegateError
from lake.service import Lake
from lake.settings import Settings, get_settings

API_PREFIX = "/api/v1"

log = logging.getLogger("lakegate.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "access_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


async def _lakegate_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LakegateError)
    if exc.http_status >= 500:
        log.error("%s %s failed: %s: %s", request.method, request.url.path, exc.code, exc.message)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationError) else None
    if exc.retry_after is not None:
        headers = {"Retry-After": str(exc.retry_after)}
    return error_response(exc.http_status, exc.code, exc.message, exc.details(), headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Only where and why: the offending input is not echoed (it may be a secret).
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
              for e in exc.errors()]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    message = f"{where}: {first['msg']}" if where else str(first["msg"])
    return error_response(422, "invalid_request", message, {"errors": errors})


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else http.HTTPStatus(exc.status_code).phrase
    details: dict[str, Any] = {} if isinstance(exc.detail, str) else {"detail": exc.detail}
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, message, details, dict(exc.headers) if exc.headers else None)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    await run_in_threadpool(audit_failure, request, exc)
    return error_response(500, "internal_error", "internal server error; the server log has the details")


@functools.cache
def api_routes() -> tuple[BaseRoute, ...]:
    """The API's routes, built once per process and shared by every app it creates.

    Including a router makes FastAPI analyse each route's signature and build its
    validators (about 0.3 s for this API and the UI together, each time). The
    routes hold nothing of one app: a handler reaches its app's services through
    ``request.app``, and no app overrides dependencies. So a process that builds
    many apps (the tests build one per test) builds the routes once.
    """
    site = APIRouter()
    site.include_router(meta.public)
    site.include_router(docs.router)  # the OpenAPI document and Swagger UI: public, before the authenticated routes
    # Every resource router is mounted under this one, so no route can forget
    # authentication, the lake-wide baseline permission, and an audit entry per
    # token use.
    authenticated = APIRouter(
        prefix=API_PREFIX, dependencies=[Depends(current_principal), BASELINE, Depends(audit_token_use)]
    )
    for resource in (datasets.router, tokens.router, users.router, views.router,
                     access.router, requests.router, audit.router, metrics.router, meetings.router, inbox.router,
                     gateway.router, queries.router, subscribers.router, search.router):
        authenticated.include_router(resource)
    site.include_router(authenticated)
    return tuple(site.routes)


def create_app(settings: Settings | None = None, lake: Lake | None = None, *,
               services: Services | None = None) -> FastAPI:
    """Build the Lakegate API.

    Args:
        settings: The settings tree (``get_settings()`` by default); it controls
            everything: storage, catalog, engine, gateway limits and admission,
            subscribers, mail. Ignored when ``lake`` or ``services`` is given.
        lake: An open lake to serve; the caller keeps ownership and closes it.
            By default the lifespan opens one (running catalog migrations) and
            closes it on shutdown.
        services: Services the caller built (:func:`api.services.build_services`)
            and keeps; by default the lifespan builds them once, over ``lake``
            when given.

    Returns:
        The app. Everything under ``/api/v1`` needs a bearer token but the
        OpenAPI document (``/api/v1/openapi.json``); ``/health`` and Swagger UI
        (``/api/docs``) are public too.
    """
    if services is not None:
        settings = services.settings
    elif lake is not None:
        settings = lake.settings
    else:
        settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = services if services is not None else await run_in_threadpool(
            lambda: build_services(settings, lake=lake))
        app.state.services = built
        # The one background scheduler of this app: queued and due view refreshes, expiry
        # notices, the notification outbox (api/scheduler.py).
        scheduler = Scheduler(built, interval=settings.scheduler_interval_seconds,
                              max_runs=settings.scheduler_max_runs)
        app.state.scheduler = scheduler
        if settings.scheduler_interval_seconds > 0:
            scheduler.start()
        try:
            yield
        finally:
            await scheduler.stop()
            app.state.services = None
            if services is None:
                built.close()

    app = FastAPI(
        title="Lakegate",
        summary="A governed data lake: datasets with data contracts, batches, commits.",
        version="0.1.0",
        lifespan=lifespan,
        # The schema and Swagger UI are served by api.docs (locally, under a strict CSP).
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    bounds = settings.gateway
    # Gateway queries: admitted within bounds, run on their own threads.
    app.state.admission = Admission(AdmissionLimits(
        max_running=bounds.max_concurrent_queries, max_queued=bounds.max_queued_queries,
        max_per_user=bounds.max_queries_per_user, queue_timeout_seconds=bounds.queue_timeout_seconds,
        retry_after_seconds=bounds.retry_after_seconds))
    app.state.query_threads = anyio.CapacityLimiter(bounds.max_concurrent_queries)
    app.add_middleware(BodyLimit, max_body_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes)
    app.add_middleware(ShedWhenFull, admission=app.state.admission, path=f"{API_PREFIX}/query", audit=audit_shed)
    if services is not None:  # built already: served from the start
        app.state.services = services
    app.add_exception_handler(LakegateError, _lakegate_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)

    app.router.routes.extend(api_routes())
    docs.install(app)
    openapi.install(app, API_PREFIX)
    from ui.app import mount_ui

    mount_ui(app)
    return app
