"""Notification channels: where a person's notices go besides the inbox (a webhook URL, an e-mail address)."""

from __future__ import annotations

import builtins
import datetime as dt
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlparse

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from lake.catalog import Catalog
from lake.enums import ParsableEnum
from lake.errors import AlreadyExists, InvalidInput, NotFound
from lake.notify.models import ChannelRow, OutboxRow

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class ChannelKind(ParsableEnum, label="channel kind"):
    WEBHOOK = "webhook"
    EMAIL = "email"


@dataclass(frozen=True)
class ChannelInfo:
    """A channel. ``secret`` (the webhook's HMAC key) is only set when the channel is created."""

    id: int
    subject: str
    kind: ChannelKind
    target: str
    created_at: dt.datetime
    secret: str | None = None


def check_target(kind: ChannelKind, target: str) -> str:
    target = target.strip()
    if kind is ChannelKind.WEBHOOK:
        url = urlparse(target)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise InvalidInput(f"webhook target must be an http(s) URL, got {target!r}")
    elif not _EMAIL.fullmatch(target):
        raise InvalidInput(f"email target must be an address like name@example.com, got {target!r}")
    return target


class Channels:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def add(self, subject: str, kind: ChannelKind | str, target: str) -> ChannelInfo:
        """Add a channel; a webhook gets a new signing secret, returned this once."""
        kind = ChannelKind.parse(kind) if isinstance(kind, str) else kind
        target = check_target(kind, target)
        secret = secrets.token_urlsafe(32) if kind is ChannelKind.WEBHOOK else ""
        try:
            with self.catalog.session() as s:
                row = ChannelRow(subject=subject, kind=kind.value, target=target, secret=secret)
                s.add(row)
                s.flush()
                return ChannelInfo(row.id, subject, kind, target, row.created_at, secret or None)
        except IntegrityError:
            raise AlreadyExists(f"{subject} already has the {kind.value} channel {target}") from None

    def list(self, subject: str | None = None) -> builtins.list[ChannelInfo]:
        with self.catalog.session() as s:
            q = select(ChannelRow).order_by(ChannelRow.id)
            if subject is not None:
                q = q.where(ChannelRow.subject == subject)
            return [ChannelInfo(r.id, r.subject, ChannelKind(r.kind), r.target, r.created_at) for r in s.scalars(q)]

    def remove(self, subject: str, channel_id: int) -> None:
        with self.catalog.session() as s:
            row = s.get(ChannelRow, channel_id)
            if row is None or row.subject != subject:
                raise NotFound(f"channel {channel_id} of {subject} does not exist")
            s.execute(delete(OutboxRow).where(OutboxRow.channel_id == row.id))
            s.delete(row)
