"""The query gateway: ``POST /api/v1/query`` runs one governed SQL SELECT.

The answer is JSON by default, or an Arrow IPC stream when the request says
``Accept: application/vnd.apache.arrow.stream`` (the query id, row cap and
truncation are then in the schema metadata and in ``X-Lakegate-*`` headers).
Any caller who may use the API (``discover`` on the lake, the baseline of
every route) may send queries; what each one sees is decided per table by the
access layer.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from access.gateway import Gateway
from access.gateway.results import QueryResult
from access.gateway.schemas import ARROW_STREAM, QueryRequest, QueryResultPublic
from api.authz import BASELINE, AccessDep, known
from api.deps import LakeDep, PrincipalDep
from api.schemas import ErrorResponse

router = APIRouter(prefix="/query", tags=["query"])

_LOCK = threading.Lock()


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorResponse} for status in statuses}


def get_gateway(request: Request, lake: LakeDep, access: AccessDep) -> Gateway:
    """The app's gateway over the app's ``AccessControl``, made on first use."""
    state = request.app.state
    gateway: Gateway | None = getattr(state, "gateway", None)
    if gateway is not None and gateway.lake is lake:
        return gateway
    with _LOCK:
        gateway = getattr(state, "gateway", None)
        if gateway is None or gateway.lake is not lake:
            gateway = Gateway(lake, access)
            state.gateway = gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


def _wants_arrow(accept: str | None) -> bool:
    if not accept:
        return False
    return any(part.split(";", 1)[0].strip().lower() == ARROW_STREAM for part in accept.split(","))


def _headers(result: QueryResult) -> dict[str, str]:
    return {
        "X-Lakegate-Query-Id": result.query_id,
        "X-Lakegate-Row-Count": str(result.row_count),
        "X-Lakegate-Truncated": "true" if result.truncated else "false",
        "X-Lakegate-Row-Cap": str(result.row_cap),
    }


@router.post(
    "",
    dependencies=[BASELINE],
    response_model=QueryResultPublic,
    responses={
        **_errors(403, 422, 504),
        200: {"content": {ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}}},
              "description": "The rows, as JSON or (Accept: " + ARROW_STREAM + ") an Arrow IPC stream."},
    },
)
async def run_query(body: QueryRequest, request: Request, gateway: GatewayDep, principal: PrincipalDep) -> Response:
    """Run one SQL SELECT with the caller's row filters and column masks.

    Refused (422): anything but one read query, table functions and file paths.
    Denied (403): a table that does not exist or that the caller may not read
    (one answer for both), or a named column the caller may not read. Past the
    time limit the query is cancelled (504).
    """

    def run() -> QueryResult:
        subject = known(gateway.access, principal)
        return gateway.query(subject, body.sql, max_rows=body.max_rows, timeout_seconds=body.timeout_seconds)

    result = await run_in_threadpool(run)
    if _wants_arrow(request.headers.get("accept")):
        return Response(content=result.to_ipc(), media_type=ARROW_STREAM, headers=_headers(result))
    payload = QueryResultPublic.of(result).model_dump(mode="json")
    return JSONResponse(payload, headers=_headers(result))
