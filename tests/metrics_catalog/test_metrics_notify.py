"""Inbox and outbox: approvers hear when their stage is reached, authors when a decision
is made; webhooks are signed JSON POSTs (checked by a real server on 127.0.0.1) and email
lands as .eml files."""

from __future__ import annotations

import email
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lake.errors import AlreadyExists, InvalidInput, NotFound
from lake.notify import sign
from lake.notify.delivery import MAX_ATTEMPTS
from metrics_catalog import MetricCatalog

NAME = "playback.watch_per_viewer"


class Receiver:
    """A webhook receiver on loopback; answers ``status`` and records what it got."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 204
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/metrics"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_inbox_tells_approvers_and_authors(metrics: MetricCatalog, make_metric: Callable[..., Any]) -> None:
    make_metric(review=True)
    assert [n.kind.value for n in metrics.inbox.list("tom")] == ["stage_reached"]
    assert [n.kind.value for n in metrics.inbox.list("tara")] == ["stage_reached"]
    assert metrics.inbox.list("mia") == [] and metrics.inbox.list("bob") == []
    metrics.workflow.decide(NAME, "approve", actor="tom")
    assert [n.title for n in metrics.inbox.list("bea")] == [f"{NAME} waits for your review at stage business"]
    # dual may approve business but approved nothing: told as well; tom is not told again.
    assert [n.kind.value for n in metrics.inbox.list("tom")] == ["stage_reached"]
    metrics.workflow.decide(NAME, "approve", actor="bea")
    assert [n.payload["decision"] for n in metrics.inbox.list("mia")] == ["approved"]
    first = metrics.inbox.list("bea", unread_only=True)[0]
    assert metrics.inbox.mark_read("bea", first.id).read
    with pytest.raises(NotFound):
        metrics.inbox.mark_read("mia", first.id)  # not mia's notice
    assert metrics.inbox.mark_all_read("bea") == 0 and metrics.inbox.list("bea", unread_only=True) == []


def test_review_notices_are_done_for_everyone_once_the_stage_moves_on(
        metrics: MetricCatalog, make_metric: Callable[..., Any]) -> None:
    make_metric(review=True)
    assert metrics.inbox.unread("tara") == 1
    metrics.workflow.decide(NAME, "approve", actor="tom")
    # The tech stage moved on: neither tom (who approved) nor tara (who did not) is asked any more.
    for approver in ("tom", "tara"):
        [notice] = metrics.inbox.list(approver)
        assert notice.kind.value == "stage_reached" and notice.done
        assert metrics.inbox.unread(approver) == 0 and metrics.inbox.list(approver, open_only=True) == []
    [waiting] = metrics.inbox.list("bea", open_only=True)
    assert waiting.payload["stage"] == "business" and not waiting.done
    metrics.workflow.decide(NAME, "approve", actor="bea")
    # Certified: it left review, so every "waits for your review" notice is done, for everyone.
    for person in ("tom", "tara", "bea", "dual"):
        assert [n for n in metrics.inbox.list(person) if n.kind.value == "stage_reached" and not n.done] == []
    assert [n.payload["decision"] for n in metrics.inbox.list("mia", open_only=True)] == ["approved"]


def test_withdrawing_a_proposal_closes_its_review_notices_but_a_revision_at_the_same_stage_does_not(
        metrics: MetricCatalog, make_metric: Callable[..., Any]) -> None:
    make_metric(review=True)
    metrics.workflow.revise(NAME, {"description": "Seconds watched per distinct viewer, per day."}, actor="mia")
    assert metrics.inbox.list("tara", open_only=True), "still at the tech stage: tara is still asked"
    metrics.workflow.withdraw(NAME, actor="mia")
    assert metrics.inbox.list("tara", open_only=True) == [] and metrics.inbox.unread("tara") == 0


def test_comment_threads_notify_participants(metrics: MetricCatalog, make_metric: Callable[..., Any]) -> None:
    make_metric(review=True)
    first = metrics.comments.add(NAME, "Why distinct subscribers and not profiles?", actor="tom")
    reply = metrics.comments.add(NAME, "Profiles are not in the view.", actor="mia", parent_id=first.id)
    assert [(c.author, c.parent_id) for c in metrics.comments.list(NAME)] == [("tom", None), ("mia", first.id)]
    assert reply.revision == 1
    assert [n.kind.value for n in metrics.inbox.list("mia")] == ["comment"]   # tom's comment
    assert metrics.inbox.list("tom")[0].kind.value == "comment"               # mia's reply
    with pytest.raises(InvalidInput):
        metrics.comments.add(NAME, "   ", actor="tom")
    with pytest.raises(NotFound):
        metrics.comments.add(NAME, "x", actor="tom", parent_id=999)


def test_webhooks_are_signed_and_delivered(metrics: MetricCatalog, make_metric: Callable[..., Any],
                                           receiver: Receiver) -> None:
    channel = metrics.channels.add("tom", "webhook", receiver.url)
    assert channel.secret
    with pytest.raises(AlreadyExists):
        metrics.channels.add("tom", "webhook", receiver.url)
    assert metrics.channels.list("tom")[0].secret is None  # shown once
    make_metric(propose=True)  # delivered right after the action commits
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    timestamp = headers["X-Lakegate-Timestamp"]
    expected = "sha256=" + hmac.new(channel.secret.encode(), timestamp.encode() + b"." + body,
                                    hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Lakegate-Signature"], expected)
    assert headers["X-Lakegate-Signature"] == sign(channel.secret, timestamp, body)
    assert headers["Content-Type"] == "application/json" and headers["X-Lakegate-Event"] == "stage_reached"
    message = json.loads(body)
    assert message["metric"] == NAME and message["recipient"] == "tom" and message["payload"]["stage"] == "tech"
    assert sign("other-secret", timestamp, body) != headers["X-Lakegate-Signature"]


def test_failed_webhooks_stay_in_the_outbox_until_delivered(metrics: MetricCatalog, lake: Any,
                                                            make_metric: Callable[..., Any],
                                                            receiver: Receiver) -> None:
    from sqlalchemy import select

    from lake.notify.models import OutboxRow

    metrics.channels.add("tom", "webhook", receiver.url)
    receiver.status = 500
    make_metric(propose=True)
    with lake.catalog.session() as s:
        row = s.scalars(select(OutboxRow)).one()
        assert (row.status, row.attempts) == ("pending", 1) and "500" in row.last_error
    receiver.status = 200
    report = metrics.outbox.deliver()
    assert len(report.sent) == 1 and report.failed == []
    assert metrics.outbox.deliver().sent == []  # sent once, never again
    assert len(receiver.received) == 2
    # A target that never answers is given up after MAX_ATTEMPTS.
    metrics.channels.add("tara", "webhook", "http://127.0.0.1:9/unreachable")
    metrics.workflow.withdraw(NAME, actor="mia")
    metrics.workflow.propose(NAME, actor="mia")
    for _ in range(MAX_ATTEMPTS):
        metrics.outbox.deliver()
    with lake.catalog.session() as s:
        dead = s.scalars(select(OutboxRow).where(OutboxRow.target.like("%unreachable"))).one()
        assert (dead.status, dead.attempts) == ("failed", MAX_ATTEMPTS)


def test_email_is_written_as_eml_files(metrics: MetricCatalog, make_metric: Callable[..., Any],
                                       lake: Any) -> None:
    metrics.channels.add("mia", "email", "mia@example.com")
    with pytest.raises(InvalidInput, match="email target"):
        metrics.channels.add("mia", "email", "not-an-address")
    with pytest.raises(InvalidInput, match="http"):
        metrics.channels.add("mia", "webhook", "ftp://example.com/x")
    make_metric(review=True)
    metrics.workflow.decide(NAME, "approve", actor="tom")
    metrics.workflow.decide(NAME, "reject", actor="bob", reason="Not what finance reports")
    files = sorted((Path(lake.settings.home) / "outbox").glob("*.eml"))
    assert len(files) == 1
    msg = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert msg["To"] == "mia@example.com" and msg["Subject"] == f"{NAME} revision 1 was rejected"
    assert "Not what finance reports" in msg.get_body().get_content()
