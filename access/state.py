"""The in-memory policy of one process: the decision index, masks, row filters, roles.

It is loaded from the catalog once and then kept current by replaying the
changes in ``access_policy_changes`` (see :mod:`access.store`). Every change is
a set operation carrying the full row, so replaying one twice does no harm.

Masks and row filters may expire, like grants: :meth:`PolicyState.live_mask`
and :meth:`PolicyState.live_filter` compare the expiry with the clock at
decision time, so an expired rule stops applying without anyone acting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from access.index import DecisionIndex
from access.masks import Mask, MaskKind
from access.models import AccessGrant, AccessMask, AccessMembership, AccessPolicyHead, AccessRole, AccessRowFilter
from access.values import Role, RoleKind
from lake.timestamps import as_utc


def epoch(value: dt.datetime | str | None) -> float | None:
    """Seconds since the epoch (``None`` stays ``None``); strings are ISO 8601."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return as_utc(value).timestamp()


def iso(value: dt.datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


@dataclass
class PolicyState:
    version: int = 0
    index: DecisionIndex = field(default_factory=DecisionIndex)
    masks: dict[str, dict[str, Mask]] = field(default_factory=dict)  # resource key -> subject -> mask
    filters: dict[str, dict[str, str]] = field(default_factory=dict)  # resource key -> subject -> predicate
    # resource key -> subject -> expiry (epoch seconds), for the expiring masks and row filters only
    mask_expiry: dict[str, dict[str, float]] = field(default_factory=dict)
    filter_expiry: dict[str, dict[str, float]] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)

    @classmethod
    def load(cls, s: Session) -> PolicyState:
        state = cls()
        state.version = s.scalars(select(AccessPolicyHead.version).where(AccessPolicyHead.id == 1)).one()
        for g in s.scalars(select(AccessGrant)):
            state.index.add_rule(g.subject, g.resource, g.action, g.effect, epoch(g.expires_at))
        for m in s.scalars(select(AccessMembership)):
            state.index.add_link(m.member, m.role, epoch(m.expires_at))
        for k in s.scalars(select(AccessMask)):
            state.masks.setdefault(k.resource, {})[k.subject] = Mask(MaskKind(k.kind), k.keep_last)
            _put(state.mask_expiry, k.resource, k.subject, epoch(k.expires_at))
        for f in s.scalars(select(AccessRowFilter)):
            state.filters.setdefault(f.resource, {})[f.subject] = f.predicate
            _put(state.filter_expiry, f.resource, f.subject, epoch(f.expires_at))
        for r in s.scalars(select(AccessRole)):
            state.roles[r.name] = Role(r.name, RoleKind(r.kind), r.description)
        return state

    def apply(self, op: str, entity: str, p: Mapping[str, Any]) -> None:
        """Replay one change from the change log."""
        add = op == "add"
        if entity == "grant":
            if add:
                self.index.add_rule(p["subject"], p["resource"], p["action"], p["effect"], epoch(p.get("expires_at")))
            else:
                self.index.remove_rule(p["subject"], p["resource"], p["action"], p["effect"])
        elif entity == "membership":
            if add:
                self.index.add_link(p["member"], p["role"], epoch(p.get("expires_at")))
            else:
                self.index.remove_link(p["member"], p["role"])
        elif entity == "mask":
            _put(self.masks, p["resource"], p["subject"],
                 Mask(MaskKind(p["kind"]), int(p.get("keep_last", 4))) if add else None)
            _put(self.mask_expiry, p["resource"], p["subject"], epoch(p.get("expires_at")) if add else None)
        elif entity == "row_filter":
            _put(self.filters, p["resource"], p["subject"], p["predicate"] if add else None)
            _put(self.filter_expiry, p["resource"], p["subject"], epoch(p.get("expires_at")) if add else None)
        elif entity == "role":
            if add:
                self.roles[p["name"]] = Role(p["name"], RoleKind(p["kind"]), p.get("description", ""))
            else:
                self.roles.pop(p["name"], None)
        else:  # pragma: no cover - a newer writer; the caller reloads everything
            raise ValueError(f"unknown policy change entity {entity!r}")

    def live_mask(self, key: str, subject: str, now: float) -> Mask | None:
        """``subject``'s mask rule on ``key``, unless there is none or it has expired at ``now``."""
        rule = self.masks.get(key, {}).get(subject)
        if rule is None:
            return None
        exp = self.mask_expiry.get(key, {}).get(subject)
        return rule if exp is None or exp > now else None

    def live_filter(self, key: str, subject: str, now: float) -> str | None:
        """``subject``'s row filter on ``key``, unless there is none or it has expired at ``now``."""
        predicate = self.filters.get(key, {}).get(subject)
        if predicate is None:
            return None
        exp = self.filter_expiry.get(key, {}).get(subject)
        return predicate if exp is None or exp > now else None

    def rules_for(self, table: Mapping[str, Mapping[str, Any]], keys: Iterable[str],
                  subjects: frozenset[str] | set[str]) -> list[tuple[str, str, Any]]:
        """``(key, subject, value)`` for every subject in ``subjects`` with a rule on one of ``keys``."""
        out = []
        for key in keys:
            for subject, value in table.get(key, {}).items():
                if subject in subjects:
                    out.append((key, subject, value))
        return out


def _put(table: dict[str, dict[str, Any]], key: str, subject: str, value: Any) -> None:
    if value is None:
        bucket = table.get(key)
        if bucket is not None:
            bucket.pop(subject, None)
            if not bucket:
                del table[key]
    else:
        table.setdefault(key, {})[subject] = value
