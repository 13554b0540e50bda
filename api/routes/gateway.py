"""The query gateway: ``POST /api/v1/query`` runs one governed SQL SELECT.

The answer is JSON by default, or an Arrow IPC stream when the request says
``Accept: application/vnd.apache.arrow.stream`` (the query id, row cap and
truncation are then in the schema metadata and in ``X-Lakegate-*`` headers),
or a CSV (``text/csv``) or Parquet (``application/vnd.apache.parquet``) file,
the same rows with the same masks (query id and truncation in the headers).
Any caller who may use the API (``discover`` on the lake, the baseline of
every route) may send queries; what each one sees is decided per table by the
access layer.

Queries pass admission control first (:mod:`access.gateway.admission`): a
bounded number run at once, per server and per caller, a few wait, the rest
get 429 with ``Retry-After``; the refusal is audited. Admitted queries run on
their own worker threads, so a burst of queries never takes the threads that
serve every other route. When the client goes away, a waiting query leaves
the queue and a running one is cancelled.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from access.gateway import Admission, Gateway, QueryCancelled
from access.gateway.results import FileFormat, QueryResult
from access.gateway.schemas import ARROW_STREAM, QueryRequest, QueryResultPublic
from api.authz import BASELINE, audit_refusal, known
from api.deps import PrincipalDep, ServicesDep
from api.schemas import error_responses
from lake.errors import TooManyRequests

router = APIRouter(prefix="/query", tags=["query"])


def get_gateway(services: ServicesDep) -> Gateway:
    """The app's gateway over the app's ``AccessControl``."""
    return services.gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


def get_admission(request: Request) -> Admission:
    """The app's admission control (made by ``create_app``)."""
    admission: Admission = request.app.state.admission
    return admission


AdmissionDep = Annotated[Admission, Depends(get_admission)]

#: How often a query's connection is checked for a client that went away.
DISCONNECT_POLL_SECONDS = 0.25


async def _watch_disconnect(request: Request, cancel: threading.Event, phase: dict[str, bool],
                            main: asyncio.Task[Any] | None) -> None:
    """Set ``cancel`` when the client goes away; interrupt the wait for a slot if still waiting."""
    while not await request.is_disconnected():
        await asyncio.sleep(DISCONNECT_POLL_SECONDS)
    cancel.set()
    if phase["waiting"] and main is not None:
        main.cancel()


#: Media types of file answers, to the format.
FILE_TYPES = {"text/csv": FileFormat.CSV, "application/vnd.apache.parquet": FileFormat.PARQUET}


def _wanted(accept: str | None) -> str | FileFormat | None:
    """The answer the ``Accept`` header asks for: ``ARROW_STREAM``, a file format, or ``None`` (JSON)."""
    for part in (accept or "").split(","):
        media = part.split(";", 1)[0].strip().lower()
        if media == ARROW_STREAM:
            return ARROW_STREAM
        if media in FILE_TYPES:
            return FILE_TYPES[media]
    return None


def _headers(result: QueryResult) -> dict[str, str]:
    return {
        "X-Lakegate-Query-Id": result.query_id,
        "X-Lakegate-Row-Count": str(result.row_count),
        "X-Lakegate-Truncated": "true" if result.truncated else "false",
        "X-Lakegate-Row-Cap": str(result.row_cap),
        **({"X-Lakegate-Stale": ", ".join(f"{s['table']}@v{s['served_version']}" for s in result.stale)}
           if result.stale else {}),
    }


@router.post(
    "",
    dependencies=[BASELINE],
    response_model=QueryResultPublic,
    responses={
        **error_responses(403, 422, 429, 504),
        200: {"content": {media: {"schema": {"type": "string", "format": "binary"}}
                          for media in (ARROW_STREAM, *FILE_TYPES)},
              "description": "The rows, as JSON, or (Accept) an Arrow IPC stream, a CSV or a Parquet file."},
    },
)
async def run_query(body: QueryRequest, request: Request, gateway: GatewayDep, principal: PrincipalDep,
                    admission: AdmissionDep) -> Response:
    """Run one SQL SELECT with the caller's row filters and column masks.

    Refused (422): anything but one read query, table functions and file paths.
    Denied (403): a table that does not exist or that the caller may not read
    (one answer for both), or a named column the caller may not read. Past the
    time limit the query is cancelled (504). Too many queries at once, on the
    server or from the caller: 429 with ``Retry-After``.
    """
    cancel = threading.Event()
    phase = {"waiting": True}
    main = asyncio.current_task()
    watcher = asyncio.create_task(_watch_disconnect(request, cancel, phase, main))

    wanted = _wanted(request.headers.get("accept"))

    def run() -> Response:
        subject = known(gateway.access, principal)
        result = gateway.query(subject, body.sql, max_rows=body.max_rows, timeout_seconds=body.timeout_seconds,
                               cancel=cancel)
        # Encoded here, on the query's thread, not on the event loop.
        if wanted == ARROW_STREAM:
            return Response(content=result.to_ipc(), media_type=ARROW_STREAM, headers=_headers(result))
        if isinstance(wanted, FileFormat):
            disposition = f'attachment; filename="{result.file_name(wanted)}"'
            return Response(content=result.to_file(wanted), media_type=wanted.media_type,
                            headers={**_headers(result), "Content-Disposition": disposition})
        payload = QueryResultPublic.of(result).model_dump(mode="json")
        return JSONResponse(payload, headers=_headers(result))

    try:
        try:
            await admission.enter(principal.name)
        except TooManyRequests as exc:
            await run_in_threadpool(audit_refusal, request, principal, exc.reason,
                                    {"running": admission.running, "queued": admission.queued})
            raise
        except asyncio.CancelledError:
            if not cancel.is_set() or main is None:
                raise
            main.uncancel()
            raise QueryCancelled() from None
        phase["waiting"] = False
        try:
            response: Response = await anyio.to_thread.run_sync(run, limiter=request.app.state.query_threads)
        finally:
            admission.leave(principal.name)
    finally:
        watcher.cancel()
    return response
