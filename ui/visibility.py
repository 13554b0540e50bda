"""What a signed-in person may discover, asked of the access layer.

A page about an object the person may not discover answers exactly as for an
object that does not exist (404 with the same message), so the UI never
confirms that a hidden object is there.

Which search hits a person sees is decided in ``access.discovery``, for the
API and the UI alike.
"""

from __future__ import annotations

from access import AccessControl, Action, Resource, ResourceKind
from lake.errors import NotFound


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

