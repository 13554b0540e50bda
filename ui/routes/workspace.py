"""The SQL workspace: write a query, run it through the gateway, page through the
rows, download them (CSV, Parquet), reopen past queries, save and share queries.

Every run and download is ``Gateway.query`` as the signed-in person, the call
``POST /api/v1/query`` makes: their masks, row filters, row cap and time limit
apply, the query is audited, and it waits for a slot of the app's admission
control like any other. A saved query opened from a share link runs as the
person who opens it, never as its author (:mod:`access.saved`).
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Form, Request, Response
from starlette.responses import RedirectResponse

from access.gateway import FileFormat, QueryResult, readable_tables
from access.gateway.errors import QueryRefused, UnknownColumn
from access.history import find_query, query_history
from access.saved import MAX_NAME_CHARS, SavedQuery
from lake.errors import LakegateError
from ui import services
from ui.highlight import sql_keywords
from ui.routing import Me, Posted, UiRoute, form_outcome, in_thread
from ui.samples import cell
from ui.templating import UI_PREFIX, render

router = APIRouter(prefix=f"{UI_PREFIX}/workspace", route_class=UiRoute, include_in_schema=False)

#: Rows shown per page of a result (the rest of the capped result is paged in the browser).
PAGE_ROWS = 50
HISTORY_SHOWN = 25
#: Longest SQL text a form takes (the gateway refuses longer text with its own message).
FORM_SQL_CHARS = 200_000

Sql = Annotated[str, Form(max_length=FORM_SQL_CHARS)]


def _catalog_names(request: Request) -> list[str]:
    """Every dataset and view name; the gateway's rules then keep those the person may read."""
    from views import list_views

    lake = services.lake_of(request)
    return [d.name for d in lake.datasets.list()] + [v.name for v in list_views(lake)]


def _schema(request: Request, user: str) -> list[dict[str, Any]]:
    tables = readable_tables(services.gateway(request), user, _catalog_names(request))
    return [{"name": t.name, "kind": t.kind,
             "columns": [{"name": c.name, "type": c.type, "mask": c.mask} for c in t.columns]} for t in tables]


def _result(result: QueryResult) -> dict[str, Any]:
    names = result.table.column_names
    data = [result.table.column(i).to_pylist() for i in range(len(names))]
    rows = [tuple(cell(v) for v in row) for row in zip(*data, strict=True)] if data else []
    return {"columns": result.columns(), "rows": rows, "truncated": result.truncated, "row_cap": result.row_cap,
            "elapsed_ms": result.elapsed_ms, "query_id": result.query_id, "stale": result.stale,
            "row_count": result.row_count}


def _page(request: Request, user: str, *, sql: str = "", status: int = 200, **extra: Any) -> Response:
    """The workspace page; ``extra`` adds the result, an error, the saved query opened, a message."""
    saved_queries = services.saved_queries(request)
    context: dict[str, Any] = {
        "sql": sql, "schema": _schema(request, user), "keywords": sql_keywords(),
        "history": query_history(services.access(request).audit, user, limit=HISTORY_SHOWN),
        "mine": saved_queries.mine(user), "page_rows": PAGE_ROWS, "name_max": MAX_NAME_CHARS,
        "result": None, "error": None, "error_at": None, "opened": None, "message": "", "save_name": "",
        "formats": [f.value for f in FileFormat],
    }
    context.update(extra)
    opened: SavedQuery | None = context["opened"]
    if opened is not None and opened.owner == user and not context["save_name"]:
        context["save_name"] = opened.name
    return render(request, "workspace.html", context, status_code=status, section="workspace")


def _error_at(exc: LakegateError) -> dict[str, int] | None:
    """Where in the SQL the gateway found the problem (line and column, 1-based), when it says."""
    if isinstance(exc, QueryRefused | UnknownColumn) and exc.line is not None:
        return {"line": exc.line, "col": exc.col or 1}
    return None


async def _run(request: Request, user: str, sql: str, *, max_rows: int | None = None) -> QueryResult:
    """``Gateway.query`` as ``user``, after admission (as ``POST /api/v1/query``), on a query thread."""
    admission = services.admission(request)
    gateway = services.gateway(request)
    await admission.enter(user)
    try:
        return await anyio.to_thread.run_sync(lambda: gateway.query(user, sql, max_rows=max_rows),
                                              limiter=request.app.state.query_threads)
    finally:
        admission.leave(user)


