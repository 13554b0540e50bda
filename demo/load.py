"""Loading the demo into a lake: datasets, views, access, metrics.

``lakegate demo`` calls, in order: :func:`land_demo` (register the demo
datasets from ``contracts/`` and land generated rows), :func:`land_demo_views`
(apply and materialize ``views/``), :func:`land_demo_access` (the roles,
users, grants, masks and row filters of :mod:`demo.personas`),
:func:`land_demo_queries` (shared workspace queries) and :func:`land_demo_metrics`.
Each is idempotent.

The metric demo:

=============================== ========= ==============================================
metric                          state     over
=============================== ========= ==============================================
playback.daily_active_viewers   approved  playback.daily_active_viewers (SUM(viewers))
playback.average_watch_time     approved  playback.daily_active_viewers (minutes per session)
ads.conversion_rate             approved  ads.daily_ad_funnel (conversions per impression)
ads.revenue_per_impression      in review ads.daily_ad_funnel, tech approved, waiting for business
=============================== ========= ==============================================

``ads.daily_ad_funnel`` (``metrics/daily_ad_funnel.sql``) exists for the
metrics: ``ads.attributed_conversions`` has no date, and a metric needs a
time dimension. The ``ads`` domain has a weekly business review meeting whose
agenda holds the proposal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from access.policy import AccessControl
from access.resources import Resource
from access.saved import SavedQueries, SavedQuery
from access.values import RoleKind
from demo import personas
from demo.definitions import DEMO_CONTRACTS, FUNNEL_VIEW_FILE, VIEWS_DIR, approval_chain, metric_definition
from demo.generator import END_DATE, generate
from lake.errors import AlreadyExists, ConfigError, NotFound
from lake.service import Lake
from metrics_catalog.lifecycle import Status
from metrics_catalog.service import MetricCatalog
from views.files import load_directory, parse_view_file
from views.materialize import RefreshResult, refresh
from views.registry import Plan, apply

__all__ = [
    "CERTIFIED",
    "IN_REVIEW",
    "DemoAccess",
    "DemoMetrics",
    "land_demo",
    "land_demo_access",
    "land_demo_metrics",
    "land_demo_views",
]

#: Demo metrics that go through the whole chain and are certified.
CERTIFIED = ("playback.daily_active_viewers", "playback.average_watch_time", "ads.conversion_rate")
#: The demo metric left in review: tech approved, waiting for business.
IN_REVIEW = "ads.revenue_per_impression"


# -- datasets ----------------------------------------------------------------------


def land_demo(
    lake: Lake,
    *,
    scale: float = 1.0,
    seed: int = 7,
    actor: str = "admin",
    progress: Callable[[str, int], object] | None = None,
) -> list[tuple[str, int]]:
    """Register the demo datasets (if missing) and land their data.

    Landing is idempotent: each dataset is overwritten under the idempotency
    key ``demo:<dataset>:<scale>:<seed>``, so running the demo again with the
    same parameters commits nothing new, and other parameters replace the rows.

    Args:
        lake: The lake to land into.
        scale: Size multiplier (see :func:`demo.generator.generate`).
        seed: Random seed.
        actor: Recorded as the committer.
        progress: Called as ``progress(dataset, rows)`` after each dataset lands.

    Returns:
        ``(dataset, rows)`` per dataset, in landing order.
    """
    tables = generate(scale=scale, seed=seed)
    landed = []
    for doc in DEMO_CONTRACTS:
        name = doc["dataset"]
        try:
            lake.dataset(name)
        except NotFound:
            lake.register(doc, actor=actor)
        result = lake.ingest_table(
            name, tables[name], actor=actor, mode="overwrite",
            idempotency_key=f"demo:{name}:{scale:g}:{seed}", reason="demo data",
        )
        landed.append((name, tables[name].num_rows))
        if progress is not None:
            progress(name, result.rows if not result.replayed else tables[name].num_rows)
    return landed


# -- views -------------------------------------------------------------------------


def land_demo_views(lake: Lake, actor: str = "admin") -> tuple[Plan, RefreshResult]:
    """Create (or update) the demo views of ``views/`` and materialize them.

    Idempotent: unchanged definitions make no new version; every run rebuilds
    the tables from the current demo data.

    Args:
        lake: A lake with the demo datasets landed (:func:`land_demo`).
        actor: Recorded as author and on the runs.

    Returns:
        The applied plan and the refresh's runs.
    """
    definitions = load_directory(VIEWS_DIR)
    applied = apply(lake, definitions, actor=actor, message="demo views")
    return applied, refresh(lake, [d.name for d in definitions], actor=actor, trigger="demo")


# -- access ------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoAccess:
    """What :func:`land_demo_access` set up: user -> role, and how many rules it added."""

    users: dict[str, str]
    added: int = 0
    owners: dict[str, str] = field(default_factory=dict)


def land_demo_access(lake: Lake, access: AccessControl | None = None, *, actor: str = "admin") -> DemoAccess:
    """Create the demo roles, their grants, masks and row filters, and one user per role.

    Idempotent: running it again changes nothing.

    Args:
        lake: The lake (its demo datasets may or may not be landed yet).
        access: The access layer to use (a new one by default).
        actor: Recorded in the audit log.
    """
    ac = access or AccessControl(lake)
    added = 0
    existing = {r.name for r in ac.policies.roles()}
    for name, description in personas.ROLES.items():
        if name not in existing:
            ac.create_role(name, kind=RoleKind.ROLE, description=description, actor=actor)
            added += 1
    have = {g.line for g in ac.policies.grants()}
    for subject, action, resource in personas.GRANTS:
        if (subject, resource.key, action.value, "allow") not in have:
            ac.grant(subject, action, resource, reason="demo", actor=actor)
            added += 1
    masks = {(m.subject, m.resource.key): m.mask for m in ac.policies.masks()}
    for subject, resource, mask in personas.MASKS:
        if masks.get((subject, resource.key)) != mask:
            ac.set_mask(subject, resource, mask, actor=actor)
            added += 1
    filters = {(f.subject, f.resource.key) for f in ac.policies.row_filters()}
    for subject, resource, predicate in personas.ROW_FILTERS:
        if (subject, resource.key) not in filters:
            ac.set_row_filter(subject, resource, predicate, actor=actor)
            added += 1
    for user, role in personas.USERS.items():
        lake.users.ensure(user)
        ac.ensure_subject(user)
        if role not in ac.roles_of(user):
            ac.add_member(role, user, actor=actor)
            added += 1
    owners = {}
    for info in lake.datasets.list():
        if info.domain in personas.DEMO_DOMAINS:
            try:
                if ac.grant_owner(info, actor=actor) is not None:
                    added += 1
            except (AlreadyExists, NotFound):
                continue
            owners[info.name] = info.owner
    return DemoAccess(dict(personas.USERS), added, owners)


def land_demo_queries(saved: SavedQueries) -> list[SavedQuery]:
    """Save the demo personas' shared workspace queries (idempotent: saving again keeps one of each name)."""
    return [saved.save(owner, name, sql, shared=True) for owner, name, sql in personas.SAVED_QUERIES]


