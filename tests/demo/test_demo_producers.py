"""The demo's producer and subscriber pages have content: a late batch whose bad rows wait in
quarantine (and land once MX is allowed), and two engine subscribers; landing it again changes nothing."""

from __future__ import annotations

from access import AccessControl
from access.subscribers import Subscribers
from demo.definitions import DEMO_CONTRACTS
from demo.load import land_demo, land_demo_access
from demo.producers import land_demo_producers
from lake.freshness import FreshnessState, freshness_of
from lake.service import Lake


def test_the_demo_lands_a_quarantined_batch_and_subscribers_once(lake: Lake, ac: AccessControl) -> None:
    land_demo(lake, scale=0.05)
    land_demo_access(lake, ac)
    subs = Subscribers(ac)
    first = land_demo_producers(lake, subs)
    assert (first.quarantined, first.subscribers) == (3, ("etl", "warehouse"))
    again = land_demo_producers(lake, subs)
    assert again.subscribers == () and lake.quarantine.rows("ads.conversions").waiting == 3
    assert {p.column for p in lake.quarantine.trend("ads.conversions")} == {"country", "revenue"}
    assert subs.get("warehouse").kind.value == "redshift" and subs.get("etl").roles == ("analyst",)

    doc = next(d for d in DEMO_CONTRACTS if d["dataset"] == "ads.conversions")
    relaxed = {**doc, "columns": [{**c, "allowed": [*c["allowed"], "MX"]} if c["name"] == "country" else c
                                  for c in doc["columns"]]}
    lake.evolve("ads.conversions", relaxed, actor="admin")
    assert lake.quarantine.replay("ads.conversions", actor="admin").landed == 2
    fresh = freshness_of(lake.catalog, lake.datasets.list())
    assert fresh["ads.conversions"].state is FreshnessState.FRESH
    assert fresh["catalog.titles"].state is FreshnessState.NO_PROMISE
