"""Policy changes made by a principal, authorized here: one rule for the API, the CLI and the UI.

Who may change what:

* roles, groups and memberships, and loading a whole policy (Casbin CSV):
  ``admin`` on the lake;
* a grant, mask or row filter on a resource: ``grant`` on that resource (or
  above it); ``admin`` there to hand out (or take back) ``grant`` or
  ``admin``, and to set a ``decrypt`` mask (PII in clear);
* revoking a grant: what adding that grant needs.

The decision is made by :meth:`AccessControl.require` for the acting
principal, so an allowed change leaves a ``decision`` audit entry before its
``policy_change`` entries, and a refusal leaves a ``deny`` entry and changes
nothing. The API, the CLI and the UI call these methods and nothing else to
change policy; :class:`AccessControl`'s own change methods (``grant``,
``set_mask``, ...) are the unchecked layer below, for the lake's own work
(owner grants, approved access requests, the demo).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from access.masks import Mask, MaskKind
from access.resources import Action, Resource
from access.values import Effect, Grant, MaskRule, Membership, Role, RoleKind, RowFilterRule

if TYPE_CHECKING:
    from access.policy import AccessControl

LAKE = Resource.lake()


class PolicyChanges:
    """Every policy change, on behalf of the principal ``by`` that asks for it.

    Args:
        access: The access layer whose policy changes.
    """

    def __init__(self, access: AccessControl) -> None:
        self._access = access

    # -- the rule -------------------------------------------------------------------------

    def _require(self, by: str, action: Action, resource: Resource) -> str:
        actor = self._access.acting(by)
        self._access.require(actor, action, resource)
        return actor

    def require_lake_admin(self, by: str) -> str:
        """Pass if ``by`` administers the lake (roles, memberships, CSV import); audited.

        Raises:
            AccessDenied: It does not.
        """
        return self._require(by, Action.ADMIN, LAKE)

    def require_grant(self, by: str, resource: Resource, action: Action | None = None,
                      *, decrypt: bool = False) -> str:
        """Pass if ``by`` may change who may do ``action`` on ``resource``; audited.

        ``grant`` on the resource suffices, ``admin`` is needed for ``action``
        ``grant`` or ``admin`` and for ``decrypt`` masks.

        Raises:
            AccessDenied: It may not.
        """
        strong = decrypt or action in (Action.GRANT, Action.ADMIN)
        return self._require(by, Action.ADMIN if strong else Action.GRANT, resource)

    # -- roles, groups, memberships ---------------------------------------------------------

    def create_role(self, name: str, *, by: str, kind: RoleKind = RoleKind.ROLE, description: str = "") -> Role:
        """Create a role or group (needs admin on the lake)."""
        actor = self.require_lake_admin(by)
        return self._access.create_role(name, kind=kind, description=description, actor=actor)

    def delete_role(self, name: str, *, by: str) -> None:
        """Delete a role or group with its memberships, grants, masks and row filters (admin on the lake)."""
        actor = self.require_lake_admin(by)
        self._access.delete_role(name, actor=actor)

    def add_member(self, role: str, member: str, *, by: str, expires_at: dt.datetime | None = None) -> Membership:
        """Add a member to a role or group (needs admin on the lake)."""
        actor = self.require_lake_admin(by)
        return self._access.add_member(role, member, expires_at=expires_at, actor=actor)

    def remove_member(self, role: str, member: str, *, by: str) -> None:
        """Remove a member from a role or group (needs admin on the lake)."""
        actor = self.require_lake_admin(by)
        self._access.remove_member(role, member, actor=actor)

    # -- grants -------------------------------------------------------------------------------

    def grant(self, subject: str, action: Action, resource: Resource, *, by: str, effect: Effect = Effect.ALLOW,
              expires_at: dt.datetime | None = None, reason: str = "") -> Grant:
        """Allow (or deny) ``subject`` ``action`` on ``resource`` (needs grant, or admin, on it)."""
        actor = self.require_grant(by, resource, action)
        return self._access.grant(subject, action, resource, effect=effect, expires_at=expires_at, reason=reason,
                                  actor=actor)

    def revoke(self, grant_id: int, *, by: str) -> Grant:
        """Remove a grant (needs what adding it needs).

        Raises:
            NotFound: No grant has that id.
            Conflict: It would leave no administrator.
        """
        found = self._access.policies.grant_by_id(grant_id)
        actor = self.require_grant(by, found.resource, found.action)
        return self._access.revoke(grant_id, actor=actor)

    # -- masks and row filters --------------------------------------------------------------------

    def set_mask(self, subject: str, resource: Resource, mask: Mask, *, by: str,
                 expires_at: dt.datetime | None = None) -> MaskRule:
        """Set how ``subject`` sees a column or the PII columns under a resource (grant on it; admin for decrypt)."""
        actor = self.require_grant(by, resource, decrypt=mask.kind is MaskKind.DECRYPT)
        return self._access.set_mask(subject, resource, mask, expires_at=expires_at, actor=actor)

    def remove_mask(self, subject: str, resource: Resource, *, by: str) -> None:
        """Remove ``subject``'s mask rule on ``resource`` (needs grant on it)."""
        actor = self.require_grant(by, resource)
        self._access.remove_mask(subject, resource, actor=actor)

    def set_row_filter(self, subject: str, resource: Resource, predicate: str, *, by: str,
                       expires_at: dt.datetime | None = None) -> RowFilterRule:
        """Limit the rows ``subject``'s grants give under ``resource`` (needs grant on it)."""
        actor = self.require_grant(by, resource)
        return self._access.set_row_filter(subject, resource, predicate, expires_at=expires_at, actor=actor)

    def remove_row_filter(self, subject: str, resource: Resource, *, by: str) -> None:
        """Remove ``subject``'s row filter on ``resource`` (needs grant on it)."""
        actor = self.require_grant(by, resource)
        self._access.remove_row_filter(subject, resource, actor=actor)

    # -- the whole policy ---------------------------------------------------------------------------

    def import_csv(self, text: str, *, by: str, replace: bool = False) -> dict[str, int]:
        """Load a Casbin CSV policy, all or nothing (needs admin on the lake)."""
        actor = self.require_lake_admin(by)
        return self._access.import_csv(text, replace=replace, actor=actor)