# -- metrics -----------------------------------------------------------------------


@dataclass
class DemoMetrics:
    """What :func:`land_demo_metrics` set up."""

    certified: list[str] = field(default_factory=list)
    in_review: list[str] = field(default_factory=list)
    meeting_id: int | None = None


def land_demo_metrics(lake: Lake, actor: str = "admin", *, metrics: MetricCatalog) -> DemoMetrics:
    """Land the metric demo on a lake holding the demo datasets and views.

    Args:
        lake: A lake after :func:`land_demo` and :func:`land_demo_views`.
        actor: The admin setting up chains, grants and the meeting.
        metrics: The metric catalog of the command (wired to the access layer
            by the composition root, ``api.services``).

    Returns:
        What was certified, what is in review, and the meeting's id.
    """
    for name, roles in personas.PEOPLE.items():
        lake.users.ensure(name, roles=roles)
    _ensure_funnel_view(lake, actor)
    mc = metrics
    _grant_metric_people(mc, actor)
    chain = approval_chain()
    for domain in personas.METRIC_DOMAINS:
        try:
            mc.chains.get(domain)
        except NotFound:
            mc.chains.set(domain, chain, actor=actor)
    result = DemoMetrics()
    for name in CERTIFIED:
        if _create(mc, name):
            mc.workflow.propose(name, actor=personas.AUTHOR, message="demo")
            mc.workflow.start_review(name, actor="tess")
            mc.workflow.decide(name, "approve", actor="tess", reason="SQL and grain checked")
            mc.workflow.decide(name, "approve", actor="bianca", reason="matches the business definition")
        result.certified.append(name)
    name = IN_REVIEW
    if _create(mc, name):
        mc.workflow.propose(name, actor=personas.AUTHOR, message="demo")
        mc.workflow.start_review(name, actor="theo")
        mc.workflow.decide(name, "approve", actor="theo", reason="sums are over the same rows")
        mc.comments.add(name, "Should refunds be netted out of revenue?", actor="bruno")
    if mc.workflow.get(name).status is Status.IN_REVIEW:
        result.in_review.append(name)
    meetings = [m for m in mc.meetings.list(domain="ads") if m.stage == "business"]
    if meetings:
        result.meeting_id = meetings[0].id
    else:
        day = _first_weekday_after(END_DATE, 2)  # the Wednesday after the demo window
        meeting = mc.meetings.create("ads", title="Ads metric review (business)", stage="business",
                                     starts_at=dt.datetime(day.year, day.month, day.day, 16, 0, tzinfo=dt.UTC),
                                     actor=actor, duration_minutes=45, location="Room Ember / video link")
        result.meeting_id = meeting.id
    return result


def _first_weekday_after(day: dt.date, weekday: int) -> dt.date:
    return day + dt.timedelta(days=(weekday - day.weekday()) % 7 or 7)


def _ensure_funnel_view(lake: Lake, actor: str) -> None:
    definition = parse_view_file(FUNNEL_VIEW_FILE.read_text(encoding="utf-8"), file=str(FUNNEL_VIEW_FILE))
    apply(lake, [definition], actor=actor, message="demo view for metrics")
    refresh(lake, [definition.name], actor=actor, trigger="demo")


def _grant_metric_people(mc: MetricCatalog, actor: str) -> None:
    control = mc.access
    if control is None:
        raise ConfigError("the metric demo needs a catalog wired to the access layer")
    for name, roles in personas.PEOPLE.items():
        control.ensure_subject(name, roles)
    for domain in personas.METRIC_DOMAINS:
        resource = Resource.domain_(domain)
        for subject, action in personas.METRIC_GRANTS:
            if not control.can(subject, action, resource):
                control.grant(subject, action, resource, actor=actor)


def _create(mc: MetricCatalog, name: str) -> bool:
    """Create the metric from its definition file unless it exists; True when created."""
    try:
        mc.workflow.create(metric_definition(name), actor=personas.AUTHOR, message="demo")
    except AlreadyExists:
        return False
    return True
