"""Comment threads on metrics: a comment answers the metric or another comment."""

from __future__ import annotations

import builtins
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from lake.catalog.models import User
from lake.errors import InvalidInput, NotFound
from lake.notify import NoticeKind, post
from metrics_catalog import approvals as rules
from metrics_catalog.models import ApprovalRow, CommentRow
from metrics_catalog.reads import metric_row
from metrics_catalog.workflow import Workflow

MAX_COMMENT_CHARS = 20_000


@dataclass(frozen=True)
class CommentInfo:
    id: int
    metric: str
    revision: int
    parent_id: int | None
    author: str
    body: str
    created_at: dt.datetime


class Comments:
    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.catalog = workflow.catalog

    def add(self, metric: str, body: str, *, actor: str, parent_id: int | None = None) -> CommentInfo:
        """Comment on the metric's current revision, or answer comment ``parent_id``.

        Everyone taking part (authors, owner, approvers and commenters so far)
        gets a notice, except the commenter.
        """
        principal = self.workflow._principal(actor)
        body = body.strip()
        if not body:
            raise InvalidInput("a comment needs text")
        if len(body) > MAX_COMMENT_CHARS:
            raise InvalidInput(f"a comment is at most {MAX_COMMENT_CHARS} characters, got {len(body)}")
        with self.catalog.session() as s:
            row = metric_row(s, metric)
            if parent_id is not None:
                parent = s.get(CommentRow, parent_id)
                if parent is None or parent.metric_id != row.id:
                    raise NotFound(f"comment {parent_id} is not a comment on {metric}")
            comment = CommentRow(metric_id=row.id, parent_id=parent_id, revision=row.current_revision,
                                 author=principal.name, body=body)
            s.add(comment)
            s.flush()
            people = set(rules.authors(s, row)) | {row.owner}
            people |= set(s.scalars(select(CommentRow.author).where(CommentRow.metric_id == row.id)))
            people |= set(s.scalars(select(ApprovalRow.approver).where(ApprovalRow.metric_id == row.id)))
            people.discard(principal.name)
            known = set(s.scalars(select(User.name).where(User.name.in_(people))))
            post(s, sorted(known), NoticeKind.COMMENT, metric, f"{principal.name} commented on {metric}",
                 body[:500], {"comment_id": comment.id, "revision": row.current_revision})
            return CommentInfo(comment.id, metric, comment.revision, parent_id, comment.author, body,
                               comment.created_at)

    def list(self, metric: str) -> builtins.list[CommentInfo]:
        """Comments in order of writing; ``parent_id`` links the threads."""
        with self.catalog.session() as s:
            row = metric_row(s, metric)
            return [CommentInfo(c.id, metric, c.revision, c.parent_id, c.author, c.body, c.created_at)
                    for c in s.scalars(select(CommentRow).where(CommentRow.metric_id == row.id)
                                       .order_by(CommentRow.id))]
