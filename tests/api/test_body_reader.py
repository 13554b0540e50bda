"""Every route that reads a raw body reads it the same way: over its limit → 413,
not UTF-8 → 400 naming the first bad byte's offset, decoded as it streams."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from api.app import API_PREFIX as API
from api.guards import read_text
from api.routes.access import MAX_POLICY_BYTES
from api.routes.datasets import MAX_CONTRACT_BYTES
from api.routes.metrics import MAX_DOCUMENT_BYTES
from api.routes.views import MAX_DEFINITION_BYTES
from lake.errors import InvalidEncoding, PayloadTooLarge

Headers = dict[str, str]

#: (method, path, content type, the route's own limit) of every route that reads a raw text body.
TEXT_ROUTES = [
    ("POST", "/datasets", "application/yaml", MAX_CONTRACT_BYTES),
    ("POST", "/access/policy", "text/csv", MAX_POLICY_BYTES),
    ("POST", "/views", "application/sql", MAX_DEFINITION_BYTES),
    ("POST", "/metrics", "application/yaml", MAX_DOCUMENT_BYTES),
    ("POST", "/metrics/validate", "application/yaml", MAX_DOCUMENT_BYTES),
    ("PUT", "/metric-chains/sales", "application/yaml", MAX_DOCUMENT_BYTES),
]
IDS = [f"{m} {p}" for m, p, _, _ in TEXT_ROUTES]

BAD = "name: caf\u00e9\n".encode() + b"owner: \xff\xfe\n"  # "é" is two good bytes; 0xff at offset 19


@pytest.mark.parametrize(("method", "path", "media", "limit"), TEXT_ROUTES, ids=IDS)
def test_a_body_that_is_not_utf8_is_refused_with_the_offset(
        client: TestClient, auth: dict[str, Headers], method: str, path: str, media: str, limit: int) -> None:
    r = client.request(method, f"{API}{path}", content=BAD, headers={**auth["root"], "Content-Type": media})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_encoding"
    assert error["details"] == {"offset": 19}
    assert "invalid byte 0xff at byte offset 19" in error["message"]


@pytest.mark.parametrize(("method", "path", "media", "limit"), TEXT_ROUTES, ids=IDS)
def test_a_streamed_body_over_the_route_limit_is_refused(
        make_client: Any, users_for: Any, method: str, path: str, media: str, limit: int) -> None:
    # The app-wide bound is raised past the route's own, so the route's reader is what refuses.
    client = make_client(max_body_bytes=limit * 2)
    auth = users_for(client.app.state.lake)

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while received
        for _ in range(limit // 65536 + 2):
            yield b"#" * 65536

    r = client.request(method, f"{API}{path}", content=chunks(), headers={**auth["root"], "Content-Type": media})
    assert r.status_code == 413, r.text
    assert r.json()["error"] == {"code": "payload_too_large", "message": f"upload exceeds the limit of {limit} bytes",
                                 "details": {"limit_bytes": limit}}


def _request(chunks: list[bytes]) -> Request:
    async def receive() -> dict[str, Any]:
        if chunks:
            return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}
        return {"type": "http.request", "body": b"", "more_body": False}

    return Request({"type": "http", "method": "POST", "path": "/", "headers": []}, receive)


def _read(chunks: list[bytes], limit: int = 1 << 20) -> str:
    async def run() -> str:
        return await read_text(_request(list(chunks)), limit, what="the body")

    return asyncio.run(run())


def test_a_character_split_between_chunks_is_decoded() -> None:
    text = "caf\u00e9 \u20ac \U0001f600 end"
    data = text.encode()
    for cut in range(1, len(data)):
        assert _read([data[:cut], data[cut:]]) == text
    assert _read([bytes([b]) for b in data]) == text


@pytest.mark.parametrize(("chunks", "offset"), [
    ([b"abc", b"d\xffe"], 4),  # the bad byte in a later chunk
    ([b"ab\xe2\x82", b"x"], 2),  # a sequence begun in one chunk and broken in the next
    ([b"ab\xe2", b"\x82"], 2),  # a body that ends inside a sequence
    ([b"\x80"], 0),
])
def test_the_offset_counts_from_the_start_of_the_body(chunks: list[bytes], offset: int) -> None:
    with pytest.raises(InvalidEncoding) as caught:
        _read(chunks)
    assert caught.value.offset == offset
    assert caught.value.http_status == 400


def test_a_body_over_the_limit_stops_the_reader() -> None:
    with pytest.raises(PayloadTooLarge):
        _read([b"x" * 600, b"x" * 600], limit=1000)
    assert _read([b"x" * 500, b"x" * 500], limit=1000) == "x" * 1000
