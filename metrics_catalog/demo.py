"""Demo content: approval chains, approvers, certified metrics, a proposal in review
and a review meeting, over the demo views (``views.demo``).

=========================== ========= ==============================================
metric                      state     over
=========================== ========= ==============================================
playback.daily_active_viewers  approved  playback.daily_active_viewers (SUM(viewers))
playback.average_watch_time    approved  playback.daily_active_viewers (minutes per session)
ads.conversion_rate            approved  ads.daily_ad_funnel (conversions per impression)
ads.revenue_per_impression     in review ads.daily_ad_funnel, tech approved, waiting for business
=========================== ========= ==============================================

``ads.daily_ad_funnel`` is a demo view defined here: the views demo's
``ads.attributed_conversions`` has no date, and a metric needs a time
dimension. The ``ads`` domain has a weekly business review meeting whose
agenda holds the proposal. People: ``ana`` (analyst) writes the metrics;
``tess`` and ``theo`` approve at the tech stage; ``bianca`` and ``bruno`` at
the business stage. :func:`land_demo_metrics` is idempotent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from lake.errors import AlreadyExists, ConfigError, NotFound
from lake.service import Lake

from metrics_catalog.lifecycle import Status
from metrics_catalog.service import MetricCatalog

TECH_ROLE = "metric_tech"
BUSINESS_ROLE = "metric_business"
AUTHOR = "ana"
PEOPLE: dict[str, list[str]] = {
    "ana": ["analyst"],
    "tess": [TECH_ROLE, "data_engineer"],
    "theo": [TECH_ROLE],
    "bianca": [BUSINESS_ROLE],
    "bruno": [BUSINESS_ROLE],
}
DOMAINS = ("playback", "ads")

CHAIN: dict[str, Any] = {"stages": [
    {"name": "tech", "roles": [TECH_ROLE], "quorum": 1, "reviews": "technical"},
    {"name": "business", "roles": [BUSINESS_ROLE], "quorum": 1, "reviews": "all"},
]}

FUNNEL_VIEW = """\
/*
view: ads.daily_ad_funnel
owner: ads-team
description: >
  Ads served and conversions attributed to them, per UTC day of the impression,
  country and placement.
materialization: table
tags: [demo, revenue, metrics]
columns:
  impression_date: UTC day the ads were served.
  country: Country the ads were served in.
  placement: preroll, midroll or banner.
  impressions: Ads shown.
  conversions: Purchases attributed to those ads.
  revenue: Attributed revenue in USD.
*/
WITH attributed AS (
  SELECT c.impression_id, COUNT(*) AS conversions, SUM(c.revenue) AS revenue
  FROM ads.conversions AS c
  GROUP BY c.impression_id
)
SELECT
  CAST(i.impression_ts AS DATE) AS impression_date,
  i.country,
  i.placement,
  COUNT(*) AS impressions,
  COALESCE(SUM(a.conversions), 0) AS conversions,
  COALESCE(SUM(a.revenue), 0) AS revenue
