"""The people of the demo: roles, users, what each may see, and who reviews metrics.

=============== ========= =====================================================
role            user      may
=============== ========= =====================================================
analyst         ana       read every demo domain; PII shows as keyed hashes
                          (joins and distinct counts still work)
data_engineer   dev       read, write and register datasets in every demo
                          domain; PII redacted
marketing       mia       read ads, playback, subscriptions and the catalog,
                          only rows of EU countries (DE, FR); emails hashed,
                          names hidden
finance         finn      read subscriptions and ads with PII in clear
=============== ========= =====================================================

Metric review in the ``playback`` and ``ads`` domains: ``ana`` (analyst)
writes the metrics; ``tess`` and ``theo`` approve at the tech stage;
``bianca`` and ``bruno`` at the business stage. Each dataset's owner team
gets ``admin`` on it.
"""

from __future__ import annotations

from access.masks import Mask, MaskKind
from access.resources import Action, Resource

DEMO_DOMAINS = ("catalog", "subscriptions", "playback", "ads")
EU_COUNTRIES = ("DE", "FR")
EU_FILTER = "country IN ('DE', 'FR')"
#: The demo domains whose tables all have a ``country`` column.
COUNTRY_DOMAINS = ("subscriptions", "playback", "ads")

ROLES: dict[str, str] = {
    "analyst": "Reads every demo domain; PII as keyed hashes.",
    "data_engineer": "Reads, writes and registers datasets in the demo domains; PII redacted.",
    "marketing": "Reads ads, playback, subscriptions and the catalog, EU rows only (DE, FR).",
    "finance": "Reads subscriptions and ads with PII in clear.",
}
USERS: dict[str, str] = {"ana": "analyst", "dev": "data_engineer", "mia": "marketing", "finn": "finance"}

_D = Resource.domain_
GRANTS: list[tuple[str, Action, Resource]] = [
    *((r, Action.DISCOVER, _D(d)) for r in ROLES for d in DEMO_DOMAINS),
    *(("analyst", Action.READ, _D(d)) for d in DEMO_DOMAINS),
    *(("data_engineer", a, _D(d)) for d in DEMO_DOMAINS for a in (Action.READ, Action.WRITE, Action.PROPOSE)),
    *(("marketing", Action.READ, _D(d)) for d in ("catalog", *COUNTRY_DOMAINS)),
    *(("finance", Action.READ, _D(d)) for d in ("subscriptions", "ads")),
]
MASKS: list[tuple[str, Resource, Mask]] = [
    ("analyst", Resource.lake(), Mask(MaskKind.HASH)),
    ("data_engineer", Resource.lake(), Mask(MaskKind.REDACT)),
    ("marketing", Resource.lake(), Mask(MaskKind.NULL)),
    ("marketing", Resource.parse("dataset:subscriptions.subscribers.email"), Mask(MaskKind.HASH)),
    ("finance", _D("subscriptions"), Mask(MaskKind.DECRYPT)),
    ("finance", _D("ads"), Mask(MaskKind.DECRYPT)),
]
ROW_FILTERS: list[tuple[str, Resource, str]] = [("marketing", _D(d), EU_FILTER) for d in COUNTRY_DOMAINS]

# -- metric review -------------------------------------------------------------

TECH_ROLE = "metric_tech"
BUSINESS_ROLE = "metric_business"
#: Writes and proposes the demo metrics.
AUTHOR = "ana"
#: Metric people and their roles (the roles of the approval chain in ``metrics/chain.yaml``).
PEOPLE: dict[str, list[str]] = {
    "ana": ["analyst"],
    "tess": [TECH_ROLE, "data_engineer"],
    "theo": [TECH_ROLE],
    "bianca": [BUSINESS_ROLE],
    "bruno": [BUSINESS_ROLE],
}
#: The domains whose metrics go through the demo approval chain.
METRIC_DOMAINS = ("playback", "ads")
#: What the metric people's roles may do in :data:`METRIC_DOMAINS`.
METRIC_GRANTS: list[tuple[str, Action]] = [
    ("analyst", Action.PROPOSE), (TECH_ROLE, Action.APPROVE), (BUSINESS_ROLE, Action.APPROVE),
    (TECH_ROLE, Action.READ), (BUSINESS_ROLE, Action.READ),
]

#: Saved workspace queries: (owner, name, SQL), shared by link. Whoever opens one runs it
#: as themselves: finn (finance) sees e-mails in clear, ana (analyst) keyed hashes, mia (marketing) EU rows only.
SAVED_QUERIES: list[tuple[str, str, str]] = [
    ("finn", "Active subscribers by plan and country",
     "SELECT s.country, s.plan, count(*) AS subscribers, sum(s.monthly_price) AS monthly_revenue\n"
     "FROM subscriptions.subscribers AS s\nWHERE s.status = 'active'\nGROUP BY s.country, s.plan\nORDER BY 1, 2"),
    ("finn", "Newest subscribers with contact",
     "SELECT s.subscriber_id, s.email, s.country, s.plan, s.signup_date\n"
     "FROM subscriptions.subscribers AS s\nORDER BY s.signup_date DESC\nLIMIT 200"),
]
