"""ORM table of the web UI (migration ``0006``): sign-in sessions.

The session id travels only in the cookie; the catalog keeps its SHA-256
digest, so a leaked catalog holds no usable session. A session made from an
API token keeps that token's digest and ends when the token is revoked.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lake.catalog.models import AwareDateTime, Base, utcnow


class UiSession(Base):
    __tablename__ = "ui_sessions"
    __table_args__ = (Index("ix_ui_sessions_user", "user_name"), Index("ix_ui_sessions_expires", "expires_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_name: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(15))  # password, token
    token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(AwareDateTime())