@router.get("")
def workspace(request: Request, me: Me) -> Response:
    """An empty editor, the tables the person may query, their history and saved queries."""
    return _page(request, me.user)


@router.post("/run")
async def run(request: Request, me: Posted, sql: Sql = "",
              saved: Annotated[str, Form(max_length=64)] = "") -> Response:
    """Run the editor's SQL through the gateway as the signed-in person and show the rows."""
    opened = await in_thread(services.saved_queries(request).get, me.user, saved) if saved else None
    try:
        result = await _run(request, me.user, sql)
    except LakegateError as exc:
        if exc.http_status >= 500 and exc.code not in ("query_timeout",):
            raise
        return await in_thread(_page, request, me.user, sql=sql, status=exc.http_status, error=exc.message,
                               error_at=_error_at(exc), opened=opened)
    return await in_thread(_page, request, me.user, sql=sql, result=_result(result), opened=opened)


@router.post("/download")
async def download(request: Request, me: Posted, sql: Sql = "",
                   format: Annotated[str, Form(max_length=16)] = "csv") -> Response:
    """The query's rows as a CSV or Parquet file, through the gateway as the signed-in person.

    Up to the server's largest row cap; masks and row filters apply as for any run.
    """
    fmt = FileFormat.parse(format)
    limits = services.gateway(request).limits
    result = await _run(request, me.user, sql, max_rows=limits.max_rows)
    body = await in_thread(result.to_file, fmt)
    headers = {"Content-Disposition": f'attachment; filename="{result.file_name(fmt)}"',
               "X-Lakegate-Query-Id": result.query_id, "X-Lakegate-Row-Count": str(result.row_count),
               "X-Lakegate-Truncated": "true" if result.truncated else "false"}
    return Response(content=body, media_type=fmt.media_type, headers=headers)


@router.get("/history/{query_id}")
def from_history(request: Request, me: Me, query_id: str) -> Response:
    """One of the person's past queries in the editor (their own history only)."""
    item = find_query(services.access(request).audit, me.user, query_id)
    note = "Reopened from your history"
    if item.sql_truncated:
        note += "; the audit log kept only the beginning of this long query"
    return _page(request, me.user, sql=item.sql, message=note + ".")


@router.post("/save")
async def save(request: Request, me: Posted, sql: Sql = "",
               name: Annotated[str, Form(max_length=255)] = "",
               shared: Annotated[str, Form(max_length=8)] = "") -> Response:
    """Save the editor's SQL under a name (the same name again replaces the text)."""
    box: list[SavedQuery] = []

    def act() -> None:
        box.append(services.saved_queries(request).save(me.user, name, sql, shared=bool(shared) or None))

    response = await form_outcome(act, done=f"{UI_PREFIX}/workspace", refused=lambda message, status: _page(
        request, me.user, sql=sql, status=status, error=message, save_name=name))
    if box:
        return RedirectResponse(f"{UI_PREFIX}/workspace/saved/{box[0].id}?saved=1", status_code=303)
    return response


@router.get("/saved/{query_id}")
def open_saved(request: Request, me: Me, query_id: str, saved: int = 0) -> Response:
    """A saved query in the editor: one's own, or one shared by link (it runs as the person who opens it)."""
    opened = services.saved_queries(request).get(me.user, query_id)
    message = f"Saved as “{opened.name}”." if saved and opened.owner == me.user else ""
    return _page(request, me.user, sql=opened.sql, opened=opened, message=message)


@router.post("/saved/{query_id}/share")
async def share(request: Request, me: Posted, query_id: str,
                shared: Annotated[str, Form(max_length=8)] = "") -> Response:
    """Share one's saved query by link, or stop sharing it."""
    await in_thread(services.saved_queries(request).share, me.user, query_id, bool(shared))
    return RedirectResponse(f"{UI_PREFIX}/workspace/saved/{query_id}", status_code=303)


@router.post("/saved/{query_id}/delete")
async def delete(request: Request, me: Posted, query_id: str) -> Response:
    """Delete one's saved query."""
    await in_thread(services.saved_queries(request).delete, me.user, query_id)
    return RedirectResponse(f"{UI_PREFIX}/workspace", status_code=303)
