"""Every refusal and failure leaves an audit entry: gateway limit refusals, queries
too deeply nested to plan, and internal errors of any route."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient

from access import AccessControl, AuditKind
from access.audit import AuditEntry
from api.app import API_PREFIX as API
from api.authz import access_for
from api.deps import current_principal
from lake.service import Lake

Headers = dict[str, str]


def _queries(lake: Lake, client: TestClient, actor: str) -> list[AuditEntry]:
    access: AccessControl = access_for(client.app, lake)
    return access.audit.query(actor=actor, kind=AuditKind.QUERY)


def test_a_limit_refusal_is_audited_with_the_table_it_names(client: TestClient, lake: Lake,
                                                            auth: dict[str, Headers], orders: Any) -> None:
    r = client.post(f"{API}/query", json={"sql": "SELECT * FROM sales.orders", "max_rows": 10**12},
                    headers=auth["alice"])
    assert r.status_code == 422, r.text
    assert "max_rows" in r.json()["error"]["message"]
    [entry] = _queries(lake, client, "alice")
    assert entry.resource == "dataset:sales.orders"
    assert entry.detail["outcome"] == "invalid_input" and "max_rows" in entry.detail["error"]

    r = client.post(f"{API}/query", json={"sql": "SELECT * FROM sales.orders", "timeout_seconds": 0},
                    headers=auth["alice"])
    assert r.status_code == 422, r.text
    assert len(_queries(lake, client, "alice")) == 2


def test_a_limit_refusal_naming_a_denied_table_is_audited_as_a_denial(
        client: TestClient, lake: Lake, auth: dict[str, Headers], orders: Any) -> None:
    r = client.post(f"{API}/query", json={"sql": "SELECT * FROM sales.orders", "max_rows": -1},
                    headers=auth["victor"])
    assert r.status_code == 403, r.text
    [entry] = _queries(lake, client, "victor")
    assert entry.decision == "deny" and entry.resource == "dataset:sales.orders"


def test_an_empty_query_is_refused_by_the_gateway_and_audited(client: TestClient, lake: Lake,
                                                              auth: dict[str, Headers]) -> None:
    r = client.post(f"{API}/query", json={"sql": ""}, headers=auth["victor"])
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "query_refused"
    [entry] = _queries(lake, client, "victor")
    assert entry.decision == "deny" and entry.detail["outcome"] == "query_refused"


def test_ninety_nested_derived_tables_are_refused_and_audited(client: TestClient, lake: Lake,
                                                             auth: dict[str, Headers], orders: Any) -> None:
    # Before: RecursionError in sqlglot's generator, a 500, and no audit entry.
    sql = "SELECT * FROM " + "(SELECT * FROM " * 90 + "sales.orders" + ") t" * 90
    r = client.post(f"{API}/query", json={"sql": sql}, headers=auth["alice"])
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "query_refused" and "at most 32 SELECTs deep" in error["message"]
    [entry] = _queries(lake, client, "alice")
    assert entry.decision == "deny" and entry.detail["outcome"] == "query_refused"
    # Thirty levels still plan.
    sql = "SELECT * FROM " + "(SELECT * FROM " * 30 + "sales.orders" + ") t" * 30
    planned = client.app.state.services.gateway.plan("alice", sql)
    assert planned.tables == ("sales.orders",)


def test_an_internal_error_is_audited_without_its_message(make_client: Any, users_for: Any) -> None:
    client = make_client()
    lake: Lake = client.app.state.services.lake
    auth = users_for(lake)
    broken = APIRouter(prefix=API, dependencies=[Depends(current_principal)])

    @broken.get("/broken")
    def fail() -> None:
        raise RuntimeError("/secret/lake/path")

    client.app.include_router(broken)
    quiet = TestClient(client.app, raise_server_exceptions=False)
    r = quiet.get(f"{API}/broken", headers=auth["victor"])
    assert r.status_code == 500
    assert "/secret" not in r.text
    [entry] = access_for(client.app, lake).audit.query(kind=AuditKind.FAILURE)
    assert (entry.actor, entry.action, entry.resource) == ("victor", "GET", f"{API}/broken")
    assert entry.detail == {"error": "RuntimeError"}
