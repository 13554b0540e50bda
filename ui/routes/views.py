"""The view page (SQL with highlighting, versions, column lineage, lineage graph,
materialization runs) and the diff between two versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from access import Action, Resource
from api.params import NumberQuery, OptionalNumberQuery
from lake.errors import InvalidInput, NotFound
from ui import graph, services
from ui.highlight import highlight_diff, highlight_sql
from ui.lineage import view_lineage
from ui.routing import Me, UiRoute
from ui.templating import UI_PREFIX, render
from ui.visibility import not_found_message, require_discover

router = APIRouter(prefix=f"{UI_PREFIX}/views", route_class=UiRoute, include_in_schema=False)

RUNS_SHOWN = 20


def _resource(request: Request, user: str, name: str) -> Resource:
    try:
        resource = Resource.view(name)
    except InvalidInput:
        raise NotFound(f"there is no view named {name}") from None
    require_discover(services.access(request), user, resource)
    return resource


@router.get("/{name}")
def view_page(request: Request, me: Me, name: str,
              version: OptionalNumberQuery = None) -> Response:
    """One version of a view (the current one by default)."""
    from views import catalog, inspect
    from views.materialize import runs as view_runs

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
    }, section="search")


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
