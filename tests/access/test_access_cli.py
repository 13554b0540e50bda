"""``lakegate access`` and ``lakegate audit`` on a lake in a temporary home."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from access.models import AuditEntryRow
from api.commands import access as access_cli
from api.commands import audit as audit_cli
from lake.service import Lake
from lake.settings import get_settings

CONTRACT = {
    "dataset": "ads.conversions", "owner": "ads-team", "primary_key": ["conversion_id"],
    "columns": [{"name": "conversion_id", "type": "int64", "nullable": False},
                {"name": "country", "type": "string"},
                {"name": "email", "type": "string", "pii": True}],
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "cli-home"
    monkeypatch.setenv("LAKEGATE_HOME", str(home))
    get_settings.cache_clear()
    lake = Lake(get_settings())
    try:
        lake.register(CONTRACT, actor="admin")
        for name in ("admin", "ann", "olga"):
            lake.users.create(name, roles=["admin"] if name == "admin" else [])
    finally:
        lake.close()
    yield home
    get_settings.cache_clear()


def run(app: object, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args))  # type: ignore[arg-type]
    assert result.exit_code == code, result.output
    return result.output


def test_policy_commands(home: Path, tmp_path: Path) -> None:
    assert "created group marketing" in run(access_cli.app, "role", "create", "marketing", "--group")
    run(access_cli.app, "role", "add-member", "marketing", "ann")
    assert "ann" in run(access_cli.app, "role", "list")
    out = run(access_cli.app, "grant", "marketing", "read", "dataset:ads.conversions", "--reason", "campaigns")
    assert "allow marketing read on dataset:ads.conversions" in out
    run(access_cli.app, "mask", "set", "marketing", "dataset:ads.conversions.email", "partial:4")
    run(access_cli.app, "filter", "set", "marketing", "domain:ads", "country IN ('DE', 'FR')")
    assert "allowed: allowed by marketing" in run(access_cli.app, "check", "ann", "read", "ads.conversions")
    assert "denied" in run(access_cli.app, "check", "olga", "read", "ads.conversions", code=1)
    shown = run(access_cli.app, "show", "ann", "ads.conversions")
    assert "email: partial:4" in shown and "rows: `country` IN ('DE', 'FR')" in shown
    run(access_cli.app, "grant", "ann", "read", "dataset:ads.conversions.email", "--deny")
    assert "email" not in run(access_cli.app, "show", "ann", "ads.conversions")
    assert "error: unknown action 'fly'" in run(access_cli.app, "grant", "ann", "fly", "lake", code=1)

    policy = tmp_path / "policy.csv"
    run(access_cli.app, "export", "-o", str(policy))
    assert "p, ann, dataset:ads.conversions.email, read, deny" in policy.read_text()
    policy.write_text("\n".join(line for line in policy.read_text().splitlines() if ", deny" not in line))
    assert "1 removed" in run(access_cli.app, "import", str(policy), "--replace")
    assert "email: partial:4" in run(access_cli.app, "show", "ann", "ads.conversions")


def test_request_commands_and_audit_verify(home: Path) -> None:
    out = run(access_cli.app, "request", "create", "dataset:ads.conversions", "--reason", "report", "--as", "olga",
              "--column", "country", "--days", "3")
    rid = out.split(":")[0].split()[-1]
    assert "olga asks to read dataset:ads.conversions (country)" in out
    assert "nobody decides their own request" in run(access_cli.app, "request", "approve", rid, "--as", "olga",
                                                     code=1)
    assert f"request {rid} approved" in run(access_cli.app, "request", "approve", rid, "--as", "admin")
    assert "approved" in run(access_cli.app, "request", "list")
    assert "country: clear" in run(access_cli.app, "show", "olga", "ads.conversions")

    ok = run(audit_cli.app, "verify")
    assert ok.startswith("ok: ")
    listed = [json.loads(line) for line in run(audit_cli.app, "list", "--kind", "access_request", "--json").splitlines()]
    assert [e["action"] for e in listed] == ["approve", "request"] and listed[0]["actor"] == "admin"
    lake = Lake(get_settings())
    try:
        with lake.catalog.session() as s:
            s.execute(update(AuditEntryRow).where(AuditEntryRow.seq == 2).values(actor="mallory"))
    finally:
        lake.close()
    broken = run(audit_cli.app, "verify", code=1)
    assert "entry 2: edited" in broken and "does not verify" in broken
