"""When views are refreshed: on apply, on a schedule, and by hand — and the runs that do it.

* **On apply.** Each new version of a table view gets a *queued* run
  (:func:`queue_refresh`, trigger ``apply``) recorded with the applier; until
  it succeeds, readers get the previous version's materialization, marked
  stale (:mod:`views.catalog`).
* **On a schedule.** A view may carry a five-field cron expression (UTC,
  :mod:`views.cron`), stored with the view (:func:`set_schedule`); its next
  time is kept beside it.
* **By hand.** ``POST /views/{name}/refresh``, ``lakegate views refresh`` and
  the view page's button, for the view's owner with ``write`` on it or an
  admin (the rule: :func:`access.registration.may_refresh_view`).

:func:`run_due` carries out queued runs and due schedules, a bounded number per
call; the API server's scheduler (:mod:`api.scheduler`) calls it in the
background. Each run is claimed by a conditional update (a queued run moves to
``running``, a schedule's next time moves on), so two servers never run the
same refresh twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select, update

from lake.catalog.models import Domain
from lake.errors import LakegateError
from lake.service import Lake
from views.cron import parse_cron
from views.definition import Materialization
from views.errors import ViewNotFound
from views.materialize import RunInfo, RunStatus, materialize
from views.models import View, ViewRun
from views.names import parse_ref
from views.sources import Snapshot

log = logging.getLogger(__name__)

#: The actor recorded on scheduled runs.
SCHEDULER = "lakegate-scheduler"


@dataclass(frozen=True)
class Schedule:
    """A view's refresh schedule."""

    view: str
    cron: str | None
    next_at: dt.datetime | None

    def to_dict(self) -> dict[str, str | None]:
        return {"view": self.view, "cron": self.cron, "next_at": self.next_at.isoformat() if self.next_at else None}


def _view_row(lake: Lake, s: object, qualified: str) -> View:
    from sqlalchemy.orm import Session

    assert isinstance(s, Session)
    domain, name = qualified.split(".", 1)
    row = s.scalars(select(View).join(Domain, Domain.id == View.domain_id)
                    .where(Domain.name == domain, View.name == name)).first()
    if row is None:
        raise ViewNotFound(f"view {qualified} does not exist")
    return row


def get_schedule(lake: Lake, name: str) -> Schedule:
    qualified = parse_ref(name).qualified
    with lake.catalog.session() as s:
        row = _view_row(lake, s, qualified)
        return Schedule(qualified, row.refresh_cron, row.next_refresh_at)


def set_schedule(lake: Lake, name: str, cron: str | None, *, now: dt.datetime | None = None) -> Schedule:
    """Store a view's refresh schedule (``None`` or empty: none). Authorize first
    (:func:`access.registration.may_refresh_view`).

    Raises:
        InvalidInput: A malformed cron expression, naming the field.
        ViewNotFound: No such view.
    """
    qualified = parse_ref(name).qualified
    text = (cron or "").strip() or None
    parsed = parse_cron(text) if text else None
    with lake.catalog.session() as s:
        row = _view_row(lake, s, qualified)
        row.refresh_cron = parsed.text if parsed else None
        row.next_refresh_at = parsed.next_after(now or dt.datetime.now(dt.UTC)) if parsed else None
        return Schedule(qualified, row.refresh_cron, row.next_refresh_at)


def queue_refresh(lake: Lake, name: str, version: int | None = None, *, actor: str,
                  trigger: str = "apply") -> RunInfo | None:
    """Record a queued run of a table view's version (the current one by default) for the scheduler.

    Returns:
        The queued run (the one already waiting, if any); ``None`` for a virtual view.
    """
    import uuid

    snapshot = Snapshot.load(lake)
    record = snapshot.record(parse_ref(name).qualified, version)
    if record.materialization is not Materialization.TABLE:
        return None
    with lake.catalog.session() as s:
        waiting = s.scalars(select(ViewRun).where(ViewRun.view_version_id == record.row_id,
                                                  ViewRun.status == RunStatus.QUEUED.value)).first()
        if waiting is not None:
            return RunInfo.of(record.view, record.version, waiting)
        row = ViewRun(run_id=str(uuid.uuid4()), view_version_id=record.row_id, status=RunStatus.QUEUED.value,
                      trigger=trigger, actor=actor, source_versions={})
        s.add(row)
        s.flush()
        return RunInfo.of(record.view, record.version, row)


