"""``POST /api/v1/query`` on the real app: JSON and Arrow IPC answers, limits, errors."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator

import pyarrow as pa
import pytest
from fastapi import APIRouter, Depends

from access.gateway import Gateway, GatewayLimits
from access.gateway.schemas import ARROW_STREAM
from access.resources import Action, Resource
from api.app import API_PREFIX, create_app
from api.deps import current_principal
from api.routes import gateway as gateway_routes
from api.services import build_services

from gateway_world import World

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient

pytestmark = [pytest.mark.spark, pytest.mark.slow]

URL = f"{API_PREFIX}/query"


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    limits = GatewayLimits(default_rows=50, max_rows=100, default_timeout_seconds=60, max_timeout_seconds=120,
                           catalog_cache_seconds=0)
    built = build_services(lake=world.lake)
    # The world's access layer (its policy changes apply at once) and tight limits.
    services = dataclasses.replace(built, access=world.access,
                                   gateway=Gateway(world.lake, world.access, limits=limits))
    app = create_app(services=services)
    authenticated = APIRouter(prefix=API_PREFIX, dependencies=[Depends(current_principal)])
    authenticated.include_router(gateway_routes.router)
    app.include_router(authenticated)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def analyst(world: World) -> dict[str, str]:
    token, _ = world.lake.users.create_token("analyst", name="api-test")
    return {"Authorization": f"Bearer {token}"}


def test_json_answer(client: TestClient, analyst: dict[str, str]) -> None:
    response = client.post(URL, headers=analyst,
                           json={"sql": "SELECT conversion_id, country FROM ads.conversions ORDER BY 1"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["columns"] == [{"name": "conversion_id", "type": "int64"}, {"name": "country", "type": "string"}]
    assert body["rows"] == [[1, "DE"], [2, "DE"], [3, "DE"]]
    assert body["row_count"] == 3 and body["truncated"] is False and body["row_cap"] == 50
    assert body["tables"] == ["ads.conversions"]
    assert response.headers["X-Lakegate-Query-Id"] == body["query_id"]


def test_arrow_answer_when_asked(client: TestClient, analyst: dict[str, str]) -> None:
    response = client.post(URL, headers={**analyst, "Accept": f"{ARROW_STREAM}, application/json;q=0.5"},
                           json={"sql": "SELECT conversion_id, email FROM ads.conversions ORDER BY 1", "max_rows": 2})
    assert response.status_code == 200
    assert response.headers["content-type"] == ARROW_STREAM
    table = pa.ipc.open_stream(response.content).read_all()
    assert table.column("conversion_id").to_pylist() == [1, 2]
    assert all(len(h) == 64 for h in table.column("email").to_pylist())
    assert table.schema.metadata[b"lakegate.truncated"] == b"true"
    assert response.headers["X-Lakegate-Truncated"] == "true"


def test_limits_have_server_maximums(client: TestClient, analyst: dict[str, str]) -> None:
    too_many = client.post(URL, headers=analyst, json={"sql": "SELECT 1", "max_rows": 101})
    assert too_many.status_code == 422
    assert too_many.json()["error"]["code"] == "invalid_input"
    assert "maximum of 100" in too_many.json()["error"]["message"]
    too_long = client.post(URL, headers=analyst, json={"sql": "SELECT 1", "timeout_seconds": 500})
    assert too_long.status_code == 422 and "maximum of 120" in too_long.json()["error"]["message"]
    negative = client.post(URL, headers=analyst, json={"sql": "SELECT 1", "max_rows": 0})
    # Checked by the gateway (not the request schema), so the refusal is audited.
    assert negative.status_code == 422 and negative.json()["error"]["code"] == "invalid_input"


def test_errors_use_the_envelope(client: TestClient, analyst: dict[str, str]) -> None:
    denied = client.post(URL, headers=analyst, json={"sql": "SELECT * FROM hr.salaries"})
    unknown = client.post(URL, headers=analyst, json={"sql": "SELECT * FROM hr.bonuses"})
    assert denied.status_code == unknown.status_code == 403
    assert denied.json()["error"]["code"] == "access_denied"
    assert (denied.json()["error"]["message"].replace("salaries", "X")
            == unknown.json()["error"]["message"].replace("bonuses", "X"))
    refused = client.post(URL, headers=analyst, json={"sql": "DROP TABLE ads.conversions"})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "query_refused"
    column = client.post(URL, headers=analyst, json={"sql": "SELECT revenue FROM ads.conversions"})
    assert column.status_code == 403 and "column ads.conversions.revenue" in column.json()["error"]["message"]
    failed = client.post(URL, headers=analyst, json={"sql": "SELECT 1 / 0"})
    assert failed.status_code == 422 and failed.json()["error"]["code"] == "query_failed"
    empty = client.post(URL, headers=analyst, json={"sql": ""})
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "query_refused"


def test_the_route_needs_a_valid_token(client: TestClient) -> None:
    missing = client.post(URL, json={"sql": "SELECT 1"})
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    wrong = client.post(URL, headers={"Authorization": "Bearer lg_not-a-token"}, json={"sql": "SELECT 1"})
    assert wrong.status_code == 401


def test_a_caller_locked_out_of_the_api_is_refused_before_the_body_is_read(client: TestClient,
                                                                          world: World) -> None:
    world.lake.users.create("mallory")
    world.access.ensure_subject("mallory")
    world.access.deny("mallory", Action.ADMIN, Resource.lake(), reason="locked out")
    token, _ = world.lake.users.create_token("mallory", name="api-test")
    for body in ({}, {"sql": "SELECT 1"}):
        response = client.post(URL, headers={"Authorization": f"Bearer {token}"}, json=body)
        assert response.status_code == 403 and response.json()["error"]["code"] == "access_denied"


def test_a_caller_without_grants_is_denied(client: TestClient, world: World) -> None:
    token, _ = world.lake.users.create_token("intern", name="api-test")
    response = client.post(URL, headers={"Authorization": f"Bearer {token}"},
                           json={"sql": "SELECT count(*) FROM ads.conversions"})
    assert response.status_code == 403


def test_the_app_builds_its_gateway_once(world: World, analyst: dict[str, str]) -> None:
    app = create_app(lake=world.lake)
    authenticated = APIRouter(prefix=API_PREFIX, dependencies=[Depends(current_principal)])
    authenticated.include_router(gateway_routes.router)
    app.include_router(authenticated)
    with TestClient(app) as fresh:
        made = app.state.services.gateway
        assert made.access is app.state.services.access
        first = fresh.post(URL, headers=analyst, json={"sql": "SELECT count(*) AS n FROM ads.campaigns"})
        assert first.status_code == 200 and first.json()["rows"] == [[3]]
        fresh.post(URL, headers=analyst, json={"sql": "SELECT 1"})
        assert app.state.services.gateway is made
