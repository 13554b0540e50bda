"""The views router and the ``lakegate views`` command group, on a real app and
lake (SQLite, local store) with Spark ``local[2]`` for compile and runs."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from fastapi import APIRouter, Depends
from typer.testing import CliRunner

from api.app import API_PREFIX, create_app
from api.commands.views import app as views_cli
from api.deps import current_principal
from api.routes import views as views_routes
from demo.definitions import VIEWS_DIR as DEMO_DIR
from lake.service import Lake
from lake.settings import Settings, get_settings
from lake.spark import stop_spark

from view_cases import DEMO_SQL

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient

pytestmark = [pytest.mark.spark, pytest.mark.slow]

V = f"{API_PREFIX}/views"
DAILY = ("SELECT e.event_date, e.country, COUNT(DISTINCT e.subscriber_id) AS viewers "
         "FROM playback.events e GROUP BY e.event_date, e.country")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("views-api")


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[TestClient]:
    stop_spark()
    settings = Settings(home=home, spark_master="local[2]")
    app = create_app(settings)
    authenticated = APIRouter(prefix=API_PREFIX, dependencies=[Depends(current_principal)])
    authenticated.include_router(views_routes.router)
    app.include_router(authenticated)
    with TestClient(app) as c:
        yield c
    stop_spark()


@pytest.fixture(scope="module")
def auth(client: TestClient) -> dict[str, dict[str, str]]:
    from demo.load import land_demo

    lake: Lake = client.app.state.services.lake  # type: ignore[attr-defined]
    land_demo(lake, scale=0.01, seed=3)
    headers = {}
    for name, roles in {"root": ["admin"], "alice": ["producer", "analysts"], "victor": []}.items():
        lake.users.create(name, roles=roles)
        token, _ = lake.users.create_token(name)
        headers[name] = {"Authorization": f"Bearer {token}"}
    return headers


def test_create_get_list_and_version(client: TestClient, auth: dict[str, Any]) -> None:
    body = {"view": "analytics.daily", "sql": DAILY, "owner": "analysts", "description": "DAU",
            "columns": {"viewers": "distinct subscribers"}, "message": "first"}
    r = client.post(V, json=body, headers=auth["alice"])
    assert r.status_code == 201, r.text
    view = r.json()
    assert (view["version"], view["status"], view["owner"], view["spark_checked"]) == (1, "current", "analysts", True)
    assert view["columns"][2] | {"sources": None, "origins": None} == {
        "name": "viewers", "type": "bigint", "pii": False, "encrypted_with": None, "sources": None,
        "origins": None, "transformation": "aggregation", "description": "distinct subscribers"}
    assert client.post(V, json=body, headers=auth["alice"]).status_code == 200  # unchanged
    assert client.get(V, headers=auth["victor"]).json()[0]["name"] == "analytics.daily"
    assert client.get(f"{V}/analytics.daily", headers=auth["victor"]).json()["version"] == 1
    r = client.post(V, json={"view": "analytics.daily", "sql": DAILY}, headers=auth["victor"])
    assert r.status_code == 403 and r.json()["error"]["code"] == "access_denied"


def test_bad_sql_is_422_with_position_and_nothing_changes(client: TestClient, auth: dict[str, Any]) -> None:
    r = client.post(V, json={"view": "analytics.bad", "sql": "SELECT country,\n  nope AS n FROM ads.conversions"},
                    headers=auth["alice"])
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "view_compile_error"
    assert (err["details"]["line"], err["details"]["column"], err["details"]["kind"]) == (2, 3, "unknown_column")
    assert client.get(f"{V}/analytics.bad", headers=auth["alice"]).status_code == 404


def test_view_file_body_breaking_change_and_diff(client: TestClient, auth: dict[str, Any]) -> None:
    text = ("/*\nview: analytics.daily\nowner: analysts\ndescription: DAU\n*/\n"
            + DAILY.replace(", COUNT(DISTINCT e.subscriber_id) AS viewers", ", COUNT(*) AS sessions"))
    headers = {**auth["alice"], "Content-Type": "application/sql"}
    r = client.post(V, content=text, headers=headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "breaking_view_change"
    r = client.post(f"{V}?dry_run=true", content=text, headers=headers)
    assert r.status_code == 200 and r.json()["items"][0]["breaking"] is True
    r = client.post(f"{V}?major=true&message=sessions", content=text, headers=headers)
    assert r.status_code == 201 and (r.json()["version"], r.json()["major"]) == (2, True)
    d = client.get(f"{V}/analytics.daily/diff", params={"from": 1, "to": 2}, headers=auth["victor"]).json()
    assert d["breaking"] and {c["kind"] for c in d["changes"]} == {"removed", "added"}
    assert [v["status"] for v in client.get(f"{V}/analytics.daily/versions", headers=auth["alice"]).json()] == [
        "superseded", "current"]


def test_plan_apply_materialize_runs_lineage_transpile(client: TestClient, auth: dict[str, Any]) -> None:
    files = [{"path": p.name, "content": p.read_text()} for p in sorted(DEMO_DIR.glob("*.sql"))]
    r = client.post(f"{V}/plan", json={"files": files}, headers=auth["root"])
    assert r.status_code == 200 and not r.json()["applied"]
    assert {i["action"] for i in r.json()["items"]} == {"create"}
    assert client.get(f"{V}/playback.daily_active_viewers", headers=auth["root"]).status_code == 404
    r = client.post(f"{V}/apply", json={"files": files, "message": "demo"}, headers=auth["root"])
    assert r.status_code == 200 and r.json()["applied"]
    r = client.post(f"{V}/playback.daily_active_viewers/materialize", headers=auth["root"])
    assert r.status_code == 201 and r.json()["status"] == "succeeded" and r.json()["rows"] > 0
    assert client.get(f"{V}/playback.daily_active_viewers", headers=auth["root"]).json()["table_uri"]
    runs = client.get(f"{V}/playback.daily_active_viewers/runs", headers=auth["victor"]).json()
    # The refresh the apply queued is superseded by this run: the scheduler will not build it again.
    assert [(x["status"], x["trigger"]) for x in runs] == [("succeeded", "manual"), ("superseded", "apply")]
    r = client.post(f"{V}/refresh", json={"views": ["subscriptions.engagement_by_plan"], "upstream": True},
                    headers=auth["root"])
    assert r.status_code == 200 and r.json()["ok"]
    r = client.post(f"{V}/refresh", json={}, headers=auth["alice"])
    assert r.status_code == 403
    graph = client.get(f"{V}/subscriptions.engagement_by_plan/lineage", headers=auth["victor"]).json()
    assert "view:subscriptions.active_subscribers@v1" in {n["id"] for n in graph["nodes"]}
    sql = client.get(f"{V}/catalog.watch_time_by_title/transpile", params={"dialect": "trino"},
                     headers=auth["victor"]).json()["sql"]
    assert '"catalog"."titles"' in sql
    r = client.get(f"{V}/catalog.watch_time_by_title/transpile", params={"dialect": "oracle"},
                   headers=auth["victor"])
    assert r.status_code == 422 and "redshift" in r.json()["error"]["message"]
    impact = client.get(f"{V}/subscriptions.active_subscribers/impact", headers=auth["victor"]).json()
    assert [i["view"] for i in impact] == ["subscriptions.engagement_by_plan"]
    compiled = client.post(f"{V}/subscriptions.active_subscribers/compile", headers=auth["victor"]).json()
    assert compiled["spark_checked"] and [c["pii"] for c in compiled["columns"]][:3] == [False, True, True]


def test_deprecate_and_sunset_is_410(client: TestClient, auth: dict[str, Any]) -> None:
    r = client.post(f"{V}/analytics.daily/versions/1/deprecate", json={"sunset_on": "2000-01-01", "note": "gone"},
                    headers=auth["alice"])
    assert r.status_code == 200 and r.json()["status"] == "deprecated"
    r = client.get(f"{V}/analytics.daily", params={"version": 1}, headers=auth["victor"])
    assert r.status_code == 410 and r.json()["error"]["code"] == "view_sunset"


def test_cli_apply_show_diff_transpile(home: Path, client: TestClient, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEGATE_HOME", str(home))
    monkeypatch.setenv("LAKEGATE_SPARK_MASTER", "local[2]")
    get_settings.cache_clear()
    lake: Lake = client.app.state.services.lake  # type: ignore[attr-defined]
    lake.users.ensure("admin", roles=["admin"])
    folder = tmp_path / "views"
    folder.mkdir()
    (folder / "plays.sql").write_text(DEMO_SQL)
    runner = CliRunner()
    r = runner.invoke(views_cli, ["apply", str(folder), "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "analytics.plays" in r.output and "create" in r.output
    r = runner.invoke(views_cli, ["apply", str(folder), "-m", "cli"])
    assert r.exit_code == 0 and "1 new version(s), 0 unchanged" in r.output
    r = runner.invoke(views_cli, ["show", "analytics.plays", "--json"])
    assert json.loads(r.output)["columns"][1]["type"] == "bigint"
    (folder / "plays.sql").write_text(DEMO_SQL.replace("COUNT(*) AS plays", "COUNT(*) AS plays, "
                                                       "SUM(e.watch_seconds) AS seconds"))
    assert runner.invoke(views_cli, ["apply", str(folder)]).exit_code == 0
    r = runner.invoke(views_cli, ["diff", "analytics.plays", "1", "2"])
    assert "column 'seconds' added" in r.output
    r = runner.invoke(views_cli, ["transpile", "analytics.plays", "--dialect", "duckdb"])
    assert r.exit_code == 0 and 'FROM "playback"."events"' in r.output
    r = runner.invoke(views_cli, ["materialize", "analytics.plays"])
    assert r.exit_code == 0 and "rows in" in r.output
    bad = folder / "bad.sql"
    bad.write_text("/*\nview: analytics.bad\n*/\nSELECT nope\nFROM playback.events")
    r = runner.invoke(views_cli, ["apply", str(folder)])
    assert r.exit_code == 1 and "bad.sql (analytics.bad v1) at line 4, column 8" in r.output
    get_settings.cache_clear()
    assert pa.Table  # pyarrow is imported for the lake


def _owned_view(name: str) -> str:
    return (f"/*\nview: {name}\nowner: growth\n*/\n"
            "SELECT e.country, COUNT(*) AS plays FROM playback.events AS e GROUP BY e.country\n")


def test_views_applied_over_the_api_or_the_cli_get_the_same_owner_grant_and_refusal(
        home: Path, client: TestClient, auth: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from access import AccessControl, Resource

    monkeypatch.setenv("LAKEGATE_HOME", str(home))
    monkeypatch.setenv("LAKEGATE_SPARK_MASTER", "local[2]")
    get_settings.cache_clear()
    folder = tmp_path / "owned"
    folder.mkdir()
    (folder / "by_country.sql").write_text(_owned_view("analytics.by_country_cli"))
    runner = CliRunner()
    api_body = {"files": [{"path": "by_country.sql", "content": _owned_view("analytics.by_country_api")}]}

    refused = client.post(f"{V}/apply", json=api_body, headers=auth["victor"])
    assert refused.status_code == 403, refused.text
    no = runner.invoke(views_cli, ["apply", str(folder), "--as", "victor"])
    assert no.exit_code == 1, no.output
    message = refused.json()["error"]["message"]
    assert message.startswith("victor may not propose") and no.output == f"error: {message}\n"

    assert client.post(f"{V}/apply", json=api_body, headers=auth["alice"]).status_code == 200
    done = runner.invoke(views_cli, ["apply", str(folder), "--as", "alice"])
    assert done.exit_code == 0, done.output
    get_settings.cache_clear()

    lake: Lake = client.app.state.services.lake  # type: ignore[attr-defined]
    grants = AccessControl(lake, sync_users=False).policies.grants(subject="growth")
    assert sorted((g.action.value, g.resource.key, g.reason) for g in grants) == [
        ("admin", Resource.view(f"analytics.by_country_{via}").key, "dataset owner") for via in ("api", "cli")]
    from views.events import read_events

    registered = {e["dataset"]["facets"]["symlinks"]["identifiers"][0]["name"]: e["dataset"]["facets"]
                  for e in read_events(home / "openlineage" / "events.jsonl") if "dataset" in e}
    for via in ("api", "cli"):  # one lineage event per new version, whichever interface made it
        facets = registered[f"analytics.by_country_{via}"]
        assert facets["version"]["datasetVersion"] == "1"
        assert [f["name"] for f in facets["schema"]["fields"]] == ["country", "plays"]
