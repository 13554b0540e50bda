"""The dataset page: description, contract with PII tags, contract versions,
commits, lineage, who has access, sample rows masked for the viewer, and the
"request access" form."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from starlette.responses import RedirectResponse

from access import Action, Resource
from access.producers import can_manage_quarantine
from api.params import MAX_INT
from lake.datasets import DatasetInfo
from lake.errors import InvalidInput, NotFound
from ui import graph, services
from ui.freshness import freshness_views
from ui.lineage import dataset_lineage
from ui.routing import Me, Posted, UiRoute, in_thread
from ui.samples import sample_rows
from ui.templating import UI_PREFIX, render
from ui.visibility import not_found_message, require_discover
from ui.who import who_has_access

router = APIRouter(prefix=f"{UI_PREFIX}/datasets", route_class=UiRoute, include_in_schema=False)

#: Durations offered by the request form, in days.
DURATIONS = (7, 30, 90, 180)
COMMITS_SHOWN = 20


def _dataset(request: Request, user: str, name: str) -> tuple[Resource, DatasetInfo]:
    """The dataset if ``user`` may discover it; else NotFound, worded as for a missing one."""
    try:
        resource = Resource.table(name)
    except InvalidInput:
        raise NotFound(f"there is no dataset named {name}") from None
    require_discover(services.access(request), user, resource)
    try:
        return resource, services.lake_of(request).dataset(name)
    except NotFound:
        raise NotFound(not_found_message(resource)) from None


@router.get("/{name}")
def dataset_page(request: Request, me: Me, name: str,
                 requested: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None) -> Response:
    """Everything about one dataset, as the viewer may see it."""
    resource, info = _dataset(request, me.user, name)
    lake = services.lake_of(request)
    control = services.access(request)
    commits = lake.commits(info.name, limit=COMMITS_SHOWN)
    history = lake.history(info.name, limit=COMMITS_SHOWN)
    versions = list(reversed(lake.datasets.contract_versions(info.name)))
    catalog = services.metrics(request)
    nodes, edges = dataset_lineage(lake, info.name, (c["source"] or "unknown source" for c in commits),
                                   catalog.workflow.list(), lambda r: control.can(me.user, Action.DISCOVER, r))
    sample = sample_rows(services.gateway(request), control, me.user, info,
                         admission=services.admission(request))
    mine = [r for r in control.requests.list(requester=me.user, limit=50) if r.resource == resource]
    can_grant = control.can(me.user, Action.GRANT, resource) or control.can(me.user, Action.ADMIN, resource)
    flash = f"Access request #{requested} was sent. The owner ({info.owner}) decides it." if requested else ""
    return render(request, "dataset.html", {
        "info": info, "contract": info.contract, "commits": commits, "history": history, "versions": versions,
        "graph": graph.render_both(nodes, edges, title=f"Lineage of {info.name}"), "nodes": nodes, "edges": edges,
        "sample": sample, "who": who_has_access(control, resource, with_members=can_grant), "mine": mine,
        "durations": DURATIONS, "can_grant": can_grant, "flash": flash,
        "freshness": freshness_views(lake, [info.name])[info.name],
        "can_quarantine": can_manage_quarantine(control, me.user, info.name),
    }, section="search")


@router.post("/{name}/request-access")
async def request_access(
    request: Request, me: Posted, name: str,
    reason: Annotated[str, Form(max_length=2000)] = "",
    columns: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    duration_days: Annotated[int, Form(ge=1, le=366)] = 30,
) -> Response:
    """File an access request for the dataset (or some of its columns) as the signed-in person."""
    resource, info = await in_thread(_dataset, request, me.user, name)
    control = services.access(request)
    created = await in_thread(lambda: control.requests.create(
        me.user, resource, reason=reason, columns=[c for c in columns if c],
        duration=dt.timedelta(days=duration_days)))
    return RedirectResponse(f"{UI_PREFIX}/datasets/{info.name}?requested={created.id}#access", status_code=303)
