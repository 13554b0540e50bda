"""The in-app inbox: notices per recipient, written with the action that causes them."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lake.catalog import Catalog
from lake.catalog.models import utcnow
from lake.enums import ParsableEnum
from lake.errors import NotFound
from metrics_catalog.models import ChannelRow, InboxRow, OutboxRow


class NoticeKind(ParsableEnum, label="notice kind"):
    STAGE_REACHED = "stage_reached"      # an approver's stage has a proposal waiting
    DECISION = "decision"                # the author: approved, rejected, changes requested
    REVISED = "revised"                  # approvers of a reset stage: a new revision needs them again
    COMMENT = "comment"                  # participants: a new comment
    MEETING = "meeting"                  # approvers of a stage: a session opened with an agenda

    @classmethod
    def _normalize(cls, text: str) -> str:
        return text


@dataclass(frozen=True)
class Notice:
    id: int
    recipient: str
    kind: NoticeKind
    metric: str
    title: str
    body: str
    payload: dict[str, Any]
    created_at: dt.datetime
    read: bool


def _notice(row: InboxRow) -> Notice:
    return Notice(row.id, row.recipient, NoticeKind(row.kind), row.metric, row.title, row.body, dict(row.payload),
                  row.created_at, row.read_at is not None)


def post(s: Session, recipients: Iterable[str], kind: NoticeKind, metric: str, title: str, body: str = "",
         payload: dict[str, Any] | None = None) -> builtins.list[str]:
    """Write a notice to each recipient's inbox and queue it on their channels (in ``s``'s transaction).

    Returns:
        The recipients, deduplicated, in order.
    """
    people = list(dict.fromkeys(r for r in recipients if r))
    data = dict(payload or {})
    for person in people:
        s.add(InboxRow(recipient=person, kind=kind.value, metric=metric, title=title, body=body, payload=data))
    if people:
        channels = s.scalars(select(ChannelRow).where(ChannelRow.subject.in_(people))).all()
        for ch in channels:
            message = {"kind": kind.value, "metric": metric, "recipient": ch.subject, "title": title,
                       "body": body, "payload": data, "sent_at": utcnow().isoformat()}
            s.add(OutboxRow(channel_id=ch.id, kind=ch.kind, target=ch.target, payload=message, status="pending",
                            attempts=0, last_error=""))
    return people


class Inbox:
    """Reading and acknowledging one's notices."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def list(self, recipient: str, *, unread_only: bool = False, limit: int = 100) -> builtins.list[Notice]:
        with self.catalog.session() as s:
            q = select(InboxRow).where(InboxRow.recipient == recipient)
            if unread_only:
                q = q.where(InboxRow.read_at.is_(None))
            return [_notice(r) for r in s.scalars(q.order_by(InboxRow.id.desc()).limit(limit))]

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
