"""Review meetings of a domain: the series, upcoming sessions, what waits on the
agenda, open sessions with their decisions and minutes as they are taken, held
sessions, and the schedule as an iCalendar feed.

Every action is ``MetricCatalog.meetings``' (the API's and the CLI's too):
scheduling, opening a session (its agenda is snapshotted and waiting proposals
go into review), deciding on an agenda item (applied to the proposal and
minuted together), notes and closing. Metrics on agendas and in minutes that
the viewer may not discover are left out, as everywhere in the UI.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response

from lake.catalog.models import utcnow
from lake.contracts import NAME_RE
from lake.errors import InvalidInput, NotFound
from metrics_catalog import Decision, MetricInfo
from metrics_catalog.meetings import AgendaItem, MeetingInfo, Meetings, Minute, SessionInfo, SessionStatus
from ui import services
from ui.inbox import may_review
from ui.routing import Me, Posted, UiRoute, form_outcome
from ui.sessions import UiSessionInfo
from ui.templating import UI_PREFIX, render

router = APIRouter(prefix=f"{UI_PREFIX}/meetings", route_class=UiRoute, include_in_schema=False)

UPCOMING = 5
HELD_SHOWN = 10
ICS_TYPE = "text/calendar; charset=utf-8"
DONE = {
    "schedule": "The meeting is scheduled.",
    "open": "The session is open: its agenda is fixed and waiting proposals are in review.",
    "decide": "The decision is applied and minuted.",
    "note": "The note is in the minutes.",
    "close": "The session is closed.",
}


@dataclass(frozen=True)
class Item:
    """An agenda item with the metric as it stands now and whether the viewer may decide on it."""

    item: AgendaItem
    metric: MetricInfo | None
    can_decide: bool


@dataclass(frozen=True)
class HeldSession:
    session: SessionInfo
    items: tuple[Item, ...]
    minutes: tuple[Minute, ...]


@dataclass(frozen=True)
class Series:
    meeting: MeetingInfo
    may_run: bool
    upcoming: tuple[tuple[dt.datetime, SessionInfo | None], ...]
    waiting: tuple[Item, ...]
    open: tuple[HeldSession, ...]
    held: tuple[HeldSession, ...]


def _domain(domain: str) -> str:
    if not NAME_RE.fullmatch(domain):
        raise NotFound(f"there is no domain named {domain}")
    return domain


class _Seen:
    """What of the domain's metrics one person may discover (``Meetings.visible_to``), and the metrics."""

    def __init__(self, request: Request, me: UiSessionInfo, domain: str) -> None:
        catalog = services.metrics(request)
        self.me = me
        self.may_see = catalog.meetings.visible_to(me.user)
        # The domain's metrics read once: one metric is on many sessions' agendas.
        self.metrics = {m.name: m for m in catalog.workflow.list(domain=domain)}

    def __call__(self, metric: str) -> bool:
        return self.may_see(metric)

    def item(self, a: AgendaItem, *, decide: bool) -> Item:
        info = self.metrics.get(a.metric)
        return Item(a, info, decide and info is not None and may_review(info, self.me))

    def session(self, sess: SessionInfo) -> HeldSession:
        seen = sess.seen_by(self)
        open_ = seen.status is SessionStatus.OPEN
        return HeldSession(seen, tuple(self.item(a, decide=open_) for a in seen.agenda), seen.minutes)


def _series(request: Request, me: UiSessionInfo, meeting: MeetingInfo, seen: _Seen) -> Series:
    meetings = services.metrics(request).meetings
    sessions = meetings.sessions(meeting.id)
    by_start = {s.starts_at: s for s in sessions}
    upcoming = tuple((at, by_start.get(at)) for at in meeting.occurrences(utcnow(), limit=UPCOMING))
    waiting = tuple(seen.item(a, decide=False) for a in meetings.agenda(meeting.id) if seen(a.metric))
    open_ = tuple(seen.session(s) for s in sessions if s.status is SessionStatus.OPEN)
    held = tuple(seen.session(s) for s in reversed(sessions) if s.status is SessionStatus.CLOSED)[:HELD_SHOWN]
    return Series(meeting, meetings.may_run(meeting.id, actor=me.user), upcoming, waiting, open_, held)


