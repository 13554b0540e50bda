"""What a signed-in person may discover, asked of the access layer.

A page about an object the person may not discover answers exactly as for an
object that does not exist (404 with the same message), so the UI never
confirms that a hidden object is there.
"""

from __future__ import annotations

from collections.abc import Callable

from access import AccessControl, Action, Resource, ResourceKind
from lake.errors import InvalidInput, NotFound
from lake.search import SearchHit


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
    """A ``visible`` callback for :meth:`lake.search.SearchIndex.search`."""

    def visible(hit: SearchHit) -> bool:
        resource = resource_for(hit.kind, hit.key, hit.domain)
        return resource is not None and access.can(subject, Action.DISCOVER, resource)

    return visible


def discoverable(access: AccessControl, subject: str, resource: Resource) -> bool:
    return access.can(subject, Action.DISCOVER, resource)


def require_discover(access: AccessControl, subject: str, resource: Resource) -> None:
    """Pass if ``subject`` may discover ``resource``.

    Raises:
        NotFound: worded as for a missing object.
    """
    if not access.can(subject, Action.DISCOVER, resource):
        raise NotFound(not_found_message(resource))


def not_found_message(resource: Resource) -> str:
    what = {ResourceKind.DATASET: "dataset", ResourceKind.VIEW: "view", ResourceKind.METRIC: "metric"}.get(
        resource.kind, resource.kind.value)
    return f"there is no {what} named {resource.qualified} that you can see"


def link_for(kind: str, key: str) -> str:
    """The UI page of a search document."""
    from ui.templating import UI_PREFIX

    if kind == "column":
        table, _, column = key.rpartition(".")
        return f"{UI_PREFIX}/datasets/{table}#col-{column}"
    if kind in ("dataset", "view", "metric"):
        return f"{UI_PREFIX}/{kind}s/{key}"
    return f"{UI_PREFIX}/search?q={key}"
