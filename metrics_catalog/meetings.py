"""Review meetings: recurring per domain and stage, with agendas, minutes and decisions.

A meeting is a series (``weekly`` every N weeks, ``daily`` or ``monthly``)
reviewing the proposals waiting at one stage of its domain's chain. Opening a
session (one occurrence) snapshots its agenda from those proposals and takes
the ones still ``proposed`` into review. A decision taken in the session goes
through the same chain rules as any other and is written to the minutes in
the same transaction; closing the session ends it. The schedule, with each
held session's agenda and minutes, exports as iCalendar.
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lake.auth import Principal
from lake.catalog.models import utcnow
from lake.enums import ParsableEnum
from lake.errors import (
    AccessDenied,
    AlreadyExists,
    Conflict,
    InvalidInput,
    LakegateError,
    NotFound,
)
from lake.notify import NoticeKind, post
from lake.timestamps import as_utc
from metrics_catalog import approvals as rules
from metrics_catalog.chain_store import chain_of
from metrics_catalog.chains import ApprovalChain
from metrics_catalog.ical import Event, calendar
from metrics_catalog.lifecycle import Decision, Status
from metrics_catalog.models import MeetingRow, MeetingSessionRow, MetricRow, MinuteRow
from metrics_catalog.workflow import Workflow

#: What a metric the reader may not discover is called in minutes and calendars.
HIDDEN_METRIC = "(a metric you cannot see)"


class Frequency(ParsableEnum, label="meeting frequency"):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class SessionStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class MeetingInfo:
    id: int
    domain: str
    title: str
    stage: str
    starts_at: dt.datetime
    duration_minutes: int
    frequency: Frequency
    interval: int
    count: int | None
    location: str
    organizer: str

    @property
    def rrule(self) -> str:
        rule = f"FREQ={self.frequency.value.upper()};INTERVAL={self.interval}"
        return rule + (f";COUNT={self.count}" if self.count else "")

    def occurrence(self, k: int) -> dt.datetime:
        """The start of the k-th occurrence (0 is the first)."""
        if self.frequency is Frequency.DAILY:
            return self.starts_at + dt.timedelta(days=k * self.interval)
        if self.frequency is Frequency.WEEKLY:
            return self.starts_at + dt.timedelta(weeks=k * self.interval)
        months = self.starts_at.month - 1 + k * self.interval
        year, month = self.starts_at.year + months // 12, months % 12 + 1
        return self.starts_at.replace(year=year, month=month)

    def occurrences(self, after: dt.datetime, limit: int = 10) -> builtins.list[dt.datetime]:
        """Starts of up to ``limit`` occurrences that end after ``after``."""
        out: list[dt.datetime] = []
        k = 0
        duration = dt.timedelta(minutes=self.duration_minutes)
        while len(out) < limit and (self.count is None or k < self.count) and k < 100_000:
            start = self.occurrence(k)
            if start + duration > after:
                out.append(start)
            k += 1
        return out

    def is_occurrence(self, start: dt.datetime) -> bool:
        k = 0
        while self.count is None or k < self.count:
            at = self.occurrence(k)
            if at == start:
                return True
            if at > start or k > 100_000:
                return False
            k += 1
        return False


@dataclass(frozen=True)
class AgendaItem:
    metric: str
    revision: int
    status: str
    stage: str
    duplicates: tuple[str, ...] = ()


@dataclass(frozen=True)
class Minute:
    kind: str
    metric: str | None
    decision: str | None
    actor: str
    text: str
    created_at: dt.datetime


@dataclass(frozen=True)
class SessionInfo:
    id: int
    meeting_id: int
    starts_at: dt.datetime
    status: SessionStatus
    agenda: tuple[AgendaItem, ...]
    minutes: tuple[Minute, ...]
    opened_by: str
    closed_at: dt.datetime | None

    def seen_by(self, may_see: Callable[[str], bool]) -> SessionInfo:
        """This session as someone sees it who may see only the metrics ``may_see`` allows: agenda items
        and minutes about other metrics are left out, and their names in notes are replaced."""
        hidden = {a.metric for a in self.agenda if not may_see(a.metric)}
        hidden |= {m.metric for m in self.minutes if m.metric is not None and not may_see(m.metric)}
        if not hidden:
            return self
        pattern = re.compile(r"(?<![\w.])(" + "|".join(re.escape(h) for h in sorted(hidden, key=len, reverse=True))
                             + r")(?![\w.])")
        minutes = tuple(dataclasses.replace(m, text=pattern.sub(HIDDEN_METRIC, m.text))
                        for m in self.minutes if m.metric not in hidden)
        return dataclasses.replace(self, agenda=tuple(a for a in self.agenda if a.metric not in hidden),
                                   minutes=minutes)

    def minutes_text(self) -> str:
        """The minutes as plain text, one line per entry."""
        lines = []
        for m in self.minutes:
            what = f"[{m.decision}] {m.metric}: " if m.decision else (f"{m.metric}: " if m.metric else "")
            lines.append(f"{m.created_at:%H:%M} {m.actor}: {what}{m.text}".rstrip())
        return "\n".join(lines)


def _meeting(row: MeetingRow) -> MeetingInfo:
    return MeetingInfo(row.id, row.domain, row.title, row.stage, row.starts_at, row.duration_minutes,
                       Frequency(row.frequency), row.interval, row.count, row.location, row.organizer)


def _session(s: Session, row: MeetingSessionRow) -> SessionInfo:
    minutes = s.scalars(select(MinuteRow).where(MinuteRow.session_id == row.id).order_by(MinuteRow.id))
    return SessionInfo(
        row.id, row.meeting_id, row.starts_at, SessionStatus(row.status),
        tuple(AgendaItem(a["metric"], a["revision"], a["status"], a["stage"], tuple(a.get("duplicates", ())))
              for a in row.agenda),
        tuple(Minute(m.kind, m.metric, m.decision, m.actor, m.text, m.created_at) for m in minutes),
        row.opened_by, row.closed_at)


def _stage_roles(chain: ApprovalChain | None, stage: str) -> tuple[str, ...]:
    """The roles of ``stage`` in ``chain`` (none when the chain is gone or no longer has the stage)."""
    found = [st for st in chain.stages if st.name == stage] if chain is not None else []
    return found[0].roles if found else ()


class Meetings:
    """Review meetings of the metric catalog."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.catalog = workflow.catalog

    def _may_run(self, s: Session, principal: Principal, domain: str, stage_roles: tuple[str, ...]) -> None:
        if self.workflow.permissions.may_administer(principal, domain):
            return
        if set(stage_roles) & set(rules.roles_of(s, principal.name)):
            return
        raise AccessDenied(principal.name, "run review meetings of", f"domain:{domain}",
                           "a domain admin or an approver of the meeting's stage may")

    def _may_run_session(self, s: Session, row: MeetingSessionRow, actor: str) -> None:
        """The rule of :meth:`open_session` for what is done in a session afterwards (notes, closing)."""
        meeting = s.get(MeetingRow, row.meeting_id)
        assert meeting is not None
        chain = chain_of(s, meeting.domain)
        roles = _stage_roles(chain, meeting.stage)
        self._may_run(s, self.workflow._principal(actor), meeting.domain, roles)

    def may_run(self, meeting_id: int, *, actor: str) -> bool:
        """Whether ``actor`` may open, minute and close sessions of the meeting (interfaces ask it to offer
        those actions; the actions check it again)."""
        meeting = self.get(meeting_id)
        with self.catalog.session() as s:
            chain = chain_of(s, meeting.domain)
            roles = _stage_roles(chain, meeting.stage)
            try:
                self._may_run(s, self.workflow._principal(actor), meeting.domain, roles)
            except AccessDenied:
                return False
        return True

    def create(self, domain: str, *, title: str, stage: str, starts_at: dt.datetime, actor: str,
               duration_minutes: int = 60, frequency: Frequency | str = Frequency.WEEKLY, interval: int = 1,
               count: int | None = None, location: str = "") -> MeetingInfo:
        """Schedule a recurring review meeting for one stage of the domain's chain."""
        principal = self.workflow._principal(actor)
        frequency = Frequency.parse(frequency) if isinstance(frequency, str) else frequency
        starts_at = as_utc(starts_at).replace(microsecond=0)
        if not title.strip():
            raise InvalidInput("a meeting needs a title")
        if not 5 <= duration_minutes <= 24 * 60:
            raise InvalidInput(f"duration must be 5..1440 minutes, got {duration_minutes}")
        if interval < 1 or (count is not None and count < 1):
            raise InvalidInput("interval and count must be positive")
        if frequency is Frequency.MONTHLY and starts_at.day > 28:
            raise InvalidInput("a monthly meeting must start on day 1..28 so that every month has it")
        with self.catalog.session() as s:
            chain = chain_of(s, domain)
            if chain is None:
                raise NotFound(f"domain {domain} has no approval chain; set one before scheduling its meetings")
            names = [st.name for st in chain.stages]
            if stage not in names:
                raise InvalidInput(f"domain {domain}'s chain has no stage {stage!r}; its stages are: "
                                   f"{', '.join(names)}")
            self._may_run(s, principal, domain, chain.stage(stage).roles)
            row = MeetingRow(domain=domain, title=title.strip(), stage=stage, starts_at=starts_at,
                             duration_minutes=duration_minutes, frequency=frequency.value, interval=interval,
                             count=count, location=location, organizer=principal.name)
            s.add(row)
            s.flush()
            return _meeting(row)

    def get(self, meeting_id: int) -> MeetingInfo:
        with self.catalog.session() as s:
            row = s.get(MeetingRow, meeting_id)
            if row is None:
                raise NotFound(f"review meeting {meeting_id} does not exist")
            return _meeting(row)

    def list(self, *, domain: str | None = None) -> builtins.list[MeetingInfo]:
        with self.catalog.session() as s:
            q = select(MeetingRow).order_by(MeetingRow.id)
            if domain is not None:
                q = q.where(MeetingRow.domain == domain)
            return [_meeting(r) for r in s.scalars(q)]

    # -- agenda and sessions -------------------------------------------------------------

    def _agenda(self, s: Session, meeting: MeetingInfo) -> builtins.list[AgendaItem]:
        from metrics_catalog.reads import definition_of, duplicates, revision_row

        rows = s.scalars(select(MetricRow).where(
            MetricRow.domain == meeting.domain, MetricRow.stage == meeting.stage,
            MetricRow.status.in_([Status.PROPOSED.value, Status.IN_REVIEW.value])).order_by(MetricRow.updated_at))
        items = []
        for r in rows:
            dups = duplicates(s, r, definition_of(revision_row(s, r)))
            items.append(AgendaItem(r.name, r.current_revision, r.status, meeting.stage, tuple(d.name for d in dups)))
        return items

    def agenda(self, meeting_id: int) -> builtins.list[AgendaItem]:
        """What the next session would review: the proposals waiting at the meeting's stage now."""
        meeting = self.get(meeting_id)
        with self.catalog.session() as s:
            return self._agenda(s, meeting)

    def open_session(self, meeting_id: int, *, actor: str, starts_at: dt.datetime | None = None) -> SessionInfo:
        """Open one occurrence of the meeting (the current or next one by default).

        The agenda is the proposals waiting at the meeting's stage; those still
        ``proposed`` are taken into review, recorded in the minutes.
        """
        principal = self.workflow._principal(actor)
        meeting = self.get(meeting_id)
        if starts_at is None:
            upcoming = meeting.occurrences(utcnow(), limit=1)
            if not upcoming:
                raise Conflict(f"review meeting {meeting_id} has no occurrences left")
            starts_at = upcoming[0]
        starts_at = as_utc(starts_at)
        if not meeting.is_occurrence(starts_at):
            nxt = ", ".join(o.isoformat() for o in meeting.occurrences(starts_at, limit=3))
            raise InvalidInput(f"{starts_at.isoformat()} is not an occurrence of meeting {meeting_id} "
                               f"({meeting.rrule}); the next ones are: {nxt}")
        try:
            with self.catalog.session() as s:
                chain = chain_of(s, meeting.domain)
                roles = chain.stage(meeting.stage).roles if chain is not None else ()
                self._may_run(s, principal, meeting.domain, roles)
                agenda = self._agenda(s, meeting)
                row = MeetingSessionRow(meeting_id=meeting_id, starts_at=starts_at, status=SessionStatus.OPEN.value,
                                        agenda=[a.__dict__ | {"duplicates": list(a.duplicates)} for a in agenda],
                                        opened_by=principal.name)
                s.add(row)
                s.flush()
                session_id = row.id
                s.add(MinuteRow(session_id=session_id, kind="note", actor=principal.name,
                                text=f"session opened; agenda: {', '.join(a.metric for a in agenda) or 'empty'}"))
                people = rules.holders(s, roles)
                post(s, people, NoticeKind.MEETING, meeting.title,
                     f"{meeting.title} ({starts_at:%Y-%m-%d %H:%M} UTC) is open",
                     "Agenda: " + (", ".join(f"{a.metric} r{a.revision}" for a in agenda) or "empty"),
                     {"meeting_id": meeting_id, "session_id": session_id})
        except IntegrityError:
            raise AlreadyExists(f"the {starts_at.isoformat()} session of meeting {meeting_id} is already open "
                                "or held") from None
        for item in agenda:
            if item.status != Status.PROPOSED.value:
                continue
            try:
                self.workflow.start_review(item.metric, actor=principal.name, session_id=session_id,
                                           also=self._minute(session_id, principal.name, "note", None,
                                                             "review started"))
            except LakegateError as exc:
                with self.catalog.session() as s:
                    s.add(MinuteRow(session_id=session_id, kind="note", metric=item.metric, actor=principal.name,
                                    text=f"review not started: {exc.message}"))
        return self.session(session_id)

    @staticmethod
    def _minute(session_id: int, actor: str, kind: str, decision: str | None, text: str) -> Any:
        def record(s: Session, row: MetricRow) -> None:
            s.add(MinuteRow(session_id=session_id, kind=kind, metric=row.name, decision=decision, actor=actor,
                            text=text))

        return record

    def _open_row(self, s: Session, session_id: int) -> MeetingSessionRow:
        row = s.get(MeetingSessionRow, session_id)
        if row is None:
            raise NotFound(f"meeting session {session_id} does not exist")
        if row.status != SessionStatus.OPEN.value:
            raise Conflict(f"meeting session {session_id} is {row.status}; decisions need an open session")
        return row

    def decide(self, session_id: int, metric: str, decision: Decision | str, *, actor: str,
               reason: str = "") -> SessionInfo:
        """Take a decision on an agenda item; it is applied and minuted in one transaction."""
        decision = Decision.parse(decision) if isinstance(decision, str) else decision
        with self.catalog.session() as s:
            row = self._open_row(s, session_id)
            on_agenda = {a["metric"] for a in row.agenda}
        if metric not in on_agenda:
            raise InvalidInput(f"metric {metric} is not on the agenda of session {session_id}; "
                               f"the agenda is: {', '.join(sorted(on_agenda)) or 'empty'}")
        self.workflow.decide(metric, decision, actor=actor, reason=reason, session_id=session_id,
                             also=self._minute(session_id, actor, "decision", decision.value, reason))
        return self.session(session_id)

    def note(self, session_id: int, text: str, *, actor: str, metric: str | None = None) -> SessionInfo:
        if not text.strip():
            raise InvalidInput("a minutes note needs text")
        with self.catalog.session() as s:
            self._may_run_session(s, self._open_row(s, session_id), actor)
            s.add(MinuteRow(session_id=session_id, kind="note", metric=metric, actor=actor, text=text.strip()))
        return self.session(session_id)

    def close(self, session_id: int, *, actor: str) -> SessionInfo:
        with self.catalog.session() as s:
            row = self._open_row(s, session_id)
            self._may_run_session(s, row, actor)
            decided = {m.metric for m in s.scalars(select(MinuteRow).where(MinuteRow.session_id == session_id,
                                                                            MinuteRow.kind == "decision"))}
            open_items = [a["metric"] for a in row.agenda if a["metric"] not in decided]
            row.status, row.closed_at = SessionStatus.CLOSED.value, utcnow()
            s.add(MinuteRow(session_id=session_id, kind="note", actor=actor,
                            text="session closed" + (f"; carried over: {', '.join(open_items)}" if open_items else "")))
        return self.session(session_id)

    def session(self, session_id: int) -> SessionInfo:
        with self.catalog.session() as s:
            row = s.get(MeetingSessionRow, session_id)
            if row is None:
                raise NotFound(f"meeting session {session_id} does not exist")
            return _session(s, row)

    def sessions(self, meeting_id: int) -> builtins.list[SessionInfo]:
        with self.catalog.session() as s:
            rows = s.scalars(select(MeetingSessionRow).where(MeetingSessionRow.meeting_id == meeting_id)
                             .order_by(MeetingSessionRow.starts_at)).all()
            return [_session(s, r) for r in rows]

    # -- calendar ------------------------------------------------------------------------

    def visible_to(self, viewer: str) -> Callable[[str], bool]:
        """Whether ``viewer`` may discover a metric (asked once per metric)."""
        principal = self.workflow._principal(viewer)
        known: dict[str, bool] = {}

        def may_see(metric: str) -> bool:
            if metric not in known:
                known[metric] = self.workflow.permissions.may_discover(principal, metric)
            return known[metric]

        return may_see

    def ical(self, *, domain: str | None = None, meeting_id: int | None = None, viewer: str | None = None) -> str:
        """The schedule as an iCalendar document: one recurring event per meeting, plus
        one event per held session carrying its agenda and minutes.

        With ``viewer``, agendas and minutes leave out the metrics the viewer may not discover
        (:meth:`SessionInfo.seen_by`).
        """
        may_see = self.visible_to(viewer) if viewer is not None else (lambda metric: True)
        meetings = [self.get(meeting_id)] if meeting_id is not None else self.list(domain=domain)
        events: list[Event] = []
        now = utcnow()
        for m in meetings:
            uid = f"metric-meeting-{m.id}@lakegate"
            duration = dt.timedelta(minutes=m.duration_minutes)
            upcoming = self._agenda_text(m, may_see)
            events.append(Event(uid=uid, start=m.starts_at, end=m.starts_at + duration, summary=m.title,
                                description=f"Review of stage {m.stage} in domain {m.domain}.\n{upcoming}",
                                location=m.location, rrule=m.rrule, categories=("metric-review", m.domain)))
            for sess in (held.seen_by(may_see) for held in self.sessions(m.id)):
                text = "Agenda: " + (", ".join(f"{a.metric} r{a.revision}" for a in sess.agenda) or "empty")
                text += "\nMinutes:\n" + sess.minutes_text()
                events.append(Event(uid=uid, start=sess.starts_at, end=sess.starts_at + duration,
                                    summary=f"{m.title} ({sess.status.value})", description=text,
                                    location=m.location, recurrence_id=sess.starts_at))
        return calendar(events, stamp=now)

    def _agenda_text(self, meeting: MeetingInfo, may_see: Callable[[str], bool]) -> str:
        items = [a for a in self.agenda(meeting.id) if may_see(a.metric)]
        if not items:
            return "Nothing waits at this stage."
        return "Waiting: " + ", ".join(f"{a.metric} r{a.revision}" for a in items)
