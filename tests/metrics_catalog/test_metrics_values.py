"""Metric values equal an independent computation over the same rows, at every grain;
they run through the access layer's gateway as the caller (row filters apply); results
are cached per revision, request, data version, caller and policy version."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pytest

from access import AccessControl, Action, Resource
from access.gateway import Gateway
from lake.errors import AccessDenied, Conflict, InvalidInput
from lake.service import Lake
from lake.settings import Settings
from lake.spark import stop_spark
from metrics_catalog import MetricCatalog

from metric_factories import events_table, metric_doc, open_catalog, setup_playback

pytestmark = [pytest.mark.spark, pytest.mark.slow]

PER_VIEWER = "playback.watch_per_viewer"
VIEWERS = "playback.monthly_viewers"
FROM, TO = dt.date(2026, 9, 28), dt.date(2026, 11, 15)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lake, MetricCatalog, list[pa.Table]]]:
    stop_spark()  # a session another module left behind would have other settings
    lake = Lake(Settings(home=tmp_path_factory.mktemp("values"), spark_master="local[2]"))
    batches = [events_table(900)]
    setup_playback(lake, rows=batches[0])
    lake.users.ensure("uma")  # sees US rows only
    lake.users.ensure("nora")  # may not read the metric
    access = AccessControl(lake)
    events, playback = Resource.table("playback.events"), Resource.domain_("playback")
    for reader in ("victor", "uma", "nora", "analyst"):  # the rows: per subject (uma's are filtered)
        access.grant(reader, Action.READ, events)
    for metric in (PER_VIEWER, VIEWERS, "playback.draft_metric"):  # the metrics: everyone
        access.grant("everyone", Action.READ, Resource.metric(metric))
    access.grant("analyst", Action.PROPOSE, playback)
    access.grant("metric_tech", Action.APPROVE, playback)
    access.grant("metric_business", Action.APPROVE, playback)
    access.set_row_filter("uma", events, "country = 'US'")
    access.deny("nora", Action.READ, Resource.metric(PER_VIEWER))
    metrics = open_catalog(lake, access=access, gateway=Gateway(lake, access))
    metrics.workflow.create(metric_doc(PER_VIEWER, filters=["country <> 'JP'", "watch_seconds >= 60"]), actor="mia")
    metrics.workflow.create(metric_doc(VIEWERS, expression="COUNT(DISTINCT subscriber_id)",
                                       time_dimension="event_date", dimensions=["device"], grains=["month"]),
                            actor="mia")
    for name in (PER_VIEWER, VIEWERS):
        metrics.workflow.propose(name, actor="mia")
        metrics.workflow.start_review(name, actor="tom")
        metrics.workflow.decide(name, "approve", actor="tom")
        metrics.workflow.decide(name, "approve", actor="bob")
    yield lake, metrics, batches
    stop_spark()
    lake.close()


def _period(day: dt.date, grain: str) -> dt.date:
    if grain == "day":
        return day
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def expected_per_viewer(tables: Sequence[pa.Table], grain: str, dims: Sequence[str],
                        countries: Sequence[str] = ("US", "DE", "FR")) -> list[list[Any]]:
    """SUM(watch_seconds) / COUNT(DISTINCT subscriber_id), computed in Python over the rows."""
    seconds: dict[tuple[Any, ...], int] = defaultdict(int)
    viewers: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for table in tables:
        for r in table.to_pylist():
            day = r["event_ts"].date()
            if r["country"] not in countries or r["watch_seconds"] < 60 or not FROM <= day <= TO:
                continue
            key = (_period(day, grain).isoformat(), *(r[d] for d in dims))
            seconds[key] += r["watch_seconds"]
            viewers[key].add(r["subscriber_id"])
    return [[*k, seconds[k] / len(viewers[k])] for k in sorted(seconds)]


def _close(got: Sequence[Sequence[Any]], want: Sequence[Sequence[Any]]) -> None:
    assert [list(r[:-1]) for r in got] == [r[:-1] for r in want]
    for g, w in zip(got, want, strict=True):
        assert g[-1] == pytest.approx(w[-1], rel=1e-9)


@pytest.mark.parametrize("grain", ["day", "week", "month"])
@pytest.mark.parametrize("dims", [[], ["country"], ["country", "device"]])
def test_values_equal_an_independent_computation(setup: Any, grain: str, dims: list[str]) -> None:
    _lake, metrics, batches = setup
    values = metrics.values.get(PER_VIEWER, actor="victor", grain=grain, dimensions=dims, start=FROM, end=TO,
                                use_cache=False)
    assert values.columns == ("period", *dims, "value") and values.revision == 1 and values.certified
    expected = expected_per_viewer(batches, grain, dims)
    assert len(expected) >= (3 if grain == "month" else 7)
    _close(values.rows, expected)


def test_count_distinct_over_a_date_column(setup: Any) -> None:
    _lake, metrics, batches = setup
    values = metrics.values.get(VIEWERS, actor="victor", grain="month", dimensions=["device"], use_cache=False)
    want: dict[tuple[str, str], set[str]] = defaultdict(set)
    for table in batches:
        for r in table.to_pylist():
            want[(r["event_date"].replace(day=1).isoformat(), r["device"])].add(r["subscriber_id"])
    assert [list(r) for r in values.rows] == [[*k, len(want[k])] for k in sorted(want)]


def test_cached_per_revision_request_and_data_version(setup: Any) -> None:
    lake, metrics, batches = setup
    first = metrics.values.get(PER_VIEWER, actor="victor", grain="week", dimensions=["country"], start=FROM, end=TO)
    again = metrics.values.get(PER_VIEWER, actor="victor", grain="week", dimensions=["country"], start=FROM, end=TO)
    assert again.cached and again.rows == first.rows and again.data_version == first.data_version
    other = metrics.values.get(PER_VIEWER, actor="victor", grain="week", dimensions=["device"], start=FROM, end=TO)
    assert not other.cached  # other parameters, other key
    # New data: a new data version, so the cache is not used and the values follow the data.
    extra = events_table(300, first_id=10_000, seed=99)
    lake.ingest_table("playback.events", extra, actor="admin")
    batches.append(extra)
    fresh = metrics.values.get(PER_VIEWER, actor="victor", grain="week", dimensions=["country"], start=FROM, end=TO)
    assert not fresh.cached and fresh.data_version == first.data_version + 1
    _close(fresh.rows, expected_per_viewer(batches, "week", ["country"]))
    assert metrics.values.clear_cache(PER_VIEWER) >= 2


def test_only_certified_metrics_are_served(setup: Any) -> None:
    _lake, metrics, batches = setup
    name = "playback.draft_metric"
    metrics.workflow.create(metric_doc(name, expression="MAX(watch_seconds)"), actor="mia")
    with pytest.raises(Conflict, match="only certified metrics are served"):
        metrics.values.get(name, actor="victor", grain="month")
    with pytest.raises(AccessDenied):
        metrics.values.get(name, actor="victor", grain="month", uncertified=True)
    preview = metrics.values.get(name, actor="mia", grain="month", uncertified=True)
    assert not preview.certified
    want: dict[str, int] = defaultdict(int)
    for table in batches:
        for r in table.to_pylist():
            month = r["event_ts"].date().replace(day=1).isoformat()
            want[month] = max(want[month], r["watch_seconds"])
    assert [list(r) for r in preview.rows] == [[k, want[k]] for k in sorted(want)]
    # A new revision of a certified metric leaves the certified one served.
    metrics.workflow.revise(PER_VIEWER, {"filters": []}, actor="mia")
    served = metrics.values.get(PER_VIEWER, actor="victor", grain="month", start=FROM, end=TO)
    assert served.revision == 1 and "watch_seconds` >= 60" in served.sql


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"grain": "year"}, "unknown grain"),
    ({"grain": "day", "dimensions": ["email"]}, "may be grouped by"),
    ({"grain": "day", "start": "2026-11-01", "end": "2026-10-01"}, "after"),
    ({"grain": "day", "start": "yesterday"}, "must be a date"),
])
def test_bad_requests(setup: Any, kwargs: dict[str, Any], message: str) -> None:
    _lake, metrics, _batches = setup
    with pytest.raises(InvalidInput, match=message):
        metrics.values.get(PER_VIEWER, actor="victor", **kwargs)


def test_row_filters_of_the_caller_apply(setup: Any) -> None:
    _lake, metrics, batches = setup
    everyone = metrics.values.get(PER_VIEWER, actor="victor", grain="month", dimensions=["country"], start=FROM,
                                  end=TO)
    assert everyone.engine == "gateway" and {r[1] for r in everyone.rows} == {"US", "DE", "FR"}
    uma = metrics.values.get(PER_VIEWER, actor="uma", grain="month", dimensions=["country"], start=FROM, end=TO)
    assert not uma.cached  # another caller: another cache entry
    _close(uma.rows, expected_per_viewer(batches, "month", ["country"], countries=["US"]))
    # A policy change is a new cache scope: victor's next answer follows his new row filter.
    metrics.access.set_row_filter("victor", Resource.table("playback.events"), "country = 'DE'")
    try:
        filtered = metrics.values.get(PER_VIEWER, actor="victor", grain="month", dimensions=["country"],
                                      start=FROM, end=TO)
        assert not filtered.cached and {r[1] for r in filtered.rows} == {"DE"}
    finally:
        metrics.access.remove_row_filter("victor", Resource.table("playback.events"))
    with pytest.raises(AccessDenied):
        metrics.values.get(PER_VIEWER, actor="nora", grain="month")
