"""Search as a subject: what someone may find in the catalog.

The one rule both the API (``GET /api/v1/search``) and the web UI's search
page follow: every hit is checked for ``discover`` on the object behind it (a
dataset, view, metric, or the column of a dataset) before it counts for a page,
a group or "more", so a hidden object never shows, nor does its number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from access.policy import AccessControl
from access.resources import Action, Resource
from lake.errors import InvalidInput
from lake.search import GROUP_ORDER, GroupedResults, SearchHit, SearchIndex, SearchPage


def resource_for(kind: str, key: str, domain: str) -> Resource | None:
    """The governed resource behind a search document, or ``None`` when its key is not one."""
    try:
        if kind == "dataset":
            return Resource.table(key)
        if kind == "view":
            return Resource.view(key)
        if kind == "metric":
            return Resource.metric(key)
        if kind == "column":
            table, _, column = key.rpartition(".")
            return Resource.column_of(Resource.table(table), column)
        return Resource.domain_(domain)
    except InvalidInput:
        return None


def hit_filter(access: AccessControl, subject: str) -> Callable[[SearchHit], bool]:
    """Whether ``subject`` may discover a hit's object (a ``visible`` callback of :class:`SearchIndex`)."""

    def visible(hit: SearchHit) -> bool:
        resource = resource_for(hit.kind, hit.key, hit.domain)
        return resource is not None and access.can(subject, Action.DISCOVER, resource)

    return visible


def search_page(
    index: SearchIndex,
    access: AccessControl,
    subject: str,
    query: str,
    *,
    kinds: Sequence[str] = (),
    domains: Sequence[str] = (),
    certified: bool | None = None,
    limit: int = 25,
    offset: int = 0,
) -> SearchPage:
    """One page of the hits ``subject`` may discover (see :meth:`SearchIndex.page`)."""
    return index.page(query, kinds=kinds, domains=domains, certified=certified, limit=limit, offset=offset,
                      visible=hit_filter(access, subject))


def search_grouped(
    index: SearchIndex,
    access: AccessControl,
    subject: str,
    query: str,
    *,
    kinds: Sequence[str] = GROUP_ORDER,
    domains: Sequence[str] = (),
    certified: bool | None = None,
    per_kind: int = 5,
) -> GroupedResults:
    """The best hits of each kind that ``subject`` may discover (see :meth:`SearchIndex.grouped`)."""
    return index.grouped(query, kinds=kinds or GROUP_ORDER, domains=domains, certified=certified,
                         per_kind=per_kind, visible=hit_filter(access, subject))
