"""The access layer: one decision point for every read and write.

``AccessControl`` (in :mod:`access.policy`) answers typed questions from a
decision index over the Casbin policy in the catalog, combines grants, masks
and row filters into a :class:`TableAccess` for the query gateway, runs access
requests and keeps the hash-chained audit log. See ``access/README.md``.
"""

from access.audit import AuditEntry, AuditKind, AuditLog, Decision, VerifyResult
from access.masks import Mask, MaskKind
from access.policy import AccessControl, ColumnAccess, TableAccess
from access.resources import Action, Resource, ResourceKind
from access.values import Effect, Grant, MaskRule, Membership, Role, RoleKind, RowFilterRule

__all__ = [
    "AccessControl",
    "Action",
    "AuditEntry",
    "AuditKind",
    "AuditLog",
    "ColumnAccess",
    "Decision",
    "Effect",
    "Grant",
    "Mask",
    "MaskKind",
    "MaskRule",
    "Membership",
    "Resource",
    "ResourceKind",
    "Role",
    "RoleKind",
    "RowFilterRule",
    "TableAccess",
    "VerifyResult",
]
