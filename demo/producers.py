"""The demo's producer and subscriber pages: a late batch with rejected rows, and engine subscribers.

:func:`land_demo_producers` lands a small late batch into ``ads.conversions``
with ``on_error=quarantine``: two conversions from Mexico (``MX``, a country
the contract does not allow yet) and one with a negative revenue (no good row:
the demo's tables keep the rows its summary reports); so the dataset's quarantine page has rows, reasons and a trend, and
allowing ``MX`` in the contract then replaying lands the two. It also
registers two engine subscribers: ``etl`` (EMR, owned by the
``data_engineer`` team, bound to ``analyst``) and ``warehouse`` (Redshift,
owned by ``admin``, bound to ``marketing`` and ``finance``). Idempotent.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass

import pyarrow as pa

from access.subscribers import Subscribers
from demo.generator import END_DATE
from lake.errors import NotFound
from lake.service import Lake

LATE_BATCH_KEY = "demo:ads.conversions:late-batch"
SUBSCRIBERS = (
    ("etl", "emr", "data_engineer", ("analyst",), "Nightly Spark jobs of the data engineering team."),
    ("warehouse", "redshift", "admin", ("marketing", "finance"), "The analytics cluster marketing and finance query."),
)


@dataclass(frozen=True)
class DemoProducers:
    quarantined: int
    subscribers: tuple[str, ...]


def late_batch() -> pa.Table:
    """Three late conversions: two from a country the contract does not allow, one with a negative revenue."""
    at = dt.datetime.combine(END_DATE, dt.time(23, 30), dt.UTC)
    rows = [("cnv-late-1", "MX", "4.99"), ("cnv-late-2", "MX", "12.00"), ("cnv-late-3", "US", "-5.00")]
    return pa.table({
        "conversion_id": [r[0] for r in rows], "impression_id": [f"imp-late-{i}" for i in range(len(rows))],
        "subscriber_id": ["sub-000000001"] * len(rows), "campaign_id": ["cmp-0001"] * len(rows), "country": [r[1] for r in rows],
        "conversion_ts": pa.array([at] * len(rows), pa.timestamp("us", tz="UTC")),
        "revenue": pa.array([decimal.Decimal(r[2]) for r in rows], pa.decimal128(12, 2)),
    })


def land_demo_producers(lake: Lake, subscribers: Subscribers, *, actor: str = "admin") -> DemoProducers:
    """Land the late batch (its bad rows quarantined) and register the demo subscribers, once."""
    result = lake.ingest_table("ads.conversions", late_batch(), actor=actor, on_error="quarantine",
                               idempotency_key=LATE_BATCH_KEY, reason="late conversions from the partner feed",
                               source_name="partner-feed")
    made = []
    for name, kind, owner, roles, description in SUBSCRIBERS:
        try:
            subscribers.get(name)
        except NotFound:
            subscribers.create(name, kind, owner=owner, roles=roles, description=description, actor=actor)
            made.append(name)
    return DemoProducers(result.rejected_rows, tuple(made))
