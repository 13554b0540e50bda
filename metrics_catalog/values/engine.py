"""Running a compiled metric query: the one place that touches an engine.

:class:`GatewayRunner` (the default when the access layer is installed) sends
the SELECT through the access layer's query gateway as the caller: the
gateway checks the caller may read the view, applies their row filters and
masks, and audits the query. :class:`SparkRunner` runs it on Spark directly
over the source's Delta table (registered as a temp view pinned to the data
version of the cache key), with no row filter: it is for lakes without the
access layer, and for tests that need no policy.

A runner's :meth:`~QueryRunner.scope` is part of the cache key: results are
reused only for the same caller under the same policy version.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import pyarrow as pa
from sqlglot import exp

from lake.errors import InvalidInput
from lake.service import Lake
from metrics_catalog.sources import Source
from metrics_catalog.validate import DIALECT


class QueryRunner(Protocol):
    name: str

    def scope(self, subject: str) -> str:
        """What, besides the request, decides the rows ``subject`` gets (for the cache key)."""
        ...

    def run(self, subject: str, select: exp.Select, source: Source, data_version: int | None) -> pa.Table:
        """Run ``select`` (its FROM names ``source.name``) as ``subject``."""
        ...


class GatewayRunner:
    """Through the access layer's query gateway, as the caller."""

    name = "gateway"

    def __init__(self, lake: Lake, control: Any | None = None) -> None:
        from access.gateway import Gateway

        self.gateway = Gateway(lake, control)
        self.control = self.gateway.access

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


class SparkRunner:
    """Directly on Spark over the source's table: no row filters or masks apply."""

    name = "spark"

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def scope(self, subject: str) -> str:
        return "unfiltered"

    def run(self, subject: str, select: exp.Select, source: Source, data_version: int | None) -> pa.Table:
        from lake.spark import register_delta, spark_session

        if source.table_uri is None or data_version is None:
            raise InvalidInput(f"{source.pinned} has no rows to compute from yet (it is not materialized)")
        spark = spark_session(self.lake.settings)
        temp = f"metric_src_{uuid.uuid4().hex[:12]}"
        register_delta(spark, temp, source.table_uri, version=data_version,
                       storage_options=source.storage_options or None)
        try:
            query = select.copy()
            table = query.find(exp.Table)
            assert table is not None
            table.set("db", None)
            table.set("this", exp.to_identifier(temp, quoted=True))
            return spark.sql(query.sql(dialect=DIALECT)).toArrow()
        finally:
            spark.catalog.dropTempView(temp)


def default_runner(lake: Lake, control: Any | None = None) -> QueryRunner:
    """The gateway when the access layer is installed, else Spark directly."""
    from metrics_catalog.authz import access_layer_available

    if access_layer_available():
        return GatewayRunner(lake, control)
    return SparkRunner(lake)
