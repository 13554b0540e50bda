"""Views never go dark: a reader keeps reading while a new version is applied (the previous
version's rows, marked stale, only the columns both versions have), then reads the new version
after the scheduler's refresh. Refreshing is the owner's (with write) or an admin's; the
schedule is a cron stored with the view. Real Spark (local[1]), Delta on disk, the API app.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.scheduler import Scheduler
from demo.load import land_demo
from lake.settings import GatewayLimits, Settings
from lake.spark import stop_spark
from views.cron import parse_cron

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient

pytestmark = [pytest.mark.spark, pytest.mark.slow]

API = "/api/v1"
VIEW = "analytics.conversions_by_country"
V1 = f"""/*
view: {VIEW}
owner: pat
description: Conversions per country.
*/
SELECT c.country, COUNT(*) AS conversions
FROM ads.conversions AS c
GROUP BY c.country
"""
V2 = f"""/*
view: {VIEW}
owner: pat
description: Conversions and campaigns per country.
*/
SELECT c.country, COUNT(*) AS conversions, COUNT(DISTINCT c.campaign_id) AS campaigns
FROM ads.conversions AS c
GROUP BY c.country
"""


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[tuple[Any, TestClient]]:
    stop_spark()
    # No catalog cache in the gateway: a query right after an apply sees the new current version
    # (a server's cache may lag the switch by its lifetime, two seconds by default).
    settings = Settings(home=tmp_path / "home", spark_master="local[1]", scheduler_interval_seconds=0,
                        gateway=GatewayLimits(catalog_cache_seconds=0))
    app = create_app(settings)
    with TestClient(app) as client:
        yield app, client
    stop_spark()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _rows(answer: dict[str, Any]) -> dict[str, list[Any]]:
    names = [c["name"] for c in answer["columns"]]
    return {row[0]: row[1:] for row in answer["rows"]} | {"__columns__": names}


def test_a_reader_keeps_reading_while_a_new_version_is_applied_then_reads_it_after_a_scheduled_refresh(
        app_client: tuple[Any, TestClient]) -> None:
    app, client = app_client
    services = app.state.services
    lake = services.lake
    land_demo(lake, scale=0.01, seed=5)
    auth = {}
    for name, roles in {"root": ["admin"], "pat": ["producer"], "rhea": []}.items():
        lake.users.create(name, roles=roles)
        auth[name] = _bearer(lake.users.create_token(name, name="tests")[0])
    for subject, action, resource in [("pat", "propose", "domain:analytics"), ("pat", "read", "dataset:ads.conversions"),
                                      ("rhea", "read", f"view:{VIEW}")]:
        r = client.post(f"{API}/access/grants", headers=auth["root"],
                        json={"subject": subject, "action": action, "resource": resource})
        assert r.status_code == 201, r.text
    query = {"sql": f"SELECT * FROM {VIEW} ORDER BY country"}

    def apply(text: str) -> None:
        r = client.post(f"{API}/views/apply", headers=auth["pat"], json={"files": [{"path": "v.sql", "content": text}]})
        assert r.status_code == 200, r.text

    # Version 1 applied: its refresh is queued; nothing to read yet, and the answer says what to do.
    apply(V1)
    r = client.post(f"{API}/query", json=query, headers=auth["rhea"])
    assert r.status_code == 409 and "refresh" in r.json()["error"]["message"], r.text
    [queued] = client.get(f"{API}/views/{VIEW}/runs", headers=auth["rhea"]).json()
    assert (queued["status"], queued["trigger"], queued["actor"]) == ("queued", "apply", "pat")

    clock = {"now": dt.datetime.now(dt.UTC)}
    scheduler = Scheduler(services, interval=0, max_runs=2, clock=lambda: clock["now"])
    assert scheduler.tick().refreshed == [f"{VIEW}@v1"]
    first = client.post(f"{API}/query", json=query, headers=auth["rhea"])
    assert first.status_code == 200, first.text
    assert first.json()["stale"] == [] and "X-Lakegate-Stale" not in first.headers
    v1_rows = _rows(first.json())
    assert v1_rows["__columns__"] == ["country", "conversions"] and len(v1_rows) > 2

    # Version 2 applied: the reader keeps getting version 1's rows, marked stale, and never a
    # column version 1's table has that version 2 does not describe alike.
    apply(V2)
    during = client.post(f"{API}/query", json=query, headers=auth["rhea"])
    assert during.status_code == 200, during.text
    assert _rows(during.json()) == v1_rows
    [stale] = during.json()["stale"]
    assert (stale["table"], stale["version"], stale["served_version"]) == (VIEW, 2, 1)
    assert during.headers["X-Lakegate-Stale"] == f"{VIEW}@v1"
    missing = client.post(f"{API}/query", json={"sql": f"SELECT campaigns FROM {VIEW}"}, headers=auth["rhea"])
    assert missing.status_code in (400, 422) and "campaigns" in missing.text, missing.text
    info = client.get(f"{API}/views/{VIEW}", headers=auth["rhea"]).json()
    assert (info["version"], info["stale"], info["served_version"]) == (2, True, 1)
    assert info["served_columns"] == ["country", "conversions"]

    # Refreshing and scheduling are the owner's (with write) or an admin's: one rule everywhere.
    denied = client.post(f"{API}/views/{VIEW}/refresh", headers=auth["rhea"])
    assert denied.status_code == 403, denied.text
    assert client.put(f"{API}/views/{VIEW}/schedule", json={"cron": "0 3 * * *"},
                      headers=auth["rhea"]).status_code == 403
    bad = client.put(f"{API}/views/{VIEW}/schedule", json={"cron": "0 25 * * *"}, headers=auth["pat"])
    assert bad.status_code == 422 and "hour" in bad.json()["error"]["message"]
    r = client.put(f"{API}/views/{VIEW}/schedule", json={"cron": "*/15 * * * *"}, headers=auth["pat"])
    assert r.status_code == 200, r.text
    next_at = dt.datetime.fromisoformat(r.json()["next_at"])
    assert next_at == parse_cron("*/15 * * * *").next_after(dt.datetime.now(dt.UTC)) or next_at.minute % 15 == 0

    # The scheduler: the queued run of the apply, then the due schedule; both recorded on the view.
    clock["now"] = next_at + dt.timedelta(seconds=5)
    tick = scheduler.tick()
    assert tick.failed == [] and tick.refreshed == [f"{VIEW}@v2", f"{VIEW}@v2"]
    runs = client.get(f"{API}/views/{VIEW}/runs", params={"version": 2}, headers=auth["rhea"]).json()
    assert sorted((r["trigger"], r["status"]) for r in runs) == [("apply", "succeeded"), ("schedule", "succeeded")]
    after = client.post(f"{API}/query", json=query, headers=auth["rhea"])
    assert after.status_code == 200 and after.json()["stale"] == []
    assert _rows(after.json())["__columns__"] == ["country", "conversions", "campaigns"]
    assert {k: v[0] for k, v in _rows(after.json()).items() if k != "__columns__"} == \
        {k: v[0] for k, v in v1_rows.items() if k != "__columns__"}
    schedule = client.get(f"{API}/views/{VIEW}/schedule", headers=auth["rhea"]).json()
    assert dt.datetime.fromisoformat(schedule["next_at"]) > clock["now"]
    # Nothing more is due until then.
    assert scheduler.tick().refreshed == []
    # The owner's button: a manual run, recorded.
    manual = client.post(f"{API}/views/{VIEW}/refresh", headers=auth["pat"])
    assert manual.status_code == 201 and manual.json()["trigger"] == "manual", manual.text
