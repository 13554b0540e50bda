"""Search and listings as a subject: what someone may find in the catalog.

The one rule the API (``GET /api/v1/search``), the web UI's search page and
its catalogue pages (datasets, views, metrics, domains) follow: every hit or
listed object is checked for ``discover`` on the object behind it (a dataset,
view, metric, or the column of a dataset) before it counts for a page, a
group, a filter or "more", so a hidden object never shows, nor does its
number. A domain shows when the subject may discover the domain itself or
any object listed in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol, TypeVar

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


def may_discover(access: AccessControl, subject: str, kind: str, key: str, domain: str = "") -> bool:
    """Whether ``subject`` may discover the object of ``kind`` named ``key`` (the rule of this module)."""
    resource = resource_for(kind, key, domain)
    return resource is not None and access.can(subject, Action.DISCOVER, resource)


def hit_filter(access: AccessControl, subject: str) -> Callable[[SearchHit], bool]:
    """Whether ``subject`` may discover a hit's object (a ``visible`` callback of :class:`SearchIndex`)."""

    def visible(hit: SearchHit) -> bool:
        return may_discover(access, subject, hit.kind, hit.key, hit.domain)

    return visible


class CatalogObject(Protocol):
    """A dataset, view or metric as listed (``DatasetInfo``, ``ViewInfo``, ``MetricInfo``)."""

    @property
    def name(self) -> str: ...

    @property
    def domain(self) -> str: ...


T = TypeVar("T", bound=CatalogObject)


def discoverable(access: AccessControl, subject: str, kind: str, objects: Iterable[T]) -> list[T]:
    """The ``objects`` (all of ``kind``: dataset, view or metric) that ``subject`` may discover, in order."""
    return [o for o in objects if may_discover(access, subject, kind, o.name, o.domain)]


def discoverable_domains(access: AccessControl, subject: str, domains: Iterable[str],
                         visible_objects: Mapping[str, int] | None = None) -> list[str]:
    """The domains ``subject`` may see: those it may discover, or that hold an object it may discover.

    Args:
        access: The decision point.
        subject: Who is looking.
        domains: Every domain name.
        visible_objects: Per domain, how many of its objects ``subject`` may discover
            (from :func:`discoverable`).
    """
    counts = visible_objects or {}
    return [d for d in domains
            if counts.get(d, 0) > 0 or may_discover(access, subject, "domain", d, d)]


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
