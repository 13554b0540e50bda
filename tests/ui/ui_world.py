"""A small governed world for the UI tests: users with passwords, a dataset
with PII and rows, a materialized view over it, an approval chain, one
certified metric and one proposal waiting at its first stage.

=========  ==============================  ==========================================
user       roles (user record)             part in the tests
=========  ==============================  ==========================================
root       admin                           admin and audit pages
alice      producer, sales                 owns sales.orders (the sales team), authors metrics
victor     analyst                         reads the sales domain, PII masked; asks for access
tina       metric_tech                     approves the tech stage
bruno      metric_business                 approves the business stage
=========  ==============================  ==========================================
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from access import AccessControl, Action, Resource
from lake.service import Lake

PASSWORDS = {"root": "root-pass-1", "alice": "alice-pass-1", "victor": "victor-pass-1", "tina": "tina-pass-1",
             "bruno": "bruno-pass-1"}
ROLES = {"root": ["admin"], "alice": ["producer", "sales"], "victor": ["analyst"], "tina": ["metric_tech"],
         "bruno": ["metric_business"]}
EMAILS = ["ann@example.com", "bo@example.com", "cy@example.com", "di@example.com"]

ORDERS = {
    "dataset": "sales.orders",
    "owner": "sales",
    "description": "Orders placed in the web shop, one row per order.",
    "primary_key": ["order_id"],
    "tags": ["shop", "revenue"],
    "columns": [
        {"name": "order_id", "type": "int64", "nullable": False, "description": "Order number."},
        {"name": "order_date", "type": "date", "nullable": False, "description": "Day the order was placed."},
        {"name": "country", "type": "string", "allowed": ["US", "DE", "FR"], "description": "Shipping country."},
        {"name": "amount", "type": "decimal(12,2)", "min": 0, "description": "Order total in EUR."},
        {"name": "email", "type": "string", "pii": True, "description": "Customer e-mail address."},
    ],
}

DAILY_REVENUE_SQL = """\
SELECT
  o.order_date,
  o.country,
  SUM(o.amount) AS revenue,
  COUNT(*) AS orders  -- one row per order
