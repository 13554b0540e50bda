"""Bounds on requests, checked before any route reads or parses them.

:class:`ShedWhenFull` refuses a gateway query with 429 before any work when
the server's query slots and queue are full.

:class:`BodyLimit` is the outermost layer of the app: a body larger than its
limit is refused with 413 as soon as its ``Content-Length`` (or, for a
chunked body, the bytes received) says so, and a JSON body nested deeper
than :data:`lake.nesting.MAX_NESTING_DEPTH` is refused with 422 naming the
line, before a JSON parser recurses into it. Batch uploads have their own,
larger limit; their route streams the body to disk and counts as it goes.

Routes read a raw body through :func:`bounded_stream` (bytes, streamed) or
:func:`read_text` (UTF-8 text, decoded as it streams), with the limit of what
they accept (a contract, a policy file, view definitions, a metric document):
the same ``Content-Length`` check as :class:`BodyLimit`, then a count of the
bytes received (413 past the limit), and for text a strict decode (400 naming
the offset of the first byte that is not UTF-8).
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi.encoders import jsonable_encoder
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from access.gateway.admission import Admission
from lake.errors import InvalidEncoding, InvalidInput, LakegateError, PayloadTooLarge
from lake.nesting import MAX_NESTING_DEPTH, json_depth_error

log = logging.getLogger("lakegate.api")

#: ``POST /api/v1/datasets/{name}/batches``: bounded by ``max_upload_bytes`` and streamed by its route.
_UPLOAD = re.compile(r"/api/v1/datasets/[^/]+/batches/?")


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """The API's error envelope ``{"error": {code, message, details}}``."""
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


def lakegate_error_response(exc: LakegateError, headers: dict[str, str] | None = None) -> JSONResponse:
    return error_response(exc.http_status, exc.code, exc.message, exc.details(), headers)


def declared_size_error(headers: Headers, limit: int) -> LakegateError | None:
    """The refusal a body earns by its ``Content-Length`` alone (not a number, or past ``limit``), if any."""
    declared = headers.get("content-length")
    if declared is None:
        return None
    if not declared.isdigit():
        return InvalidInput("Content-Length must be a number of bytes")
    if int(declared) > limit:
        return PayloadTooLarge(limit)
    return None


async def bounded_stream(request: Request, limit: int) -> AsyncIterator[bytes]:
    """The request body's chunks, refused as soon as its declared or received size passes ``limit``.

    Raises:
        PayloadTooLarge: The body is larger than ``limit``.
        InvalidInput: ``Content-Length`` is not a number.
    """
    refusal = declared_size_error(request.headers, limit)
    if refusal is not None:
        raise refusal
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(limit)
        yield chunk


async def read_text(request: Request, limit: int, *, what: str = "the request body") -> str:
    """The whole request body as UTF-8 text, within ``limit``.

    Chunks are decoded as they arrive (time linear in the body's size), so a
    body that is not UTF-8 is refused at its first bad byte.

    Args:
        request: The request.
        limit: Largest body accepted, in bytes.
        what: How an error names the body (``the contract``, ``the policy file``).

    Raises:
        PayloadTooLarge: The body is larger than ``limit`` (413).
        InvalidEncoding: The body is not UTF-8; the error names the first bad byte's offset (400).
        InvalidInput: ``Content-Length`` is not a number.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    parts: list[str] = []
    fed = 0  # bytes handed to the decoder so far
    held = b""  # the end of an unfinished sequence the decoder holds back
    try:
        async for chunk in bounded_stream(request, limit):
            held = decoder.getstate()[0]
            parts.append(decoder.decode(chunk))
            fed += len(chunk)
        held = decoder.getstate()[0]
        parts.append(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:  # exc.object is what was held back, then the chunk
        raise InvalidEncoding(what, fed - len(held) + exc.start, exc.object[exc.start]) from None
    return "".join(parts)


def _is_json(media: str) -> bool:
    media = media.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class BodyLimit:
    """ASGI middleware: size (every body) and nesting (JSON bodies) bounds.

    Args:
        app: The app.
        max_body_bytes: Largest body of any request but a batch upload.
        max_upload_bytes: Largest batch upload.
        max_depth: Deepest nesting of a JSON body.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int,
                 max_depth: int = MAX_NESTING_DEPTH) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "POST" and _UPLOAD.fullmatch(scope["path"]) is not None
        limit = self.max_upload_bytes if upload else self.max_body_bytes
        headers = Headers(scope=scope)
        refusal = declared_size_error(headers, limit)
        if refusal is not None:
            await self._refuse(scope, send, refusal)
            return
        if upload:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(scope, send, PayloadTooLarge(limit))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and _is_json(headers.get("content-type", "")):
            found = json_depth_error(body, self.max_depth)
            if found is not None:
                await self._refuse(scope, send, InvalidInput(
                    f"the JSON body is {found.message} (line {found.line})"))
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope: Scope, send: Send, exc: LakegateError) -> None:
        log.warning("%s %s refused before reading: %s", scope["method"], scope["path"], exc.message)
        response = lakegate_error_response(exc, {"Connection": "close"})
        await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


#: How long refusals at the door are counted before one audit entry records them.
SHED_AUDIT_SECONDS = 5.0


class ShedWhenFull:
    """ASGI middleware: refuse a query with 429 before any work when the server is full.

    At most as many ``POST /api/v1/query`` requests as there are query slots
    and queue places are let in at once (:meth:`Admission.arrive`), counting
    those still being authenticated; the rest are answered at once, before
    authentication reads the catalog, so a flood of queries costs the server
    almost nothing. Such refusals name no caller (none is authenticated yet)
    and are counted, not written one by one: the first opens a window of
    :data:`SHED_AUDIT_SECONDS`, at whose end one log line and one audit entry
    (``refusal``, reason ``server_busy``, with the count) are written off the
    event loop. Refusals that reach the route name their caller and are
    audited there.
    """

    def __init__(self, app: ASGIApp, *, admission: Admission, path: str,
                 audit: Callable[[Request, int, float], None] | None = None) -> None:
        self.app = app
        self.admission = admission
        self.path = path
        self.audit = audit
        self._busy: JSONResponse | None = None
        self._refused = 0
        self._window: tuple[float, Scope] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (scope["type"] == "http" and scope["method"] == "POST" and scope["path"].rstrip("/") == self.path):
            await self.app(scope, receive, send)
            return
        if not self.admission.arrive():
            # The cheapest answer there is: a burst is refused on the event loop, beside every other request.
            if self._busy is None:
                refusal = self.admission.refuse_busy()
                self._busy = lakegate_error_response(refusal, {"Retry-After": str(refusal.retry_after)})
            self._count_refusal(scope)
            await self._busy(scope, _no_receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.admission.depart()

    def _count_refusal(self, scope: Scope) -> None:
        self._refused += 1
        if self._window is None:
            self._window = (time.monotonic(), scope)
            asyncio.get_running_loop().call_later(SHED_AUDIT_SECONDS, self._close_window)

    def _close_window(self) -> None:
        if self._window is None:  # pragma: no cover - one timer per window
            return
        (opened, scope), self._window = self._window, None
        refused, self._refused = self._refused, 0
        seconds = round(time.monotonic() - opened, 1)
        log.warning("%s %s: %d refused in %.1f s, the server was full", scope["method"], scope["path"],
                    refused, seconds)
        if self.audit is not None:
            asyncio.get_running_loop().run_in_executor(None, self.audit, Request(scope), refused, seconds)
