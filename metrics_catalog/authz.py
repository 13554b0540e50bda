"""Who may do what to metrics, asked through one small interface.

The workflow's own rules (chain roles, quorum, no self-approval, one stage per
person) live in :mod:`metrics_catalog.approvals`; this module adds the access
layer's decision on top: :class:`AccessPermissions` asks
``access.AccessControl.can(user, Action.APPROVE, Resource.metric(name))`` and
the like. :class:`CorePermissions` is the rule set without the access layer:
every authenticated user may author metrics, see them, read their values and
pass the access check for approval (stage roles still decide), and only
admins administer a domain's chain and meetings. :func:`default_permissions` picks the access
layer when it is installed.
"""

from __future__ import annotations

from typing import Any, Protocol

from lake.auth import Principal
from lake.service import Lake


class Permissions(Protocol):
    def may_author(self, principal: Principal, metric: str) -> bool:
        """Create, edit and propose ``metric``."""
        ...

    def may_approve(self, principal: Principal, metric: str) -> bool:
        """Decide on ``metric`` (the chain's stage roles are checked as well)."""
        ...

    def may_discover(self, principal: Principal, metric: str) -> bool:
        """See the metric: definition, revisions, chain, comments."""
        ...

    def may_read(self, principal: Principal, metric: str) -> bool:
        """Read the metric's values (the gateway checks the view as well)."""
        ...

    def may_administer(self, principal: Principal, domain: str) -> bool:
        """Configure the domain's approval chain and review meetings."""
        ...


class CorePermissions:
    """The rules without the access layer."""

    def may_author(self, principal: Principal, metric: str) -> bool:
        return True

    def may_approve(self, principal: Principal, metric: str) -> bool:
        return True

    def may_discover(self, principal: Principal, metric: str) -> bool:
        return True

    def may_read(self, principal: Principal, metric: str) -> bool:
        return True

    def may_administer(self, principal: Principal, domain: str) -> bool:
        return principal.is_admin


class AccessPermissions:
    """Decisions of the access layer (``access.AccessControl``); admins may always administer."""

    def __init__(self, lake: Lake, control: Any | None = None) -> None:
        if control is None:
            from access import AccessControl

            control = AccessControl(lake)
        self.control = control

    def _can(self, principal: Principal, action: str, resource: Any) -> bool:
        from access.resources import Action

        self.control.ensure_subject(principal.name, principal.roles)
        return bool(self.control.can(principal.name, Action(action), resource))

    def may_author(self, principal: Principal, metric: str) -> bool:
        from access.resources import Resource

        return self._can(principal, "propose", Resource.metric(metric))

    def may_approve(self, principal: Principal, metric: str) -> bool:
        from access.resources import Resource

        return self._can(principal, "approve", Resource.metric(metric))

    def may_discover(self, principal: Principal, metric: str) -> bool:
        from access.resources import Resource

        return self._can(principal, "discover", Resource.metric(metric))

    def may_read(self, principal: Principal, metric: str) -> bool:
        from access.resources import Resource

        return self._can(principal, "read", Resource.metric(metric))

    def may_administer(self, principal: Principal, domain: str) -> bool:
        from access.resources import Resource

        return principal.is_admin or self._can(principal, "admin", Resource.domain_(domain))


def access_layer_available() -> bool:
    try:
        import access
    except ImportError:
        return False
    return bool(hasattr(access, "AccessControl"))


def default_permissions(lake: Lake) -> Permissions:
    """The access layer's decisions when it is installed, else :class:`CorePermissions`."""
    if access_layer_available():
        return AccessPermissions(lake)
    return CorePermissions()
