"""Input is bounded before it is parsed: nesting depth of JSON Lines batches, JSON
and YAML documents, and the size of every request body."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import API_PREFIX as API
from lake.nesting import MAX_NESTING_DEPTH

from live_server import live_server

Headers = dict[str, str]

DEEP = 20_000


def _deep_json(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.slow
def test_a_deeply_nested_jsonl_batch_is_refused_and_the_server_lives(
        tmp_path: Path, make_contract: Any, good_csv: bytes) -> None:
    # Before the bound, Arrow's JSON reader overflowed the C stack on this batch
    # and the server process died (SIGSEGV).
    with live_server(tmp_path / "home", {"alice": ["producer", "sales"]}) as server:
        auth = server.headers("alice")
        r = httpx.post(f"{server.url}{API}/datasets", json=make_contract(), headers=auth, timeout=30)
        assert r.status_code == 201, r.text
        batch = ('{"order_id": 1, "country": "US"}\n'
                 '{"order_id": 2, "country": "DE", "email": ' + _deep_json(DEEP) + '}\n').encode()
        r = httpx.post(f"{server.url}{API}/datasets/sales.orders/batches?format=jsonl", content=batch,
                       headers=auth, timeout=60)
        assert server.alive(), server.log.read_text(errors="replace")[-2000:]
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "malformed_batch"
        assert error["details"]["line"] == 2
        assert f"nested more than {MAX_NESTING_DEPTH} levels deep" in error["message"]
        # Nothing landed, and the next good batch does.
        r = httpx.post(f"{server.url}{API}/datasets/sales.orders/batches", content=good_csv,
                       headers={**auth, "Content-Type": "text/csv"}, timeout=60)
        assert r.status_code == 201, r.text
        assert r.json()["rows"] == 2


def test_a_deeply_nested_json_contract_is_refused(client: TestClient, auth: dict[str, Headers]) -> None:
    body = '{"dataset": "sales.orders", "columns": ' + _deep_json(100_000) + "}"
    r = client.post(f"{API}/datasets", content=body,
                    headers={**auth["alice"], "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert "nested more than" in r.json()["error"]["message"]


def test_a_deeply_nested_yaml_contract_is_refused_with_its_line(client: TestClient,
                                                                 auth: dict[str, Headers]) -> None:
    body = "dataset: sales.orders\nowner: sales\ncolumns: " + "[" * 5000 + "]" * 5000 + "\n"
    r = client.post(f"{API}/datasets", content=body,
                    headers={**auth["alice"], "Content-Type": "application/yaml"})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_contract"
    assert "nested more than" in error["message"]
    assert "line 3" in json.dumps(error)


def test_yaml_nested_by_indentation_is_refused(client: TestClient, auth: dict[str, Headers]) -> None:
    nested = "".join("  " * i + f"k{i}:\n" for i in range(400)) + "  " * 400 + "x: 1\n"
    r = client.post(f"{API}/datasets", content="dataset: sales.orders\nextra:\n" + "  " + nested.replace(
        "\n", "\n  ").rstrip() + "\n", headers={**auth["alice"], "Content-Type": "application/yaml"})
    assert r.status_code == 422, r.text
    assert "nested more than" in r.json()["error"]["message"]


def test_a_deeply_nested_json_body_is_refused_on_any_route(client: TestClient, auth: dict[str, Headers]) -> None:
    body = '{"sql": "SELECT 1", "x": ' + _deep_json(50_000) + "}"
    r = client.post(f"{API}/query", content=body, headers={**auth["victor"], "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"] == (
        f"the JSON body is nested more than {MAX_NESTING_DEPTH} levels deep (line 1)")


def test_a_body_over_the_limit_is_refused_before_it_is_read(make_client: Any, users_for: Any) -> None:
    client = make_client(max_body_bytes=4096)
    auth = users_for(client.app.state.services.lake)
    sql = "SELECT 1 -- " + "x" * 10_000
    r = client.post(f"{API}/query", json={"sql": sql}, headers=auth["victor"])
    assert r.status_code == 413, r.text
    assert r.json()["error"] == {"code": "payload_too_large", "message": "upload exceeds the limit of 4096 bytes",
                                 "details": {"limit_bytes": 4096}}

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while received
        yield b'{"sql": "SELECT 1 -- '
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    r = client.post(f"{API}/query", content=chunks(),
                    headers={**auth["victor"], "Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    # A body within the limit still reaches the route.
    r = client.post(f"{API}/query", json={"sql": "DROP TABLE x"}, headers=auth["victor"])
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "query_refused"


def test_a_malformed_content_length_is_refused(client: TestClient, auth: dict[str, Headers]) -> None:
    r = client.post(f"{API}/query", content=b"{}", headers={**auth["victor"], "Content-Length": "12abc",
                                                            "Content-Type": "application/json"})
    assert r.status_code in (400, 422), r.text
