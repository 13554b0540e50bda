"""The OpenAPI document against the real server: schemathesis generates requests
for every operation and checks that none is a server error and that every answer
has a documented status, content type and body.

The server is ``lakegate serve`` in its own process on a loopback port, with a
dataset and an admin token; the example count is bounded.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import API_PREFIX, create_app
from lake.settings import Settings

from live_server import LiveServer, live_server

pytestmark = [pytest.mark.slow]

#: Examples per operation (about 90 operations).
MAX_EXAMPLES = 8

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

#: Operations that start the Spark engine (queries, materializations, metric values, exports, previews):
#: their contract is covered by the gateway and view tests; here they would only time out.
ENGINE_OPERATIONS = ("/query", "/materialize", "/refresh", "/values", "/exports", "/sample", "/preview")
#: Revoking a token by id would revoke the test's own (tests/api/test_lockout_and_enumeration.py covers it).
EXCLUDED_OPERATIONS = (("DELETE", "/tokens/{token_id}"),)

CONTRACT = {
    "dataset": "sales.orders", "owner": "sales", "description": "Orders.", "primary_key": ["order_id"],
    "columns": [{"name": "order_id", "type": "int64", "nullable": False},
                {"name": "country", "type": "string"}, {"name": "email", "type": "string", "pii": True}],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home: Path = tmp_path_factory.mktemp("schemathesis") / "home"
    with live_server(home, {"root": ["admin"], "alice": ["producer", "sales"]}) as served:
        r = httpx.post(f"{served.url}{API_PREFIX}/datasets", json=CONTRACT, headers=served.headers("alice"),
                       timeout=30)
        assert r.status_code == 201, r.text
        yield served


def _operations() -> list[Any]:
    """The operations of the app's OpenAPI document (made without a server; see the last test)."""
    raw = create_app(Settings(home=Path(tempfile.gettempdir()) / "lakegate-openapi")).openapi()
    loaded = schemathesis.openapi.from_dict(raw).exclude(path_regex="|".join(ENGINE_OPERATIONS))
    operations = [result.ok() for result in loaded.get_all_operations()]
    return [op for op in operations
            if (op.method.upper(), op.path.removeprefix(API_PREFIX)) not in EXCLUDED_OPERATIONS]


OPERATIONS = _operations()


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_the_api_keeps_its_contract(operation: Any, server: LiveServer) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        case.call_and_validate(base_url=server.url, headers=server.headers("root"), checks=CHECKS, timeout=60)

    check()
    assert server.alive()
    # Still signed in as an admin: later operations are not answered 401/403 for nothing.
    assert httpx.get(f"{server.url}{API_PREFIX}/users", headers=server.headers("root"), timeout=30).status_code == 200


def test_the_served_document_is_the_one_tested(server: LiveServer) -> None:
    r = httpx.get(f"{server.url}{API_PREFIX}/openapi.json", headers=server.headers("root"), timeout=30)
    assert r.status_code == 200, r.text
    served = r.json()
    assert sorted(served["paths"]) == sorted(
        create_app(Settings(home=Path(tempfile.gettempdir()) / "lakegate-openapi")).openapi()["paths"])
