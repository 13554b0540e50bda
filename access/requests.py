"""Access requests: a subscriber asks, the owner or an approver decides, the grant expires.

A request names a resource (a dataset, view, metric or domain), optionally some
columns of a dataset or view, a reason and a duration. Approving it adds
``allow`` grants (one per column, or one on the resource) that expire after the
duration; the decision index ignores an expired grant at decision time, so
access ends without anyone acting. Approving needs the resource's owner (the
dataset owner, a user or a team role the decider holds) or a principal with
``approve`` or ``grant`` on the resource; nobody decides their own request.

The people concerned hear of it (:mod:`lake.notify`, in the same transaction
as the change): a new request goes to those who decide it (the resource's
owners: the owner user or the members of the owner team; where a resource
has no owner, everyone with ``approve`` or ``grant`` on it); a decision —
approved, rejected, cancelled, and later the grants' expiry
(:meth:`AccessRequests.notice_expired`) — goes to the requester, and the
owners' "asks for access" notices are marked done for everyone.

A granted PII column is shown masked (``redact``, or as the requester's own
mask rules say). Approving a read request with ``reveal_pii`` also gives the
requester ``decrypt`` mask rules on the PII columns it covers (its columns, or
every PII column of its dataset) that expire with the grants, in the same
transaction. Showing PII in clear is a mask change, so it needs what setting a
``decrypt`` mask needs on the API: ``admin`` on each of those columns (the
dataset owner has it through :meth:`~access.policy.AccessControl.grant_owner`).
"""

from __future__ import annotations

import builtins
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from access.audit import AuditKind
from access.errors import RequestNotPending
from access.masks import Mask, MaskKind
from access.models import AccessRequest
from access.resources import Action, Resource, ResourceKind
from lake.catalog.models import User, utcnow
from lake.enums import ParsableEnum
from lake.errors import AccessDenied, Conflict, InvalidInput, NotFound
from lake.notify import NoticeKind, mark_done, post

if TYPE_CHECKING:
    from access.policy import AccessControl

DEFAULT_DURATION = dt.timedelta(days=30)
MIN_DURATION = dt.timedelta(minutes=1)
MAX_DURATION = dt.timedelta(days=366)
_REQUESTABLE = (ResourceKind.DOMAIN, ResourceKind.DATASET, ResourceKind.VIEW, ResourceKind.METRIC)
_ACTIONS = (Action.DISCOVER, Action.READ, Action.WRITE, Action.PROPOSE)


class RequestStatus(ParsableEnum, label="request status"):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class AccessRequestInfo:
    id: int
    requester: str
    resource: Resource
    action: Action
    columns: tuple[str, ...]
    reason: str
    duration: dt.timedelta
    status: RequestStatus
    created_at: dt.datetime
    decided_by: str | None = None
    decided_at: dt.datetime | None = None
    decision_note: str = ""
    expires_at: dt.datetime | None = None

    def expired(self, now: dt.datetime | None = None) -> bool:
        """Approved, and its grants have expired."""
        return (self.status is RequestStatus.APPROVED and self.expires_at is not None
                and self.expires_at <= (now or utcnow()))

    @property
    def targets(self) -> tuple[Resource, ...]:
        """The resources an approval grants."""
        if self.columns:
            return tuple(Resource.column_of(self.resource, c) for c in self.columns)
        return (self.resource,)


def _info(row: AccessRequest) -> AccessRequestInfo:
    return AccessRequestInfo(
        id=row.id, requester=row.requester, resource=Resource.parse(row.resource), action=Action(row.action),
        columns=tuple(row.columns), reason=row.reason,
        duration=dt.timedelta(seconds=row.duration_seconds or DEFAULT_DURATION.total_seconds()),
        status=RequestStatus(row.status), created_at=row.created_at or utcnow(),
        decided_by=row.decided_by, decided_at=row.decided_at, decision_note=row.decision_note,
        expires_at=row.expires_at,
    )


def _check_duration(duration: dt.timedelta) -> dt.timedelta:
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise InvalidInput(f"duration must be between {MIN_DURATION} and {MAX_DURATION.days} days, not {duration}")
    return duration


