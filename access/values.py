"""Policy values: roles, memberships, grants, mask rules and row filter rules.

These are what the API, the CLI and the CSV format exchange; ORM rows stay in
:mod:`access.store`.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass

from access.masks import Mask
from access.resources import Action, Resource
from lake.errors import InvalidInput

#: Subject names: users, service principals, roles and groups share one namespace.
SUBJECT_RE = re.compile(r"[a-z][a-z0-9_.\-]{0,254}")

#: Every subject is a member of this group (added the first time the subject is seen).
EVERYONE = "everyone"


def check_subject(name: str, what: str = "subject") -> str:
    """``name`` if it is a valid subject name.

    Raises:
        InvalidInput: naming the rule.
    """
    if not isinstance(name, str) or not SUBJECT_RE.fullmatch(name):
        raise InvalidInput(
            f"invalid {what} name {name!r}: lower-case letters, digits, '_', '-' or '.', starting with a letter"
        )
    return name


class Effect(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"

    @classmethod
    def parse(cls, text: str) -> Effect:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise InvalidInput(f"unknown effect {text!r}; expected allow or deny") from None


class RoleKind(enum.StrEnum):
    ROLE = "role"
    GROUP = "group"

    @classmethod
    def parse(cls, text: str) -> RoleKind:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise InvalidInput(f"unknown role kind {text!r}; expected role or group") from None


@dataclass(frozen=True)
class Role:
    """A role (what one may do) or a group (who belongs together); both are Casbin ``g`` targets."""

    name: str
    kind: RoleKind = RoleKind.ROLE
    description: str = ""


@dataclass(frozen=True)
class Membership:
    """``member`` holds ``role`` (a Casbin ``g`` line), until ``expires_at`` if set."""

    member: str
    role: str
    expires_at: dt.datetime | None = None

    def live(self, now: dt.datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True)
class Grant:
    """A Casbin ``p`` line ``subject, resource, action, effect``, until ``expires_at`` if set."""

    subject: str
    resource: Resource
    action: Action
    effect: Effect = Effect.ALLOW
    expires_at: dt.datetime | None = None
    id: int | None = None
    reason: str = ""
    request_id: int | None = None
    created_by: str = ""

    @property
    def line(self) -> tuple[str, str, str, str]:
        """The Casbin policy fields."""
        return (self.subject, self.resource.key, self.action.value, self.effect.value)

    def live(self, now: dt.datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True)
class MaskRule:
    """How ``subject`` sees a column; on a table, domain or the lake: its PII columns.

    Until ``expires_at`` if set: after it the rule no longer applies (as if removed).
    """

    subject: str
    resource: Resource
    mask: Mask
    id: int | None = None
    expires_at: dt.datetime | None = None

    def live(self, now: dt.datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True)
class RowFilterRule:
    """The rows ``subject`` reads of every table under ``resource`` (a validated predicate).

    Until ``expires_at`` if set: after it the filter no longer applies (as if removed).
    """

    subject: str
    resource: Resource
    predicate: str
    id: int | None = None
    expires_at: dt.datetime | None = None

    def live(self, now: dt.datetime) -> bool:
        return self.expires_at is None or self.expires_at > now
