"""Sending the outbox: signed webhooks and email.

A webhook is a JSON ``POST`` with these headers::

    X-Lakegate-Event: stage_reached
    X-Lakegate-Delivery: <outbox id>
    X-Lakegate-Timestamp: <unix seconds>
    X-Lakegate-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + body, keyed by the channel secret>

A receiver recomputes the HMAC over the raw body with the secret it was given
when the channel was created, compares in constant time and refuses old
timestamps. Any 2xx answer counts as delivered.

Email goes through SMTP when ``settings.mail.smtp_url`` (``LAKEGATE_SMTP_URL``) is set
(``smtp://user:password@host:587`` uses STARTTLS, ``smtps://`` TLS,
``smtp+plain://`` neither, for a relay on localhost); otherwise each message is
written as an ``.eml`` file to ``settings.mail.outbox_dir`` (``<home>/outbox`` by
default). ``settings.mail.sender`` (``LAKEGATE_MAIL_FROM``) sets the sender.

Messages are claimed one by one (``pending`` → ``sending`` only if still
pending), so two dispatchers never send the same message. A failure goes back
to ``pending`` with its error until :data:`MAX_ATTEMPTS`, then ``failed``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from sqlalchemy import select, update

from lake.catalog import Catalog
from lake.catalog.models import utcnow
from lake.errors import ConfigError
from lake.notify.models import ChannelRow, OutboxRow
from lake.settings import MailSettings

MAX_ATTEMPTS = 5
WEBHOOK_TIMEOUT_S = 5.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Lakegate-Signature`` value of a webhook body."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)


class Dispatcher:
    """Delivers pending outbox messages."""

    def __init__(self, catalog: Catalog, mail: MailSettings) -> None:
        self.catalog = catalog
        self.mail = mail

    @property
    def outbox_dir(self) -> Path:
        return self.mail.outbox_dir

    def _claim(self, message_id: int) -> tuple[OutboxRow, str] | None:
        with self.catalog.session() as s:
            claimed = s.execute(update(OutboxRow).where(OutboxRow.id == message_id, OutboxRow.status == "pending")
                                .values(status="sending", attempts=OutboxRow.attempts + 1))
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = s.get(OutboxRow, message_id)
            assert row is not None
            channel = s.get(ChannelRow, row.channel_id)
            s.expunge(row)
            return row, channel.secret if channel is not None else ""

    def _finish(self, message_id: int, error: str | None) -> None:
        with self.catalog.session() as s:
            row = s.get(OutboxRow, message_id)
            if row is None:
                return
            if error is None:
                row.status, row.sent_at, row.last_error = "sent", utcnow(), ""
            else:
                row.status = "failed" if row.attempts >= MAX_ATTEMPTS else "pending"
                row.last_error = error[:2000]

    def deliver(self, limit: int = 100) -> DeliveryReport:
        """Send up to ``limit`` pending messages, oldest first."""
        report = DeliveryReport()
        with self.catalog.session() as s:
            ids = list(s.scalars(select(OutboxRow.id).where(OutboxRow.status == "pending")
                                 .order_by(OutboxRow.id).limit(limit)))
        for message_id in ids:
            claimed = self._claim(message_id)
            if claimed is None:
                continue
            row, secret = claimed
            try:
                if row.kind == "webhook":
                    self._post(row, secret)
                else:
                    self._mail(row)
            except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried later
                reason = f"{type(exc).__name__}: {exc}"
                self._finish(message_id, reason)
                report.failed.append((message_id, reason))
            else:
                self._finish(message_id, None)
                report.sent.append(message_id)
        return report

    def _post(self, row: OutboxRow, secret: str) -> None:
        import httpx

        body = json.dumps(row.payload, sort_keys=True, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "lakegate-notify",
            "X-Lakegate-Event": str(row.payload.get("kind", "")),
            "X-Lakegate-Delivery": str(row.id),
            "X-Lakegate-Timestamp": timestamp,
            "X-Lakegate-Signature": sign(secret, timestamp, body),
        }
        answer = httpx.post(row.target, content=body, headers=headers, timeout=WEBHOOK_TIMEOUT_S,
                            follow_redirects=False)
        if not 200 <= answer.status_code < 300:
            raise RuntimeError(f"webhook {row.target} answered {answer.status_code}")

    def _message(self, row: OutboxRow) -> EmailMessage:
        payload: dict[str, Any] = row.payload
        msg = EmailMessage()
        msg["From"] = self.mail.sender
        msg["To"] = row.target
        msg["Subject"] = str(payload.get("title", "Lakegate"))
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = make_msgid(idstring=f"outbox{row.id}", domain="lakegate.local")
        msg["X-Lakegate-Event"] = str(payload.get("kind", ""))
        about = str(payload.get("about") or payload.get("metric") or "")
        lines = [str(payload.get("body", "")), "", f"About: {about}" if about else ""]
        link = str(payload.get("link") or "")
        if link:
            lines.append(f"Open: {link}")
        msg.set_content("\n".join(lines).strip() + "\n")
        return msg

    def _mail(self, row: OutboxRow) -> None:
        msg = self._message(row)
        smtp_url = self.mail.smtp_url.get_secret_value() if self.mail.smtp_url else None
        if smtp_url:
            _send_smtp(smtp_url, msg)
            return
        folder = self.outbox_dir
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{row.id:08d}.eml"
        tmp = path.with_suffix(".eml.tmp")
        tmp.write_bytes(bytes(msg))
        tmp.replace(path)


def _send_smtp(url: str, msg: EmailMessage) -> None:
    parts = urlparse(url)
    if parts.scheme not in ("smtp", "smtps", "smtp+plain") or not parts.hostname:
        raise ConfigError("LAKEGATE_SMTP_URL must be smtp://, smtps:// or smtp+plain://host:port")
    port = parts.port or (465 if parts.scheme == "smtps" else 587 if parts.scheme == "smtp" else 25)
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if parts.scheme == "smtps":
        client = smtplib.SMTP_SSL(parts.hostname, port, context=context, timeout=10)
    else:
        client = smtplib.SMTP(parts.hostname, port, timeout=10)
    with client:
        if parts.scheme == "smtp":
            client.starttls(context=context)
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        client.send_message(msg)
