"""An admin cannot remove the last admin grant over the API; token ids cannot be
enumerated (a missing and a foreign token get the same answer)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from access import AuditKind
from api.app import API_PREFIX as API
from api.authz import access_for
from lake.service import Lake

Headers = dict[str, str]


def test_the_last_admin_grant_cannot_be_deleted(client: TestClient, auth: dict[str, Headers]) -> None:
    grants = client.get(f"{API}/access/grants", params={"resource": "lake"}, headers=auth["root"]).json()
    [admin] = [g for g in grants if g["subject"] == "admin" and g["action"] == "admin" and g["resource"] == "lake"]
    r = client.delete(f"{API}/access/grants/{admin['id']}", headers=auth["root"])
    assert r.status_code == 409, r.text
    assert "no active user with admin" in r.json()["error"]["message"]
    assert client.get(f"{API}/users", headers=auth["root"]).status_code == 200
    r = client.delete(f"{API}/access/roles/admin", headers=auth["root"])
    assert r.status_code == 409, r.text


def test_missing_and_foreign_tokens_get_the_same_answer(client: TestClient, lake: Lake,
                                                        auth: dict[str, Headers]) -> None:
    created = client.post(f"{API}/tokens", json={"name": "bob's"}, headers=auth["bob"]).json()
    foreign = client.delete(f"{API}/tokens/{created['id']}", headers=auth["victor"])
    missing = client.delete(f"{API}/tokens/{created['id'] + 1000}", headers=auth["victor"])
    assert foreign.status_code == missing.status_code == 404
    assert (foreign.json()["error"]["message"].replace(str(created["id"]), "N")
            == missing.json()["error"]["message"].replace(str(created["id"] + 1000), "N"))
    # Both attempts are audited as denials; the owner and an admin still may revoke.
    denials = access_for(client.app, lake).audit.query(actor="victor", kind=AuditKind.DECISION, decision="deny")
    assert len([d for d in denials if d.action == "revoke"]) == 2
    assert client.delete(f"{API}/tokens/{created['id']}", headers=auth["root"]).status_code == 204
    own = client.post(f"{API}/tokens", json={}, headers=auth["victor"]).json()
    assert client.delete(f"{API}/tokens/{own['id']}", headers=auth["victor"]).status_code == 204


def test_a_token_of_the_caller_is_revoked(client: TestClient, auth: dict[str, Headers], orders: Any) -> None:
    own = client.post(f"{API}/tokens", json={}, headers=auth["alice"]).json()
    headers = {"Authorization": f"Bearer {own['token']}"}
    assert client.get(f"{API}/me", headers=headers).status_code == 200
    assert client.delete(f"{API}/tokens/{own['id']}", headers=auth["alice"]).status_code == 204
    assert client.get(f"{API}/me", headers=headers).status_code == 401