def domain_page(request: Request, me: UiSessionInfo, domain: str, *, flash: str = "", flash_tone: str = "ok",
                status_code: int = 200, form: dict[str, Any] | None = None) -> Response:
    catalog = services.metrics(request)
    seen = _Seen(request, me, domain)
    chain = next((c for c in catalog.chains.list() if c.domain == domain), None)
    series = [_series(request, me, m, seen) for m in catalog.meetings.list(domain=domain)]
    start = (utcnow() + dt.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return render(request, "meetings.html", {
        "domain": domain, "chain": chain, "series": series, "flash": flash, "flash_tone": flash_tone,
        "form": form or {"title": "", "stage": chain.stages[0].name if chain else "",
                         "starts_at": start.strftime("%Y-%m-%dT%H:%M"), "frequency": "weekly", "interval": 1,
                         "duration_minutes": 60, "location": ""},
        "decisions": [d.value for d in Decision],
    }, status_code=status_code, section="meetings")


@router.get("")
def meetings_index(request: Request, me: Me) -> Response:
    """Domains with an approval chain, and their review meetings."""
    catalog = services.metrics(request)
    domains = sorted({c.domain for c in catalog.chains.list()} | {m.domain for m in catalog.meetings.list()})
    now = utcnow()
    rows = []
    for d in domains:
        series = catalog.meetings.list(domain=d)
        nexts = [o for m in series for o in m.occurrences(now, limit=1)]
        rows.append({"domain": d, "meetings": series, "next": min(nexts) if nexts else None})
    return render(request, "meetings_index.html", {"rows": rows}, section="meetings")


@router.get("/{domain}")
def meetings_of_domain(request: Request, me: Me, domain: str,
                       done: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """A domain's review meetings."""
    return domain_page(request, me, _domain(domain), flash=DONE.get(done or "", ""))


@router.get("/{domain}/calendar.ics")
def calendar(request: Request, me: Me, domain: str) -> Response:
    """The domain's schedule as iCalendar, with held sessions' agendas and minutes as the viewer may see
    them (as the API's feed)."""
    text = services.metrics(request).meetings.ical(domain=_domain(domain), viewer=me.user)
    return Response(text, media_type=ICS_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{domain}-metric-reviews.ics"'})


async def _act(request: Request, me: UiSessionInfo, domain: str, action: str, call: Any, anchor: str = "",
               form: dict[str, Any] | None = None) -> Response:
    return await form_outcome(call, done=f"{UI_PREFIX}/meetings/{domain}?done={action}{anchor}",
                        refused=lambda message, status: domain_page(request, me, domain, flash=message,
                                                                    flash_tone="bad", status_code=status, form=form),
                        error_pages=(NotFound,))


def _meeting_of(request: Request, domain: str, meeting_id: int) -> MeetingInfo:
    meeting = services.metrics(request).meetings.get(meeting_id)
    if meeting.domain != domain:
        raise NotFound(f"review meeting {meeting_id} does not exist")
    return meeting


def _session_of(request: Request, domain: str, session_id: int) -> SessionInfo:
    session = services.metrics(request).meetings.session(session_id)
    _meeting_of(request, domain, session.meeting_id)
    return session


@router.post("/{domain}")
async def schedule(
    request: Request, me: Posted, domain: str,
    title: Annotated[str, Form(max_length=200)] = "",
    stage: Annotated[str, Form(max_length=100)] = "",
    starts_at: Annotated[str, Form(max_length=40)] = "",
    frequency: Annotated[str, Form(max_length=20)] = "weekly",
    interval: Annotated[int, Form(ge=1, le=52)] = 1,
    duration_minutes: Annotated[int, Form(ge=1, le=1440)] = 60,
    location: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Schedule a recurring review meeting for one stage of the domain's chain (times in UTC)."""
    domain = _domain(domain)
    form = {"title": title, "stage": stage, "starts_at": starts_at, "frequency": frequency, "interval": interval,
            "duration_minutes": duration_minutes, "location": location}
    meetings = services.metrics(request).meetings

    def call() -> None:
        try:
            start = dt.datetime.fromisoformat(starts_at).replace(tzinfo=dt.UTC)
        except ValueError:
            raise InvalidInput(f"first session: {starts_at!r} is not a date and time (YYYY-MM-DDTHH:MM, UTC)") from None
        meetings.create(domain, title=title, stage=stage, starts_at=start, actor=me.user,
                        duration_minutes=duration_minutes, frequency=frequency, interval=interval,
                        location=location)

    return await _act(request, me, domain, "schedule", call, form=form)


@router.post("/{domain}/{meeting_id}/open")
async def open_session(request: Request, me: Posted, domain: str, meeting_id: int,
                       starts_at: Annotated[str, Form(max_length=40)] = "") -> Response:
    """Open an occurrence (the next one unless another is chosen)."""
    domain = _domain(domain)
    meetings = services.metrics(request).meetings

    def call() -> None:
        _meeting_of(request, domain, meeting_id)
        at = None
        if starts_at:
            try:
                at = dt.datetime.fromisoformat(starts_at)
            except ValueError:
                raise InvalidInput(f"session: {starts_at!r} is not a date and time") from None
        meetings.open_session(meeting_id, actor=me.user, starts_at=at)

    return await _act(request, me, domain, "open", call, f"#meeting-{meeting_id}")


async def _on_session(request: Request, me: UiSessionInfo, domain: str, session_id: int, action: str,
                      change: Callable[[Meetings], object]) -> Response:
    """Change a session of one of the domain's meetings (``change`` gets the meetings service);
    back to the domain's page at the session, or the refusal there."""
    domain = _domain(domain)
    meetings = services.metrics(request).meetings

    def call() -> None:
        _session_of(request, domain, session_id)
        change(meetings)

    return await _act(request, me, domain, action, call, f"#session-{session_id}")


@router.post("/{domain}/sessions/{session_id}/decisions")
async def decide(request: Request, me: Posted, domain: str, session_id: int,
                 metric: Annotated[str, Form(max_length=200)],
                 decision: Annotated[str, Form(max_length=20)],
                 reason: Annotated[str, Form(max_length=5000)] = "") -> Response:
    """Decide on an agenda item in the session: applied to the proposal and minuted together."""
    return await _on_session(request, me, domain, session_id, "decide", lambda meetings: meetings.decide(
        session_id, metric, decision, actor=me.user, reason=reason))


@router.post("/{domain}/sessions/{session_id}/notes")
async def note(request: Request, me: Posted, domain: str, session_id: int,
               text: Annotated[str, Form(max_length=5000)] = "") -> Response:
    """Add a note to the session's minutes."""
    return await _on_session(request, me, domain, session_id, "note",
                             lambda meetings: meetings.note(session_id, text, actor=me.user))


@router.post("/{domain}/sessions/{session_id}/close")
async def close(request: Request, me: Posted, domain: str, session_id: int) -> Response:
    """Close the session; undecided items carry over."""
    return await _on_session(request, me, domain, session_id, "close",
                             lambda meetings: meetings.close(session_id, actor=me.user))
