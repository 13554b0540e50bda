"""The metric demo: certified metrics, a proposal in review and a meeting over the demo views;
the certified values match the demo data computed independently."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.services import build_services
from demo.load import land_demo, land_demo_access, land_demo_metrics, land_demo_views
from lake.service import Lake
from lake.settings import Settings
from lake.spark import stop_spark
from metrics_catalog import Status

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    stop_spark()
    lake = Lake(Settings(home=tmp_path_factory.mktemp("demo"), spark_master="local[2]"))
    lake.users.ensure("admin", roles=["admin"])
    land_demo(lake, scale=0.05, seed=3)
    land_demo_access(lake)
    land_demo_views(lake)
    yield lake
    stop_spark()
    lake.close()


def test_demo_metrics(demo_lake: Lake, tmp_path: Path) -> None:
    mc = build_services(lake=demo_lake).metrics
    first = land_demo_metrics(demo_lake, metrics=mc)
    again = land_demo_metrics(demo_lake, metrics=mc)  # idempotent
    assert first == again
    assert first.certified == ["playback.daily_active_viewers", "playback.average_watch_time",
                               "ads.conversion_rate"]
    for name in first.certified:
        info = mc.workflow.get(name)
        assert info.status is Status.APPROVED and info.certified_revision == 1
    review = mc.workflow.get("ads.revenue_per_impression")
    assert review.status is Status.IN_REVIEW and review.stage == "business"
    assert first.meeting_id is not None
    assert [a.metric for a in mc.meetings.agenda(first.meeting_id)] == ["ads.revenue_per_impression"]
    assert "BEGIN:VEVENT" in mc.meetings.ical(domain="ads")

    # Values through the gateway as the analyst equal a computation over the raw demo rows.
    values = mc.values.get("ads.conversion_rate", actor="ana", grain="month", dimensions=["placement"])
    impressions = demo_lake.read("ads.impressions", columns=["impression_id", "impression_ts", "placement"])
    conversions = demo_lake.read("ads.conversions", columns=["impression_id"])
    converted: dict[str, int] = defaultdict(int)
    for imp in conversions.column("impression_id").to_pylist():
        converted[imp] += 1
    shown: dict[tuple[str, str], int] = defaultdict(int)
    bought: dict[tuple[str, str], int] = defaultdict(int)
    for row in impressions.to_pylist():
        key = (row["impression_ts"].date().replace(day=1).isoformat(), row["placement"])
        shown[key] += 1
        bought[key] += converted.get(row["impression_id"], 0)
    expected = [[*k, bought[k] / shown[k]] for k in sorted(shown)]
    assert [list(r[:2]) for r in values.rows] == [e[:2] for e in expected]
    for got, want in zip(values.rows, expected, strict=True):
        assert got[2] == pytest.approx(want[2], rel=1e-9)

    # Marketing sees EU rows only: its values cover DE and FR alone.
    eu: Any = mc.values.get("playback.daily_active_viewers", actor="mia", grain="day", dimensions=["country"])
    assert {r[1] for r in eu.rows} <= {"DE", "FR"} and eu.rows
