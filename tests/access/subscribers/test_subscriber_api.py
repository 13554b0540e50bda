"""``/api/v1/subscribers`` through the app (local mode): who may do what, and refusals
that name the reason."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import Depends

from access import Action, Resource
from api.authz import access_for
from lake.service import Lake
from lake.settings import Settings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient

from factories import contract_doc

API = "/api/v1"
CLICKS = {
    "dataset": "ads.clicks", "owner": "ads-team", "primary_key": ["click_id"],
    "columns": [{"name": "click_id", "type": "int64", "nullable": False}, {"name": "country", "type": "string"}],
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    from api.app import API_PREFIX, create_app
    from api.deps import current_principal
    from api.routes import subscribers

    app = create_app(Settings(home=tmp_path / "api-home"))
    app.include_router(subscribers.router, prefix=API_PREFIX, dependencies=[Depends(current_principal)])
    with TestClient(app) as c:
        yield c


@pytest.fixture
def h(client: TestClient) -> dict[str, dict[str, str]]:
    lake: Lake = client.app.state.services.lake  # type: ignore[attr-defined]
    lake.register(contract_doc("ads.conversions"), actor="root")
    lake.register(CLICKS, actor="root")
    headers = {}
    for name, roles in (("root", ["admin"]), ("olga", []), ("vic", [])):
        lake.users.create(name, roles=roles)
        token, _ = lake.users.create_token(name)
        headers[name] = {"Authorization": f"Bearer {token}"}
    access = access_for(client.app, lake)
    access.create_role("analyst")
    access.grant("analyst", Action.READ, Resource.domain_("ads"))
    return headers


def _error(r: Any) -> dict[str, Any]:
    return r.json()["error"]  # type: ignore[no-any-return]


def test_lifecycle_and_permissions(client: TestClient, h: dict[str, dict[str, str]]) -> None:
    body = {"name": "etl", "kind": "emr", "owner": "olga", "roles": ["analyst"], "description": "nightly"}
    r = client.post(f"{API}/subscribers", json=body, headers=h["olga"])
    assert r.status_code == 403 and _error(r)["code"] == "access_denied"
    r = client.post(f"{API}/subscribers", json=body, headers=h["root"])
    assert r.status_code == 201, r.text
    sub = r.json()
    assert (sub["subject"], sub["roles"], sub["status"]) == ("sub.etl", ["analyst"], "active")
    assert sub["policy_tables"] == ["dataset:ads.clicks@v1"]
    r = client.post(f"{API}/subscribers", json={**body, "kind": "spark"}, headers=h["root"])
    assert r.status_code == 422 and "expected one of: redshift, emr, sagemaker" in _error(r)["message"]

    assert [s["name"] for s in client.get(f"{API}/subscribers", headers=h["olga"]).json()] == ["etl"]
    assert client.get(f"{API}/subscribers", headers=h["vic"]).json() == []
    r = client.get(f"{API}/subscribers/etl", headers=h["vic"])
    assert r.status_code == 403 and "only the subscriber (sub.etl), its owner (olga) or an admin" in \
        _error(r)["message"]
    assert client.get(f"{API}/subscribers/nope", headers=h["root"]).status_code == 404

    policy = client.get(f"{API}/subscribers/etl/policy", headers=h["olga"]).json()
    assert policy["raw"] == ["dataset:ads.clicks@v1"]
    assert policy["governed"] == [{"table": "dataset:ads.conversions@v1",
                                   "reasons": ["PII column email is masked (redact)"]}]

    r = client.post(f"{API}/subscribers/etl/credentials", json={"tables": ["ads.conversions"]}, headers=h["olga"])
    assert r.status_code == 403
    err = _error(r)
    assert err["code"] == "raw_access_refused" and err["details"]["table"] == "ads.conversions"
    assert err["details"]["reasons"] == ["PII column email is masked (redact)"]
    assert any("POST /api/v1/query" in a for a in err["details"]["alternatives"])
    r = client.post(f"{API}/subscribers/etl/credentials", json={"tables": ["hr.salaries"]}, headers=h["olga"])
    assert r.status_code == 403 and "does not exist or you have no read access" in _error(r)["message"]
    r = client.post(f"{API}/subscribers/etl/credentials", json={"tables": ["ads.clicks"]}, headers=h["olga"])
    assert r.status_code == 409 and _error(r)["code"] == "vending_unavailable"
    r = client.post(f"{API}/subscribers/etl/credentials", json={"tables": ["ads.clicks"], "duration_seconds": 60},
                    headers=h["olga"])
    assert r.status_code == 422
    assert client.get(f"{API}/subscribers/etl/credentials", headers=h["olga"]).json() == []

    r = client.post(f"{API}/subscribers/etl/exports", json={"table": "ads.clicks", "role": "admin"},
                    headers=h["olga"])
    assert r.status_code == 422 and "not bound to role 'admin'" in _error(r)["message"]

    assert client.put(f"{API}/subscribers/etl/roles/analyst", headers=h["olga"]).status_code == 403
    r = client.delete(f"{API}/subscribers/etl/roles/analyst", headers=h["root"])
    assert r.status_code == 200 and r.json()["roles"] == [] and r.json()["policy_tables"] == []
    r = client.put(f"{API}/subscribers/etl/roles/analyst", headers=h["root"])
    assert r.json()["roles"] == ["analyst"]

    r = client.post(f"{API}/subscribers/etl/suspend", headers=h["olga"])
    assert r.status_code == 200 and r.json()["status"] == "suspended" and r.json()["policy_tables"] == []
    r = client.post(f"{API}/subscribers/etl/credentials", json={"tables": ["ads.clicks"]}, headers=h["olga"])
    assert r.status_code == 409 and _error(r)["code"] == "subscriber_suspended"
    assert client.post(f"{API}/subscribers/etl/resume", headers=h["olga"]).status_code == 403
    assert client.post(f"{API}/subscribers/etl/resume", headers=h["root"]).json()["status"] == "active"

    assert client.delete(f"{API}/subscribers/etl", headers=h["olga"]).status_code == 403
    r = client.delete(f"{API}/subscribers/etl", headers=h["root"])
    assert r.status_code == 200 and r.json()["redshift_teardown"] == []
    assert client.get(f"{API}/subscribers/etl", headers=h["root"]).status_code == 404


def test_the_subscriber_acts_for_itself(client: TestClient, h: dict[str, dict[str, str]]) -> None:
    lake: Lake = client.app.state.services.lake  # type: ignore[attr-defined]
    client.post(f"{API}/subscribers", json={"name": "dwh", "kind": "redshift", "owner": "olga",
                                            "roles": ["analyst"]}, headers=h["root"])
    token, _ = lake.users.create_token("sub.dwh")
    me = {"Authorization": f"Bearer {token}"}
    assert client.get(f"{API}/subscribers/dwh", headers=me).json()["kind"] == "redshift"
    dry = client.post(f"{API}/subscribers/dwh/redshift/sync", json={"dry_run": True}, headers=me).json()
    assert 'GRANT SELECT ON TABLE "ads"."clicks" TO ROLE "lakegate_analyst"' in dry["statements"]
    assert dry["grants"] == {"lakegate_analyst": ["ads.clicks"]}
    assert dry["skipped"] == [{"table": "ads.conversions", "reason": "PII column email is masked (redact)"}]
    r = client.post(f"{API}/subscribers/dwh/redshift/sync", json={}, headers=me)
    assert r.status_code == 403  # recording a sync as applied is an admin's
    applied = client.post(f"{API}/subscribers/dwh/redshift/sync", json={"target": "postgres"}, headers=h["root"])
    assert applied.status_code == 200 and applied.json()["statements"]
    again = client.post(f"{API}/subscribers/dwh/redshift/sync", json={}, headers=h["root"]).json()
    assert again["statements"] == []
    r = client.post(f"{API}/subscribers/dwh/credentials", json={"tables": ["ads.clicks"]}, headers=me)
    assert r.status_code == 422 and _error(r)["code"] == "wrong_subscriber_kind"
    r = client.delete(f"{API}/subscribers/dwh", headers=h["root"])
    assert 'REVOKE SELECT ON TABLE "ads"."clicks" FROM ROLE "lakegate_analyst"' in r.json()["redshift_teardown"]
    assert client.get(f"{API}/subscribers", headers=me).status_code == 401  # its token is revoked
