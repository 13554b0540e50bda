"""The HTTP API end to end: a real app (lifespan, SQLite catalog, local Delta store)
driven through Starlette's test client."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from lake.service import Lake

API = "/api/v1"
Headers = dict[str, str]

#: The routes anyone may call: the health check and what documents the API.
PUBLIC_ROUTES = {("GET", "/health"), ("GET", "/api/v1/openapi.json"), ("GET", "/api/docs")}
EXPECTED_ROUTES = {
    ("GET", "/api/v1/search"),
    ("POST", "/api/v1/datasets"),
    ("GET", "/api/v1/datasets"),
    ("GET", "/api/v1/datasets/{name}"),
    ("GET", "/api/v1/datasets/{name}/contract/versions"),
    ("POST", "/api/v1/datasets/{name}/contract"),
    ("POST", "/api/v1/datasets/{name}/batches"),
    ("GET", "/api/v1/datasets/{name}/commits"),
    ("GET", "/api/v1/datasets/{name}/history"),
    ("POST", "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/{token_id}"),
    ("GET", "/api/v1/me"),
    ("POST", "/api/v1/users"),
    ("GET", "/api/v1/users"),
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every HTTP route, including those of included routers."""
    try:  # FastAPI >= 0.16x includes routers lazily
        from fastapi.routing import iter_route_contexts

        routes: Any = list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - older FastAPI
        routes = app.routes
    # The web UI (``/``, ``/ui/...``) signs people in with sessions; tests/ui covers it.
    return {(m, r.path) for r in routes for m in (getattr(r, "methods", None) or ())
            if m != "HEAD" and r.path != "/" and not r.path.startswith("/ui")}


def concrete(path: str) -> str:
    return path.replace("{name}", "sales.orders").replace("{token_id}", "1")


def error_of(r: Any) -> dict[str, Any]:
    body = r.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    err: dict[str, Any] = body["error"]
    return err


def table_version(lake: Lake, name: str = "sales.orders") -> int:
    return lake.datasets.table(lake.dataset(name)).version()


# -- batches in every format -------------------------------------------------------------


def _rows_table() -> pa.Table:
    return pa.table({
        "order_id": pa.array([1, 2, 3], pa.int64()),
        "amount": pa.array([Decimal("9.99"), Decimal("0.00"), None], pa.decimal128(12, 2)),
        "country": pa.array(["US", "DE", "FR"]),
        "email": pa.array(["ann@example.com", None, "cy@example.com"]),
    })


def csv_batch() -> tuple[bytes, Headers, str]:
    body = b"order_id,amount,country,email\n1,9.99,US,ann@example.com\n2,0,DE,\n3,,FR,cy@example.com\n"
    return body, {"Content-Type": "text/csv; charset=utf-8"}, ""


def parquet_batch() -> tuple[bytes, Headers, str]:
    sink = io.BytesIO()
    pq.write_table(_rows_table(), sink)
    return sink.getvalue(), {"Content-Type": "application/octet-stream"}, "?format=parquet"


def jsonl_batch() -> tuple[bytes, Headers, str]:
    lines = [
        {"order_id": 1, "amount": "9.99", "country": "US", "email": "ann@example.com"},
        {"order_id": 2, "amount": "0", "country": "DE", "email": None},
        {"order_id": 3, "amount": None, "country": "FR", "email": "cy@example.com"},
    ]
    body = "\n".join(json.dumps(line) for line in lines).encode() + b"\n"
    return body, {"Content-Type": "application/x-ndjson"}, ""


def arrow_batch() -> tuple[bytes, Headers, str]:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, _rows_table().schema) as writer:
        writer.write_table(_rows_table())
    return sink.getvalue().to_pybytes(), {"Content-Type": "application/vnd.apache.arrow.stream"}, ""


# -- authentication --------------------------------------------------------------------------


