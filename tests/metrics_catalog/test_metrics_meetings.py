"""Review meetings: recurrence, agendas, minutes, and the schedule as iCalendar (RFC 5545)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import icalendar
import pytest

from lake.errors import AccessDenied, AlreadyExists, Conflict, InvalidInput
from metrics_catalog import ApprovalRefused, MetricCatalog, Status
from metrics_catalog.ical import MAX_OCTETS, escape_text, fold

START = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)  # a Monday
NAME = "playback.watch_per_viewer"


def test_weekly_and_monthly_occurrences(metrics: MetricCatalog) -> None:
    weekly = metrics.meetings.create("playback", title="Tech", stage="tech", starts_at=START, actor="admin",
                                     interval=2, count=3)
    assert weekly.rrule == "FREQ=WEEKLY;INTERVAL=2;COUNT=3"
    assert weekly.occurrences(START - dt.timedelta(days=1)) == [START, START + dt.timedelta(weeks=2),
                                                                 START + dt.timedelta(weeks=4)]
    assert weekly.is_occurrence(START + dt.timedelta(weeks=4))
    assert not weekly.is_occurrence(START + dt.timedelta(weeks=1))
    assert not weekly.is_occurrence(START + dt.timedelta(weeks=6))  # past COUNT
    monthly = metrics.meetings.create("playback", title="Biz", stage="business", starts_at=START, actor="admin",
                                      frequency="monthly")
    assert [o.month for o in monthly.occurrences(START, limit=3)] == [11, 12, 1]
    with pytest.raises(InvalidInput, match=r"day 1\.\.28"):
        metrics.meetings.create("playback", title="Biz", stage="business", actor="admin", frequency="monthly",
                                starts_at=dt.datetime(2026, 1, 31, tzinfo=dt.UTC))
    with pytest.raises(InvalidInput, match="no stage 'legal'"):
        metrics.meetings.create("playback", title="Legal", stage="legal", starts_at=START, actor="admin")
    with pytest.raises(AccessDenied):
        metrics.meetings.create("playback", title="Tech", stage="tech", starts_at=START, actor="victor")


def test_sessions_apply_and_minute_decisions(metrics: MetricCatalog, make_metric: Callable[..., Any]) -> None:
    meeting = metrics.meetings.create("playback", title="Tech", stage="tech", starts_at=START, actor="admin")
    make_metric(propose=True)
    make_metric("playback.total_watch", expression="SUM(watch_seconds)", propose=True)
    make_metric("playback.not_yet", expression="MAX(watch_seconds)")  # a draft: not on the agenda
    with pytest.raises(InvalidInput, match="not an occurrence"):
        metrics.meetings.open_session(meeting.id, actor="tom", starts_at=START + dt.timedelta(days=1))
    session = metrics.meetings.open_session(meeting.id, actor="tom", starts_at=START)
    assert [a.metric for a in session.agenda] == [NAME, "playback.total_watch"]
    assert all(metrics.workflow.get(a.metric).status is Status.IN_REVIEW for a in session.agenda)
    with pytest.raises(AlreadyExists):
        metrics.meetings.open_session(meeting.id, actor="tom", starts_at=START)
    with pytest.raises(InvalidInput, match="not on the agenda"):
        metrics.meetings.decide(session.id, "playback.not_yet", "approve", actor="tara")
    # Chain rules hold in meetings too, and a refused decision leaves no minute.
    with pytest.raises(ApprovalRefused):
        metrics.meetings.decide(session.id, NAME, "approve", actor="mia")
    metrics.meetings.decide(session.id, NAME, "approve", actor="tara", reason="looks right")
    metrics.meetings.decide(session.id, "playback.total_watch", "request_changes", actor="tom",
                            reason="split by device")
    # Notes and closing take the rule of opening: a domain admin or an approver of the meeting's stage.
    assert metrics.meetings.may_run(meeting.id, actor="tom") and not metrics.meetings.may_run(meeting.id,
                                                                                              actor="victor")
    with pytest.raises(AccessDenied, match="approver of the meeting's stage"):
        metrics.meetings.note(session.id, "nobody asked me", actor="victor")
    with pytest.raises(AccessDenied):
        metrics.meetings.close(session.id, actor="victor")
    metrics.meetings.note(session.id, "next time: look at JP", actor="tom")
    session = metrics.meetings.close(session.id, actor="tom")
    decisions = [(m.metric, m.decision, m.actor, m.text) for m in session.minutes if m.kind == "decision"]
    assert decisions == [(NAME, "approve", "tara", "looks right"),
                         ("playback.total_watch", "request_changes", "tom", "split by device")]
    assert "next time: look at JP" in session.minutes_text()
    assert metrics.workflow.get(NAME).stage == "business"
    assert metrics.workflow.get("playback.total_watch").status is Status.CHANGES_REQUESTED
    with pytest.raises(Conflict, match="closed"):
        metrics.meetings.decide(session.id, NAME, "approve", actor="bob")
    meeting_notices = [n for n in metrics.inbox.list("tara") if n.kind.value == "meeting"]
    assert len(meeting_notices) == 1 and NAME in meeting_notices[0].body


def _unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def test_ical_export_parses_back(metrics: MetricCatalog, make_metric: Callable[..., Any]) -> None:
    long_title = "Tech review — metrics of playback, watch time; déjà vu " * 3
    meeting = metrics.meetings.create("playback", title=long_title, stage="tech", starts_at=START, actor="admin",
                                      duration_minutes=45, location="Room 4, floor 2", count=10)
    make_metric(propose=True)
    session = metrics.meetings.open_session(meeting.id, actor="tom", starts_at=START + dt.timedelta(weeks=1))
    metrics.meetings.decide(session.id, NAME, "approve", actor="tom", reason="ok; merged")
    text = metrics.meetings.ical(domain="playback")

    raw = text.encode("utf-8")
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= MAX_OCTETS for line in raw.split(b"\r\n"))
    lines = _unfold(text)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR"

    cal = icalendar.Calendar.from_ical(text)
    events = list(cal.walk("VEVENT"))
    assert len(events) == 2
    series, held = events
    assert str(series["SUMMARY"]) == long_title.strip() or str(series["SUMMARY"]) == long_title
    assert series.decoded("DTSTART") == START
    assert series.decoded("DTEND") == START + dt.timedelta(minutes=45)
    assert dict(series["RRULE"]) == {"FREQ": ["WEEKLY"], "INTERVAL": [1], "COUNT": [10]}
    assert str(series["LOCATION"]) == "Room 4, floor 2"
    assert str(series["UID"]) == str(held["UID"])
    assert held.decoded("RECURRENCE-ID") == START + dt.timedelta(weeks=1)
    description = str(held["DESCRIPTION"])
    assert f"Agenda: {NAME} r1" in description and "[approve] " + NAME + ": ok; merged" in description


@pytest.mark.parametrize("line", ["A" * 200, "DESCRIPTION:" + "é" * 100, "X:" + "€" * 60 + "a" * 17])
def test_folding_keeps_octets_and_characters(line: str) -> None:
    folded = fold(line)
    pieces = folded.split("\r\n")
    assert all(len(p.encode("utf-8")) <= MAX_OCTETS for p in pieces)
    assert all(p.startswith(" ") for p in pieces[1:])
    assert "".join([pieces[0], *(p[1:] for p in pieces[1:])]) == line


def test_text_escaping() -> None:
    assert escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"


def test_a_session_as_seen_by_someone_who_may_not_see_a_metric() -> None:
    from metrics_catalog.meetings import HIDDEN_METRIC, AgendaItem, Minute, SessionInfo, SessionStatus

    at = START
    session = SessionInfo(1, 1, at, SessionStatus.OPEN,
                          (AgendaItem("hr.pay", 1, "in_review", "tech"), AgendaItem("hr.payroll", 2, "proposed", "tech")),
                          (Minute("note", None, None, "tom", "session opened; agenda: hr.payroll, hr.pay", at),
                           Minute("decision", "hr.payroll", "approve", "tom", "fine", at),
                           Minute("note", "hr.pay", None, "tom", "review started", at)),
                          "tom", None)
    assert session.seen_by(lambda metric: True) is session
    seen = session.seen_by(lambda metric: metric != "hr.payroll")
    assert [a.metric for a in seen.agenda] == ["hr.pay"]
    assert [m.text for m in seen.minutes] == [f"session opened; agenda: {HIDDEN_METRIC}, hr.pay", "review started"]
    assert "hr.payroll" not in seen.minutes_text()
