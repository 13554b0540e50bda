"""Review meetings of metrics: schedule, agenda, sessions with decisions and minutes,
and the schedule as iCalendar."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query
from fastapi.responses import Response

from api.authz import BASELINE
from api.deps import PrincipalDep
from api.params import Id
from api.routes.metrics import MetricsDep, deliver_later
from api.schemas import error_responses
from lake.catalog.models import utcnow
from metrics_catalog.schemas import (
    AgendaItemPublic,
    MeetingCreate,
    MeetingPublic,
    SessionDecision,
    SessionNote,
    SessionOpen,
    SessionPublic,
)

router = APIRouter(prefix="/meetings", tags=["meetings"], dependencies=[BASELINE])

ICS_TYPE = "text/calendar; charset=utf-8"


@router.get("/calendar.ics", response_class=Response, responses={200: {"content": {"text/calendar": {}}}})
def calendar(metrics: MetricsDep, principal: PrincipalDep,
             domain: Annotated[str | None, Query(description="Only this domain")] = None) -> Response:
    """Every review meeting (of a domain) as iCalendar, with held sessions' agendas and minutes
    (metrics you may not discover left out)."""
    return Response(metrics.meetings.ical(domain=domain, viewer=principal.name), media_type=ICS_TYPE,
                    headers={"Content-Disposition": 'attachment; filename="metric-reviews.ics"'})


@router.get("/sessions/{session_id}", responses=error_responses(404))
def get_session(session_id: Id, metrics: MetricsDep, principal: PrincipalDep) -> SessionPublic:
    """A session's agenda and minutes (metrics you may not discover left out)."""
    return SessionPublic.of(metrics.meetings.session(session_id).seen_by(metrics.meetings.visible_to(principal.name)))


@router.post("/sessions/{session_id}/decisions", responses=error_responses(403, 404, 409, 422))
def session_decision(session_id: Id, body: SessionDecision, metrics: MetricsDep, principal: PrincipalDep,
                     background: BackgroundTasks) -> SessionPublic:
    """Decide on an agenda item; the decision is applied to the proposal and minuted together."""
    session = metrics.meetings.decide(session_id, body.metric, body.decision, actor=principal.name,
                                      reason=body.reason)
    deliver_later(background, metrics)
    return SessionPublic.of(session)


@router.post("/sessions/{session_id}/notes", responses=error_responses(404, 409, 422))
def session_note(session_id: Id, body: SessionNote, metrics: MetricsDep, principal: PrincipalDep) -> SessionPublic:
    return SessionPublic.of(metrics.meetings.note(session_id, body.text, actor=principal.name, metric=body.metric))


@router.post("/sessions/{session_id}/close", responses=error_responses(404, 409))
def close_session(session_id: Id, metrics: MetricsDep, principal: PrincipalDep) -> SessionPublic:
    return SessionPublic.of(metrics.meetings.close(session_id, actor=principal.name))


@router.get("")
def list_meetings(metrics: MetricsDep, principal: PrincipalDep,
                  domain: Annotated[str | None, Query()] = None) -> list[MeetingPublic]:
    now = utcnow()
    return [MeetingPublic.of(m, now) for m in metrics.meetings.list(domain=domain)]


@router.post("", status_code=201, responses=error_responses(403, 404, 422))
def create_meeting(body: MeetingCreate, metrics: MetricsDep, principal: PrincipalDep) -> MeetingPublic:
    """Schedule a recurring review meeting for one stage of a domain's chain."""
    meeting = metrics.meetings.create(body.domain, title=body.title, stage=body.stage, starts_at=body.starts_at,
                                      actor=principal.name, duration_minutes=body.duration_minutes,
                                      frequency=body.frequency, interval=body.interval, count=body.count,
                                      location=body.location)
    return MeetingPublic.of(meeting, utcnow())


@router.get("/{meeting_id}", responses=error_responses(404))
def get_meeting(meeting_id: Id, metrics: MetricsDep, principal: PrincipalDep) -> MeetingPublic:
    return MeetingPublic.of(metrics.meetings.get(meeting_id), utcnow())


@router.get("/{meeting_id}/agenda", responses=error_responses(404))
def meeting_agenda(meeting_id: Id, metrics: MetricsDep, principal: PrincipalDep) -> list[AgendaItemPublic]:
    """What the next session would review: proposals waiting at the meeting's stage."""
    return [AgendaItemPublic.of(a) for a in metrics.meetings.agenda(meeting_id)]


@router.get("/{meeting_id}/calendar.ics", response_class=Response, responses=error_responses(404))
def meeting_calendar(meeting_id: Id, metrics: MetricsDep, principal: PrincipalDep) -> Response:
    return Response(metrics.meetings.ical(meeting_id=meeting_id, viewer=principal.name), media_type=ICS_TYPE)


@router.get("/{meeting_id}/sessions", responses=error_responses(404))
def list_sessions(meeting_id: Id, metrics: MetricsDep, principal: PrincipalDep) -> list[SessionPublic]:
    may_see = metrics.meetings.visible_to(principal.name)
    return [SessionPublic.of(s.seen_by(may_see)) for s in metrics.meetings.sessions(meeting_id)]


@router.post("/{meeting_id}/sessions", status_code=201, responses=error_responses(403, 404, 409, 422))
def open_session(meeting_id: Id, body: SessionOpen, metrics: MetricsDep, principal: PrincipalDep,
                 background: BackgroundTasks) -> SessionPublic:
    """Open an occurrence: its agenda is snapshotted and waiting proposals are taken into review."""
    session = metrics.meetings.open_session(meeting_id, actor=principal.name, starts_at=body.starts_at)
    deliver_later(background, metrics)
    return SessionPublic.of(session)
