"""Spark compiles and materializes views: schemas agree with sqlglot, results
equal an independent computation, PII stays ciphertext, failed runs leave the
previous materialization, refreshes follow the DAG, OpenLineage events.

One classic ``local[2]`` session and one lake with the demo data serve the module.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from demo.generator import generate
from demo.load import land_demo, land_demo_views
from lake.crypto import decrypt_array
from lake.service import Lake
from lake.settings import Settings
from lake.spark import spark_session, stop_spark
from views import catalog
from views.analysis import analyze
from views.compile import spark_check
from views.definition import ViewDefinition
from views.errors import MaterializationFailed, NotMaterialized, ViewCompileError
from views.events import read_events
from views.materialize import materialize, read_view, refresh, runs
from views.registry import create_version
from views.sources import Snapshot

from view_cases import load_cases

pytestmark = [pytest.mark.spark, pytest.mark.slow]

SCALE, SEED = 0.02, 11


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    stop_spark()
    settings = Settings(home=tmp_path_factory.mktemp("views-spark"), spark_master="local[2]")
    lk = Lake(settings)
    land_demo(lk, scale=SCALE, seed=SEED)
    spark_session(settings)
    yield lk
    lk.close()
    stop_spark()


@pytest.fixture(scope="module")
def demo(lake: Lake) -> Any:
    """The demo views, applied and materialized once for the module."""
    applied, result = land_demo_views(lake)
    assert result.ok, result.to_dict()
    return applied, result


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return generate(scale=SCALE, seed=SEED)


def define(lake: Lake, name: str, sql: str, **kw: Any) -> Any:
    return create_version(lake, ViewDefinition.from_mapping({"view": name, "sql": sql}), actor="admin", **kw)


# ----------------------------------------------------------------------------- compile


@pytest.mark.parametrize("case", load_cases("analyze_ok.sql"), ids=repr)
def test_spark_schema_agrees_with_sqlglot(lake: Lake, case: Any) -> None:
    snapshot = Snapshot.load(lake)
    analysis = analyze(ViewDefinition("analytics.subject", case.sql), snapshot)
    assert all(c.sql_type is not None for c in analysis.columns), "sqlglot typed every fixture column"
    checked = spark_check(lake, spark_session(lake.settings), snapshot, analysis)
    assert [(c.name, c.sql_type) for c in checked.columns] == [(c.name, c.sql_type) for c in analysis.columns]


def test_spark_types_what_sqlglot_cannot(lake: Lake) -> None:
    snapshot = Snapshot.load(lake)
    sql = "SELECT e.country, ELT(1, e.device, e.country) AS picked FROM playback.events e"
    analysis = analyze(ViewDefinition("analytics.subject", sql), snapshot)
    assert analysis.column("picked").sql_type is None  # type: ignore[union-attr]
    checked = spark_check(lake, spark_session(lake.settings), snapshot, analysis)
    assert checked.column("picked").sql_type == "string"  # type: ignore[union-attr]


@pytest.mark.parametrize(("sql", "kind", "text"), [
    ("SELECT COLLECT_SET(e.country) AS countries FROM playback.events e", "type", "array<string>"),
    ("SELECT NULL AS nothing FROM playback.events e", "type", "void"),
    ("SELECT e.country FROM playback.events e GROUP BY e.device", "spark", "Spark cannot compile"),
])
def test_spark_refusals(lake: Lake, sql: str, kind: str, text: str) -> None:
    with pytest.raises(ViewCompileError) as caught:
        define(lake, "analytics.refused", sql)
    assert caught.value.kind == kind and text in caught.value.message
    with pytest.raises(Exception, match="does not exist"):
        catalog.get_view(lake, "analytics.refused")


# ----------------------------------------------------------------------------- results


def _q(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def test_demo_daily_active_viewers_equal_independent_computation(lake: Lake, demo: Any,
                                                                 tables: dict[str, pa.Table]) -> None:
    events = tables["playback.events"].to_pandas()
    expected = {}
    for (day, country), g in events.groupby(["event_date", "country"]):
        hours = _q(_q(Decimal(int(g.watch_seconds.sum())) / 3600, 6), 2)
        expected[(day, country)] = (g.subscriber_id.nunique(), len(g), hours)
    got = {(r["event_date"], r["country"]): (r["viewers"], r["sessions"], r["watch_hours"])
           for r in read_view(lake, "playback.daily_active_viewers").to_pylist()}
    assert got == expected


def test_demo_watch_time_equal_independent_computation(lake: Lake, demo: Any, tables: dict[str, pa.Table]) -> None:
    events = tables["playback.events"].to_pandas()
    titles = tables["catalog.titles"].to_pandas().set_index("title_id")
    expected = {}
    for title_id, g in events.groupby("title_id"):
        completion = _q(_q(Decimal(int(g.completed.sum())) / len(g), 5), 4)
        expected[title_id] = (titles.loc[title_id, "name"], len(g), g.subscriber_id.nunique(),
                              _q(_q(Decimal(int(g.watch_seconds.sum())) / 3600, 6), 2), completion)
    got = {r["title_id"]: (r["title"], r["plays"], r["viewers"], r["watch_hours"], r["completion_rate"])
           for r in read_view(lake, "catalog.watch_time_by_title").to_pylist()}
    assert got == expected


def test_demo_attributed_conversions_equal_independent_computation(lake: Lake, demo: Any,
                                                                   tables: dict[str, pa.Table]) -> None:
    imps = tables["ads.impressions"].to_pandas()
    conv = tables["ads.conversions"].to_pandas()
    per_imp = conv.groupby("impression_id").agg(n=("conversion_id", "size"), revenue=("revenue", "sum"))
    joined = imps.join(per_imp, on="impression_id")
    expected = {}
    for key, g in joined.groupby(["campaign_id", "country", "placement"]):
        n = int(g.n.fillna(0).sum())
        revenue = sum((v for v in g.revenue if isinstance(v, Decimal)), Decimal("0.00"))
        expected[key] = (len(g), n, revenue, float(_q(Decimal(repr(n / len(g))), 4)))
    got = {(r["campaign_id"], r["country"], r["placement"]):
           (r["impressions"], r["conversions"], r["revenue"], r["conversion_rate"])
           for r in read_view(lake, "ads.attributed_conversions").to_pylist()}
    assert got == expected
    assert sum(v[1] for v in got.values()) == tables["ads.conversions"].num_rows


def test_demo_view_over_virtual_view(lake: Lake, demo: Any, tables: dict[str, pa.Table]) -> None:
    subs = tables["subscriptions.subscribers"].to_pandas()
    active = subs[subs.status == "active"]
    seconds = tables["playback.events"].to_pandas().groupby("subscriber_id").watch_seconds.sum()
    expected = {}
    for (country, plan), g in active.groupby(["country", "plan"]):
        total = int(seconds.reindex(g.subscriber_id).fillna(0).sum())
        expected[(country, plan)] = (len(g), _q(_q(Decimal(total) / 3600, 6), 2))
    got = {(r["country"], r["plan"]): (r["subscribers"], r["watch_hours"])
           for r in read_view(lake, "subscriptions.engagement_by_plan").to_pylist()}
    assert got == expected
    info = catalog.get_view(lake, "subscriptions.active_subscribers")
    assert info.table_uri is None and info.pii_columns == ["email", "full_name"]


def test_demo_views_are_idempotent(lake: Lake, demo: Any) -> None:
    applied, result = land_demo_views(lake)
    assert [i.action.value for i in applied.items] == ["unchanged"] * 5
    assert result.ok and len(result.runs) == 4
    info = catalog.get_view(lake, "playback.daily_active_viewers")
    assert info.version == 1 and info.table_version == 1  # rebuilt: a second Delta version
    assert info.table_uri == f"{lake.store.root}/views/playback.daily_active_viewers/v1"


# ----------------------------------------------------------------------------- PII


def test_pii_is_materialized_as_the_datasets_ciphertext(lake: Lake, tables: dict[str, pa.Table]) -> None:
    define(lake, "analytics.contacts", "SELECT s.subscriber_id, s.email FROM subscriptions.subscribers s "
                                       "WHERE s.email IS NOT NULL")
    materialize(lake, "analytics.contacts", actor="admin")
    out = read_view(lake, "analytics.contacts").sort_by("subscriber_id")
    stored = lake.read("subscriptions.subscribers", columns=["subscriber_id", "email"]).sort_by("subscriber_id")
    assert out.schema.field("email").type == pa.binary()
    assert out.column("email").to_pylist() == stored.column("email").to_pylist()
    info = lake.dataset("subscriptions.subscribers")
    clear = decrypt_array(out.column("email"), lake.datasets.data_key(info), pa.string()).to_pylist()
    assert clear == tables["subscriptions.subscribers"].sort_by("subscriber_id").column("email").to_pylist()
    col = catalog.get_view(lake, "analytics.contacts").column("email")
    assert col.pii and col.encrypted_with is not None and col.encrypted_with.logical_type == "string"


# ----------------------------------------------------------------------------- runs


def test_failed_run_leaves_previous_materialization(lake: Lake) -> None:
    lake.register({"dataset": "test.nums", "owner": "admin", "columns": [
        {"name": "k", "type": "int64", "nullable": False}, {"name": "d", "type": "int64"}]}, actor="admin")
    lake.ingest_table("test.nums", pa.table({"k": [1, 2], "d": [1, 5]}), actor="admin")
    define(lake, "analytics.ratios", "SELECT n.k, 10 DIV n.d AS q FROM test.nums n")
    first = materialize(lake, "analytics.ratios", actor="admin")
    assert (first.rows, first.status.value) == (2, "succeeded")
    assert first.sources["test.nums"]["table_version"] == 1
    lake.ingest_table("test.nums", pa.table({"k": [3], "d": [0]}), actor="admin")
    with pytest.raises(MaterializationFailed, match="DIVIDE_BY_ZERO") as caught:
        materialize(lake, "analytics.ratios", actor="admin")
    history = runs(lake, "analytics.ratios")
    assert [r.status.value for r in history] == ["failed", "succeeded"]
    assert history[0].run_id == caught.value.run_id and "DIVIDE_BY_ZERO" in (history[0].error or "")
    assert history[0].sources["test.nums"]["table_version"] == 2
    assert sorted(read_view(lake, "analytics.ratios").to_pylist(), key=lambda r: r["k"]) == [
        {"k": 1, "q": 10}, {"k": 2, "q": 2}]
    info = catalog.get_view(lake, "analytics.ratios")
    assert info.table_version == first.table_version


def test_refresh_in_dependency_order_and_unmaterialized_inputs(lake: Lake) -> None:
    define(lake, "analytics.base", "SELECT e.country, COUNT(*) AS plays FROM playback.events e GROUP BY e.country")
    define(lake, "analytics.top", "SELECT b.country, b.plays FROM analytics.base b WHERE b.plays > 1")
    with pytest.raises(NotMaterialized, match="refresh it first"):
        materialize(lake, "analytics.top", actor="admin")
    assert runs(lake, "analytics.top")[0].status.value == "failed"
    result = refresh(lake, ["analytics.top"], actor="admin", upstream=True)
    assert [r.view for r in result.runs] == ["analytics.base", "analytics.top"]
    top = result.runs[1]
    assert top.sources["analytics.base"]["table_version"] == result.runs[0].table_version
    assert read_view(lake, "analytics.top").num_rows == read_view(lake, "analytics.base").num_rows


def test_refresh_skips_readers_of_a_failed_view(lake: Lake) -> None:
    lake.register({"dataset": "test.zeros", "owner": "admin", "columns": [{"name": "d", "type": "int64"}]},
                  actor="admin")
    lake.ingest_table("test.zeros", pa.table({"d": [0]}), actor="admin")
    define(lake, "analytics.broken", "SELECT 1 DIV z.d AS q FROM test.zeros z")
    define(lake, "analytics.after_broken", "SELECT b.q FROM analytics.broken b")
    result = refresh(lake, ["analytics.after_broken"], actor="admin", upstream=True)
    assert [v for v, _ in result.failed] == ["analytics.broken@v1"]
    assert result.skipped == (("analytics.after_broken@v1", "reads analytics.broken@v1, which failed"),)


# ----------------------------------------------------------------------------- OpenLineage


def test_openlineage_file_events(lake: Lake, demo: Any) -> None:
    events = read_events(Path(lake.settings.home) / "openlineage" / "events.jsonl")
    job = "view.playback.daily_active_viewers.v1"
    mine = [e for e in events if e["job"]["name"] == job]
    assert [e["eventType"] for e in mine[:2]] == ["START", "COMPLETE"]
    assert mine[0]["run"]["runId"] == mine[1]["run"]["runId"]
    complete = mine[1]
    assert complete["inputs"][0]["name"].endswith("/playback/events/v1")
    out = complete["outputs"][0]
    assert out["namespace"] == "file" and out["name"].endswith("/views/playback.daily_active_viewers/v1")
    fields = out["facets"]["columnLineage"]["fields"]
    assert fields["viewers"]["inputFields"][0]["field"] == "subscriber_id"
    assert fields["country"]["transformationType"] == "IDENTITY"
    assert out["outputFacets"]["outputStatistics"]["rowCount"] > 0
    assert "GROUP BY" in complete["job"]["facets"]["sql"]["query"]
    failed = [e for e in events if e["eventType"] == "FAIL"]
    assert failed and "errorMessage" in failed[-1]["run"]["facets"]


def test_openlineage_http_endpoint(lake: Lake, demo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "event": json.loads(body)})
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setattr(lake.settings, "openlineage_url", f"http://127.0.0.1:{server.server_address[1]}")
        run = materialize(lake, "ads.attributed_conversions", actor="admin")
    finally:
        server.shutdown()
        server.server_close()
    assert [r["path"] for r in received] == ["/api/v1/lineage", "/api/v1/lineage"]
    assert [r["event"]["eventType"] for r in received] == ["START", "COMPLETE"]
    assert {r["event"]["run"]["runId"] for r in received} == {run.run_id}


def test_run_record_fields(lake: Lake, demo: Any) -> None:
    run = runs(lake, "playback.daily_active_viewers", limit=1)[0]
    data = dataclasses.asdict(run)
    assert data["status"].value == "succeeded" and data["rows"] > 0 and data["duration_ms"] >= 0
    assert set(data["sources"]) == {"playback.events"}


def test_views_are_written_by_spark_and_only_metadata_returns(lake: Lake, demo: Any) -> None:
    """The run's commit is delta-spark's, tagged with the run; the run's row count is the table's."""
    from deltalake import DeltaTable

    run = runs(lake, "playback.daily_active_viewers", limit=1)[0]
    assert run.table_uri is not None and run.table_version is not None
    commit = Path(run.table_uri) / "_delta_log" / f"{run.table_version:020d}.json"
    info = next(json.loads(line)["commitInfo"] for line in commit.read_text().splitlines() if "commitInfo" in line)
    assert "Delta-Lake/" in info["engineInfo"] and "Apache-Spark/" in info["engineInfo"]
    assert info["operation"] in ("WRITE", "CREATE OR REPLACE TABLE AS SELECT")
    meta = json.loads(info["userMetadata"])
    assert meta["lakegate.view_run"] == run.run_id and meta["lakegate.actor"] == run.actor
    table = DeltaTable(run.table_uri, version=run.table_version).to_pyarrow_table()
    assert table.num_rows == run.rows == read_view(lake, "playback.daily_active_viewers").num_rows