@dataclass(frozen=True)
class DueResult:
    """What one :func:`run_due` call did."""

    runs: tuple[RunInfo, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()


def _claim_queued(lake: Lake, limit: int) -> list[tuple[int, int]]:
    """Queued runs moved to running: (run pk, version row id), oldest first."""
    claimed = []
    with lake.catalog.session() as s:
        ids = list(s.execute(select(ViewRun.id, ViewRun.view_version_id)
                             .where(ViewRun.status == RunStatus.QUEUED.value).order_by(ViewRun.id).limit(limit)))
    for pk, version_row in ids:
        with lake.catalog.session() as s:
            n = s.execute(update(ViewRun).where(ViewRun.id == pk, ViewRun.status == RunStatus.QUEUED.value)
                          .values(status=RunStatus.RUNNING.value)).rowcount  # type: ignore[attr-defined]
        if n == 1:
            claimed.append((int(pk), int(version_row)))
    return claimed


def _claim_due(lake: Lake, now: dt.datetime, limit: int) -> list[str]:
    """Views whose schedule is due, their next time moved on: ``domain.name`` each."""
    claimed = []
    with lake.catalog.session() as s:
        due = list(s.execute(select(View.id, View.refresh_cron, View.next_refresh_at, Domain.name, View.name)
                             .join(Domain, Domain.id == View.domain_id)
                             .where(View.refresh_cron.is_not(None), View.next_refresh_at <= now)
                             .order_by(View.next_refresh_at).limit(limit)))
    for view_id, cron, next_at, domain, name in due:
        upcoming = parse_cron(cron or "").next_after(now)
        with lake.catalog.session() as s:
            n = s.execute(update(View).where(View.id == view_id, View.next_refresh_at == next_at)
                          .values(next_refresh_at=upcoming)).rowcount  # type: ignore[attr-defined]
        if n == 1:
            claimed.append(f"{domain}.{name}")
    return claimed


def tell_owners_of_failure(lake: Lake, view: str, version: int, owner: str, reason: str, trigger: str) -> None:
    """The view's owners (the owner user, or the active users holding the owner team role) hear that a
    refresh nobody was watching failed; readers keep the rows they had."""
    from lake.catalog.models import User
    from lake.notify import NoticeKind, post

    with lake.catalog.session() as s:
        people = [u.name for u in s.scalars(select(User).where(User.is_active.is_(True)).order_by(User.name))
                  if owner and (u.name == owner or owner in (u.roles or []))]
        post(s, people, NoticeKind.VIEW_REFRESH, f"view:{view}", f"The {trigger} refresh of {view} v{version} failed",
             f"{reason}\n\nReaders keep the rows of the last successful run until a refresh succeeds.",
             {"view": view, "version": version, "trigger": trigger, "error": reason[:2000]})


def _fail(lake: Lake, run_pk: int, reason: str) -> None:
    with lake.catalog.session() as s:
        row = s.get(ViewRun, run_pk)
        if row is not None and row.status in (RunStatus.QUEUED.value, RunStatus.RUNNING.value):
            row.status, row.error, row.finished_at = RunStatus.FAILED.value, reason[:2000], dt.datetime.now(dt.UTC)


def run_due(lake: Lake, *, now: dt.datetime | None = None, limit: int = 2) -> DueResult:
    """Carry out queued runs, then due schedules, at most ``limit`` runs in all.

    A failure is recorded on its run and reported; the others still run.
    """
    now = now or dt.datetime.now(dt.UTC)
    runs: list[RunInfo] = []
    failed: list[tuple[str, str]] = []
    snapshot = Snapshot.load(lake)
    by_row = {r.row_id: r for state in snapshot.views.values() for r in state.versions.values()}
    for run_pk, version_row in _claim_queued(lake, limit):
        record = by_row.get(version_row)
        if record is None:
            _fail(lake, run_pk, "the version no longer exists")
            continue
        try:
            runs.append(materialize(lake, record.view, record.version, actor=SCHEDULER, snapshot=snapshot,
                                    run_pk=run_pk))
        except LakegateError as exc:
            _fail(lake, run_pk, exc.message)
            failed.append((f"{record.view}@v{record.version}", exc.message))
            tell_owners_of_failure(lake, record.view, record.version, record.owner, exc.message, "queued")
    for qualified in _claim_due(lake, now, max(0, limit - len(runs) - len(failed))):
        try:
            runs.append(materialize(lake, qualified, actor=SCHEDULER, trigger="schedule", snapshot=snapshot))
        except LakegateError as exc:
            failed.append((qualified, exc.message))
            current = snapshot.record(qualified)
            tell_owners_of_failure(lake, qualified, current.version, current.owner, exc.message, "scheduled")
    for what, why in failed:
        log.warning("refresh of %s failed: %s", what, why)
    return DueResult(tuple(runs), tuple(failed))
