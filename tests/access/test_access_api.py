"""The access, access request and audit routes, through the full app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.authz import access_for
from lake.service import Lake

API = "/api/v1"

CONTRACT = {
    "dataset": "sales.orders", "owner": "sales", "primary_key": ["order_id"],
    "columns": [{"name": "order_id", "type": "int64", "nullable": False},
                {"name": "country", "type": "string"},
                {"name": "email", "type": "string", "pii": True}],
}


@pytest.fixture
def world(api: TestClient, tokens: Callable[..., dict[str, str]]) -> dict[str, Any]:
    lake: Lake = api.app.state.services.lake  # type: ignore[attr-defined]
    h = {"root": tokens("root", ["admin"]), "sal": tokens("sal", ["sales"]), "vic": tokens("vic"),
         "mal": tokens("mal"), "stu": tokens("stu")}
    info = lake.register(CONTRACT, actor="root")
    access = access_for(api.app, lake)
    access.grant_owner(info)
    r = api.post(f"{API}/access/grants", headers=h["root"],
                 json={"subject": "mal", "action": "admin", "resource": "lake", "effect": "deny"})
    assert r.status_code == 201, r.text
    r = api.post(f"{API}/access/grants", headers=h["root"],
                 json={"subject": "stu", "action": "grant", "resource": "dataset:sales.orders"})
    assert r.status_code == 201, r.text
    return h


def test_roles_groups_and_members(api: TestClient, world: dict[str, Any]) -> None:
    h = world
    r = api.post(f"{API}/access/roles", json={"name": "analyst", "description": "reads sales"}, headers=h["root"])
    assert r.status_code == 201 and r.json() == {"name": "analyst", "kind": "role", "description": "reads sales"}
    assert api.post(f"{API}/access/groups", json={"name": "emea"}, headers=h["root"]).json()["kind"] == "group"
    r = api.post(f"{API}/access/roles", json={"name": "x"}, headers=h["vic"])
    assert r.status_code == 403 and r.json()["error"]["code"] == "access_denied"
    assert api.post(f"{API}/access/roles", json={"name": "x"}).status_code == 401
    r = api.post(f"{API}/access/roles/analyst/members", json={"member": "emea"}, headers=h["root"])
    assert r.status_code == 201
    api.post(f"{API}/access/roles/emea/members", json={"member": "vic"}, headers=h["root"])
    assert set(api.get(f"{API}/access/subjects/vic/roles", headers=h["vic"]).json()) == {"analyst", "emea",
                                                                                          "everyone"}
    assert api.get(f"{API}/access/subjects/sal/roles", headers=h["vic"]).status_code == 403
    r = api.post(f"{API}/access/roles/emea/members", json={"member": "analyst"}, headers=h["root"])
    assert r.status_code == 409 and "cycle" in r.json()["error"]["message"]
    assert [m["member"] for m in api.get(f"{API}/access/roles/analyst/members", headers=h["vic"]).json()] == ["emea"]
    assert api.delete(f"{API}/access/roles/emea/members/vic", headers=h["root"]).status_code == 204
    assert api.delete(f"{API}/access/roles/emea", headers=h["root"]).status_code == 204
    assert "emea" not in {r["name"] for r in api.get(f"{API}/access/roles", headers=h["vic"]).json()}


def test_stewards_grant_on_their_dataset_only(api: TestClient, world: dict[str, Any]) -> None:
    h = world  # stu holds grant on sales.orders; sal holds the owner role "sales" (admin on it)
    grant = {"subject": "vic", "action": "read", "resource": "dataset:sales.orders"}
    r = api.post(f"{API}/access/grants", json=grant, headers=h["stu"])
    assert r.status_code == 201, r.text
    gid = r.json()["id"]
    r = api.post(f"{API}/access/grants", json={**grant, "action": "grant"}, headers=h["stu"])
    assert r.status_code == 403  # handing out grant needs admin
    r = api.post(f"{API}/access/grants", json={**grant, "subject": "sal", "action": "grant"}, headers=h["sal"])
    assert r.status_code == 201  # the owner holds admin on its dataset
    r = api.post(f"{API}/access/grants", json={**grant, "resource": "dataset:hr.pay"}, headers=h["stu"])
    assert r.status_code == 403
    decrypt = {"subject": "vic", "resource": "dataset:sales.orders.email", "mask": "decrypt"}
    assert api.put(f"{API}/access/masks", headers=h["stu"], json=decrypt).status_code == 403  # PII in clear: admin
    r = api.put(f"{API}/access/masks", headers=h["stu"], json={**decrypt, "mask": "partial:3"})
    assert r.status_code == 200 and r.json()["mask"] == "partial:3"
    r = api.put(f"{API}/access/row-filters", headers=h["stu"],
                json={"subject": "vic", "resource": "dataset:sales.orders", "predicate": "country = 'DE'"})
    assert r.status_code == 200 and r.json()["predicate"] == "`country` = 'DE'"
    r = api.put(f"{API}/access/row-filters", headers=h["stu"],
                json={"subject": "vic", "resource": "dataset:sales.orders", "predicate": "1 = (SELECT 1)"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_row_filter"

    access = api.get(f"{API}/access/datasets/sales.orders", headers=h["vic"]).json()
    assert access["allowed"] and access["row_filter"] == "`country` = 'DE'"
    assert {c["name"]: c["mask"] for c in access["columns"]} == {"order_id": None, "country": None,
                                                                 "email": "partial:3"}
    assert api.get(f"{API}/access/datasets/sales.orders?subject=vic", headers=h["mal"]).status_code == 403
    check = api.get(f"{API}/access/check", params={"action": "read", "resource": "dataset:sales.orders"},
                    headers=h["vic"]).json()
    assert check["allowed"] and check["allows"][0]["subject"] == "vic"
    listed = api.get(f"{API}/access/grants?resource=dataset:sales.orders", headers=h["stu"]).json()
    assert {(g["subject"], g["action"]) for g in listed} == {("vic", "read"), ("sal", "grant"), ("stu", "grant"),
                                                             ("sales", "admin")}
    assert [m["subject"] for m in api.get(f"{API}/access/masks", headers=h["stu"]).json()] == ["vic"]
    assert api.get(f"{API}/access/masks", headers=h["vic"]).json() == []
    assert api.delete(f"{API}/access/row-filters", params={"subject": "vic", "resource": "dataset:sales.orders"},
                      headers=h["stu"]).status_code == 204
    assert api.delete(f"{API}/access/grants/{gid}", headers=h["mal"]).status_code == 403
    assert api.delete(f"{API}/access/grants/{gid}", headers=h["stu"]).status_code == 204
    assert not api.get(f"{API}/access/datasets/sales.orders", headers=h["vic"]).json()["allowed"]


def test_policy_export_and_import(api: TestClient, world: dict[str, Any]) -> None:
    h = world
    r = api.get(f"{API}/access/policy", headers=h["root"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "p, mal, lake, admin, deny" in r.text
    text = r.text + "p, vic, dataset:sales.orders, read, allow\n"
    r = api.post(f"{API}/access/policy", content=text, headers={**h["root"], "Content-Type": "text/csv"})
    assert r.status_code == 200 and r.json()["grants"] == 1
    r = api.post(f"{API}/access/policy", content="p, vic, lake, fly, allow",
                 headers={**h["root"], "Content-Type": "text/csv"})
    assert r.status_code == 422 and r.json()["error"]["details"]["line"] == 1
    assert api.get(f"{API}/access/policy", headers=h["sal"]).status_code == 403


def test_access_request_round_trip(api: TestClient, world: dict[str, Any]) -> None:
    h = world
    body = {"resource": "dataset:sales.orders", "columns": ["country"], "reason": "dashboard", "duration_days": 7}
    r = api.post(f"{API}/access/requests", json=body, headers=h["vic"])
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert [q["id"] for q in api.get(f"{API}/access/requests?status=pending", headers=h["sal"]).json()] == [rid]
    assert api.get(f"{API}/access/requests/{rid}", headers=h["vic"]).json()["status"] == "pending"
    assert api.post(f"{API}/access/requests/{rid}/approve", json={}, headers=h["vic"]).status_code == 403
    r = api.post(f"{API}/access/requests/{rid}/approve", json={"note": "ok", "duration_days": 1}, headers=h["sal"])
    assert r.status_code == 200 and r.json()["status"] == "approved" and r.json()["duration_seconds"] == 86400
    assert api.post(f"{API}/access/requests/{rid}/reject", json={}, headers=h["sal"]).status_code == 409
    cols = api.get(f"{API}/access/datasets/sales.orders", headers=h["vic"]).json()["columns"]
    assert [c["name"] for c in cols] == ["country"]
    assert api.post(f"{API}/access/requests", json=body, headers=h["mal"]).status_code == 403


def test_audit_query_and_verify(api: TestClient, world: dict[str, Any]) -> None:
    h = world
    api.post(f"{API}/access/roles", json={"name": "x"}, headers=h["vic"])  # a denied decision
    denied = api.get(f"{API}/audit", params={"decision": "deny", "actor": "vic"}, headers=h["root"]).json()
    assert denied and denied[0]["action"] == "admin" and denied[0]["resource"] == "lake"
    changes = api.get(f"{API}/audit", params={"kind": "policy_change", "limit": 1, "oldest_first": True},
                      headers=h["root"]).json()
    assert len(changes) == 1 and changes[0]["seq"] >= 1
    v = api.get(f"{API}/audit/verify", headers=h["root"]).json()
    assert v["ok"] and v["entries"] == v["head_seq"] and len(v["head_hash"]) == 64
    assert api.get(f"{API}/audit/verify", params={"expected_head": v["head_hash"]}, headers=h["root"]).json()["ok"]
    assert api.get(f"{API}/audit", headers=h["sal"]).status_code == 403
    assert api.get(f"{API}/audit/verify").status_code == 401
