"""The access layer's one decision point: :class:`AccessControl`.

Callers ask typed questions::

    ac = AccessControl(lake)
    ac.can("alice", Action.READ, Resource.table("ads.conversions"))
    ac.require("alice", Action.WRITE, Resource.table("ads.conversions"))  # raises AccessDenied, audited
    ac.table_access("alice", Resource.table("ads.conversions"), [("email", True), ("country", False)])

Decisions come from an in-memory :class:`~access.index.DecisionIndex` built
from the Casbin policy in the catalog (model: ``access/model.conf``). Changes
made through this object apply at once; changes made by other processes (the
CLI, other API replicas) are picked up within ``refresh_seconds``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from access import rowfilter
from access.audit import AuditKind, AuditLog, Decision
from access.combine import Slice, combine
from access.errors import InvalidRowFilter
from access.hashkeys import HashKeys
from access.index import Explanation
from access.masks import Mask, MaskKind, Reveal
from access.resources import Action, Resource, ResourceKind
from access.state import PolicyState
from access.store import PolicyStore
from access.values import EVERYONE, SUBJECT_RE, Effect, Grant, MaskRule, Membership, Role, RoleKind, RowFilterRule
from lake.errors import AccessDenied, AlreadyExists, Conflict, InvalidInput, NotFound

if TYPE_CHECKING:
    from access.changes import PolicyChanges
    from access.requests import AccessRequests
    from access.store import _Tx
    from lake.datasets import DatasetInfo
    from lake.notify import Notifier
    from lake.service import Lake

__all__ = ["AccessControl", "ColumnAccess", "Mask", "MaskKind", "TableAccess"]

SYSTEM_ACTOR = "lakegate"
_TABLES = (ResourceKind.DATASET, ResourceKind.VIEW)

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class ColumnAccess:
    """A permitted column and how it is shown.

    ``mask`` ``None`` means clear; a PII column is never ``None`` (its stored
    value is ciphertext): ``Mask(DECRYPT)`` shows it in clear, any other mask
    applies to the decrypted value (``null`` and ``redact`` need no decryption).
    """

    name: str
    mask: Mask | None


@dataclass(frozen=True)
class TableAccess:
    """What a subject may read of one table.

    Attributes:
        resource: The dataset or view.
        allowed: Whether any column may be read.
        columns: The permitted columns only, in table order.
        row_filter: One Spark SQL predicate over the table's columns (quoted
            identifiers, evaluated on the stored rows before masks), or
            ``None`` for every row.
        reason: Why it was denied, or whose grants apply.
    """

    resource: Resource
    allowed: bool
    columns: tuple[ColumnAccess, ...]
    row_filter: str | None
    reason: str

    def column(self, name: str) -> ColumnAccess | None:
        lowered = name.lower()
        return next((c for c in self.columns if c.name.lower() == lowered), None)


class AccessControl:
    """Decisions, policy changes, access requests and the audit log of one lake.

    Args:
        lake: The open lake.
        refresh_seconds: How stale this process's view of the policy may get
            when another process changes it (0 checks the catalog on every decision).
        sync_users: Make every existing user a member of ``everyone`` and of the
            roles on its user record, the first time it is seen.
        clock: Seconds since the epoch, for expiry (tests move it forward).
        notifier: The process's one notifier (the composition root passes it); by
            default one over the lake's catalog that leaves delivery to the caller.
    """

    def __init__(self, lake: Lake, *, refresh_seconds: float = 1.0, sync_users: bool = True,
                 clock: Callable[[], float] = time.time, notifier: Notifier | None = None) -> None:
        from access.changes import PolicyChanges
        from access.requests import AccessRequests
        from lake.notify import Notifier

        self.lake = lake
        #: Tells owners and requesters about access requests (the process's one notifier).
        self.notifier: Notifier = notifier or Notifier(lake.catalog, lake.settings.mail)
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self.audit = AuditLog(lake.catalog)
        self.policies = PolicyStore(lake.catalog, self.audit, self._is_user, self._changed)
        self._listeners: list[Callable[[AccessControl], None]] = []
        self.requests: AccessRequests = AccessRequests(self)
        #: Policy changes on behalf of a principal, authorized by the one rule of :mod:`access.changes`.
        self.changes: PolicyChanges = PolicyChanges(self)
        self._hash_keys = HashKeys(lake)
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        with lake.catalog.session() as s:
            self._state = PolicyState.load(s)
        self._state.index.precompute(self.clock())
        self._checked = time.monotonic()
        if sync_users:
            self.sync_users()

    # -- keeping current ---------------------------------------------------------------

    def refresh(self, *, force: bool = False) -> None:
        """Replay policy changes made since the last look (by anyone)."""
        if not force and time.monotonic() - self._checked < self.refresh_seconds:
            return
        with self._refresh_lock:
            self._checked = time.monotonic()
            try:
                head, changes = self.policies.changes_since(self._state.version)
            except Conflict:
                with self.lake.catalog.session() as s:
                    state = PolicyState.load(s)
                state.index.precompute(self.clock())
                with self._lock:
                    self._state = state
                return
            if not changes:
                return
            with self._lock:
                for op, entity, payload in changes:
                    self._state.apply(op, entity, payload)
                self._state.version = head

    def _changed(self) -> None:
        """After a change of this process committed: replay it, then run the change hooks."""
        self.refresh(force=True)
        for hook in list(self._listeners):
            try:
                hook(self)
            except Exception:  # the change has committed; a hook cannot undo it
                log.exception("policy change hook %r failed", hook)

    def add_change_listener(self, listener: Callable[[AccessControl], None]) -> None:
        """Call ``listener(self)`` after every policy change this object commits.

        Listeners are registered when the services are wired (the composition
        root registers the subscribers' role policy sync,
        :func:`access.subscribers.policy_sync.policy_changed`); adding the same
        listener again changes nothing.
        """
        if listener not in self._listeners:
            self._listeners.append(listener)

    @property
    def change_listeners(self) -> tuple[Callable[[AccessControl], None], ...]:
        """The listeners called after each policy change, in order."""
        return tuple(self._listeners)

    @property
    def version(self) -> int:
        """The policy version this process decides with."""
        return self._state.version

    def _is_user(self, name: str) -> bool:
        try:
            self.lake.users.get(name)
        except NotFound:
            return False
        return True

    def ensure_subject(self, name: str, roles: Iterable[str] = ()) -> None:
        """Make a user known to the policy: member of ``everyone`` and of ``roles``
        (its roles from the user record), unless it was seen before."""
        for attempt in range(3):
            if self._state.index.has_link(name, EVERYONE):
                return
            try:
                self._join(name, roles)
                return
            except Conflict:  # another request for the same new user won the race
                self.refresh(force=True)
                if attempt == 2:
                    raise

    def _join(self, name: str, roles: Iterable[str]) -> None:
        with self.policies.transaction(SYSTEM_ACTOR) as tx:
            for role in (EVERYONE, *roles):
                if not SUBJECT_RE.fullmatch(role) or role == name:
                    continue
                if role not in self._state.roles:
                    with contextlib.suppress(AlreadyExists):
                        self.policies.create_role(tx, role, RoleKind.GROUP, "from user records")
                try:
                    self.policies.add_member(tx, role, name)
                except Conflict:
                    continue

    def sync_users(self) -> None:
        """:meth:`ensure_subject` for every user and service principal of the lake."""
        for principal in self.lake.users.list():
            self.ensure_subject(principal.name, principal.roles)

    # -- decisions ----------------------------------------------------------------------

    def can(self, subject: str, action: Action, resource: Resource) -> bool:
        """Whether ``subject`` may do ``action`` on ``resource`` (not audited)."""
        if time.monotonic() - self._checked >= self.refresh_seconds:
            self.refresh()
        keys = resource.lineage_keys
        now = self.clock()
        index = self._state.index
        decided = index.decided(subject, action, keys, now)  # a built view needs no lock
        if decided is not None:
            return decided
        with self._lock:
            return self._state.index.allowed(subject, action, keys, now)

    def explain(self, subject: str, action: Action, resource: Resource) -> Explanation:
        """The decision with every grant and deny that matched."""
        self.refresh()
        with self._lock:
            return self._state.index.explain(subject, action.value, resource.lineage_keys, self.clock())

    def require(self, subject: str, action: Action, resource: Resource, *, audit: bool = True) -> None:
        """Pass if ``subject`` may do ``action`` on ``resource``; the decision is audited.

        Raises:
            AccessDenied: naming subject, action, resource and the reason.
        """
        allowed = self.can(subject, action, resource)
        reason = "" if allowed else self.explain(subject, action, resource).reason()
        if audit:
            self.audit.record(AuditKind.DECISION, actor=subject, action=action.value, resource=resource.key,
                              decision=Decision.ALLOW if allowed else Decision.DENY,
                              detail={"reason": reason} if reason else None)
        if not allowed:
            raise AccessDenied(subject, action.value, str(resource), reason)

    def roles_of(self, subject: str) -> frozenset[str]:
        """The roles and groups ``subject`` holds now (itself excluded)."""
        self.refresh()
        with self._lock:
            return self._state.index.closure(subject, self.clock()) - {subject}

    def table_access(self, subject: str, table: Resource, columns: Sequence[tuple[str, bool]]) -> TableAccess:
        """What ``subject`` may read of ``table``: columns, masks and rows.

        Args:
            subject: A user or service principal.
            table: A dataset or view.
            columns: Every column of the table as ``(name, is_pii)``, in table order.

        Returns:
            The combination of the subject's grants described in :mod:`access.combine`.
        """
        if table.kind not in _TABLES or table.name is None:
            raise InvalidInput(f"table_access needs a dataset or a view, not {table}")
        self.refresh()
        now = self.clock()
        table_keys = table.lineage_keys
        cols = [(str(name), bool(pii)) for name, pii in columns]
        per_principal: dict[str, dict[str, Reveal]] = {}
        read = Action.READ
        table_key = table.key
        with self._lock:
            st = self._state
            index = st.index
            closure = index.closure(subject, now)
            # Who allows reading the table, its domain or the lake: the same for every column.
            above = index.allowing_sequence(closure, read, table_keys, now)
            for name, pii in cols:
                column_key = f"{table_key}.{name.lower()}"  # table.column_key(name)
                keys = (column_key, *table_keys)
                if not index.allowed(subject, read, keys, now):
                    continue
                # index.allowing_subjects(closure, read, keys, now), built in the same order
                allowing = set(index.allowing_sequence(closure, read, (column_key,), now))
                allowing.update(above)
                for p in allowing:
                    per_principal.setdefault(p, {})[name] = Reveal.of(self._mask(st, p, keys, pii, now), pii=pii)
            preds = {p: [f for k in table_keys if (f := st.live_filter(k, p, now)) is not None]
                     for p in per_principal}
        known = {n.lower() for n, _ in cols}
        slices, ignored = [], []
        for p, colmap in per_principal.items():
            try:
                f = rowfilter.all_of(preds[p])
            except InvalidRowFilter:
                f, bad = None, True
            else:
                bad = f is not None and not rowfilter.columns_of(f) <= known
            if bad:
                ignored.append(p)  # fail closed: a filter that cannot apply gives no rows
                continue
            slices.append(Slice(p, f, colmap))
        combined = combine([n for n, _ in cols], slices)
        if not combined.columns:
            return TableAccess(table, False, (), None, self._denial(subject, table, per_principal, slices, ignored))
        pii_of = dict(cols)
        reason = f"read through the grants of {', '.join(combined.principals)}; rows: " + (
            "all" if combined.row_filter is None else combined.row_filter)
        if ignored:
            reason += f"; ignored {', '.join(sorted(ignored))} (row filter names unknown columns)"
        return TableAccess(
            resource=table,
            allowed=True,
            columns=tuple(ColumnAccess(n, r.to_mask(pii=pii_of[n])) for n, r in combined.columns),
            row_filter=combined.row_filter,
            reason=reason,
        )

    def _denial(self, subject: str, table: Resource, per_principal: dict[str, dict[str, Reveal]],
                slices: list[Slice], ignored: list[str]) -> str:
        if not per_principal:
            explanation = self.explain(subject, Action.READ, table)
            if explanation.denies or not explanation.allows:
                reason = explanation.reason()
                return (f"no grant allows reading {table} or any of its columns"
                        if reason == "no grant allows it" else reason)
            return f"every column of {table} is denied to {subject}"
        if not slices:
            return ("the grants that allow reading have row filters naming columns this table lacks: "
                    + ", ".join(sorted(ignored)))
        return ("the grants that allow reading cover different rows, and no column is shown by all of them: "
                + ", ".join(sorted(s.principal for s in slices)))

    @staticmethod
    def _mask(st: PolicyState, principal: str, keys: tuple[str, ...], pii: bool, now: float) -> Mask | None:
        """The principal's most specific live mask rule for a column (``keys``: column first, then
        ancestors); a rule expired at ``now`` does not count."""
        rule = st.live_mask(keys[0], principal, now)
        if rule is not None or not pii:
            return rule
        for key in keys[1:]:
            rule = st.live_mask(key, principal, now)
            if rule is not None:
                return rule
        return None

    def hash_key(self, table: Resource) -> bytes:
        """The key of keyed ``hash`` masks on ``table`` (never log it)."""
        return self._hash_keys.get(table)

    # -- policy changes -------------------------------------------------------------------
    # Unchecked: ``actor`` is only recorded. A change asked for by a principal goes through
    # ``self.changes`` (access.changes), which decides whether that principal may make it.

    def create_role(self, name: str, *, kind: RoleKind = RoleKind.ROLE, description: str = "",
                    actor: str = SYSTEM_ACTOR) -> Role:
        with self.policies.transaction(actor) as tx:
            return self.policies.create_role(tx, name, kind, description)

    def delete_role(self, name: str, *, actor: str = SYSTEM_ACTOR) -> None:
        with self.policies.transaction(actor) as tx:
            self.policies.delete_role(tx, name)

    def add_member(self, role: str, member: str, *, expires_at: dt.datetime | None = None,
                   actor: str = SYSTEM_ACTOR) -> Membership:
        with self.policies.transaction(actor) as tx:
            return self.policies.add_member(tx, role, member, expires_at)

    def remove_member(self, role: str, member: str, *, actor: str = SYSTEM_ACTOR) -> None:
        with self.policies.transaction(actor) as tx:
            self.policies.remove_member(tx, role, member)

    def grant(self, subject: str, action: Action, resource: Resource, *, effect: Effect = Effect.ALLOW,
              expires_at: dt.datetime | None = None, reason: str = "", actor: str = SYSTEM_ACTOR) -> Grant:
        """Allow (or deny) ``subject`` ``action`` on ``resource`` and everything under it."""
        with self.policies.transaction(actor) as tx:
            return self.policies.add_grant(tx, subject, action, resource, effect, expires_at=expires_at,
                                           reason=reason)

    def deny(self, subject: str, action: Action, resource: Resource, *, reason: str = "",
             actor: str = SYSTEM_ACTOR) -> Grant:
        return self.grant(subject, action, resource, effect=Effect.DENY, reason=reason, actor=actor)

    def revoke(self, grant_id: int, *, actor: str = SYSTEM_ACTOR) -> Grant:
        with self.policies.transaction(actor) as tx:
            return self.policies.revoke(tx, grant_id)

    def set_mask(self, subject: str, resource: Resource, mask: Mask, *, expires_at: dt.datetime | None = None,
                 actor: str = SYSTEM_ACTOR) -> MaskRule:
        """Set how ``subject`` sees a column (or the PII columns under a table, domain or the lake);
        with ``expires_at`` the rule stops applying then, like an expiring grant."""
        with self.policies.transaction(actor) as tx:
            return self.policies.set_mask(tx, subject, resource, mask, expires_at=expires_at)

    def remove_mask(self, subject: str, resource: Resource, *, actor: str = SYSTEM_ACTOR) -> None:
        with self.policies.transaction(actor) as tx:
            self.policies.remove_mask(tx, subject, resource)

    def set_row_filter(self, subject: str, resource: Resource, predicate: str, *,
                       expires_at: dt.datetime | None = None, actor: str = SYSTEM_ACTOR) -> RowFilterRule:
        """Limit the rows ``subject``'s grants give under ``resource``; until ``expires_at`` if set."""
        with self.policies.transaction(actor) as tx:
            return self.policies.set_row_filter(tx, subject, resource, predicate, expires_at=expires_at)

    def remove_row_filter(self, subject: str, resource: Resource, *, actor: str = SYSTEM_ACTOR) -> None:
        with self.policies.transaction(actor) as tx:
            self.policies.remove_row_filter(tx, subject, resource)

    def grant_owner(self, info: DatasetInfo | Any, *, actor: str = SYSTEM_ACTOR,
                    resource: Resource | None = None) -> Grant | None:
        """Give an object's owner (a user or a team role) ``admin`` on it; ``None`` if it has it.

        ``info`` has ``name`` and ``owner``; ``resource`` defaults to the dataset ``info.name``
        (pass ``Resource.view(...)`` or ``Resource.metric(...)`` for other objects).
        """
        with self.policies.transaction(actor) as tx:
            return self.owner_grant(tx, info.name, info.owner, resource or Resource.table(info.name))

    def owner_grant(self, tx: _Tx, name: str, owner: str, resource: Resource) -> Grant | None:
        """:meth:`grant_owner` inside a policy transaction ``tx`` (``policies.transaction`` or ``policies.within``)."""
        if not owner or not SUBJECT_RE.fullmatch(owner):
            return None
        if not self._is_user(owner) and owner not in self._state.roles:
            with contextlib.suppress(AlreadyExists):
                self.policies.create_role(tx, owner, RoleKind.GROUP, f"owners of {name}")
        try:
            return self.policies.add_grant(tx, owner, Action.ADMIN, resource, reason="dataset owner")
        except AlreadyExists:
            return None

    def changed_elsewhere(self) -> None:
        """After a transaction that held policy changes (``policies.within``) committed: apply them here
        and run the change hooks, as after this object's own changes."""
        self._changed()

    def acting(self, name: str) -> str:
        """Make the principal ``name`` known to the policy (with the roles on its user record); return it.

        A name that is no principal of this lake is returned as is: it holds no grant, so every check refuses it.
        """
        try:
            user = self.lake.users.get(name)
        except NotFound:
            return name
        self.ensure_subject(user.name, user.roles)
        return user.name

    # -- Casbin CSV --------------------------------------------------------------------------

    def export_csv(self) -> str:
        """The whole policy as a Casbin CSV that ``casbin.Enforcer`` loads with ``model.conf``."""
        from access.csvio import export_policy

        return export_policy(self)

    def import_csv(self, text: str, *, replace: bool = False, actor: str = SYSTEM_ACTOR) -> dict[str, int]:
        """Load a Casbin CSV (as :meth:`export_csv` writes); ``replace`` drops what it does not list."""
        from access.csvio import import_policy

        return import_policy(self, text, replace=replace, actor=actor)
