"""The metric routes end to end: through a chain and a meeting over HTTP, errors in the
envelope, authentication on every route, and concurrent approvals against a real server."""

from __future__ import annotations

import socket
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest
from fastapi import FastAPI

from api.app import API_PREFIX, create_app
from api.services import build_services
from lake.service import Lake
from lake.settings import Settings

from metric_factories import CHAIN, EVENTS_CONTRACT, PEOPLE, metric_doc

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient

NAME = "playback.watch_per_viewer"
Headers = dict[str, str]


def build_app(settings: Settings) -> FastAPI:
    """The app as served: the metric routers are mounted behind authentication under /api/v1."""
    return create_app(settings)


def prepare(lake: Lake, app: FastAPI) -> dict[str, Headers]:
    """Users with tokens, the dataset, and the policy: analysts propose, approvers approve,
    everyone reads the domain's metrics."""
    from access import Action, Resource
    from api.authz import access_for

    auth = {}
    for name, roles in PEOPLE.items():
        lake.users.create(name, roles=roles)
        token, _ = lake.users.create_token(name, name="tests")
        auth[name] = {"Authorization": f"Bearer {token}"}
    lake.register(EVENTS_CONTRACT, actor="admin")
    access = access_for(app, lake)
    access.sync_users()  # the users were made in the catalog after the app built its access layer
    playback = Resource.domain_("playback")
    access.grant("analyst", Action.PROPOSE, playback)
    access.grant("metric_tech", Action.APPROVE, playback)
    access.grant("metric_business", Action.APPROVE, playback)
    return auth


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, Headers]]]:
    with TestClient(build_app(Settings(home=tmp_path / "home"))) as client:
        lake: Lake = client.app.state.services.lake  # type: ignore[attr-defined]
        auth = prepare(lake, client.app)  # type: ignore[arg-type]
        r = client.put(f"{API_PREFIX}/metric-chains/playback", json=CHAIN, headers=auth["admin"])
        assert r.status_code == 200, r.text
        yield client, auth