FROM ads.impressions AS i
LEFT JOIN attributed AS a ON a.impression_id = i.impression_id
GROUP BY CAST(i.impression_ts AS DATE), i.country, i.placement
"""

CERTIFIED: list[dict[str, Any]] = [
    {
        "name": "playback.daily_active_viewers",
        "view": "playback.daily_active_viewers",
        "expression": "SUM(viewers)",
        "time_dimension": "event_date",
        "grains": ["day"],
        "dimensions": ["country"],
        "unit": "viewers",
        "format": "integer",
        "owner": "playback-team",
        "description": (
            "**Daily active viewers**: distinct subscribers who started at least one playback session on a "
            "UTC day.\n\nOnly defined per day: a subscriber active on two days counts on each, so daily values "
            "must not be added up into weeks."
        ),
    },
    {
        "name": "playback.average_watch_time",
        "view": "playback.daily_active_viewers",
        "expression": "SUM(watch_hours) * 60 / SUM(sessions)",
        "time_dimension": "event_date",
        "grains": ["day", "week", "month"],
        "dimensions": ["country"],
        "unit": "minutes per session",
        "format": "duration",
        "owner": "playback-team",
        "description": "**Average watch time**: minutes of content watched per playback session.",
    },
    {
        "name": "ads.conversion_rate",
        "view": "ads.daily_ad_funnel",
        "expression": "SUM(conversions) / SUM(impressions)",
        "time_dimension": "impression_date",
        "grains": ["day", "week", "month"],
        "dimensions": ["country", "placement"],
        "unit": "conversions per impression",
        "format": "percent",
        "owner": "ads-team",
        "description": (
            "**Ad conversion rate**: purchases attributed to an ad (7-day window) per ad shown, by the day "
            "the ad was shown."
        ),
    },
]

IN_REVIEW: dict[str, Any] = {
    "name": "ads.revenue_per_impression",
    "view": "ads.daily_ad_funnel",
    "expression": "SUM(revenue) / SUM(impressions)",
    "time_dimension": "impression_date",
    "grains": ["week", "month"],
    "dimensions": ["country", "placement"],
    "unit": "USD per impression",
    "format": "currency",
    "owner": "ads-team",
    "description": "**Revenue per impression**: attributed revenue per ad shown (eCPM / 1000).",
}


@dataclass
class DemoMetrics:
    certified: list[str] = field(default_factory=list)
    in_review: list[str] = field(default_factory=list)
    meeting_id: int | None = None


def _first_weekday_after(day: dt.date, weekday: int) -> dt.date:
    return day + dt.timedelta(days=(weekday - day.weekday()) % 7 or 7)


def _ensure_view(lake: Lake, actor: str) -> None:
    from views.files import parse_view_file
    from views.materialize import refresh
    from views.registry import apply

    definition = parse_view_file(FUNNEL_VIEW, file="metrics_catalog/demo.py")
    apply(lake, [definition], actor=actor, message="demo view for metrics")
    refresh(lake, [definition.name], actor=actor, trigger="demo")


def _grant(lake: Lake, mc: MetricCatalog, actor: str) -> None:
    if mc.access is None:
        raise ConfigError("the metric demo needs a catalog wired to the access layer")
    from access import Action, Resource

    control = mc.access
    for name, roles in PEOPLE.items():
        control.ensure_subject(name, roles)
    for domain in DOMAINS:
        resource = Resource.domain_(domain)
        wanted = [("analyst", Action.PROPOSE), (TECH_ROLE, Action.APPROVE), (BUSINESS_ROLE, Action.APPROVE),
                  (TECH_ROLE, Action.READ), (BUSINESS_ROLE, Action.READ)]
        for subject, action in wanted:
            if not control.can(subject, action, resource):
                control.grant(subject, action, resource, actor=actor)


def land_demo_metrics(lake: Lake, actor: str = "admin", *, metrics: MetricCatalog) -> DemoMetrics:
    """Land the metric demo on a lake holding the demo datasets and views.

    Args:
        lake: A lake after ``lake.demo.land_demo`` and ``views.demo.land_demo_views``.
        actor: The admin setting up chains, grants and the meeting.
        metrics: The metric catalog of the command (wired to the access layer).

    Returns:
        What was certified, what is in review, and the meeting's id.
    """
    for name, roles in PEOPLE.items():
        lake.users.ensure(name, roles=roles)
    _ensure_view(lake, actor)
    mc = metrics
    _grant(lake, mc, actor)
    for domain in DOMAINS:
        try:
            mc.chains.get(domain)
        except NotFound:
            mc.chains.set(domain, CHAIN, actor=actor)
    result = DemoMetrics()
    for doc in CERTIFIED:
        name = doc["name"]
        if _create(mc, doc):
            mc.workflow.propose(name, actor=AUTHOR, message="demo")
            mc.workflow.start_review(name, actor="tess")
            mc.workflow.decide(name, "approve", actor="tess", reason="SQL and grain checked")
            mc.workflow.decide(name, "approve", actor="bianca", reason="matches the business definition")
        result.certified.append(name)
    name = IN_REVIEW["name"]
    if _create(mc, IN_REVIEW):
        mc.workflow.propose(name, actor=AUTHOR, message="demo")
        mc.workflow.start_review(name, actor="theo")
        mc.workflow.decide(name, "approve", actor="theo", reason="sums are over the same rows")
        mc.comments.add(name, "Should refunds be netted out of revenue?", actor="bruno")
    if mc.workflow.get(name).status is Status.IN_REVIEW:
        result.in_review.append(name)
    meetings = [m for m in mc.meetings.list(domain="ads") if m.stage == "business"]
    if meetings:
        result.meeting_id = meetings[0].id
    else:
        from lake.demo import END_DATE

        day = _first_weekday_after(END_DATE, 2)  # the Wednesday after the demo window
        meeting = mc.meetings.create("ads", title="Ads metric review (business)", stage="business",
                                     starts_at=dt.datetime(day.year, day.month, day.day, 16, 0, tzinfo=dt.UTC),
                                     actor=actor, duration_minutes=45, location="Room Ember / video link")
        result.meeting_id = meeting.id
    return result


def _create(mc: MetricCatalog, doc: dict[str, Any]) -> bool:
    """Create the metric unless it exists; True when created."""
    try:
        mc.workflow.create(doc, actor=AUTHOR, message="demo")
    except AlreadyExists:
        return False
    return True
