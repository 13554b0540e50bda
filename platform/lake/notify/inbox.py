"""The in-app inbox: notices per recipient, written with the action that causes them.

:func:`post` is the one rule for telling people: in the action's own
transaction it writes an inbox row per recipient and an outbox row per
channel, each where the recipient's preferences send that kind of notice
(:mod:`lake.notify.preferences`). :func:`mark_done` closes notices whose
request no longer waits (a stage that moved on, an access request decided),
for every recipient at once.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lake.catalog import Catalog
from lake.catalog.models import utcnow
from lake.enums import ParsableEnum
from lake.errors import NotFound
from lake.notify.models import ChannelRow, InboxRow, OutboxRow
from lake.notify.preferences import Delivery, deliveries_of


class NoticeKind(ParsableEnum, label="notice kind"):
    STAGE_REACHED = "stage_reached"      # an approver's stage has a proposal waiting
    DECISION = "decision"                # the author: approved, rejected, changes requested
    REVISED = "revised"                  # approvers of a reset stage: a new revision needs them again
    COMMENT = "comment"                  # participants: a new comment
    MEETING = "meeting"                  # approvers of a stage: a session opened with an agenda
    ACCESS_REQUESTED = "access_requested"  # the owners of a resource: someone asks for access
    ACCESS_DECIDED = "access_decided"    # the requester: approved, rejected, cancelled, or the grant expired
    VIEW_REFRESH = "view_refresh"        # the owners of a view: a refresh failed

    @classmethod
    def _normalize(cls, text: str) -> str:
        return text


@dataclass(frozen=True)
class Notice:
    """One notice of one recipient.

    Attributes:
        metric: What it is about: a metric's name, or a resource key for access
            and view notices (``dataset:sales.orders``).
        done: What it asked for no longer waits (the stage moved on, the
            request was decided); a done notice needs nothing from anyone.
    """

    id: int
    recipient: str
    kind: NoticeKind
    metric: str
    title: str
    body: str
    payload: dict[str, Any]
    created_at: dt.datetime
    read: bool
    done: bool = False

    @property
    def about(self) -> str:
        return self.metric

    @property
    def link(self) -> str:
        """Where the notice points, under the UI (``/metrics/NAME``, ``/datasets/NAME``...)."""
        explicit = self.payload.get("link")
        if isinstance(explicit, str) and explicit:
            return explicit
        if self.kind in (NoticeKind.ACCESS_REQUESTED, NoticeKind.ACCESS_DECIDED, NoticeKind.VIEW_REFRESH):
            kind, _, name = self.metric.partition(":")
            section = {"dataset": "datasets", "table": "datasets", "view": "views", "metric": "metrics"}.get(kind)
            return f"/{section}/{name}" if section and name else "/inbox"
        return f"/metrics/{self.metric}"


def _notice(row: InboxRow) -> Notice:
    return Notice(row.id, row.recipient, NoticeKind(row.kind), row.metric, row.title, row.body, dict(row.payload),
                  row.created_at, row.read_at is not None, row.done_at is not None)


def post(s: Session, recipients: Iterable[str], kind: NoticeKind, about: str, title: str, body: str = "",
         payload: dict[str, Any] | None = None) -> builtins.list[str]:
    """Tell each recipient, where their preferences send ``kind`` (in ``s``'s transaction).

    Args:
        s: The action's session: the notices commit with the action, or not at all.
        recipients: User names (duplicates and empty names are dropped).
        kind: What kind of notice.
        about: A metric's name, or a resource key (``dataset:sales.orders``).
        title: One line; the e-mail's subject.
        body: The text.
        payload: Structured detail (kept with the notice, sent to webhooks).

    Returns:
        The recipients, deduplicated, in order.
    """
    people = list(dict.fromkeys(r for r in recipients if r))
    if not people:
        return people
    data = dict(payload or {})
    wanted = deliveries_of(s, people, kind.value)
    for person in people:
        if Delivery.INBOX in wanted[person]:
            s.add(InboxRow(recipient=person, kind=kind.value, metric=about, title=title, body=body, payload=data))
    channels = s.scalars(select(ChannelRow).where(ChannelRow.subject.in_(people)).order_by(ChannelRow.id)).all()
    for ch in channels:
        if Delivery(ch.kind) not in wanted[ch.subject]:
            continue
        message = {"kind": kind.value, "metric": about, "about": about, "recipient": ch.subject, "title": title,
                   "body": body, "payload": data, "sent_at": utcnow().isoformat()}
        if isinstance(data.get("link"), str):
            message["link"] = data["link"]
        s.add(OutboxRow(channel_id=ch.id, kind=ch.kind, target=ch.target, payload=message, status="pending",
                        attempts=0, last_error=""))
    return people


def mark_done(s: Session, about: str, kinds: Iterable[NoticeKind], *,
              still_waiting: Callable[[dict[str, Any]], bool] | None = None,
              recipients: Iterable[str] | None = None) -> int:
    """Close the open notices of ``kinds`` about ``about`` for everyone (in ``s``'s transaction).

    Args:
        s: The action's session.
        about: What the notices are about (a metric's name, a resource key).
        kinds: Which kinds of notice.
        still_waiting: Keeps open a notice whose payload it answers true for
            (the stage a proposal still waits at); every one is closed without it.
        recipients: Only these people's notices.

    Returns:
        How many notices were closed.
    """
    q = select(InboxRow).where(InboxRow.metric == about, InboxRow.kind.in_([k.value for k in kinds]),
                               InboxRow.done_at.is_(None))
    if recipients is not None:
        q = q.where(InboxRow.recipient.in_(list(recipients)))
    now = utcnow()
    closed = 0
    for row in s.scalars(q):
        if still_waiting is not None and still_waiting(dict(row.payload or {})):
            continue
        row.done_at = now
        closed += 1
    return closed


class Inbox:
    """Reading and acknowledging one's notices."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def list(self, recipient: str, *, unread_only: bool = False, open_only: bool = False,
             limit: int = 100) -> builtins.list[Notice]:
        """A person's notices, newest first.

        Args:
            recipient: Whose.
            unread_only: Only those not read yet.
            open_only: Only those not done (what still waits for someone).
            limit: At most this many.
        """
        with self.catalog.session() as s:
            q = select(InboxRow).where(InboxRow.recipient == recipient)
            if unread_only:
                q = q.where(InboxRow.read_at.is_(None))
            if open_only:
                q = q.where(InboxRow.done_at.is_(None))
            return [_notice(r) for r in s.scalars(q.order_by(InboxRow.id.desc()).limit(limit))]

    def unread(self, recipient: str) -> int:
        """How many notices of ``recipient`` are unread and not done."""
        from sqlalchemy import func

        with self.catalog.session() as s:
            return int(s.scalar(select(func.count()).select_from(InboxRow).where(
                InboxRow.recipient == recipient, InboxRow.read_at.is_(None), InboxRow.done_at.is_(None))) or 0)

    def mark_read(self, recipient: str, notice_id: int) -> Notice:
        with self.catalog.session() as s:
            row = s.get(InboxRow, notice_id)
            if row is None or row.recipient != recipient:
                raise NotFound(f"notice {notice_id} is not in {recipient}'s inbox")
            if row.read_at is None:
                row.read_at = utcnow()
            return _notice(row)

    def mark_all_read(self, recipient: str) -> int:
        with self.catalog.session() as s:
            result = s.execute(update(InboxRow).where(InboxRow.recipient == recipient, InboxRow.read_at.is_(None))
                               .values(read_at=utcnow()))
            return int(result.rowcount)  # type: ignore[attr-defined]
