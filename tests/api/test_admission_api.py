"""Admission control on ``POST /query``: 429 with Retry-After past the bounds, the
refusal audited, a waiting query admitted when a slot frees, /health never blocked."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from access import AuditKind
from access.gateway import Admission
from api.app import API_PREFIX as API

Headers = dict[str, str]

#: Admitted, then denied at planning: the route's whole path without starting Spark.
NO_SPARK = "SELECT * FROM nowhere.nothing"

BOUNDS = {"max_concurrent_queries": 1, "max_queued_queries": 1, "max_queries_per_user": 1,
          "query_queue_timeout_seconds": 0.5, "query_retry_after_seconds": 7}


def test_a_full_server_refuses_before_any_work(make_client: Any) -> None:
    client = make_client(**BOUNDS)
    admission: Admission = client.app.state.admission
    # Two query requests inside the server (one running, one queued, or still
    # authenticating): a third is refused at the door, before authentication.
    assert admission.arrive() and admission.arrive()
    r = client.post(f"{API}/query", json={"sql": "SELECT 1"})  # no token at all: refused first
    assert r.status_code == 429, r.text
    assert r.headers["Retry-After"] == "7"
    assert r.json()["error"]["code"] == "too_many_requests"
    assert r.json()["error"]["details"]["reason"] == "server_busy"
    assert client.get("/health").status_code == 200
    admission.depart()
    r = client.post(f"{API}/query", json={"sql": "SELECT 1"})
    assert r.status_code == 401, r.text  # let in again
    admission.depart()


def test_refusals_at_the_door_are_audited_together(make_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("api.guards.SHED_AUDIT_SECONDS", 0.3)
    client = make_client(**BOUNDS)
    admission: Admission = client.app.state.admission
    assert admission.arrive() and admission.arrive()
    for _ in range(3):
        assert client.post(f"{API}/query", json={"sql": "SELECT 1"}).status_code == 429
    audit = client.app.state.services.access.audit
    _until(lambda: bool(audit.query(kind=AuditKind.REFUSAL)))
    [entry] = audit.query(kind=AuditKind.REFUSAL)
    assert (entry.actor, entry.action, entry.resource) == ("", "POST", f"{API}/query")
    assert entry.detail["reason"] == "server_busy" and entry.detail["refused"] == 3, entry.detail
    admission.depart()
    admission.depart()


def test_per_user_and_queue_timeout_refusals_are_audited(make_client: Any) -> None:
    client = make_client(**{**BOUNDS, "max_queued_queries": 5})
    auth = _users(client)
    admission: Admission = client.app.state.admission
    assert admission.try_enter("alice")  # alice's query runs and holds the slot
    r = client.post(f"{API}/query", json={"sql": NO_SPARK}, headers=auth["alice"])
    assert r.status_code == 429 and r.json()["error"]["details"]["reason"] == "user_limit", r.text
    started = time.perf_counter()
    r = client.post(f"{API}/query", json={"sql": NO_SPARK}, headers=auth["bob"])
    assert r.status_code == 429 and r.json()["error"]["details"]["reason"] == "queue_timeout", r.text
    assert 0.4 < time.perf_counter() - started < 5
    assert r.headers["Retry-After"] == "7"
    refusals = client.app.state.services.access.audit.query(kind=AuditKind.REFUSAL)
    assert sorted((e.actor, e.detail["reason"]) for e in refusals) == [("alice", "user_limit"),
                                                                         ("bob", "queue_timeout")]
    assert all(e.resource == f"{API}/query" for e in refusals)
    admission.leave("alice")


def test_a_waiting_query_runs_when_a_slot_frees(make_client: Any) -> None:
    client = make_client(**{**BOUNDS, "query_queue_timeout_seconds": 30})
    auth = _users(client)
    admission: Admission = client.app.state.admission
    assert admission.try_enter("holder")
    answers: list[httpx.Response] = []
    waiting = threading.Thread(target=lambda: answers.append(client.post(
        f"{API}/query", json={"sql": NO_SPARK}, headers=auth["bob"])))
    waiting.start()
    _until(lambda: admission.queued == 1)
    assert client.get("/health").status_code == 200  # light requests pass the queue by
    assert client.get(f"{API}/datasets", headers=auth["bob"]).status_code == 200
    admission.leave("holder")
    waiting.join(30)
    [answer] = answers
    assert answer.status_code == 403, answer.text  # admitted, planned, denied
    assert (admission.running, admission.queued) == (0, 0)


def _users(client: TestClient) -> dict[str, Headers]:
    lake = client.app.state.services.lake
    out = {}
    for name in ("alice", "bob"):
        lake.users.create(name)
        token, _ = lake.users.create_token(name)
        out[name] = {"Authorization": f"Bearer {token}"}
    return out


def _until(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_queued_query_leaves_the_queue_when_its_client_goes_away(tmp_path: Any) -> None:
    import uvicorn

    from api.app import create_app
    from lake.service import Lake
    from lake.settings import Settings

    from live_server import free_port

    lake = Lake(Settings(home=tmp_path / "home", **{**BOUNDS, "query_queue_timeout_seconds": 60}))
    lake.users.create("bob")
    token, _ = lake.users.create_token("bob")
    app = create_app(lake=lake)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none",
                                           lifespan="on", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _until(lambda: server.started)
        admission: Admission = app.state.admission
        assert admission.try_enter("holder")
        with pytest.raises(httpx.ReadTimeout):
            # The client gives up after a second, closing its connection.
            httpx.post(f"http://127.0.0.1:{port}{API}/query", json={"sql": NO_SPARK},
                       headers={"Authorization": f"Bearer {token}"}, timeout=httpx.Timeout(10, read=1.0))
        _until(lambda: admission.queued == 0, timeout=5)  # it left the queue, long before its 60 s
        admission.leave("holder")
        assert (admission.running, admission.queued) == (0, 0)
    finally:
        server.should_exit = True
        thread.join(30)
        lake.close()