class AccessRequests:
    def __init__(self, access: AccessControl) -> None:
        self.access = access
        self.catalog = access.lake.catalog

    def create(self, requester: str, resource: Resource, *, reason: str, columns: tuple[str, ...] | list[str] = (),
               duration: dt.timedelta = DEFAULT_DURATION, action: Action = Action.READ) -> AccessRequestInfo:
        """File a request.

        Raises:
            InvalidInput: no reason, a bad duration, columns of something that has
                none, or columns the dataset lacks.
            NotFound: the requester or the dataset does not exist.
        """
        if not reason.strip():
            raise InvalidInput("say why you need access (reason)")
        if resource.kind not in _REQUESTABLE:
            raise InvalidInput(f"request access to a dataset, view, metric or domain, not to a {resource.kind.value}"
                               " (name columns with 'columns')")
        if action not in _ACTIONS:
            raise InvalidInput(f"{action.value} cannot be requested; ask an administrator")
        _check_duration(duration)
        self.access.lake.users.get(requester)
        cols = tuple(dict.fromkeys(c.strip().lower() for c in columns))
        owner: str | None = None
        if cols:
            if resource.kind not in (ResourceKind.DATASET, ResourceKind.VIEW):
                raise InvalidInput("only datasets and views have columns")
            for c in cols:
                Resource.column_of(resource, c)
            if resource.kind is ResourceKind.DATASET:
                dataset = self.access.lake.datasets.get(resource.qualified)
                owner, contract = dataset.owner or None, dataset.contract
                names = {c.name for c in contract.columns}
                unknown = [c for c in cols if c not in names]
                if unknown:
                    raise InvalidInput(f"{resource.qualified} has no column(s) {', '.join(unknown)}")
        elif resource.kind is ResourceKind.DATASET:
            owner = self.access.lake.datasets.get(resource.qualified).owner or None
        if resource.kind is not ResourceKind.DATASET:
            owner = self.owner_of(resource)
        with self.catalog.session() as s:
            row = AccessRequest(requester=requester, resource=resource.key, action=action.value, columns=list(cols),
                                reason=reason.strip(), duration_seconds=int(duration.total_seconds()),
                                status=RequestStatus.PENDING.value, decision_note="")
            s.add(row)
            s.flush()
            self.access.audit.append(s, AuditKind.ACCESS_REQUEST, actor=requester, action="request",
                                     resource=resource.key, detail={"request": row.id, "columns": list(cols),
                                                                    "reason": row.reason,
                                                                    "duration_seconds": row.duration_seconds})
            info = _info(row)
            what = f"{resource.qualified}" + (f" (columns {', '.join(cols)})" if cols else "")
            post(s, self.deciders(info, session=s, owner=owner), NoticeKind.ACCESS_REQUESTED, resource.key,
                 f"{requester} asks to {action.value} {what}",
                 f"{row.reason}\n\nFor {info.duration.days or 1} day(s). Approve or reject it in your inbox.",
                 {"request": row.id, "requester": requester, "resource": resource.key, "action": action.value,
                  "columns": list(cols), "link": "/inbox#requests"})
        self.access.notifier.committed()
        return info

    def get(self, request_id: int) -> AccessRequestInfo:
        with self.catalog.session() as s:
            row = s.get(AccessRequest, request_id)
            if row is None:
                raise NotFound(f"access request {request_id} does not exist")
            return _info(row)

    def list(self, *, status: RequestStatus | None = None, requester: str | None = None,
             limit: int = 200) -> list[AccessRequestInfo]:
        q = select(AccessRequest).order_by(AccessRequest.id.desc()).limit(limit)
        if status:
            q = q.where(AccessRequest.status == status.value)
        if requester:
            q = q.where(AccessRequest.requester == requester)
        with self.catalog.session() as s:
            return [_info(r) for r in s.scalars(q)]

    def owner_of(self, resource: Resource) -> str | None:
        """The owner of a dataset or view (a user or team role), else ``None``."""
        if resource.kind is ResourceKind.DATASET:
            try:
                return self.access.lake.datasets.get(resource.qualified).owner or None
            except NotFound:
                return None
        if resource.kind is ResourceKind.VIEW:
            from views.catalog import get_view

            try:
                return get_view(self.access.lake, resource.qualified, allow_retired=True).owner or None
            except NotFound:
                return None
        return None

    def deciders(self, request: AccessRequestInfo, *, session: object | None = None,
                 owner: str | object | None = ...) -> builtins.list[str]:
        """Who is told of ``request``: its resource's owners who may decide it (the owner user, or the
        active members of the owner team); without any, every active user who may decide it.

        Args:
            request: The request.
            session: Read the users in this session (the request's own transaction).
            owner: The resource's owner when the caller knows it already (``owner_of`` by default).
        """
        from sqlalchemy.orm import Session

        def active(s: Session) -> builtins.list[str]:
            return list(s.scalars(select(User.name).where(User.is_active.is_(True)).order_by(User.name)))

        if isinstance(session, Session):
            people = active(session)
        else:
            with self.catalog.session() as s:
                people = active(s)
        if owner is ...:
            owner = self.owner_of(request.resource)
        if isinstance(owner, str) and owner:
            owners = [p for p in people if p != request.requester
                      and (p == owner or owner in self.access.roles_of(p))]
            if owners:
                return owners
        return [p for p in people if self.can_decide(p, request)]

    def pii_columns(self, request: AccessRequestInfo) -> tuple[Resource, ...]:
        """The PII columns a request covers (its columns, or every column of its dataset), as resources.

        Only a dataset's contract says which columns are PII: a request for a
        view, metric or domain covers none.
        """
        if request.resource.kind is not ResourceKind.DATASET:
            return ()
        try:
            contract = self.access.lake.datasets.get(request.resource.qualified).contract
        except NotFound:
            return ()
        wanted = set(request.columns) or set(contract.column_names)
        return tuple(Resource.column_of(request.resource, c.name) for c in contract.columns
                     if c.pii and c.name in wanted)

    def _may_reveal(self, approver: str, request: AccessRequestInfo) -> tuple[Resource, ...]:
        """The PII columns ``approver`` shows in clear by approving ``request`` with ``reveal_pii``.

        Raises:
            InvalidInput: the request is not for reading.
            AccessDenied: the approver lacks ``admin`` on one of them (audited, like every ``require``).
        """
        if request.action is not Action.READ:
            raise InvalidInput(f"only a read request can show PII columns in clear, not a {request.action.value} "
                               "request")
        columns = self.pii_columns(request)
        for column in columns:
            self.access.require(approver, Action.ADMIN, column)
        return columns

    def can_decide(self, decider: str, request: AccessRequestInfo) -> bool:
        """Owner of the resource, or ``approve``/``grant`` on it; never the requester."""
        if decider == request.requester:
            return False
        owner = self.owner_of(request.resource)
        if owner and (owner == decider or owner in self.access.roles_of(decider)):
            return True
        return any(self.access.can(decider, a, request.resource) for a in (Action.APPROVE, Action.GRANT))

    def _check_decider(self, decider: str, request: AccessRequestInfo) -> None:
        if decider == request.requester:
            raise AccessDenied(decider, "decide", f"access request {request.id}", "nobody decides their own request")
        if not self.can_decide(decider, request):
            raise AccessDenied(decider, "decide", f"access request {request.id}",
                               f"only the owner of {request.resource} or a principal with approve or grant on it may")

    @staticmethod
    def _tell_requester(s: object, request: AccessRequestInfo, outcome: str, by: str, note: str = "",
                        expires_at: dt.datetime | None = None) -> None:
        """The requester hears the outcome; the deciders' "asks for access" notices are done (in ``s``)."""
        from sqlalchemy.orm import Session

        assert isinstance(s, Session)
        key = request.resource.key
        mark_done(s, key, (NoticeKind.ACCESS_REQUESTED,), still_waiting=lambda p: p.get("request") != request.id)
        what = request.resource.qualified + (f" (columns {', '.join(request.columns)})" if request.columns else "")
        if outcome == "expired":
            title, body = f"Your access to {what} has expired", "Ask again if you still need it."
        elif outcome == "cancelled":
            title, body = f"Your request #{request.id} for {what} is cancelled", ""
        else:
            title = f"Your request #{request.id} to {request.action.value} {what} was {outcome} by {by}"
            body = f"“{note}”" if note else ""
            if expires_at is not None:
                body = (body + "\n\n" if body else "") + f"Access until {expires_at.isoformat(timespec='minutes')}."
        post(s, [request.requester], NoticeKind.ACCESS_DECIDED, key, title, body,
             {"request": request.id, "decision": outcome, "by": by, "note": note, "resource": key,
              "expires_at": expires_at.isoformat() if expires_at else None, "link": "/inbox#mine"})

    def _transition(self, s: object, request_id: int, to: RequestStatus, **values: object) -> None:
        from sqlalchemy.orm import Session

        assert isinstance(s, Session)
        n = s.execute(update(AccessRequest)
                      .where(AccessRequest.id == request_id, AccessRequest.status == RequestStatus.PENDING.value)
                      .values(status=to.value, **values)).rowcount  # type: ignore[attr-defined]
        if n != 1:
            row = s.get(AccessRequest, request_id)
            raise RequestNotPending(request_id, row.status if row is not None else "gone")

    def approve(self, request_id: int, approver: str, *, note: str = "",
                duration: dt.timedelta | None = None, reveal_pii: bool = False) -> AccessRequestInfo:
        """Approve: add the expiring grants, in one transaction with the decision.

        Args:
            duration: Shorten or lengthen the requested duration.
            reveal_pii: Also show the PII columns the request covers in clear:
                ``decrypt`` mask rules for the requester that expire with the
                grants, in the same transaction (needs ``admin`` on each column;
                nothing when the request covers no PII column).

        Raises:
            AccessDenied: the approver may not decide this request, or (with
                ``reveal_pii``) lacks ``admin`` on a PII column it covers.
            InvalidInput: ``reveal_pii`` on a request that is not for reading.
            Conflict: (with ``reveal_pii``) the requester has a different live
                mask rule of its own on one of those columns; nothing is changed.
            RequestNotPending: it was decided already.
        """
        request = self.get(request_id)
        self._check_decider(approver, request)
        revealed = self._may_reveal(approver, request) if reveal_pii else ()
        now = self._now()
        expires = now + _check_duration(duration or request.duration)
        with self.access.policies.transaction(approver) as tx:
            self._transition(tx.session, request_id, RequestStatus.APPROVED, decided_by=approver, decided_at=now,
                             decision_note=note, expires_at=expires,
                             duration_seconds=int((expires - now).total_seconds()))
            for target in request.targets:
                self.access.policies.add_grant(tx, request.requester, request.action, target, expires_at=expires,
                                               reason=f"access request {request_id}", request_id=request_id,
                                               on_exists="extend")
            for column in revealed:
                try:
                    self.access.policies.set_mask(tx, request.requester, column, Mask(MaskKind.DECRYPT),
                                                  expires_at=expires, on_exists="extend")
                except Conflict as exc:
                    raise Conflict(f"{exc.message}; change that mask first, or approve without showing PII "
                                   "in clear") from None
            detail: dict[str, object] = {"request": request_id, "requester": request.requester,
                                         "expires_at": expires.isoformat(), "note": note}
            if reveal_pii:
                detail["reveal_pii"] = [c.key for c in revealed]
            self.access.audit.append(tx.session, AuditKind.ACCESS_REQUEST, actor=approver, action="approve",
                                     resource=request.resource.key, detail=detail)
            self._tell_requester(tx.session, request, "approved", approver, note, expires)
        self.access.notifier.committed()
        return self.get(request_id)

    def _now(self) -> dt.datetime:
        """Now on the access layer's clock: it decides expiry, so decisions and grant ends are dated by it too."""
        return dt.datetime.fromtimestamp(self.access.clock(), dt.UTC)

    def reject(self, request_id: int, approver: str, *, note: str = "") -> AccessRequestInfo:
        request = self.get(request_id)
        self._check_decider(approver, request)
        with self.catalog.session() as s:
            self._transition(s, request_id, RequestStatus.REJECTED, decided_by=approver, decided_at=self._now(),
                             decision_note=note)
            self.access.audit.append(s, AuditKind.ACCESS_REQUEST, actor=approver, action="reject",
                                     resource=request.resource.key,
                                     detail={"request": request_id, "requester": request.requester, "note": note})
            self._tell_requester(s, request, "rejected", approver, note)
        self.access.notifier.committed()
        return self.get(request_id)

    def cancel(self, request_id: int, requester: str) -> AccessRequestInfo:
        request = self.get(request_id)
        if requester != request.requester:
            raise AccessDenied(requester, "cancel", f"access request {request_id}", "only its requester may cancel it")
        with self.catalog.session() as s:
            self._transition(s, request_id, RequestStatus.CANCELLED, decided_by=requester, decided_at=self._now())
            self.access.audit.append(s, AuditKind.ACCESS_REQUEST, actor=requester, action="cancel",
                                     resource=request.resource.key, detail={"request": request_id})
            self._tell_requester(s, request, "cancelled", requester)
        self.access.notifier.committed()
        return self.get(request_id)

    def notice_expired(self, *, limit: int = 500) -> builtins.list[int]:
        """Tell requesters whose approved grants have expired, once each (the server's scheduler runs this).

        Returns:
            The requests whose expiry was told now.
        """
        from access.policy import SYSTEM_ACTOR  # who "decides" an expiry

        now = self._now()
        told: builtins.list[int] = []
        with self.catalog.session() as s:
            rows = s.scalars(select(AccessRequest).where(
                AccessRequest.status == RequestStatus.APPROVED.value, AccessRequest.expires_at.is_not(None),
                AccessRequest.expires_at <= now, AccessRequest.expiry_noticed_at.is_(None))
                .order_by(AccessRequest.id).limit(limit)).all()
            for row in rows:
                # Claimed by the update: two schedulers never both tell.
                claimed = s.execute(update(AccessRequest).where(AccessRequest.id == row.id,
                                                                AccessRequest.expiry_noticed_at.is_(None))
                                    .values(expiry_noticed_at=now)).rowcount  # type: ignore[attr-defined]
                if claimed == 1:
                    self._tell_requester(s, _info(row), "expired", SYSTEM_ACTOR)
                    told.append(row.id)
        if told:
            self.access.notifier.committed()
        return told
