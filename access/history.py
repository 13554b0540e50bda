"""A person's gateway queries, read back from the audit log.

The gateway audits every query (kind ``query``): one entry per table it read,
or one without a table when it was refused before any table was known; all
entries of one query share its ``query_id``. :func:`query_history` folds them
into one item per query, newest first, for one actor only — the audit log is
the record, so the history cannot disagree with it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from access.audit import AuditKind, AuditLog
from lake.errors import NotFound

#: Most queries one history page lists.
MAX_HISTORY = 200


@dataclass(frozen=True)
class HistoryItem:
    """One gateway query of the person.

    Attributes:
        query_id: The query's id in the audit log.
        at: When it was answered (or refused).
        sql: Its SQL text (the first ``AUDIT_SQL_CHARS`` characters).
        sql_truncated: Whether the audit log kept only the beginning of the text.
        outcome: ``ok``, or the error code (``access_denied``, ``query_refused``...).
        reason: Why it failed, when it did.
        rows: How many rows it returned.
        tables: The tables it read.
    """

    query_id: str
    at: dt.datetime
    sql: str
    sql_truncated: bool
    outcome: str
    reason: str
    rows: int | None
    tables: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def query_history(audit: AuditLog, actor: str, *, limit: int = 50) -> list[HistoryItem]:
    """``actor``'s latest gateway queries, newest first (at most ``limit``, up to :data:`MAX_HISTORY`).

    Args:
        audit: The audit log.
        actor: Whose queries; nobody else's entries are read.
        limit: How many queries.
    """
    limit = max(1, min(limit, MAX_HISTORY))
    items: dict[str, HistoryItem] = {}
    after: int | None = None
    # A query has one entry per table; read pages of entries until enough queries are found.
    while len(items) < limit:
        entries = audit.query(actor=actor, kind=AuditKind.QUERY, before_seq=after, limit=limit * 4)
        if not entries:
            break
        for entry in entries:
            detail = entry.detail
            query_id = str(detail.get("query_id") or f"entry-{entry.seq}")
            if query_id in items or entry.actor != actor:
                continue
            items[query_id] = HistoryItem(
                query_id=query_id, at=entry.at, sql=str(detail.get("sql", "")),
                sql_truncated=bool(detail.get("sql_truncated")), outcome=str(detail.get("outcome", "")),
                reason=str(detail.get("reason") or detail.get("error") or ""),
                rows=detail.get("rows") if isinstance(detail.get("rows"), int) else None,
                tables=tuple(str(t) for t in detail.get("tables", ()) or ()),
            )
            if len(items) >= limit:
                break
        after = entries[-1].seq
        if len(entries) < limit * 4:
            break
    return list(items.values())


def find_query(audit: AuditLog, actor: str, query_id: str) -> HistoryItem:
    """One of ``actor``'s latest :data:`MAX_HISTORY` queries, by id.

    Raises:
        NotFound: not among them (someone else's query answers the same).
    """
    for item in query_history(audit, actor, limit=MAX_HISTORY):
        if item.query_id == query_id:
            return item
    raise NotFound(f"query {query_id!r} is not among your latest {MAX_HISTORY} queries")
