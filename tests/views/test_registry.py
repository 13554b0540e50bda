"""Versions in the catalog: create, unchanged, breaking changes, pins, cycles,
deprecation and sunset, impact; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lake.errors import AccessDenied, Conflict
from lake.service import Lake
from views import catalog
from views.catalog import VersionStatus
from views.columns import SourceKind
from views.definition import ViewDefinition
from views.errors import (
    BreakingViewChange,
    InvalidViewDefinition,
    ViewCycle,
    ViewNotFound,
    ViewSunset,
)
from views.graph import Relation
from views.inspect import diff, impact_of, lineage
from views.registry import PlanAction, apply, create_version, deprecate, plan
from views.sources import Snapshot

from view_cases import register_demo

DAILY = ("SELECT e.event_date, e.country, COUNT(DISTINCT e.subscriber_id) AS viewers "
         "FROM playback.events e GROUP BY e.event_date, e.country")


def defn(name: str, sql: str, **meta: Any) -> ViewDefinition:
    return ViewDefinition.from_mapping({"view": name, "sql": sql, **meta})


@pytest.fixture
def any_demo_lake(any_lake: Lake) -> Iterator[Lake]:
    register_demo(any_lake)
    return any_lake


def test_versions_on_sqlite_and_postgres(any_demo_lake: Lake) -> None:
    lake = any_demo_lake
    first = create_version(lake, defn("analytics.daily", DAILY, owner="analysts", description="DAU"),
                           actor="alice", message="first", spark_check=False)
    assert (first.action, first.record.version) == (PlanAction.CREATE, 1)
    info = catalog.get_view(lake, "analytics.daily")
    assert (info.version, info.current_version, info.status, info.owner, info.author, info.message) == (
        1, 1, VersionStatus.CURRENT, "analysts", "alice", "first")
    assert info.table_uri is None  # not materialized yet
    assert [c.name for c in info.columns] == ["event_date", "country", "viewers"]
    assert info.columns[2].type is not None and str(info.columns[2].type) == "int64"

    same = create_version(lake, defn("analytics.daily", DAILY.replace(" FROM", "\n  FROM"),
                                     owner="analysts", description="DAU"), actor="alice", spark_check=False)
    assert same.action is PlanAction.UNCHANGED
    added = DAILY.replace("AS viewers", "AS viewers, COUNT(*) AS sessions")
    second = create_version(lake, defn("analytics.daily", added, owner="analysts", description="DAU"),
                            actor="alice", spark_check=False)
    assert (second.action, second.record.version, second.breaking) == (PlanAction.UPDATE, 2, False)
    assert [c.as_dict()["kind"] for c in second.diff.changes] == ["added"]  # type: ignore[union-attr]

    versions = catalog.list_versions(lake, "analytics.daily")
    assert [(v.version, v.status) for v in versions] == [(1, VersionStatus.SUPERSEDED), (2, VersionStatus.CURRENT)]
    assert catalog.get_view(lake, "analytics.daily@v1").columns[-1].name == "viewers"
    assert [v.name for v in catalog.list_views(lake)] == ["analytics.daily"]
    with pytest.raises(ViewNotFound, match="no version 7"):
        catalog.get_view(lake, "analytics.daily", 7)


def test_breaking_change_needs_major(make_view: Callable[..., Any], demo_lake: Lake) -> None:
    make_view("analytics.daily", DAILY)
    dropped = DAILY.replace(", COUNT(DISTINCT e.subscriber_id) AS viewers", ", COUNT(*) AS sessions")
    with pytest.raises(BreakingViewChange) as caught:
        make_view("analytics.daily", dropped)
    assert "column 'viewers' removed" in caught.value.message
    assert catalog.get_view(demo_lake, "analytics.daily").version == 1
    item = make_view("analytics.daily", dropped, major=True)
    assert item.record.major and item.record.version == 2


@pytest.mark.parametrize(("change", "kind"), [
    ("COUNT(DISTINCT e.subscriber_id) AS viewers", None),
    ("CAST(COUNT(DISTINCT e.subscriber_id) AS INT) AS viewers", "retyped"),
    ("COUNT(DISTINCT e.subscriber_id) AS active_viewers", "removed"),
])
def test_retype_and_rename_are_breaking(make_view: Callable[..., Any], change: str, kind: str | None) -> None:
    make_view("analytics.daily", DAILY)
    sql = DAILY.replace("COUNT(DISTINCT e.subscriber_id) AS viewers", change)
    if kind is None:
        assert make_view("analytics.daily", sql).action is PlanAction.UNCHANGED
        return
    with pytest.raises(BreakingViewChange) as caught:
        make_view("analytics.daily", sql)
    assert kind in [c.kind for c in caught.value.changes if c.breaking] or (
        kind == "removed" and "renamed" in [c.kind for c in caught.value.changes])


def test_grain_change_is_breaking(make_view: Callable[..., Any]) -> None:
    make_view("analytics.daily", DAILY)
    coarser = ("SELECT MIN(e.event_date) AS event_date, e.country, COUNT(DISTINCT e.subscriber_id) AS viewers "
               "FROM playback.events e GROUP BY e.country")
    with pytest.raises(BreakingViewChange, match="grain changed from one row per \\(country, event_date\\) to "
                                                 "one row per \\(country\\)"):
        make_view("analytics.daily", coarser)


def test_filter_change_is_summarized_not_breaking(make_view: Callable[..., Any], demo_lake: Lake) -> None:
    make_view("analytics.daily", DAILY)
    item = make_view("analytics.daily", DAILY.replace("GROUP BY", "WHERE e.completed GROUP BY"))
    assert not item.breaking
    d = diff(demo_lake, "analytics.daily", 1, 2)
    assert any(s.startswith("filter (WHERE) added:") for s in d.sql_summary)
    assert "+" in d.sql_diff and "-" in d.sql_diff


def test_an_added_column_is_summarized_by_name(make_view: Callable[..., Any], demo_lake: Lake) -> None:
    make_view("analytics.daily", DAILY)
    make_view("analytics.daily", DAILY.replace(" FROM ", ", MAX(e.watch_seconds) AS longest FROM ", 1))
    d = diff(demo_lake, "analytics.daily", 1, 2)
    assert [s for s in d.sql_summary if "longest" in s] == ["column 'longest' added: MAX(`e`.`watch_seconds`)"]
    assert not any("same clauses and columns" in s for s in d.sql_summary)


def test_downstream_follows_compatible_versions_and_stays_before_major(
        make_view: Callable[..., Any], demo_lake: Lake) -> None:
    make_view("analytics.daily", DAILY)
    make_view("analytics.by_country", "SELECT d.country, SUM(d.viewers) AS viewers FROM analytics.daily d "
                                      "GROUP BY d.country")
    make_view("analytics.pinned", "SELECT d.country FROM analytics.`daily@v1` AS d")
    snap = Snapshot.load(demo_lake)
    reader = snap.record("analytics.by_country")
    assert [str(d) for d in reader.dependencies] == ["analytics.daily@v1+"]
    assert [(i.view, i.relation) for i in impact_of(demo_lake, "analytics.daily", breaking=False)] == [
        ("analytics.by_country", Relation.FOLLOWS), ("analytics.pinned", Relation.PINNED)]

    make_view("analytics.daily", DAILY.replace("AS viewers", "AS viewers, COUNT(*) AS sessions"))  # v2 compatible
    dropped = ("SELECT e.event_date, e.country, COUNT(*) AS sessions FROM playback.events e "
               "GROUP BY e.event_date, e.country")
    item = make_view("analytics.daily", dropped, major=True)  # v3 breaking
    assert {(i.view, i.relation) for i in item.impact} == {("analytics.by_country", Relation.STAYS),
                                                           ("analytics.pinned", Relation.PINNED)}
    snap = Snapshot.load(demo_lake)
    dep = snap.record("analytics.by_country").dependencies[0]
    assert snap.effective(dep).version == 2  # follows v2, stops before the major v3
    pinned = snap.record("analytics.pinned").dependencies[0]
    assert (pinned.pinned, snap.effective(pinned).version) == (True, 1)


def test_new_reader_of_removed_column_is_refused(make_view: Callable[..., Any]) -> None:
    make_view("analytics.daily", DAILY)
    from views.errors import ViewCompileError

    with pytest.raises(ViewCompileError, match=r"analytics\.daily has no column 'sessions'"):
        make_view("analytics.by_country", "SELECT d.country, d.sessions FROM analytics.daily d")


def test_cycles_are_refused_with_position(demo_lake: Lake) -> None:
    apply(demo_lake, [defn("analytics.a", "SELECT e.country FROM playback.events e")], actor="alice",
          spark_check=False)
    apply(demo_lake, [defn("analytics.b", "SELECT a.country FROM analytics.a a")], actor="alice", spark_check=False)
    with pytest.raises(ViewCycle) as caught:
        apply(demo_lake, [defn("analytics.a", "SELECT e.country FROM playback.events e\n"
                                              "JOIN analytics.b b ON b.country = e.country")],
              actor="alice", spark_check=False)
    err = caught.value
    assert err.path == ("analytics.a", "analytics.b", "analytics.a")
    assert (err.line, err.column) == (2, 6)
    assert catalog.get_view(demo_lake, "analytics.a").version == 1


def test_cycle_inside_one_plan(demo_lake: Lake) -> None:
    with pytest.raises(ViewCycle, match=r"analytics\.x -> analytics\.y -> analytics\.x"):
        plan(demo_lake, [defn("analytics.x", "SELECT y.country FROM analytics.y y"),
                         defn("analytics.y", "SELECT x.country FROM analytics.x x")], spark_check=False)


def test_a_cycle_is_refused_before_an_earlier_bad_definition(demo_lake: Lake) -> None:
    """Planning analyzes each view as the dependency order reaches it, yet a cycle anywhere is
    refused first, as when the whole order is known before any analysis."""
    with pytest.raises(ViewCycle, match=r"analytics\.x -> analytics\.y -> analytics\.x"):
        plan(demo_lake, [defn("analytics.a_bad", "SELECT nope FROM playback.events"),
                         defn("analytics.x", "SELECT y.country FROM analytics.y y"),
                         defn("analytics.y", "SELECT x.country FROM analytics.x x")], spark_check=False)


def test_dependency_order_asks_for_a_node_when_it_is_reached() -> None:
    from views.graph import iter_topological, topological_order

    edges = {"c": ["b"], "b": ["a"], "a": [], "d": ["a", "c", "elsewhere"]}
    asked: list[str] = []

    def depends_on(node: str) -> list[str]:
        asked.append(node)
        return edges[node]

    order = iter_topological(edges.keys(), depends_on)
    assert next(order) == "a" and asked == ["a"]
    assert [*order] == ["b", "c", "d"] == topological_order(edges)[1:]
    assert sorted(asked) == ["a", "b", "c", "d"]


def test_plan_orders_by_dependency_and_applies_all_or_nothing(demo_lake: Lake) -> None:
    top = defn("analytics.top", "SELECT d.country, d.viewers FROM analytics.daily d")
    base = defn("analytics.daily", DAILY)
    planned = plan(demo_lake, [top, base], spark_check=False)
    assert [i.name for i in planned.items] == ["analytics.daily", "analytics.top"]
    bad = defn("analytics.bad", "SELECT nope FROM playback.events")
    from views.errors import ViewCompileError

    with pytest.raises(ViewCompileError):
        apply(demo_lake, [top, base, bad], actor="alice", spark_check=False)
    assert catalog.list_views(demo_lake) == []
    applied = apply(demo_lake, [top, base], actor="alice", spark_check=False)
    assert [i.action for i in applied.items] == [PlanAction.CREATE, PlanAction.CREATE]
    assert [d.to_dict() for d in catalog.get_view(demo_lake, "analytics.top").dependencies] == [
        {"kind": "view", "name": "analytics.daily", "version": 1, "pinned": False}]


def test_view_cannot_take_a_dataset_name(demo_lake: Lake) -> None:
    with pytest.raises(InvalidViewDefinition, match="is a dataset"):
        plan(demo_lake, [defn("ads.conversions", "SELECT 1 AS one")], spark_check=False)


def test_deprecation_and_sunset(make_view: Callable[..., Any], demo_lake: Lake) -> None:
    make_view("analytics.daily", DAILY)
    make_view("analytics.daily", DAILY.replace("AS viewers", "AS viewers, COUNT(*) AS sessions"))
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    deprecate(demo_lake, "analytics.daily", 1, actor="alice", sunset_on=tomorrow, note="use v2")
    info = catalog.get_view(demo_lake, "analytics.daily", 1)
    assert (info.status, info.sunset_on, info.deprecation_note) == (VersionStatus.DEPRECATED, tomorrow, "use v2")
    deprecate(demo_lake, "analytics.daily", 1, actor="alice", sunset_on=dt.date.today())
    with pytest.raises(ViewSunset) as caught:
        catalog.get_view(demo_lake, "analytics.daily", 1)
    assert caught.value.http_status == 410
    assert "read the current version v2" in caught.value.message
    assert catalog.get_view(demo_lake, "analytics.daily", 1, allow_retired=True).version == 1
    assert catalog.get_view(demo_lake, "analytics.daily").version == 2


def test_stale_plan_is_a_conflict(demo_lake: Lake) -> None:
    from views import registry

    apply(demo_lake, [defn("analytics.daily", DAILY)], actor="alice", spark_check=False)
    change = defn("analytics.daily", DAILY.replace("AS viewers", "AS viewers, COUNT(*) AS s"))
    stale = registry.plan(demo_lake, [change], spark_check=False)
    apply(demo_lake, [defn("analytics.daily", DAILY.replace("AS viewers", "AS viewers, COUNT(*) AS t"))],
          actor="bob", spark_check=False)
    real_plan = registry.plan
    registry.plan = lambda *a, **k: stale  # type: ignore[assignment]
    try:
        with pytest.raises(Conflict, match="changed while this change was planned"):
            apply(demo_lake, [change], actor="alice", spark_check=False)
    finally:
        registry.plan = real_plan  # type: ignore[assignment]
    assert catalog.get_view(demo_lake, "analytics.daily").columns[-1].name == "t"


def test_lineage_graph(make_view: Callable[..., Any], demo_lake: Lake) -> None:
    make_view("analytics.daily", DAILY)
    make_view("analytics.by_country", "SELECT d.country, SUM(d.viewers) AS viewers FROM analytics.daily d "
                                      "GROUP BY d.country")
    graph = lineage(demo_lake, "analytics.daily")
    ids = {n["id"] for n in graph["nodes"]}
    assert ids == {"view:analytics.daily@v1", "dataset:playback.events@v1", "view:analytics.by_country@v1"}
    assert {"from": "dataset:playback.events@v1", "to": "view:analytics.daily@v1"} in graph["edges"]
    assert {"from": "view:analytics.daily@v1", "to": "view:analytics.by_country@v1"} in graph["edges"]
    assert {"from": {"node": "dataset:playback.events@v1", "column": "subscriber_id"},
            "to": {"node": "view:analytics.daily@v1", "column": "viewers"},
            "transformation": "aggregation"} in graph["columns"]


def test_pii_follows_through_views(make_view: Callable[..., Any], demo_lake: Lake) -> None:
    make_view("analytics.contacts", "SELECT s.subscriber_id, s.email FROM subscriptions.subscribers s")
    make_view("analytics.contacts_us", "SELECT c.email AS contact FROM analytics.contacts c "
                                       "JOIN subscriptions.subscribers s ON s.subscriber_id = c.subscriber_id "
                                       "WHERE s.country = 'US'")
    col = catalog.get_view(demo_lake, "analytics.contacts_us").column("contact")
    assert col.pii and col.sql_type == "binary"
    assert col.encrypted_with is not None and (col.encrypted_with.dataset, col.encrypted_with.column) == (
        "subscriptions.subscribers", "email")
    assert [str(s) for s in col.sources] == ["analytics.contacts.email"]
    assert [(o.kind, str(o)) for o in col.origins] == [(SourceKind.DATASET, "subscriptions.subscribers.email")]


def test_only_owner_or_admin_changes_a_view_through_the_api_rules(demo_lake: Lake) -> None:
    from access import AccessControl
    from access.registration import apply_views, may_write_views

    for name, roles in (("ann", ["analysts"]), ("bob", ["producer"]), ("victor", [])):
        demo_lake.users.ensure(name, roles=roles)
    access = AccessControl(demo_lake)
    apply_views(access, [defn("analytics.daily", DAILY, owner="analysts")], by="bob", spark_check=False)
    may_write_views(access, ["analytics.daily"], by="ann")  # the owner's grant came with the version
    with pytest.raises(AccessDenied):
        may_write_views(access, ["analytics.daily"], by="bob")
    may_write_views(access, ["analytics.new_one"], by="bob")  # producers propose
    with pytest.raises(AccessDenied):
        may_write_views(access, ["analytics.new_one"], by="victor")
    with pytest.raises(AccessDenied):
        apply_views(access, [defn("analytics.other", DAILY)], by="victor", spark_check=False)
    assert [v.name for v in catalog.list_views(demo_lake)] == ["analytics.daily"]


def _view_documents(lake: Lake) -> list[tuple[str, str, str]]:
    from sqlalchemy import text

    with lake.catalog.session() as s:
        return [tuple(r) for r in s.execute(text(  # type: ignore[misc]
            "SELECT key, owner, tags FROM search_documents WHERE kind = 'view' ORDER BY key"))]


def test_a_new_version_is_searchable_with_its_commit_and_not_without_it(demo_lake: Lake) -> None:
    def failing(session: Any, items: Any) -> None:
        raise RuntimeError("the owner's grant could not be written")

    with pytest.raises(RuntimeError):
        apply(demo_lake, [defn("analytics.daily", DAILY, owner="analysts")], actor="alice", spark_check=False,
              within=failing)
    assert catalog.list_views(demo_lake) == [] and _view_documents(demo_lake) == []
    apply(demo_lake, [defn("analytics.daily", DAILY, owner="analysts", tags=["kpi"])], actor="alice",
          spark_check=False)
    assert _view_documents(demo_lake) == [("analytics.daily", "analysts", "kpi")]