def test_walk_a_proposal_through_the_api(api: tuple[TestClient, dict[str, Headers]]) -> None:
    client, auth = api
    base = f"{API_PREFIX}/metrics"
    r = client.post(base, json=metric_doc(), headers=auth["mia"])
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "draft" and r.json()["definition"]["view_version"] == 1
    r = client.post(f"{base}/{NAME}/transitions", json={"action": "propose"}, headers=auth["mia"])
    assert r.json()["status"] == "proposed" and r.json()["stage"] == "tech"
    r = client.post(f"{API_PREFIX}/meetings", headers=auth["tom"], json={
        "domain": "playback", "title": "Tech review", "stage": "tech", "starts_at": "2026-11-02T15:00:00Z"})
    assert r.status_code == 201, r.text
    meeting = r.json()
    assert [a["metric"] for a in client.get(f"{API_PREFIX}/meetings/{meeting['id']}/agenda",
                                            headers=auth["tom"]).json()] == [NAME]
    r = client.post(f"{API_PREFIX}/meetings/{meeting['id']}/sessions", json={"starts_at": "2026-11-09T15:00:00Z"},
                    headers=auth["tom"])
    assert r.status_code == 201, r.text
    session = r.json()
    r = client.post(f"{API_PREFIX}/meetings/sessions/{session['id']}/decisions", headers=auth["mia"],
                    json={"metric": NAME, "decision": "approve"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "approval_refused"
    assert r.json()["error"]["details"]["rule"] == "author"
    r = client.post(f"{API_PREFIX}/meetings/sessions/{session['id']}/decisions", headers=auth["tom"],
                    json={"metric": NAME, "decision": "approve", "reason": "fine"})
    assert [m["decision"] for m in r.json()["minutes"] if m["kind"] == "decision"] == ["approve"]
    client.post(f"{API_PREFIX}/meetings/sessions/{session['id']}/close", headers=auth["tom"])
    r = client.post(f"{base}/{NAME}/comments", json={"body": "Is JP in scope?"}, headers=auth["bob"])
    assert r.status_code == 201
    r = client.post(f"{base}/{NAME}/decisions", json={"decision": "approve", "revision": 1}, headers=auth["bob"])
    body = r.json()
    assert body["status"] == "approved" and body["certified_revision"] == 1 and body["certified"]
    history = client.get(f"{base}/{NAME}/history", headers=auth["victor"]).json()
    assert [e["action"] for e in history] == ["create", "propose", "start_review", "approve", "certify"]
    notices = client.get(f"{API_PREFIX}/inbox", headers=auth["mia"]).json()
    assert {n["kind"] for n in notices} == {"comment", "decision"}
    r = client.post(f"{API_PREFIX}/inbox/{notices[0]['id']}/read", headers=auth["mia"])
    assert r.json()["read"] is True
    assert client.get(f"{API_PREFIX}/inbox?unread=true", headers=auth["mia"]).json() == notices[1:]
    ics = client.get(f"{API_PREFIX}/meetings/calendar.ics?domain=playback", headers=auth["victor"])
    assert ics.headers["content-type"].startswith("text/calendar")
    assert len(icalendar.Calendar.from_ical(ics.text).walk("VEVENT")) == 2
    r = client.get(f"{base}/{NAME}/sql?grain=week&dimensions=country", headers=auth["victor"])
    assert "DATE_TRUNC('WEEK'" in r.text and "GROUP BY" in r.text


def test_errors_use_the_envelope(api: tuple[TestClient, dict[str, Headers]]) -> None:
    client, auth = api
    base = f"{API_PREFIX}/metrics"
    r = client.post(base, json=metric_doc(expression="SUM(watch_seconds) / COUNT(DISTINCT viewer)"),
                    headers=auth["mia"])
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "invalid_metric" and err["details"]["field"] == "expression"
    assert (err["details"]["line"], err["details"]["column"]) == (1, 37)
    yaml_doc = "name: playback.yaml_metric\nview: playback.events\nexpression: COUNT(*)\ntime_dimension: event_ts\n"
    r = client.post(f"{base}/validate", content=yaml_doc, headers=auth["mia"] | {"Content-Type": "application/yaml"})
    assert r.status_code == 200 and r.json()["valid"]
    client.post(base, json=metric_doc(), headers=auth["mia"])
    r = client.post(f"{base}/{NAME}/decisions", json={"decision": "approve"}, headers=auth["tom"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "illegal_transition"
    assert r.json()["error"]["details"]["allowed"] == ["revise", "propose", "retire"]
    r = client.post(f"{base}/{NAME}/transitions", json={"action": "approve"}, headers=auth["mia"])
    assert r.status_code == 422 and "decisions" in r.json()["error"]["message"]
    r = client.get(f"{base}/{NAME}/values?grain=day", headers=auth["victor"])
    assert r.status_code == 403 and r.json()["error"]["details"]["action"] == "read"  # no read on the metric
    r = client.get(f"{base}/{NAME}/values?grain=day", headers=auth["admin"])
    assert r.status_code == 409 and "only certified metrics" in r.json()["error"]["message"]
    r = client.get(f"{base}/playback.nope", headers=auth["victor"])
    assert r.status_code == 404
    r = client.put(f"{API_PREFIX}/metric-chains/playback", json=CHAIN, headers=auth["mia"])
    assert r.status_code == 403
    r = client.put(f"{API_PREFIX}/metric-chains/playback", json={"stages": [{"name": "x", "roles": []}]},
                   headers=auth["admin"])
    assert r.status_code == 422 and r.json()["error"]["details"]["where"] == "stages[0].roles"
    r = client.post(f"{API_PREFIX}/inbox/outbox/deliver", headers=auth["mia"])
    assert r.status_code == 403


def test_every_metric_route_needs_a_token(api: tuple[TestClient, dict[str, Headers]]) -> None:
    client, _auth = api
    app: FastAPI = client.app  # type: ignore[assignment]
    paths = {p: ops for p, ops in app.openapi()["paths"].items()
             if any(p.startswith(f"{API_PREFIX}{seg}") for seg in ("/metric", "/meetings", "/inbox"))}
    checked = 0
    for path, operations in paths.items():
        url = path.replace("{name}", NAME).replace("{domain}", "playback")
        for param in ("{number}", "{meeting_id}", "{session_id}", "{notice_id}", "{channel_id}"):
            url = url.replace(param, "1")
        for method in operations:
            r = client.request(method.upper(), url)
            assert r.status_code == 401, (method, url, r.status_code)
            assert r.headers["WWW-Authenticate"] == "Bearer"
            checked += 1
    assert checked > 30


def test_every_metric_route_asks_the_access_layer_first(api: tuple[TestClient, dict[str, Headers]]) -> None:
    """A principal denied everything gets 403 from every route, before any lookup or body parsing."""
    from access import Action, Effect, Resource
    from api.authz import access_for

    client, _auth = api
    app: FastAPI = client.app  # type: ignore[assignment]
    lake: Lake = app.state.services.lake
    lake.users.create("mal")
    token, _ = lake.users.create_token("mal")
    access = access_for(app, lake)
    access.ensure_subject("mal")
    access.grant("mal", Action.ADMIN, Resource.lake(), effect=Effect.DENY, reason="locked out")
    checked = 0
    for path, operations in app.openapi()["paths"].items():
        if not any(path.startswith(f"{API_PREFIX}{seg}") for seg in ("/metric", "/meetings", "/inbox")):
            continue
        url = path.replace("{name}", NAME).replace("{domain}", "playback")
        for param in ("{number}", "{meeting_id}", "{session_id}", "{notice_id}", "{channel_id}"):
            url = url.replace(param, "1")
        for method in operations:
            body = {} if method in ("get", "delete") else {"json": {}}
            r = client.request(method.upper(), url, headers={"Authorization": f"Bearer {token}"}, **body)
            assert r.status_code == 403, (method, url, r.status_code, r.text[:200])
            assert r.json()["error"]["code"] == "access_denied"
            checked += 1
    assert checked > 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_concurrent_http_approvals_move_the_chain_once(tmp_path: Path) -> None:
    """Two approvers send their decisions at the same moment to a real server."""
    import uvicorn

    settings = Settings(home=tmp_path / "served")
    lake = Lake(settings)
    app = build_app_for(lake)
    auth = prepare(lake, app)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}{API_PREFIX}"
        with httpx.Client(base_url=base, timeout=30) as http:
            assert http.put("/metric-chains/playback", json=CHAIN, headers=auth["admin"]).status_code == 200
            names = [f"playback.m{i}" for i in range(4)]
            for name in names:
                assert http.post("/metrics", json=metric_doc(name, expression=f"COUNT(*) + {name[-1]}"),
                                 headers=auth["mia"]).status_code == 201
                http.post(f"/metrics/{name}/transitions", json={"action": "propose"}, headers=auth["mia"])
                http.post(f"/metrics/{name}/transitions", json={"action": "start_review"}, headers=auth["tom"])

        def approve(args: tuple[str, str, threading.Barrier]) -> int:
            name, who, barrier = args
            with httpx.Client(base_url=base, timeout=30) as http:
                barrier.wait()
                return http.post(f"/metrics/{name}/decisions", json={"decision": "approve"},
                                 headers=auth[who]).status_code

        for name in names:
            barrier = threading.Barrier(2)
            with ThreadPoolExecutor(2) as pool:
                codes = sorted(pool.map(approve, [(name, "tom", barrier), (name, "tara", barrier)]))
            assert codes == [200, 403], codes
            with httpx.Client(base_url=base, timeout=30) as http:
                body = http.get(f"/metrics/{name}", headers=auth["victor"]).json()
                assert body["stage"] == "business" and body["stages"][0]["approvers"] in (["tom"], ["tara"])
                approvals = http.get(f"/metrics/{name}/approvals", headers=auth["victor"]).json()
                assert len(approvals) == 1
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        lake.close()


def build_app_for(lake: Lake) -> FastAPI:
    return create_app(services=build_services(lake=lake))


def test_values_route_shape(api: tuple[TestClient, dict[str, Headers]], monkeypatch: pytest.MonkeyPatch) -> None:
    """The values route maps query parameters (from, to, comma-separated dimensions) onto the catalog."""
    client, auth = api
    seen: dict[str, Any] = {}

    def fake_get(self: Any, name: str, **kwargs: Any) -> Any:
        seen.update(kwargs, name=name)
        raise metrics_catalog_conflict()

    from metrics_catalog.values import Values

    monkeypatch.setattr(Values, "get", fake_get)
    r = client.get(f"{API_PREFIX}/metrics/{NAME}/values?grain=week&dimensions=country,%20device&from=2026-10-01"
                   "&to=2026-10-31&uncertified=true", headers=auth["admin"])
    assert r.status_code == 409
    assert seen == {"name": NAME, "actor": "admin", "grain": "week", "dimensions": ["country", "device"],
                    "start": "2026-10-01", "end": "2026-10-31", "uncertified": True}


def metrics_catalog_conflict() -> Exception:
    from lake.errors import Conflict

    return Conflict("stop here")
