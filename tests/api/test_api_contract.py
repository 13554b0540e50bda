"""The API's contract: timezone-aware datetimes, and every error answer the server
can give documented as the JSON envelope."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient

from api.app import API_PREFIX as API

Headers = dict[str, str]


def _aware(text: str) -> bool:
    return dt.datetime.fromisoformat(text).tzinfo is not None


def test_datetimes_in_answers_carry_their_zone(client: TestClient, auth: dict[str, Headers], orders: Any,
                                               good_csv: bytes) -> None:
    # SQLite gives timestamps back without a zone; the answers must still say UTC.
    assert _aware(orders["created_at"])
    dataset = client.get(f"{API}/datasets/sales.orders", headers=auth["alice"]).json()
    assert _aware(dataset["created_at"]), dataset["created_at"]
    token = client.post(f"{API}/tokens", json={"ttl_days": 1}, headers=auth["alice"]).json()
    assert _aware(token["created_at"]) and _aware(token["expires_at"])
    r = client.post(f"{API}/datasets/sales.orders/batches", content=good_csv,
                    headers={**auth["alice"], "Content-Type": "text/csv"})
    assert r.status_code == 201, r.text
    [commit] = client.get(f"{API}/datasets/sales.orders/commits", headers=auth["alice"]).json()
    assert _aware(commit["created_at"]), commit
    versions = client.get(f"{API}/datasets/sales.orders/contract/versions", headers=auth["alice"]).json()
    assert all(_aware(v["created_at"]) for v in versions)


def test_error_answers_are_documented(client: TestClient, auth: dict[str, Headers]) -> None:
    schema = client.get(f"{API}/openapi.json", headers=auth["victor"]).json()
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for path, item in schema["paths"].items():
        if not path.startswith(API):
            continue
        for method, operation in item.items():
            responses = operation["responses"]
            assert {"401", "403", "500"} <= set(responses), (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= set(responses), (method, path)
            for status, response in responses.items():
                if int(status) >= 400:
                    assert response["content"] == {"application/json": {"schema": error_ref}}, (method, path, status)
    query = schema["paths"][f"{API}/query"]["post"]["responses"]
    assert "Retry-After" in query["429"]["headers"]
    sql = schema["paths"][f"{API}/metrics/{{name}}/sql"]["get"]["responses"]
    assert list(sql["200"]["content"]) == ["text/plain"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_a_validation_error_has_the_documented_shape(client: TestClient, auth: dict[str, Headers]) -> None:
    r = client.get(f"{API}/datasets/sales.orders/commits", params={"limit": 0}, headers=auth["victor"])
    assert r.status_code == 422
    assert set(r.json()) == {"error"} and set(r.json()["error"]) == {"code", "message", "details"}
