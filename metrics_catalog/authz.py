"""Who may do what to metrics, asked through one small interface.

The workflow's own rules (chain roles, quorum, no self-approval, one stage per
person) live in :mod:`metrics_catalog.approvals`; this module adds the access
layer's decision on top: :class:`AccessPermissions` asks
``access.AccessControl.can(user, Action.APPROVE, Resource.metric(name))`` and
the like. :class:`Permissions` is the port the composition root fills with
the access layer; a catalog with no access layer wired gets
:class:`NoAccessWired`, which refuses every action (nothing is ever allowed
for want of a decision).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from lake.auth import Principal

if TYPE_CHECKING:
    from access.policy import AccessControl


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


class NoAccessWired:
    """What a catalog decides with when no access layer is wired: every action is refused."""

    #: Said in every refusal, so the cause is found at once.
    reason = "no access layer is wired to the metric catalog"

    def may_author(self, principal: Principal, metric: str) -> bool:
        return False

    def may_approve(self, principal: Principal, metric: str) -> bool:
        return False

    def may_discover(self, principal: Principal, metric: str) -> bool:
        return False

    def may_read(self, principal: Principal, metric: str) -> bool:
        return False

    def may_administer(self, principal: Principal, domain: str) -> bool:
        return False


class AccessPermissions:
    """Decisions of the access layer (``access.AccessControl``); admins may always administer.

    Args:
        control: The access layer's decision point (the one of the app or command).
    """

    def __init__(self, control: AccessControl) -> None:
        self.control = control

    def _can(self, principal: Principal, action: str, resource: object) -> bool:
        from access.resources import Action, Resource

        assert isinstance(resource, Resource)
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
