"""The service itself: the public health check (the public OpenAPI document and its Swagger UI are in ``api.docs``)."""

from __future__ import annotations

from fastapi import APIRouter

from api.schemas import Health

#: Routes that need no token: the health check (and, from ``api.docs``, what documents the API).
public = APIRouter(tags=["meta"])


@public.get("/health")
async def health() -> Health:
    """Liveness: says nothing about the deployment beyond being up.

    Answered on the event loop, without a worker thread or the catalog, so it
    answers while every worker is busy.
    """
    return Health()
