"""Running governed queries on Spark: decryption and masks, row caps, time limits,
audit entries, keys kept out of logs, concurrent queries, views as resources."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from access.audit import AuditKind
from access.gateway import QueryFailed, QueryTimeout
from access.gateway.masks_sql import hmac_pads
from access.masks import Mask, MaskKind
from access.resources import Action, Resource
from lake.errors import AccessDenied, Conflict, InvalidInput
from lake.spark import spark_session

from gateway_world import HEAVY_QUERY, World

pytestmark = [pytest.mark.spark, pytest.mark.slow]

PAYMENTS = {
    "dataset": "fin.payments",
    "owner": "finance",
    "columns": [
        {"name": "payment_id", "type": "int64", "nullable": False},
        {"name": "card", "type": "string", "pii": True},
        {"name": "amount", "type": "decimal(12,2)", "pii": True},
        {"name": "tries", "type": "int32", "pii": True},
        {"name": "paid_at", "type": "timestamp", "pii": True},
        {"name": "paid_on", "type": "date", "pii": True},
    ],
}
PAID_AT = dt.datetime(2024, 3, 4, 5, 6, 7, 891000, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def finance(world: World) -> World:
    """``fin.payments`` with PII of several types; ``finance`` decrypts it all, ``auditor`` hashes it."""
    lake = world.lake
    lake.register(PAYMENTS, actor="admin")
    lake.ingest_table("fin.payments", pa.table({
        "payment_id": pa.array([1, 2, 3], pa.int64()),
        "card": ["4111111111111111", "5500005555555559", None],
        "amount": pa.array([Decimal("12.34"), Decimal("0.01"), Decimal("99999.99")], pa.decimal128(12, 2)),
        "tries": pa.array([1, None, 3], pa.int32()),
        "paid_at": pa.array([PAID_AT, None, PAID_AT], pa.timestamp("us", tz="UTC")),
        "paid_on": pa.array([dt.date(2024, 3, 4), dt.date(1999, 12, 31), None], pa.date32()),
    }), actor="admin")
    for user in ("finance", "auditor"):
        lake.users.create(user)
    table = Resource.table("fin.payments")
    world.access.grant("finance", Action.READ, table)
    world.access.set_mask("finance", table, Mask(MaskKind.DECRYPT))
    world.access.grant("auditor", Action.READ, table)
    world.access.set_mask("auditor", Resource.column_of(table, "card"), Mask(MaskKind.HASH))
    world.access.set_mask("auditor", Resource.column_of(table, "amount"), Mask(MaskKind.PARTIAL, 3))
    world.access.set_mask("auditor", Resource.column_of(table, "tries"), Mask(MaskKind.NULL))
    return world


def test_decrypt_gives_the_clear_values_in_their_contract_types(finance: World) -> None:
    result = finance.gateway.query("finance", "SELECT * FROM fin.payments ORDER BY payment_id")
    clear = finance.lake.read("fin.payments", decrypt=True).sort_by("payment_id")
    assert result.table.column_names == clear.column_names
    for name in clear.column_names:
        assert result.table.column(name).to_pylist() == clear.column(name).to_pylist(), name


def test_masks_hash_partial_null_and_redact_on_pii(finance: World) -> None:
    result = finance.gateway.query("auditor", "SELECT * FROM fin.payments ORDER BY payment_id")
    rows = result.table.to_pylist()
    key = finance.access.hash_key(Resource.table("fin.payments"))
    assert rows[0]["card"] == hmac.new(key, b"4111111111111111", hashlib.sha256).hexdigest()
    assert rows[2]["card"] is None
    assert [r["amount"] for r in rows] == ["***.34", "***.01", "***.99"]
    assert [r["tries"] for r in rows] == [None, None, None]
    assert [r["paid_at"] for r in rows] == ["***", None, "***"]  # PII without a mask rule: redacted
    assert result.table.schema.field("tries").type == pa.int32()


def test_hash_of_a_non_pii_column_is_the_hmac_of_its_text(world: World) -> None:
    world.lake.users.create("hasher")
    table = Resource.table("ads.campaigns")
    world.access.grant("hasher", Action.READ, table)
    world.access.set_mask("hasher", Resource.column_of(table, "campaign_id"), Mask(MaskKind.HASH))
    result = world.gateway.query("hasher", "SELECT campaign_id, name FROM ads.campaigns ORDER BY name")
    key = world.access.hash_key(table)
    expected = {n: hmac.new(key, str(i).encode(), hashlib.sha256).hexdigest()
                for i, n in ((1, "spring"), (2, "summer"), (3, "autumn"))}
    assert {r["name"]: r["campaign_id"] for r in result.table.to_pylist()} == expected


def test_row_cap_truncates_and_says_so(world: World) -> None:
    capped = world.gateway.query("analyst", "SELECT conversion_id FROM ads.conversions ORDER BY 1", max_rows=2)
    assert capped.truncated and capped.row_cap == 2
    assert capped.table.column("conversion_id").to_pylist() == [1, 2]
    exact = world.gateway.query("analyst", "SELECT conversion_id FROM ads.conversions", max_rows=3)
    assert not exact.truncated and exact.row_count == 3
    with pytest.raises(InvalidInput, match="maximum"):
        world.gateway.query("analyst", "SELECT 1", max_rows=world.gateway.limits.max_rows + 1)


def test_time_limit_cancels_the_query_and_the_engine_stays_usable(world: World) -> None:
    world.gateway.query("analyst", "SELECT 1")  # Spark is up: the clock below times the query alone
    tracker = spark_session(world.lake.settings).sparkContext.statusTracker()
    earlier = set(tracker.getActiveJobsIds())  # only this query's jobs are this test's business
    started = time.perf_counter()
    with pytest.raises(QueryTimeout) as caught:
        world.gateway.query("analyst", HEAVY_QUERY, timeout_seconds=2)
    assert time.perf_counter() - started < 60  # the query alone would run for hours
    _jobs_end(tracker, earlier)
    time.sleep(1.0)  # the query may still be planning: no job of it may start later either
    assert set(tracker.getActiveJobsIds()) - earlier == set()
    assert _tasks_stop(world)  # and no task of it keeps a core busy
    assert caught.value.details() == {"timeout_seconds": 2}
    entry = world.access.audit.query(kind=AuditKind.QUERY, actor="analyst", limit=1)[0]
    assert entry.detail["outcome"] == "query_timeout"
    after = world.gateway.query("analyst", "SELECT count(*) AS n FROM ads.conversions")
    assert after.table.to_pylist() == [{"n": 3}]


def test_a_successful_query_is_audited_once_per_table(world: World) -> None:
    before = world.access.audit.head()[0]
    sql = ("SELECT c.conversion_id, k.name FROM ads.conversions c "
           "JOIN ads.campaigns k ON c.conversion_id = k.campaign_id")
    result = world.gateway.query("analyst", sql)
    entries = world.access.audit.query(kind=AuditKind.QUERY, after_seq=before, limit=10, newest_first=False)
    assert [e.resource for e in entries] == ["dataset:ads.conversions", "dataset:ads.campaigns"]
    for entry in entries:
        assert entry.decision == "allow" and entry.actor == "analyst"
        assert entry.detail["query_id"] == result.query_id
        assert entry.detail["rows"] == result.row_count == 3
        assert entry.detail["sql"] == sql
    assert entries[0].detail["masks"] == {"email": "hash"} and entries[0].detail["row_filter"] is True
    assert entries[1].detail["masks"] == {"budget": "null", "owner_email": "redact"}


def test_keys_never_reach_logs_errors_or_the_audit_log(finance: World, caplog: pytest.LogCaptureFixture,
                                                       capfd: pytest.CaptureFixture[str]) -> None:
    lake = finance.lake
    table = Resource.table("fin.payments")
    secrets = [lake.datasets.data_key(lake.dataset("fin.payments")), finance.access.hash_key(table),
               *hmac_pads(finance.access.hash_key(table))]
    before = finance.access.audit.head()[0]
    messages = []
    with caplog.at_level(logging.DEBUG):
        finance.gateway.query("auditor", "SELECT * FROM fin.payments")
        finance.gateway.query("finance", "SELECT card, amount FROM fin.payments")
        for sql in ("SELECT CAST(card AS INT) FROM fin.payments", "SELECT 1 / (tries - tries) FROM fin.payments"):
            with pytest.raises(QueryFailed) as caught:
                finance.gateway.query("finance", sql)
            messages.append(caught.value.message)
    captured = capfd.readouterr()
    entries = finance.access.audit.query(after_seq=before, limit=50)
    haystack = "\n".join([caplog.text, captured.out, captured.err, *messages,
                          *(json.dumps(e.detail) for e in entries)])
    assert entries
    for secret in secrets:
        for form in (secret.hex(), secret.hex().upper(), base64.b64encode(secret).decode()):
            assert form not in haystack


def test_concurrent_queries_use_their_own_sources(world: World) -> None:
    queries = [("analyst", "SELECT count(*) AS n FROM ads.conversions"),
               ("analyst", "SELECT count(*) AS n FROM ads.campaigns")] * 2
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda q: world.gateway.query(*q).table.to_pylist(), queries))
    assert results == [[{"n": 3}], [{"n": 3}]] * 2 or results == [[{"n": 3}]] * 4


def test_time_travel_by_timestamp_keeps_the_policy(world: World) -> None:
    history = world.lake.history("ads.conversions")
    landed = max(h["timestamp"] for h in history)
    at = (dt.datetime.fromtimestamp(landed // 1000, tz=dt.UTC) + dt.timedelta(milliseconds=landed % 1000)).isoformat()
    result = world.gateway.query("analyst", f"SELECT count(*) AS n FROM ads.conversions TIMESTAMP AS OF '{at}'")
    assert result.table.to_pylist() == [{"n": 3}]
    with pytest.raises(QueryFailed, match=r"ads\.conversions") as caught:
        world.gateway.query("analyst", "SELECT * FROM ads.conversions TIMESTAMP AS OF '1999-01-01'")
    assert str(world.lake.settings.home) not in caught.value.message


@pytest.fixture(scope="module")
def views(world: World) -> World:
    """``ads.by_country`` (materialized, passes the conversions' email ciphertext through) and
    ``ads.virtual_ids`` (virtual), made and materialized by the views package."""
    from views.definition import Materialization, ViewDefinition
    from views.materialize import materialize
    from views.registry import create_version

    sql = "SELECT conversion_id, country, email FROM ads.conversions"
    create_version(world.lake, ViewDefinition(name="ads.by_country", sql=sql, owner="ads-team"), actor="admin")
    materialize(world.lake, "ads.by_country", actor="admin")
    create_version(world.lake, ViewDefinition(name="ads.virtual_ids", sql="SELECT conversion_id FROM ads.conversions",
                                              materialization=Materialization.VIRTUAL), actor="admin")
    world.lake.users.create("viewer")
    view = Resource.view("ads.by_country")
    world.access.grant("viewer", Action.READ, view)
    world.access.set_mask("viewer", Resource.column_of(view, "email"), Mask(MaskKind.DECRYPT))
    world.access.set_row_filter("viewer", view, "country = 'US'")
    world.access.grant("viewer", Action.READ, Resource.view("ads.virtual_ids"))
    return world


def test_views_are_resources_of_their_own(views: World) -> None:
    gateway = views.gateway
    result = gateway.query("viewer", "SELECT conversion_id, email FROM ads.by_country ORDER BY 1")
    assert result.table.to_pylist() == [{"conversion_id": 900001 + i, "email": f"leak{i + 1}@secret.example"}
                                        for i in range(3)]
    assert result.tables == ("ads.by_country",)
    entry = views.access.audit.query(kind=AuditKind.QUERY, actor="viewer", limit=1)[0]
    assert entry.resource == "view:ads.by_country" and entry.detail["masks"] == {"email": "clear"}
    # The view's PII column, without a mask: redacted, never its ciphertext.
    views.access.remove_mask("viewer", Resource.column_of(Resource.view("ads.by_country"), "email"))
    redacted = gateway.query("viewer", "SELECT email FROM ads.by_country")
    assert redacted.table.column("email").to_pylist() == ["***"] * 3
    # A grant on the dataset is not a grant on the view, and an unknown view gets the same answer.
    messages = []
    for name in ("ads.by_country", "ads.no_such_view"):
        with pytest.raises(AccessDenied) as caught:
            gateway.query("analyst", f"SELECT * FROM {name}")
        messages.append(caught.value.message.replace(name, "X"))
    assert messages[0] == messages[1]


def test_a_pinned_view_version_and_a_virtual_view(views: World) -> None:
    pinned = views.gateway.query("viewer", "SELECT count(*) AS n FROM ads.`by_country@v1`")
    assert pinned.table.to_pylist() == [{"n": 3}]
    with pytest.raises(Conflict, match="virtual"):
        views.gateway.query("viewer", "SELECT * FROM ads.virtual_ids")
    with pytest.raises(AccessDenied):  # not authorized: the view's kind is not revealed
        views.gateway.query("analyst", "SELECT * FROM ads.virtual_ids")


def test_tablesample_counts_only_rows_the_caller_may_see(world: World) -> None:
    # Sampled after the row filter: two of analyst's three DE rows, never a hidden one.
    for size in (1, 2, 3, 9):
        result = world.gateway.query(
            "analyst", f"SELECT count(*) AS n, max(country) AS c FROM ads.conversions TABLESAMPLE ({size} ROWS)")
        assert result.table.to_pylist() == [{"n": min(size, 3), "c": "DE"}], size


def test_current_catalog_runs(world: World) -> None:
    result = world.gateway.query("analyst", "SELECT current_catalog() AS c FROM ads.conversions LIMIT 1")
    assert result.table.to_pylist() == [{"c": "spark_catalog"}]


def test_a_query_whose_client_went_away_is_cancelled(world: World) -> None:
    import threading

    from access.gateway import QueryCancelled

    world.gateway.query("analyst", "SELECT 1")
    tracker = spark_session(world.lake.settings).sparkContext.statusTracker()
    earlier = set(tracker.getActiveJobsIds())  # only this query's jobs are this test's business
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    started = time.perf_counter()
    with pytest.raises(QueryCancelled):
        world.gateway.query("analyst", HEAVY_QUERY, timeout_seconds=120, cancel=cancel)
    assert time.perf_counter() - started < 60
    _jobs_end(tracker, earlier)
    assert set(tracker.getActiveJobsIds()) - earlier == set()
    assert _tasks_stop(world)
    entry = world.access.audit.query(kind=AuditKind.QUERY, actor="analyst", limit=1)[0]
    assert entry.detail["outcome"] == "query_cancelled"


def _jobs_end(tracker: Any, earlier: set[int], seconds: float = 60.0) -> None:
    """Wait up to ``seconds`` for the jobs other than ``earlier`` to end (a cancelled job ends when
    the scheduler has handled the cancel; slow on a busy machine)."""
    deadline = time.monotonic() + seconds
    while set(tracker.getActiveJobsIds()) - earlier and time.monotonic() < deadline:
        time.sleep(0.2)


def _tasks_stop(world: World, seconds: float = 60.0) -> bool:
    """Whether the engine's executors run no task within ``seconds``: a cancelled job is no longer
    active at once, but a killed task counts until its thread notices and stops."""
    status = spark_session(world.lake.settings).sparkContext._jsc.sc().statusTracker()
    deadline = time.monotonic() + seconds
    while any(e.numRunningTasks() for e in status.getExecutorInfos()):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True

