"""Integers in paths and query strings are bounded: a number past 64 bits is a 422,
never an overflow inside the catalog's driver (a 500)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.app import API_PREFIX as API

Headers = dict[str, str]

HUGE = 10**30

#: Values for the non-integer path parameters.
PATH_VALUES = {"name": "sales.orders", "member": "alice", "subject": "alice", "domain": "sales", "kind": "x",
               "metric": "sales.revenue", "view": "sales.v"}


def _is_int(schema: dict[str, Any]) -> bool:
    if schema.get("type") == "integer":
        return True
    return any(_is_int(s) for s in schema.get("anyOf", []))


def _operations(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path, item in openapi["paths"].items():
        for method, op in item.items():
            params = op.get("parameters", [])
            if any(p["in"] in ("path", "query") and _is_int(p.get("schema", {})) for p in params):
                out.append((method, path, op))
    return out


def test_every_integer_parameter_refuses_numbers_past_64_bits(client: TestClient, auth: dict[str, Headers],
                                                              orders: Any) -> None:
    openapi = client.get(f"{API}/openapi.json", headers=auth["root"]).json()
    operations = _operations(openapi)
    assert len(operations) >= 20
    failures = []
    for method, path, op in operations:
        url, query = path, {}
        for p in op.get("parameters", []):
            value: Any = HUGE if _is_int(p.get("schema", {})) else PATH_VALUES.get(p["name"], "x")
            if p["in"] == "path":
                url = url.replace("{" + p["name"] + "}", str(value))
            elif p["in"] == "query" and (p.get("required") or _is_int(p.get("schema", {}))):
                query[p["name"]] = str(value)
        r = client.request(method.upper(), url, params=query, headers=auth["root"])
        if r.status_code >= 500 or r.status_code not in (404, 422):
            failures.append(f"{method.upper()} {url}?{query}: {r.status_code} {r.text[:120]}")
    assert not failures, "\n".join(failures)


def test_the_routes_of_the_report(client: TestClient, auth: dict[str, Headers], orders: Any) -> None:
    for method, url in [("DELETE", f"{API}/inbox/channels/{HUGE}"), ("GET", f"{API}/access/requests/{HUGE}"),
                        ("GET", f"{API}/meetings/sessions/{HUGE}"),
                        ("GET", f"{API}/datasets/sales.orders/history?major={HUGE}"),
                        ("DELETE", f"{API}/tokens/{HUGE}"), ("DELETE", f"{API}/access/grants/{HUGE}")]:
        r = client.request(method, url, headers=auth["root"])
        assert r.status_code == 422, (url, r.text)
        assert r.json()["error"]["code"] == "invalid_request"
        assert "less than or equal to 9223372036854775807" in r.json()["error"]["message"]
    # The largest stored id is still looked up (and not found).
    r = client.get(f"{API}/access/requests/{2**63 - 1}", headers=auth["root"])
    assert r.status_code == 404, r.text


def test_bodies_bound_their_numbers_too(client: TestClient, auth: dict[str, Headers]) -> None:
    r = client.post(f"{API}/tokens", json={"ttl_days": 1e300}, headers=auth["victor"])
    assert r.status_code == 422, r.text


def test_vacuum_bounds_its_major_version(client: TestClient, auth: dict[str, Headers], orders: Any) -> None:
    r = client.post(f"{API}/datasets/sales.orders/vacuum", params={"major": str(HUGE), "dry_run": "true"},
                    headers=auth["root"])
    assert r.status_code == 422, r.text
    assert "less than or equal to 9223372036854775807" in r.json()["error"]["message"]
