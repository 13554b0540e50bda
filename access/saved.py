"""Saved gateway queries: a name, the SQL text, and a share link.

A person saves a query under a name (saving again under the same name
replaces its text); its id is 128 random bits, so the link
``/ui/workspace/saved/<id>`` names it without being guessable. A saved query
is seen by its owner, and, once its owner shares it, by anyone signed in who
has the link. Whoever runs it runs it as themselves through the gateway:
their own grants, masks and row filters apply, never the author's — a saved
query holds SQL text only, no rights.

Someone else's unshared query answers exactly like a missing one, so ids
cannot be probed; only the owner may rename, share, unshare or delete it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from access.gateway.parse import MAX_SQL_CHARS
from access.models import SavedQueryRow
from lake.catalog import Catalog
from lake.catalog.models import utcnow
from lake.errors import AccessDenied, InvalidInput, NotFound

#: Longest name of a saved query.
MAX_NAME_CHARS = 120
#: Most saved queries one person keeps.
MAX_PER_OWNER = 500


@dataclass(frozen=True)
class SavedQuery:
    """One saved query.

    Attributes:
        id: Its id, also its share link's last part.
        owner: Who saved it.
        name: Its name (unique per owner).
        sql: The SQL text, as written.
        shared: Whether others with the link may open it.
    """

    id: str
    owner: str
    name: str
    sql: str
    shared: bool
    created_at: dt.datetime
    updated_at: dt.datetime


def _of(row: SavedQueryRow) -> SavedQuery:
    return SavedQuery(row.id, row.owner, row.name, row.sql, bool(row.shared), row.created_at, row.updated_at)


def check_name(name: str) -> str:
    """The name, trimmed.

    Raises:
        InvalidInput: empty, too long, or with control characters.
    """
    text = (name or "").strip()
    if not text:
        raise InvalidInput("name: a saved query needs a name")
    if len(text) > MAX_NAME_CHARS:
        raise InvalidInput(f"name: at most {MAX_NAME_CHARS} characters, not {len(text)}")
    if any(ord(ch) < 32 for ch in text):
        raise InvalidInput("name: line breaks and control characters are not allowed")
    return text


def check_sql(sql: str) -> str:
    """The SQL text as written, if it is not empty and not too long (the gateway judges it when it runs).

    Raises:
        InvalidInput: empty or longer than the gateway accepts.
    """
    if not (sql or "").strip():
        raise InvalidInput("sql: the query is empty")
    if len(sql) > MAX_SQL_CHARS:
        raise InvalidInput(f"sql: at most {MAX_SQL_CHARS} characters, not {len(sql)}")
    return sql


def _missing(query_id: str) -> NotFound:
    return NotFound(f"there is no saved query {query_id!r}, or it is not shared with you")


class SavedQueries:
    """Saved queries in the catalog (table ``saved_queries``)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def save(self, owner: str, name: str, sql: str, *, shared: bool | None = None) -> SavedQuery:
        """Save ``sql`` as ``owner``'s query ``name``; an existing one of that name gets the new text.

        Args:
            owner: The signed-in person (or service principal).
            name: The query's name.
            sql: Its SQL text.
            shared: Share it by link (``None`` keeps an existing query's choice; new ones are private).

        Raises:
            InvalidInput: a bad name or SQL text, or too many saved queries.
        """
        name, sql = check_name(name), check_sql(sql)
        for _attempt in range(2):
            try:
                with self.catalog.session() as s:
                    row = s.scalars(select(SavedQueryRow).where(SavedQueryRow.owner == owner,
                                                                SavedQueryRow.name == name)).one_or_none()
                    now = utcnow()
                    if row is None:
                        count = len(s.scalars(select(SavedQueryRow.id).where(SavedQueryRow.owner == owner)).all())
                        if count >= MAX_PER_OWNER:
                            raise InvalidInput(f"you have {count} saved queries, the most one person keeps; "
                                               "delete some first")
                        row = SavedQueryRow(id=secrets.token_hex(16), owner=owner, name=name, sql=sql,
                                            shared=bool(shared), created_at=now, updated_at=now)
                        s.add(row)
                    else:
                        row.sql = sql
                        row.updated_at = now
                        if shared is not None:
                            row.shared = shared
                    s.flush()
                    return _of(row)
            except IntegrityError:  # saved under the same name at the same moment: update that one
                continue
        raise InvalidInput(f"name: {name!r} was being saved by another request; try again")

    def get(self, viewer: str, query_id: str) -> SavedQuery:
        """The saved query, if ``viewer`` owns it or it is shared.

        Raises:
            NotFound: missing, or someone else's and not shared (one answer for both).
        """
        with self.catalog.session() as s:
            row = s.get(SavedQueryRow, query_id) if _valid_id(query_id) else None
            if row is None or (row.owner != viewer and not row.shared):
                raise _missing(query_id)
            return _of(row)

    def mine(self, owner: str) -> list[SavedQuery]:
        """``owner``'s saved queries, the most recently saved first."""
        with self.catalog.session() as s:
            rows = s.scalars(select(SavedQueryRow).where(SavedQueryRow.owner == owner)
                             .order_by(SavedQueryRow.updated_at.desc(), SavedQueryRow.name))
            return [_of(r) for r in rows]

    def share(self, owner: str, query_id: str, shared: bool) -> SavedQuery:
        """Share the query by link, or stop sharing it.

        Raises:
            NotFound: as :meth:`get`.
            AccessDenied: a shared query of someone else.
        """
        with self.catalog.session() as s:
            row = self._owned(s, owner, query_id)
            row.shared = shared
            row.updated_at = utcnow()
            s.flush()
            return _of(row)

    def delete(self, owner: str, query_id: str) -> None:
        """Delete the query.

        Raises:
            NotFound: as :meth:`get`.
            AccessDenied: a shared query of someone else.
        """
        with self.catalog.session() as s:
            s.delete(self._owned(s, owner, query_id))

    @staticmethod
    def _owned(s: Session, owner: str, query_id: str) -> SavedQueryRow:
        row = s.get(SavedQueryRow, query_id) if _valid_id(query_id) else None
        if row is None or (row.owner != owner and not row.shared):
            raise _missing(query_id)
        if row.owner != owner:
            raise AccessDenied(owner, "change", f"saved query {row.name!r}",
                               reason=f"only its owner ({row.owner}) may change it")
        return row


def _valid_id(query_id: str) -> bool:
    return isinstance(query_id, str) and len(query_id) == 32 and all(c in "0123456789abcdef" for c in query_id)
