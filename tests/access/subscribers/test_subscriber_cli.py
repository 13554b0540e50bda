"""``lakegate subscribers`` on a lake in a temporary home (local mode)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from access import AccessControl, Action, Resource
from api.commands import subscribers as cli
from lake.service import Lake
from lake.settings import get_settings

from factories import contract_doc

CLICKS = {
    "dataset": "ads.clicks", "owner": "ads-team", "primary_key": ["click_id"],
    "columns": [{"name": "click_id", "type": "int64", "nullable": False}, {"name": "country", "type": "string"}],
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "cli-home"
    monkeypatch.setenv("LAKEGATE_HOME", str(home))
    get_settings.cache_clear()
    lake = Lake(get_settings())
    try:
        lake.register(contract_doc("ads.conversions"), actor="admin")
        lake.register(CLICKS, actor="admin")
        lake.users.create("admin", roles=["admin"])
        access = AccessControl(lake)
        access.create_role("analyst")
        access.grant("analyst", Action.READ, Resource.domain_("ads"))
    finally:
        lake.close()
    yield home
    get_settings.cache_clear()


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli.app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_subscriber_commands(home: Path, tmp_path: Path) -> None:
    out = run("create", "dwh", "--kind", "redshift", "--owner", "admin", "--role", "analyst")
    assert "dwh (redshift, active) principal sub.dwh, owner admin" in out
    assert "role policy: dataset:ads.clicks@v1" in out
    assert "error: unknown subscriber kind 'hive'" in run("create", "x", "--kind", "hive", "--owner", "admin",
                                                          code=1)
    listed = json.loads(run("list", "--json"))
    assert [(s["name"], s["roles"]) for s in listed] == [("dwh", ["analyst"])]
    shown = run("show", "dwh")
    assert "governed only: dataset:ads.conversions@v1: PII column email is masked (redact)" in shown

    sql = run("redshift", "plan", "dwh")
    assert 'GRANT SELECT ON TABLE "ads"."clicks" TO ROLE "lakegate_analyst";' in sql
    assert "not exposed: ads.conversions: PII column email is masked (redact)" in sql
    assert "nothing recorded" in sql
    target = tmp_path / "dwh.sql"
    run("redshift", "plan", "dwh", "-o", str(target))
    assert 'CREATE VIEW "ads"."clicks"' in target.read_text()
    assert run("redshift", "plan", "dwh").count(";") == sql.count(";")  # a plan records nothing
    assert "LAKEGATE_SUBSCRIBERS_REDSHIFT_URL" in run("redshift", "apply", "dwh", code=1)

    assert "dwh: 1 raw table(s)" in run("sync")
    out = run("vend", "dwh", "ads.clicks", code=1)
    assert "error: subscriber dwh is a redshift subscriber; credential vending is for emr or sagemaker" in out
    run("create", "etl", "--kind", "emr", "--owner", "admin", "--role", "analyst")
    out = run("vend", "etl", "ads.conversions", code=1)
    assert "may not read the raw files of table ads.conversions: PII column email is masked (redact)" in out
    assert "error: credential vending needs the lake in S3" in run("vend", "etl", "ads.clicks", code=1)
    assert json.loads(run("credentials", "etl", "--json")) == []
    assert "error: subscriber etl is not bound to role 'admin'" in run("export", "etl", "ads.clicks", "--role",
                                                                      "admin", code=1)

    assert "role policy: no tables" in run("unbind", "etl", "analyst")
    assert "roles: analyst" in run("bind", "etl", "analyst", "--days", "2")
    assert "suspended etl" in run("suspend", "etl")
    assert "error: subscriber etl is suspended" in run("vend", "etl", "ads.clicks", code=1)
    assert "(emr, active)" in run("resume", "etl")

    # The cluster got the plan applied (recorded by the service, as `redshift apply` does after
    # running it; tests/access/subscribers/test_subscriber_redshift_pg.py runs it on PostgreSQL).
    from access.subscribers import Subscribers

    lake = Lake(get_settings())
    try:
        Subscribers(AccessControl(lake)).redshift_sync("dwh")
    finally:
        lake.close()
    teardown = run("delete", "dwh")
    assert 'REVOKE SELECT ON TABLE "ads"."clicks" FROM ROLE "lakegate_analyst";' in teardown
    assert 'DROP ROLE "lakegate_analyst";' in teardown
    assert [s["name"] for s in json.loads(run("list", "--json"))] == ["etl"]
