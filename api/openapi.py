"""The OpenAPI document, with the error answers every route can give.

FastAPI documents what each route declares; the answers that come from the
layers around the routes are added here, in one place, so the document says
what the server does:

- every error answer is the JSON envelope (:class:`api.schemas.ErrorResponse`),
  also on routes whose success is text, CSV or a file, and also for 422
  (FastAPI would describe its own validation shape, which this API does not use);
- every authenticated route can answer 401 (no or a bad token), 403 (the
  lake-wide baseline permission) and 500;
- a route that takes a body can answer 400 (a body that cannot be parsed),
  413 (larger than the limit) and 422;
- ``POST /query`` can answer 429 (admission control) and 503 (the Spark
  engine is down or restarting), both with ``Retry-After``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_REF = "#/components/schemas/ErrorResponse"

_DESCRIPTIONS = {
    400: "The body cannot be parsed.",
    401: "No bearer token, or an unknown, revoked or expired one (with WWW-Authenticate: Bearer).",
    403: "The caller may not do this.",
    404: "Not found.",
    409: "Conflicts with the current state.",
    413: "The body is larger than the server accepts.",
    422: "The request is not valid: the message says what and where.",
    429: "Too many requests at once; retry after the number of seconds in Retry-After.",
    500: "Internal error; the server log has the details.",
    503: "The Spark engine is down or restarting; retry after the number of seconds in Retry-After.",
}

#: Paths (under the API prefix) whose operations queue behind admission control.
ADMITTED_PATHS = frozenset({"/query"})


def _error(status: int, existing: dict[str, Any] | None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": (existing or {}).get("description") or _DESCRIPTIONS.get(
        status, "Error.")}
    response["content"] = {"application/json": {"schema": {"$ref": ERROR_REF}}}
    if status in (429, 503):
        response["headers"] = {"Retry-After": {"description": "Seconds to wait before retrying.",
                                               "schema": {"type": "integer"}}}
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    return response


def document_errors(schema: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Add the error answers of the layers around the routes to ``schema`` (in place).

    Args:
        schema: An OpenAPI document made by FastAPI.
        prefix: The authenticated API's path prefix (``/api/v1``).

    Returns:
        ``schema``.
    """
    for path, item in schema.get("paths", {}).items():
        if not path.startswith(prefix):
            continue
        for method, operation in item.items():
            if method not in {"get", "put", "post", "delete", "patch"}:
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            statuses = {401, 403, 500}
            if "requestBody" in operation:
                statuses |= {400, 413, 422}
            if operation.get("parameters"):
                statuses.add(422)
            if path.removeprefix(prefix) in ADMITTED_PATHS:
                statuses |= {429, 503}
            statuses |= {int(code) for code in responses if code.isdigit() and int(code) >= 400}
            for status in sorted(statuses):
                responses[str(status)] = _error(status, responses.get(str(status)))
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
        if f"#/components/schemas/{name}" in json.dumps(schema):  # still used outside the API
            raise AssertionError(f"{name} is still referenced")
    return schema


def install(app: FastAPI, prefix: str) -> None:
    """Make ``app.openapi()`` return the document with :func:`document_errors` applied."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, summary=app.summary,
                                 description=app.description, routes=app.routes)
            app.openapi_schema = document_errors(schema, prefix)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
