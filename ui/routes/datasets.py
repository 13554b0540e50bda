"""The dataset page: description, contract with PII tags, contract versions,
major versions (each with its own page), commits, lineage, who has access,
sample rows masked for the viewer, and the "request access" form.

Sample rows come from :mod:`ui.samples`'s cache when it has them for this
viewer's access; otherwise the page is shown at once with a "loading" state
and the rows follow from ``/ui/datasets/<name>/sample`` (or, without script,
from the page again with ``sample=now``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request, Response
from starlette.responses import RedirectResponse

from access import Action, Resource
from access.producers import can_manage_quarantine
from api.params import MAX_INT, OptionalNumberQuery
from lake.datasets import DatasetInfo
from lake.errors import InvalidInput, NotFound
from ui import graph, services
from ui.freshness import freshness_views
from ui.lineage import dataset_lineage
from ui.routing import Me, Posted, UiRoute, in_thread
from ui.samples import Sample, data_version, sample_rows
from ui.templating import UI_PREFIX, render
from ui.visibility import not_found_message, require_discover
from ui.who import who_has_access

router = APIRouter(prefix=f"{UI_PREFIX}/datasets", route_class=UiRoute, include_in_schema=False)

#: Durations offered by the request form, in days.
DURATIONS = (7, 30, 90, 180)
COMMITS_SHOWN = 20


def _dataset(request: Request, user: str, name: str, major: int | None = None) -> tuple[Resource, DatasetInfo]:
    """The dataset (its current major, or ``major``) if ``user`` may discover it; else NotFound,
    worded as for a missing one."""
    try:
        resource = Resource.table(name)
    except InvalidInput:
        raise NotFound(f"there is no dataset named {name}") from None
    require_discover(services.access(request), user, resource)
    try:
        return resource, services.lake_of(request).dataset(name, major=major)
    except NotFound:
        if major is not None:
            raise NotFound(f"{not_found_message(resource)} with a major version {major}") from None
        raise NotFound(not_found_message(resource)) from None


def _sample(request: Request, user: str, info: DatasetInfo, version: int, *, cached_only: bool) -> Sample:
    return sample_rows(services.gateway(request), services.access(request), user, info,
                       admission=services.admission(request), cache=services.samples(request), version=version,
                       cached_only=cached_only)


@router.get("/{name}")
def dataset_page(request: Request, me: Me, name: str,
                 requested: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
                 major: OptionalNumberQuery = None,
                 sample: Annotated[str, Query(max_length=3)] = "") -> Response:
    """Everything about one dataset (its current major, or ``major``), as the viewer may see it."""
    resource, info = _dataset(request, me.user, name, major)
    lake = services.lake_of(request)
    control = services.access(request)
    commits = lake.commits(info.name, limit=COMMITS_SHOWN, major=info.major)
    history = lake.history(info.name, limit=COMMITS_SHOWN, major=info.major)
    versions = list(reversed(lake.datasets.contract_versions(info.name, major=info.major)))
    majors = list(reversed(lake.datasets.majors(info.name)))
    catalog = services.metrics(request)
    # Commits without a source (the table's creation, maintenance) brought no batch: no source node.
    nodes, edges = dataset_lineage(lake, info.name, (c["source"] for c in commits if c["source"]),
                                   catalog.workflow.list(), lambda r: control.can(me.user, Action.DISCOVER, r))
    version = int(history[0]["version"]) if history else data_version(lake, info)
    rows = _sample(request, me.user, info, version, cached_only=sample != "now")
    mine = [r for r in control.requests.list(requester=me.user, limit=50) if r.resource == resource]
    can_grant = control.can(me.user, Action.GRANT, resource) or control.can(me.user, Action.ADMIN, resource)
    flash = f"Access request #{requested} was sent. The owner ({info.owner}) decides it." if requested else ""
    return render(request, "dataset.html", {
        "info": info, "contract": info.contract, "commits": commits, "history": history, "versions": versions,
        "graph": graph.render_both(nodes, edges, title=f"Lineage of {info.name}"), "nodes": nodes, "edges": edges,
        "sample": rows, "sample_url": _sample_url(info), "majors": majors,
        "who": who_has_access(control, resource, with_members=can_grant), "mine": mine,
        "durations": DURATIONS, "can_grant": can_grant, "flash": flash,
        "freshness": freshness_views(lake, [info.name])[info.name],
        "can_quarantine": can_manage_quarantine(control, me.user, info.name),
    }, section="datasets")


def _sample_url(info: DatasetInfo) -> str:
    query = "" if info.is_current else f"?major={info.major}"
    return f"{UI_PREFIX}/datasets/{quote(info.name)}/sample{query}"


@router.get("/{name}/sample")
def dataset_sample(request: Request, me: Me, name: str, major: OptionalNumberQuery = None) -> Response:
    """The sample rows of the dataset page as a fragment (loaded by the page after it is shown)."""
    _, info = _dataset(request, me.user, name, major)
    rows = _sample(request, me.user, info, data_version(services.lake_of(request), info), cached_only=False)
    return render(request, "_sample.html", {"info": info, "sample": rows, "sample_url": _sample_url(info)})


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
