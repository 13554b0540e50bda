"""Running a compiled metric query: the one place that touches an engine.

:class:`GatewayRunner` sends the SELECT through the access layer's query
gateway as the caller: the gateway checks the caller may read the view,
applies their row filters and masks, and audits the query. There is no path
around the gateway: a catalog with no gateway wired gets :class:`NoGatewayWired`,
which refuses every value request.

A runner's :meth:`~QueryRunner.scope` is part of the cache key: results are
reused only for the same caller under the same policy version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import pyarrow as pa
from sqlglot import exp

from lake.errors import AccessDenied, InvalidInput
from metrics_catalog.sources import Source
from metrics_catalog.validate import DIALECT

if TYPE_CHECKING:
    from access.gateway import Gateway


class QueryRunner(Protocol):
    name: str

    def scope(self, subject: str) -> str:
        """What, besides the request, decides the rows ``subject`` gets (for the cache key)."""
        ...

    def run(self, subject: str, select: exp.Select, source: Source, data_version: int | None) -> pa.Table:
        """Run ``select`` (its FROM names ``source.name``) as ``subject``."""
        ...


class GatewayRunner:
    """Through the access layer's query gateway, as the caller.

    Args:
        gateway: The gateway of the app or command (and its access layer).
    """

    name = "gateway"

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.control = gateway.access

    def scope(self, subject: str) -> str:
        self.control.refresh()
        return f"{subject}@policy{self.control.version}"

    def run(self, subject: str, select: exp.Select, source: Source, data_version: int | None) -> pa.Table:
        limit = self.gateway.limits.max_rows
        result = self.gateway.query(subject, select.sql(dialect=DIALECT), max_rows=limit)
        if result.truncated:
            raise InvalidInput(f"the values of this request exceed {limit} rows; ask for a coarser grain, fewer "
                               "dimensions or a shorter range")
        table: pa.Table = result.table
        return table


class NoGatewayWired:
    """What a catalog runs values with when no gateway is wired: every request is refused."""

    name = "none"

    def scope(self, subject: str) -> str:
        return f"{subject}@unwired"

    def run(self, subject: str, select: exp.Select, source: Source, data_version: int | None) -> pa.Table:
        raise AccessDenied(subject, "read", f"metric values of {source.pinned}",
                           "no query gateway is wired to the metric catalog")
