"""Subscriber values: kinds, states, the subscriber itself and its issued credentials.

A subscriber is an engine that reads the lake on its own (a Redshift cluster,
an EMR cluster, a SageMaker notebook). In the access layer it is a service
principal whose subject name is ``sub.<name>`` (:func:`subject_of`): it is
bound to roles like any user, and every decision about it is the access
layer's. Subscriber names follow the IAM role name rule of
:mod:`deploy.iam` (``lakegate-<kind>-<name>``).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass

from lake.errors import InvalidInput

#: Subscriber names: lower-case letters, digits, '_' and '-', starting with a letter (IAM role names).
NAME_RE = re.compile(r"[a-z][a-z0-9_-]{0,40}")

#: The subject of subscriber ``x`` in the access layer is ``sub.x``.
SUBJECT_PREFIX = "sub."


def check_name(name: str) -> str:
    """``name`` if it is a valid subscriber name.

    Raises:
        InvalidInput: naming the rule.
    """
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise InvalidInput(f"invalid subscriber name {name!r}: 1-41 lower-case letters, digits, '_' or '-', "
                           "starting with a letter")
    return name


def subject_of(name: str) -> str:
    """The access-layer subject (a service principal) of subscriber ``name``."""
    return SUBJECT_PREFIX + check_name(name)


class SubscriberKind(enum.StrEnum):
    """The engine a subscriber is."""

    REDSHIFT = "redshift"
    EMR = "emr"
    SAGEMAKER = "sagemaker"

    @classmethod
    def parse(cls, text: str) -> SubscriberKind:
        try:
            return cls(text.strip().lower())
        except (ValueError, AttributeError):
            allowed = ", ".join(k.value for k in cls)
            raise InvalidInput(f"unknown subscriber kind {text!r}; expected one of: {allowed}") from None


class SubscriberStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"

    @classmethod
    def parse(cls, text: str) -> SubscriberStatus:
        try:
            return cls(text.strip().lower())
        except (ValueError, AttributeError):
            raise InvalidInput(f"unknown subscriber status {text!r}; expected active or suspended") from None


@dataclass(frozen=True)
class Subscriber:
    """An engine subscriber.

    Attributes:
        name: Its name (``[a-z][a-z0-9_-]*``).
        kind: redshift, emr or sagemaker.
        subject: Its access-layer subject, ``sub.<name>``.
        owner: The user or team role responsible for it.
        status: active or suspended.
        roles: The roles and groups it is bound to directly.
        role_arn: Its IAM role (S3 mode), once created.
        policy_tables: Keys of the tables its IAM role may read raw
            (``dataset:ads.conversions@v1``), as last synchronized.
        policy_synced_at: When the role policy was last written.
        policy_valid_until: When a grant or membership it depends on expires
            (the policy must be synchronized again by then).
        policy_error: Why the last synchronization failed, if it did.
    """

    name: str
    kind: SubscriberKind
    subject: str
    owner: str
    status: SubscriberStatus
    description: str = ""
    roles: tuple[str, ...] = ()
    role_arn: str | None = None
    policy_tables: tuple[str, ...] = ()
    policy_synced_at: dt.datetime | None = None
    policy_valid_until: dt.datetime | None = None
    policy_error: str | None = None
    created_by: str = ""
    created_at: dt.datetime | None = None
    suspended_at: dt.datetime | None = None

    @property
    def active(self) -> bool:
        return self.status is SubscriberStatus.ACTIVE


@dataclass(frozen=True)
class IssuedCredential:
    """The record of one vended credential; never its secret parts.

    Attributes:
        id: Record id.
        subscriber: Who got it.
        tables: Keys of the tables it was issued for.
        role_arn: The IAM role it is a session of.
        access_key_prefix: The first characters of its access key id.
        issued_at: When it was issued.
        expires_at: When STS said it expires.
        revoked_at: When Lakegate cut it off (suspension or deletion removed
            the role policy it depends on).
    """

    id: int
    subscriber: str
    tables: tuple[str, ...]
    role_arn: str
    access_key_prefix: str
    issued_by: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None = None
    revoke_reason: str = ""

    def active(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now