def test_health_is_public_and_says_nothing_else(client: TestClient) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_core_routes_are_mounted(client: TestClient) -> None:
    routes = app_routes(client.app)  # type: ignore[arg-type]
    assert routes >= EXPECTED_ROUTES | PUBLIC_ROUTES
    assert {path for _, path in routes if not path.startswith("/api/v1/")} == {"/health", "/api/docs"}


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer lg_not-a-real-token"},
    {"Authorization": "Bearer something-else"},
    {"Authorization": "Basic YWRtaW46YWRtaW4="},
    {"Authorization": "Bearer"},
], ids=["none", "unknown", "malformed", "basic", "empty"])
def test_every_route_but_the_public_ones_needs_a_token(client: TestClient, auth: dict[str, Headers],
                                                      headers: Headers) -> None:
    routes = app_routes(client.app) - PUBLIC_ROUTES  # type: ignore[arg-type]
    assert routes >= EXPECTED_ROUTES
    answers = {}
    for method, path in sorted(routes):
        r = client.request(method, concrete(path), headers=headers)
        answers[(method, path)] = (r.status_code, r.headers.get("www-authenticate"), error_of(r)["code"])
    assert all(a == (401, "Bearer", "unauthenticated") for a in answers.values()), answers


def test_a_bad_token_is_not_logged(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    secret = "lg_this-token-must-not-appear-in-logs"
    with caplog.at_level(logging.DEBUG):
        r = client.get(f"{API}/me", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 401
    assert secret not in caplog.text
    assert secret not in r.text


def test_viewer_gets_403_where_a_permission_is_needed(
    client: TestClient, lake: Lake, auth: dict[str, Headers], orders: dict[str, Any], good_csv: bytes,
    make_contract: Callable[..., dict[str, Any]],
) -> None:
    _, alice_token = lake.users.create_token("alice")
    viewer = auth["victor"]
    needs_permission = [
        ("POST", f"{API}/datasets", {"json": make_contract("sales.refunds")}),
        ("POST", f"{API}/datasets/sales.orders/contract", {"json": make_contract()}),
        ("POST", f"{API}/datasets/sales.orders/contract?dry_run=true", {"json": make_contract()}),
        ("POST", f"{API}/datasets/sales.orders/batches?format=csv", {"content": good_csv}),
        ("POST", f"{API}/users", {"json": {"name": "mallory", "roles": ["admin"]}}),
        ("GET", f"{API}/users", {}),
        ("POST", f"{API}/tokens", {"json": {"user": "alice"}}),
    ]
    # Someone else's token answers 404, like a missing one: token ids are not an oracle.
    assert client.delete(f"{API}/tokens/{alice_token.id}", headers=viewer).status_code == 404
    for method, url, kwargs in needs_permission:
        r = client.request(method, url, headers=viewer, **kwargs)
        assert r.status_code == 403, (method, url, r.text)
        err = error_of(r)
        assert err["code"] == "access_denied"
        assert err["details"]["subject"] == "victor"
    # Nothing happened.
    assert table_version(lake) == 0
    assert [p.name for p in lake.users.list()] == sorted(["alice", "bob", "root", "victor"])
    # Discovery needs no role.
    for url in (f"{API}/datasets", f"{API}/datasets/sales.orders", f"{API}/datasets/sales.orders/commits",
                f"{API}/datasets/sales.orders/history", f"{API}/datasets/sales.orders/contract/versions",
                f"{API}/me", f"{API}/search?q=orders"):
        assert client.get(url, headers=viewer).status_code == 200, url


def test_only_the_owning_team_or_an_admin_writes_a_dataset(
    client: TestClient, auth: dict[str, Headers], orders: dict[str, Any], good_csv: bytes,
) -> None:
    url = f"{API}/datasets/sales.orders/batches?format=csv"
    r = client.post(url, content=good_csv, headers=auth["bob"])  # a producer of another team
    assert r.status_code == 403
    assert "bob may not write dataset:sales.orders" in error_of(r)["message"]
    assert client.post(url, content=good_csv, headers=auth["alice"]).status_code == 201
    assert client.post(url + "&mode=overwrite", content=good_csv, headers=auth["root"]).status_code == 201


# -- registering and discovering datasets ---------------------------------------------------


def test_register_a_dataset_from_json(client: TestClient, auth: dict[str, Headers],
                                      make_contract: Callable[..., dict[str, Any]]) -> None:
    r = client.post(f"{API}/datasets", json=make_contract(), headers=auth["alice"])
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["name"], body["domain"], body["major"], body["contract_version"]) == ("sales.orders", "sales", 1, 1)
    assert (body["owner"], body["created_by"], body["is_current"]) == ("sales", "alice", True)
    assert [c["name"] for c in body["contract"]["columns"]] == ["order_id", "amount", "country", "email"]

    again = client.post(f"{API}/datasets", json=make_contract(), headers=auth["alice"])
    assert again.status_code == 409
    assert error_of(again)["code"] == "already_exists"


@pytest.mark.parametrize("media", ["application/yaml", "text/yaml", "application/x-yaml; charset=utf-8"])
def test_register_a_dataset_from_yaml(client: TestClient, auth: dict[str, Headers], contract_yaml: str,
                                      media: str) -> None:
    r = client.post(f"{API}/datasets", content=contract_yaml.encode(), headers={**auth["alice"], "Content-Type": media})
    assert r.status_code == 201, r.text
    assert r.json()["contract"]["columns"][3] == {"name": "email", "type": "string", "nullable": True, "pii": True}


@pytest.mark.parametrize(("body", "media", "where"), [
    ({"dataset": "sales.orders", "columns": [{"name": "id", "type": "int128"}]}, None, "columns[0] (id).type"),
    ({"dataset": "Sales", "columns": [{"name": "id", "type": "int64"}]}, None, "dataset"),
    ({"dataset": "sales.orders", "columns": []}, None, "columns"),
    ({"dataset": "sales.orders", "primary_key": ["nope"], "columns": [{"name": "id", "type": "int64"}]}, None,
     "primary_key"),
    ("dataset: sales.orders\ncolumns:\n  - {name: id, type: int64\n", "application/yaml", "line "),
    ('{"dataset": "sales.orders", "columns": [', "application/json", "line 1"),
], ids=["type", "name", "no-columns", "primary-key", "yaml-syntax", "json-syntax"])
def test_a_bad_contract_is_422_naming_the_field(client: TestClient, auth: dict[str, Headers], body: Any,
                                                media: str | None, where: str) -> None:
    if media is None:
        r = client.post(f"{API}/datasets", json=body, headers=auth["alice"])
    else:
        r = client.post(f"{API}/datasets", content=body.encode(), headers={**auth["alice"], "Content-Type": media})
    assert r.status_code == 422, r.text
    err = error_of(r)
    assert err["code"] == "invalid_contract"
    assert err["details"]["where"].startswith(where)
    assert err["message"].startswith(where)


def test_list_and_show_datasets(client: TestClient, auth: dict[str, Headers], orders: dict[str, Any],
                                make_contract: Callable[..., dict[str, Any]]) -> None:
    client.post(f"{API}/datasets", json=make_contract("ads.clicks", owner="marketing"), headers=auth["bob"])
    viewer = auth["victor"]
    names = [d["name"] for d in client.get(f"{API}/datasets", headers=viewer).json()]
    assert names == ["ads.clicks", "sales.orders"]
    assert [d["name"] for d in client.get(f"{API}/datasets?domain=sales", headers=viewer).json()] == ["sales.orders"]
    assert client.get(f"{API}/datasets?domain=hr", headers=viewer).json() == []

    shown = client.get(f"{API}/datasets/sales.orders", headers=viewer).json()
    assert shown == orders
    assert client.get(f"{API}/datasets/sales.orders?major=1", headers=viewer).json() == orders

    missing = client.get(f"{API}/datasets/sales.nothing", headers=viewer)
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "not_found"
    assert client.get(f"{API}/datasets/sales.orders?major=7", headers=viewer).status_code == 404


# -- batches ------------------------------------------------------------------------------------


@pytest.mark.parametrize("make_batch", [csv_batch, parquet_batch, jsonl_batch, arrow_batch],
                         ids=["csv", "parquet", "jsonl", "arrow"])
def test_upload_a_batch(client: TestClient, lake: Lake, auth: dict[str, Headers], orders: dict[str, Any],
                        make_batch: Callable[[], tuple[bytes, Headers, str]]) -> None:
    body, headers, query = make_batch()
    r = client.post(f"{API}/datasets/sales.orders/batches{query}", content=body, headers={**auth["alice"], **headers})
    assert r.status_code == 201, r.text
    result = r.json()
    assert (result["dataset"], result["mode"], result["rows"], result["table_version"]) == \
        ("sales.orders", "append", 3, 1)
    assert result["replayed"] is False

    rows = lake.read("sales.orders", decrypt=True).sort_by("order_id").to_pylist()
    assert [(r["order_id"], r["amount"], r["country"], r["email"]) for r in rows] == [
        (1, Decimal("9.99"), "US", "ann@example.com"),
        (2, Decimal("0.00"), "DE", None),
        (3, None, "FR", "cy@example.com"),
    ]
    stored = lake.read("sales.orders").column("email").to_pylist()
    assert b"ann@example.com" not in [v for v in stored if v is not None]  # PII is stored encrypted


def test_a_batch_breaking_the_contract_is_rejected_whole(client: TestClient, lake: Lake,
                                                         auth: dict[str, Headers], orders: dict[str, Any]) -> None:
    before = table_version(lake)
    body = b"order_id,amount,country,email\n1,5,US,\n2,-1,US,\n3,abc,DE,\n4,7,XX,\n5,-3,FR,\n"
    r = client.post(f"{API}/datasets/sales.orders/batches?format=csv", content=body, headers=auth["alice"])
    assert r.status_code == 422, r.text
    err = error_of(r)
    assert err["code"] == "contract_violation"
    assert err["details"]["dataset"] == "sales.orders"
    by_reason = {(v["column"], v["reason"]): v for v in err["details"]["violations"]}
    below = next(v for (col, reason), v in by_reason.items() if col == "amount" and "minimum" in reason)
    assert (below["failing_rows"], below["row_numbers"]) == (2, [2, 5])
    not_decimal = next(v for (col, reason), v in by_reason.items() if col == "amount" and "decimal" in reason)
    assert (not_decimal["failing_rows"], not_decimal["row_numbers"]) == (1, [3])
    country = next(v for (col, _), v in by_reason.items() if col == "country")
    assert (country["failing_rows"], country["row_numbers"]) == (1, [4])
    assert "amount" in err["message"]

    assert table_version(lake) == before
    assert lake.read("sales.orders").num_rows == 0
    assert client.get(f"{API}/datasets/sales.orders/commits", headers=auth["alice"]).json() == []


def test_quarantine_lands_the_good_rows(client: TestClient, lake: Lake, auth: dict[str, Headers],
                                        orders: dict[str, Any]) -> None:
    body = b"order_id,amount,country,email\n1,5,US,\n2,-1,US,\n3,4,DE,\n"
    r = client.post(f"{API}/datasets/sales.orders/batches?format=csv&on_error=quarantine", content=body,
                    headers=auth["alice"])
    assert r.status_code == 201, r.text
    result = r.json()
    assert (result["rows"], result["rejected_rows"]) == (2, 1)
    assert result["violations"][0]["row_numbers"] == [2]
    assert sorted(lake.read("sales.orders").column("order_id").to_pylist()) == [1, 3]


def test_a_malformed_batch_names_the_line(client: TestClient, auth: dict[str, Headers],
                                          orders: dict[str, Any]) -> None:
    body = b'{"order_id": 1}\n{"order_id": 2,\n'
    r = client.post(f"{API}/datasets/sales.orders/batches?format=jsonl", content=body, headers=auth["alice"])
    assert r.status_code == 422
    err = error_of(r)
    assert (err["code"], err["details"]["line"], err["details"]["format"]) == ("malformed_batch", 2, "jsonl")


@pytest.mark.parametrize(("query", "headers", "code"), [
    ("?format=xlsx", {}, "invalid_input"),
    ("", {"Content-Type": "application/octet-stream"}, "invalid_input"),
    ("?format=csv&mode=merge", {}, "invalid_request"),
    ("?format=csv&on_error=ignore", {}, "invalid_request"),
])
def test_bad_batch_parameters(client: TestClient, auth: dict[str, Headers], orders: dict[str, Any],
                              good_csv: bytes, query: str, headers: Headers, code: str) -> None:
    r = client.post(f"{API}/datasets/sales.orders/batches{query}", content=good_csv,
                    headers={**auth["alice"], **headers})
    assert r.status_code == 422, r.text
    assert error_of(r)["code"] == code


def test_an_idempotency_key_lands_a_batch_once(client: TestClient, lake: Lake, auth: dict[str, Headers],
                                               orders: dict[str, Any], good_csv: bytes) -> None:
    url = f"{API}/datasets/sales.orders/batches?format=csv"
    headers = {**auth["alice"], "Idempotency-Key": "orders-2026-11-01"}
    first = client.post(url, content=good_csv, headers=headers)
    assert first.status_code == 201, first.text
    retry = client.post(url, content=good_csv, headers=headers)
    assert retry.status_code == 200, retry.text
    assert retry.json()["replayed"] is True
    assert {k: v for k, v in retry.json().items() if k != "replayed"} == \
        {k: v for k, v in first.json().items() if k != "replayed"}

    assert lake.read("sales.orders").num_rows == 2
    assert table_version(lake) == 1
    commits = client.get(f"{API}/datasets/sales.orders/commits", headers=auth["alice"]).json()
    assert [c["idempotency_key"] for c in commits] == ["orders-2026-11-01"]

    other = client.post(url + "&mode=upsert", content=good_csv, headers={**auth["alice"], "Idempotency-Key": "k2"})
    assert other.status_code == 201
    assert table_version(lake) == 2


def test_an_upload_over_the_limit_is_413_and_commits_nothing(
    make_client: Callable[..., TestClient], users_for: Callable[[Lake], dict[str, Headers]],
    make_contract: Callable[..., dict[str, Any]],
) -> None:
    small = make_client("small-home", max_upload_bytes=64)
    lake: Lake = small.app.state.services.lake  # type: ignore[attr-defined]
    auth = users_for(lake)
    assert small.post(f"{API}/datasets", json=make_contract(), headers=auth["alice"]).status_code == 201
    url = f"{API}/datasets/sales.orders/batches?format=csv"
    rows = b"order_id,amount,country,email\n" + b"".join(b"%d,1,US,\n" % i for i in range(100))
    assert len(rows) > 64

    declared = small.post(url, content=rows, headers=auth["alice"])  # Content-Length says it all

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked, caught while streaming
        for i in range(0, len(rows), 16):
            yield rows[i:i + 16]

    streamed = small.post(url, content=chunks(), headers=auth["alice"])
    for r in (declared, streamed):
        assert r.status_code == 413, r.text
        err = error_of(r)
        assert (err["code"], err["details"]) == ("payload_too_large", {"limit_bytes": 64})
    assert table_version(lake) == 0
    assert lake.commits("sales.orders") == []

    fits = small.post(url, content=b"order_id\n1\n", headers=auth["alice"])
    assert fits.status_code == 201, fits.text


# -- contract evolution ------------------------------------------------------------------------


def test_contract_evolution(client: TestClient, lake: Lake, auth: dict[str, Headers], orders: dict[str, Any],
                            make_contract: Callable[..., dict[str, Any]], good_csv: bytes) -> None:
    url = f"{API}/datasets/sales.orders/contract"
    alice = auth["alice"]
    base = make_contract()
    compatible = make_contract(columns=[*base["columns"], {"name": "coupon", "type": "string"}])

    plan = client.post(url + "?dry_run=true", json=compatible, headers=alice)
    assert plan.status_code == 200, plan.text
    assert plan.json()["dry_run"] is True and plan.json()["breaking"] is False
    assert plan.json()["changes"] == [
        {"kind": "added", "column": "coupon", "detail": "nullable column 'coupon' added", "breaking": False}]
    assert lake.dataset("sales.orders").contract_version == 1  # a dry run changes nothing

    evolved = client.post(url, json=compatible, headers=alice)
    assert evolved.status_code == 200, evolved.text
    assert (evolved.json()["major"], evolved.json()["contract_version"]) == (1, 2)
    versions = client.get(f"{url}/versions", headers=alice).json()
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[1]["changes"][0]["column"] == "coupon"
    assert versions[1]["created_by"] == "alice"

    breaking = make_contract(columns=[c for c in compatible["columns"] if c["name"] != "email"])
    planned = client.post(url + "?dry_run=true", json=breaking, headers=alice).json()
    assert planned["breaking"] is True
    refused = client.post(url, json=breaking, headers=alice)
    assert refused.status_code == 409
    err = error_of(refused)
    assert err["code"] == "breaking_change"
    assert {"kind": "dropped", "column": "email", "detail": "column 'email' dropped", "breaking": True} \
        in err["details"]["changes"]
    assert "major" in err["message"]

    major = client.post(url + "?major=true", json=breaking, headers=alice)
    assert major.status_code == 200, major.text
    assert (major.json()["major"], major.json()["contract_version"]) == (2, 1)
    assert client.get(f"{API}/datasets/sales.orders", headers=alice).json()["major"] == 2
    old = client.get(f"{API}/datasets/sales.orders?major=1", headers=alice).json()
    assert (old["is_current"], old["contract_version"]) == (False, 2)

    wrong = client.post(url, json=make_contract("sales.refunds"), headers=alice)
    assert wrong.status_code == 422
    assert error_of(wrong)["details"]["where"] == "dataset"


def test_evolve_from_yaml(client: TestClient, auth: dict[str, Headers], orders: dict[str, Any],
                          contract_yaml: str) -> None:
    text = contract_yaml + "  - {name: coupon, type: string}\n"
    r = client.post(f"{API}/datasets/sales.orders/contract", content=text.encode(),
                    headers={**auth["alice"], "Content-Type": "application/yaml"})
    assert r.status_code == 200, r.text
    assert r.json()["contract_version"] == 2


# -- commits and history ----------------------------------------------------------------------------


def test_commits_and_history(client: TestClient, auth: dict[str, Headers], orders: dict[str, Any],
                             good_csv: bytes) -> None:
    url = f"{API}/datasets/sales.orders/batches?format=csv"
    client.post(url + "&reason=first+load", content=good_csv, headers={**auth["alice"], "Idempotency-Key": "a"})
    client.post(url + "&mode=overwrite", content=good_csv, headers=auth["root"])

    commits = client.get(f"{API}/datasets/sales.orders/commits", headers=auth["victor"]).json()
    assert [(c["operation"], c["actor"], c["table_version"], c["rows"]) for c in commits] == [
        ("overwrite", "root", 2, 2), ("append", "alice", 1, 2)]
    assert commits[1]["reason"] == "first load"
    assert commits[1]["source"] == "api"
    assert commits[1]["idempotency_key"] == "a"
    assert client.get(f"{API}/datasets/sales.orders/commits?limit=1", headers=auth["victor"]).json() == commits[:1]

    history = client.get(f"{API}/datasets/sales.orders/history", headers=auth["victor"]).json()
    assert [(h["version"], h["actor"]) for h in history] == [(2, "root"), (1, "alice"), (0, "alice")]
    assert history[1]["idempotency_key"] == "a"
    assert history[2]["operation"] == "CREATE TABLE"
    assert len(client.get(f"{API}/datasets/sales.orders/history?limit=2", headers=auth["victor"]).json()) == 2


# -- OpenAPI ----------------------------------------------------------------------------------------


def test_openapi_and_swagger_ui_are_public_and_the_operations_are_not(client: TestClient) -> None:
    for absent in ("/openapi.json", "/docs", "/redoc", f"{API}/docs"):
        assert client.get(absent).status_code == 404, absent
    r = client.get(f"{API}/openapi.json")  # no token
    assert r.status_code == 200
    doc = r.json()
    assert doc["info"]["title"] == "Lakegate"
    assert "/api/v1/datasets/{name}/batches" in doc["paths"]
    assert "text/csv" in doc["paths"]["/api/v1/datasets/{name}/batches"]["post"]["requestBody"]["content"]
    assert "HTTPBearer" in doc["components"]["securitySchemes"]
    search = doc["paths"]["/api/v1/search"]["get"]
    assert {p["name"] for p in search["parameters"]} == {"q", "kind", "domain", "certified", "limit", "offset"}
    assert {"401", "403", "422"} <= set(search["responses"])
    assert client.get(f"{API}/search?q=orders").status_code == 401  # documented, not open

    page = client.get("/api/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert f"url: '{API}/openapi.json'" in html
    assert "http://" not in html and "https://" not in html  # every file is ours: it loads offline
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "'unsafe-inline'" not in csp
    inline = re.search(r"<script>(.*?)</script>", html, re.S)
    assert inline is not None
    digest = base64.b64encode(hashlib.sha256(inline.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp  # the one inline script, allowed by its hash and nothing else
    for src in re.findall(r'(?:src|href)="([^"]+)"', html):
        asset = client.get(src)
        assert asset.status_code == 200 and len(asset.content) > 100, src
    assert "SwaggerUIBundle" in client.get("/api/docs/static/swagger-ui-bundle.js").text


# -- tokens and users ---------------------------------------------------------------------------------


def test_create_use_and_revoke_a_token(client: TestClient, auth: dict[str, Headers]) -> None:
    r = client.post(f"{API}/tokens", json={"name": "laptop", "ttl_days": 7}, headers=auth["victor"])
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["user"], created["name"], created["revoked"]) == ("victor", "laptop", False)
    assert created["token"].startswith(created["prefix"])
    mine = {"Authorization": f"Bearer {created['token']}"}
    assert client.get(f"{API}/me", headers=mine).json() == {"name": "victor", "roles": [], "kind": "user"}

    # Someone else's token answers like a missing one (ids cannot be enumerated).
    assert client.delete(f"{API}/tokens/{created['id']}", headers=auth["bob"]).status_code == 404
    gone = client.delete(f"{API}/tokens/{created['id']}", headers=mine)
    assert gone.status_code == 204
    after = client.get(f"{API}/me", headers=mine)
    assert after.status_code == 401
    assert after.headers["www-authenticate"] == "Bearer"
    assert client.get(f"{API}/me", headers=auth["victor"]).status_code == 200  # other tokens still work

    missing = client.delete(f"{API}/tokens/999999", headers=auth["root"])
    assert (missing.status_code, error_of(missing)["code"]) == (404, "not_found")


def test_admins_create_and_revoke_tokens_for_others(client: TestClient, auth: dict[str, Headers]) -> None:
    r = client.post(f"{API}/tokens", json={"user": "victor", "ttl_days": None}, headers=auth["root"])
    assert r.status_code == 201, r.text
    assert (r.json()["user"], r.json()["expires_at"]) == ("victor", None)
    token = {"Authorization": f"Bearer {r.json()['token']}"}
    assert client.get(f"{API}/me", headers=token).json()["name"] == "victor"
    assert client.delete(f"{API}/tokens/{r.json()['id']}", headers=auth["root"]).status_code == 204
    assert client.get(f"{API}/me", headers=token).status_code == 401

    unknown = client.post(f"{API}/tokens", json={"user": "nobody"}, headers=auth["root"])
    assert unknown.status_code == 404


def test_an_expired_token_is_401(client: TestClient, lake: Lake, auth: dict[str, Headers]) -> None:
    token, _ = lake.users.create_token("alice", ttl_days=-1)
    r = client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert error_of(r) == {"code": "unauthenticated", "message": "token expired", "details": {}}


def test_token_lifetime_must_be_positive(client: TestClient, auth: dict[str, Headers]) -> None:
    r = client.post(f"{API}/tokens", json={"ttl_days": -1}, headers=auth["victor"])
    assert r.status_code == 422
    err = error_of(r)
    assert err["code"] == "invalid_request"
    assert err["details"]["errors"][0]["loc"] == ["body", "ttl_days"]


def test_users(client: TestClient, auth: dict[str, Headers]) -> None:
    r = client.post(f"{API}/users", json={"name": "carol", "roles": ["producer"], "password": "hunter2-secret"},
                    headers=auth["root"])
    assert r.status_code == 201, r.text
    assert r.json() == {"name": "carol", "roles": ["producer"], "kind": "user"}
    service = client.post(f"{API}/users", json={"name": "etl-bot", "kind": "service"}, headers=auth["root"])
    assert service.json()["kind"] == "service"
    listed = client.get(f"{API}/users", headers=auth["root"]).json()
    assert [u["name"] for u in listed] == ["alice", "bob", "carol", "etl-bot", "root", "victor"]
    assert "hunter2" not in json.dumps(listed)

    dup = client.post(f"{API}/users", json={"name": "carol"}, headers=auth["root"])
    assert (dup.status_code, error_of(dup)["code"]) == (409, "already_exists")
    assert client.get(f"{API}/me", headers=auth["alice"]).json() == {
        "name": "alice", "roles": ["producer", "sales"], "kind": "user"}


def test_a_validation_error_never_echoes_the_input(client: TestClient, auth: dict[str, Headers]) -> None:
    r = client.post(f"{API}/users", json={"name": 5, "password": "hunter2-secret", "roles": "x"},
                    headers=auth["root"])
    assert r.status_code == 422
    assert error_of(r)["code"] == "invalid_request"
    assert "hunter2" not in r.text