FROM sales.orders AS o
GROUP BY o.order_date, o.country
"""
DAILY_REVENUE_V2_SQL = DAILY_REVENUE_SQL.replace("GROUP BY", "WHERE o.amount > 0\nGROUP BY")

CHAIN = {"domain": "sales", "stages": [
    {"name": "tech", "roles": ["metric_tech"], "quorum": 1, "reviews": "technical"},
    {"name": "business", "roles": ["metric_business"], "quorum": 1},
]}

REVENUE = {
    "name": "sales.revenue", "view": "sales.daily_revenue", "expression": "SUM(revenue)",
    "time_dimension": "order_date", "dimensions": ["country"], "grains": ["day", "week"],
    "description": "Revenue of the web shop in EUR.\n\nCounts every order with a positive amount.",
    "owner": "alice", "unit": "EUR", "format": "number",
}
ORDER_COUNT = {
    "name": "sales.order_count", "view": "sales.daily_revenue", "expression": "SUM(orders)",
    "time_dimension": "order_date", "dimensions": ["country"], "grains": ["day"],
    "description": "Orders placed per day.", "owner": "alice", "unit": "orders", "format": "integer",
}


#: Metrics the approvers may approve (sales.basket is made by the tests that need it).
METRICS = ("sales.revenue", "sales.order_count", "sales.basket")


@dataclass(frozen=True)
class World:
    users: dict[str, str]
    dataset: str = "sales.orders"
    view: str = "sales.daily_revenue"
    certified: str = "sales.revenue"
    proposal: str = "sales.order_count"


def order_rows(days: int = 6) -> pa.Table:
    """Deterministic orders over ``days`` days in three countries."""
    start = dt.date(2026, 10, 1)
    rows: list[dict[str, Any]] = []
    n = 0
    for d in range(days):
        for i, country in enumerate(("US", "DE", "FR")):
            for _k in range(1 + (d + i) % 3):
                n += 1
                rows.append({"order_id": n, "order_date": start + dt.timedelta(days=d), "country": country,
                             "amount": decimal.Decimal(f"{10 + (n * 7) % 90}.{n % 100:02d}"),
                             "email": EMAILS[n % len(EMAILS)]})
    schema = pa.schema([("order_id", pa.int64()), ("order_date", pa.date32()), ("country", pa.string()),
                        ("amount", pa.decimal128(12, 2)), ("email", pa.string())])
    return pa.Table.from_pylist(rows, schema=schema)


def make_users(lake: Lake) -> None:
    for name, roles in ROLES.items():
        lake.users.create(name, roles=roles, password=PASSWORDS[name], display_name=name.capitalize())


def make_data(lake: Lake) -> None:
    lake.register(ORDERS, actor="alice")
    lake.ingest_table("sales.orders", order_rows(), actor="alice", reason="first orders", source_name="shop-export")


def make_policy(lake: Lake, access: AccessControl) -> None:
    """The analyst reads the sales domain (PII masked by default); approvers may approve sales metrics."""
    access.sync_users()
    if "analyst" not in {r.name for r in access.policies.roles()}:
        access.create_role("analyst", description="Reads the sales domain; PII masked.", actor="root")
    access.grant("analyst", Action.READ, Resource.domain_("sales"), reason="analysts read sales", actor="root")
    for metric in METRICS:
        allow_approvers(access, metric)
    access.grant_owner(lake.dataset("sales.orders"), actor="root")


def allow_approvers(access: AccessControl, metric: str) -> None:
    """Let the chain's roles approve one metric (approve on the whole domain would let them decide
    access requests on its datasets too)."""
    for role in ("metric_tech", "metric_business"):
        access.grant(role, Action.APPROVE, Resource.metric(metric), reason="metric approvers", actor="root")


def make_views(lake: Lake) -> None:
    from views import ViewDefinition, create_version, materialize

    definition = ViewDefinition(name="sales.daily_revenue", sql=DAILY_REVENUE_SQL, owner="sales",
                                description="Revenue and orders per day and country.", tags=("revenue",),
                                column_docs=(("revenue", "Sum of order amounts in EUR."),))
    create_version(lake, definition, actor="alice", message="first version")
    v2 = ViewDefinition(name="sales.daily_revenue", sql=DAILY_REVENUE_V2_SQL, owner="sales",
                        description="Revenue and orders per day and country, orders with an amount only.",
                        tags=("revenue",), column_docs=(("revenue", "Sum of order amounts in EUR."),))
    create_version(lake, v2, actor="alice", message="skip empty orders")
    materialize(lake, "sales.daily_revenue", actor="alice")


def make_metrics(lake: Lake, access: AccessControl) -> None:
    from metrics_catalog import MetricCatalog

    catalog = MetricCatalog(lake, access=access, deliver=False)
    catalog.chains.set("sales", CHAIN, actor="root")
    catalog.workflow.create(REVENUE, actor="alice")
    catalog.workflow.propose("sales.revenue", actor="alice")
    catalog.workflow.start_review("sales.revenue", actor="tina")
    catalog.workflow.decide("sales.revenue", "approve", actor="tina")
    catalog.workflow.decide("sales.revenue", "approve", actor="bruno")
    catalog.workflow.create(ORDER_COUNT, actor="alice")
    catalog.workflow.propose("sales.order_count", actor="alice", message="please review")


def build_world(lake: Lake, access: AccessControl | None = None, *, with_views: bool = True) -> World:
    """Everything above, in a fresh lake (views and metrics need Spark)."""
    make_users(lake)
    make_data(lake)
    access = access or AccessControl(lake, refresh_seconds=0)
    make_policy(lake, access)
    if with_views:
        make_views(lake)
        make_metrics(lake, access)
    return World(dict(PASSWORDS))
