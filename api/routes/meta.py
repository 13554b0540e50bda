"""The service itself: the public health check and the (authenticated) OpenAPI document."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.schemas import Health

#: Routes that need no token. Only the health check belongs here.
public = APIRouter(tags=["meta"])
router = APIRouter(tags=["meta"])


@public.get("/health")
async def health() -> Health:
    """Liveness: says nothing about the deployment beyond being up.

    Answered on the event loop, without a worker thread or the catalog, so it
    answers while every worker is busy.
    """
    return Health()


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request) -> dict[str, Any]:
    """The OpenAPI document, for authenticated callers only."""
    return request.app.openapi()  # type: ignore[no-any-return]
