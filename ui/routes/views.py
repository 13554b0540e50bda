"""The view page (SQL with highlighting, versions, column lineage, lineage graph,
materialization runs, whether readers get stale rows, the refresh button and
schedule) and the diff between two versions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request, Response

from access import Action, Resource
from api.params import NumberQuery, OptionalNumberQuery
from lake.errors import InvalidInput, NotFound
from ui import graph, services
from ui.highlight import highlight_diff, highlight_sql
from ui.lineage import view_lineage
from ui.routing import Me, Posted, UiRoute, form_outcome
from ui.sessions import UiSessionInfo
from ui.templating import UI_PREFIX, render
from ui.visibility import not_found_message, require_discover

router = APIRouter(prefix=f"{UI_PREFIX}/views", route_class=UiRoute, include_in_schema=False)

RUNS_SHOWN = 20
DONE = {
    "refresh": "A refresh is queued; the server's scheduler runs it shortly. Readers keep the rows they had "
               "until it succeeds.",
    "schedule": "The refresh schedule is saved.",
}


def _resource(request: Request, user: str, name: str) -> Resource:
    try:
        resource = Resource.view(name)
    except InvalidInput:
        raise NotFound(f"there is no view named {name}") from None
    require_discover(services.access(request), user, resource)
    return resource


def _page(request: Request, me: UiSessionInfo, name: str, version: int | None = None, *, flash: str = "",
          flash_tone: str = "ok", status_code: int = 200) -> Response:
    from access.registration import can_refresh_view
    from views import catalog, inspect
    from views.materialize import runs as view_runs
    from views.refreshes import get_schedule

    resource = _resource(request, me.user, name)
    lake = services.lake_of(request)
    control = services.access(request)
    try:
        info = catalog.get_view(lake, name, version, allow_retired=True)
        versions = list(reversed(catalog.list_versions(lake, name)))
    except NotFound:
        raise NotFound(not_found_message(resource)) from None
    runs = view_runs(lake, name, limit=RUNS_SHOWN)
    lineage = inspect.lineage(lake, name, version=info.version)
    metrics = services.metrics(request).workflow.list()
    nodes, edges = view_lineage(lineage, info.name, metrics, lambda r: control.can(me.user, Action.DISCOVER, r))
    return render(request, "view.html", {
        "info": info, "versions": versions, "runs": runs, "sql": highlight_sql(info.sql),
        "compiled": highlight_sql(info.compiled_sql),
        "graph": graph.render_both(nodes, edges, title=f"Lineage of {info.name} v{info.version}"),
        "nodes": nodes, "edges": edges,
        "previous": next((v.version for v in versions if v.version < info.version), None),
        "schedule": get_schedule(lake, info.name),
        "may_refresh": can_refresh_view(control, me.user, info.owner, info.name),
        "flash": flash, "flash_tone": flash_tone,
    }, section="views", status_code=status_code)


@router.get("/{name}")
def view_page(request: Request, me: Me, name: str, version: OptionalNumberQuery = None,
              done: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """One version of a view (the current one by default)."""
    return _page(request, me, name, version, flash=DONE.get(done or "", ""))


async def _act(request: Request, me: UiSessionInfo, name: str, done: str, call: Callable[[], object]) -> Response:
    return await form_outcome(call, done=f"{UI_PREFIX}/views/{quote(name)}?done={done}#runs",
                              refused=lambda message, status: _page(request, me, name, flash=message,
                                                                    flash_tone="bad", status_code=status))


@router.post("/{name}/refresh")
async def refresh_view(request: Request, me: Posted, name: str) -> Response:
    """Queue a refresh of the current version (its owner with write on it, or an admin)."""
    from access.registration import may_refresh_view
    from views.refreshes import queue_refresh

    control = services.access(request)

    def act() -> None:
        actor = may_refresh_view(control, name, by=me.user)
        queue_refresh(control.lake, name, actor=actor, trigger="manual")

    return await _act(request, me, name, "refresh", act)


@router.post("/{name}/schedule")
async def schedule_view(request: Request, me: Posted, name: str,
                        cron: Annotated[str, Form(max_length=127)] = "") -> Response:
    """Set or clear the refresh schedule (the same rule as refreshing)."""
    from access.registration import may_refresh_view
    from views.refreshes import set_schedule

    control = services.access(request)

    def act() -> None:
        may_refresh_view(control, name, by=me.user)
        set_schedule(control.lake, name, cron or None)

    return await _act(request, me, name, "schedule", act)


@router.get("/{name}/diff")
def view_diff(request: Request, me: Me, name: str,
              from_version: Annotated[NumberQuery, Query(alias="from")],
              to_version: Annotated[OptionalNumberQuery, Query(alias="to")] = None) -> Response:
    """What changed between two versions of a view, and whether it breaks readers."""
    from views import catalog, inspect

    resource = _resource(request, me.user, name)
    lake = services.lake_of(request)
    try:
        versions = list(reversed(catalog.list_versions(lake, name)))
        diff = inspect.diff(lake, name, from_version, to_version)
    except NotFound as exc:
        raise NotFound(f"{not_found_message(resource)} with those versions ({exc.message})") from None
    return render(request, "view_diff.html", {
        "name": versions[0].name if versions else name, "versions": versions, "diff": diff,
        "sql_diff": highlight_diff(diff.sql_diff),
    }, section="search")
