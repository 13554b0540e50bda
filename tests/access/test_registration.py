"""Registering a dataset is one domain action (``access.registration``): the check,
the rows, the search documents and the owner's grant, in one transaction, the
same from the API and from the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text
from typer.testing import CliRunner

from access import AccessControl, Action, AuditKind, Resource
from access.registration import register_dataset
from api.app import create_app
from api.commands import datasets as datasets_cli
from lake.errors import AccessDenied
from lake.service import Lake
from lake.settings import Settings, get_settings
from tests.ui.ui_helpers import TestClient
from views.events import read_events

CONTRACT = {
    "dataset": "ads.clicks", "owner": "ads-team", "description": "Ad clicks.",
    "columns": [{"name": "click_id", "type": "int64", "nullable": False},
                {"name": "email", "type": "string", "pii": True}],
}
#: pat may register (producer), victor may not.
USERS = {"admin": ["admin"], "pat": ["producer"], "victor": []}


def set_up(home: Path) -> Settings:
    settings = Settings(home=home)
    lake = Lake(settings)
    try:
        for name, roles in USERS.items():
            lake.users.create(name, roles=roles)
        AccessControl(lake)  # every user known to the policy before the registrations
    finally:
        lake.close()
    return settings


def outcome(settings: Settings, start: int) -> dict[str, Any]:
    """Datasets, owner grants, search documents and audit entries after entry ``start``."""
    lake = Lake(settings)
    try:
        control = AccessControl(lake, sync_users=False)
        with lake.catalog.session() as s:
            docs = sorted(tuple(r) for r in s.execute(text(
                "SELECT kind, key, owner FROM search_documents WHERE key LIKE 'ads.%' ORDER BY kind, key")))
        return {
            "datasets": [(i.name, i.owner, i.created_by) for i in lake.datasets.list()],
            "grants": sorted((g.subject, g.action.value, g.resource.key, g.reason)
                             for g in control.policies.grants(resource=Resource.domain_("ads"))),
            "roles": sorted((r.name, r.kind.value, r.description) for r in control.policies.roles()),
            "search": docs,
            "lineage": [(e["dataset"]["facets"]["symlinks"]["identifiers"][0]["name"],
                         [(f["name"], f["type"]) for f in e["dataset"]["facets"]["schema"]["fields"]])
                        for e in read_events(settings.home / "openlineage" / "events.jsonl")],
            "audit": [(e.kind.value, e.actor, e.action, e.resource, e.decision.value, e.detail)
                      for e in control.audit.query(after_seq=start, limit=1000, newest_first=False)
                      if e.kind in (AuditKind.DECISION, AuditKind.POLICY_CHANGE)],
        }
    finally:
        lake.close()


def last_seq(settings: Settings) -> int:
    lake = Lake(settings)
    try:
        found = AccessControl(lake, sync_users=False).audit.query(limit=1)
        return found[0].seq if found else 0
    finally:
        lake.close()


def test_a_dataset_registered_over_the_api_or_the_cli_ends_up_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    contract_file = tmp_path / "clicks.yml"
    contract_file.write_text(yaml.safe_dump(CONTRACT))

    api_settings = set_up(tmp_path / "api")
    start = last_seq(api_settings)
    with TestClient(create_app(api_settings)) as client:
        lake: Lake = client.app.state.lake  # type: ignore[attr-defined]
        tokens = {n: {"Authorization": f"Bearer {lake.users.create_token(n, name='t')[0]}"} for n in USERS}
        refused = client.post("/api/v1/datasets", json=CONTRACT, headers=tokens["victor"])
        assert refused.status_code == 403, refused.text
        done = client.post("/api/v1/datasets", json=CONTRACT, headers=tokens["pat"])
        assert done.status_code == 201, done.text
    over_api = outcome(api_settings, start)

    cli_settings = set_up(tmp_path / "cli")
    start = last_seq(cli_settings)
    monkeypatch.setenv("LAKEGATE_HOME", str(cli_settings.home))
    get_settings.cache_clear()
    runner = CliRunner()
    no = runner.invoke(datasets_cli.commands, ["dataset", "create", "-f", str(contract_file), "--as", "victor"])
    assert no.exit_code == 1 and no.output.startswith("error: victor may not propose"), no.output
    assert refused.json()["error"]["message"] == no.output.removeprefix("error: ").strip()
    yes = runner.invoke(datasets_cli.commands, ["dataset", "create", "-f", str(contract_file), "--as", "pat"])
    assert yes.exit_code == 0, yes.output
    over_cli = outcome(cli_settings, start)

    assert over_api == over_cli
    assert over_api["datasets"] == [("ads.clicks", "ads-team", "pat")]
    assert ("ads-team", "admin", "dataset:ads.clicks", "dataset owner") in over_api["grants"]
    assert ("ads-team", "group", "owners of ads.clicks") in over_api["roles"]
    assert ("dataset", "ads.clicks", "ads-team") in over_api["search"]
    assert over_api["lineage"] == [("ads.clicks", [("click_id", "bigint"), ("email", "binary")])]
    kinds = [(e[0], e[1], e[2], e[4]) for e in over_api["audit"]]
    assert kinds[:2] == [("decision", "victor", "propose", "deny"), ("decision", "pat", "propose", "allow")]
    assert kinds[2:] == [("policy_change", "lakegate", "add role", ""), ("policy_change", "lakegate", "add grant", "")]


def test_a_registration_whose_owner_grant_fails_leaves_nothing(lake: Lake) -> None:
    control = AccessControl(lake)

    def failing(session: Any, info: Any) -> None:
        raise RuntimeError("the grant could not be written")

    with pytest.raises(RuntimeError):
        lake.datasets.register(CONTRACT, actor="admin", within=failing)
    assert lake.datasets.list() == []
    with lake.catalog.session() as s:
        assert s.execute(text("SELECT count(*) FROM search_documents")).scalar_one() == 0
    lake.users.create("pat", roles=["producer"])
    info = register_dataset(control, CONTRACT, by="pat")  # nothing was left behind: not the rows, not the table
    assert info.name == "ads.clicks"
    assert control.can("ads-team", Action.ADMIN, Resource.table("ads.clicks"))


def test_a_refused_registration_writes_nothing(lake: Lake) -> None:
    lake.users.create("victor")
    control = AccessControl(lake)
    with pytest.raises(AccessDenied):
        register_dataset(control, CONTRACT, by="victor")
    assert lake.datasets.list() == []
    assert control.policies.grants(resource=Resource.table("ads.clicks")) == []
