"""Request and response bodies of the gateway's HTTP API (``POST /api/v1/query``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from access.gateway.parse import MAX_SQL_CHARS
from access.gateway.results import QueryResult

#: Media type of an Arrow IPC stream answer (ask for it with ``Accept``).
ARROW_STREAM = "application/vnd.apache.arrow.stream"


class QueryRequest(BaseModel):
    """One SQL SELECT to run through the gateway.

    Lengths and ranges are checked by the gateway, not here, so that a query
    refused for its limits is audited like any other refusal.
    """

    sql: str = Field(description=f"One Spark SQL SELECT over catalog tables (domain.name), "
                                 f"at most {MAX_SQL_CHARS} characters.")
    max_rows: int | None = Field(default=None,
                                 description="Row cap (at least 1); the server default when absent, "
                                             "at most its maximum.")
    timeout_seconds: float | None = Field(default=None,
                                          description="Time limit (positive); the server default when absent, "
                                                      "at most its maximum.")


class ResultColumn(BaseModel):
    name: str
    type: str = Field(description="Arrow type, in contract spelling where there is one (int64, decimal(12,2)).")


class StaleTable(BaseModel):
    table: str
    version: int = Field(description="The view's current version.")
    served_version: int = Field(description="The version whose materialization answered.")
    materialized_at: str | None


class QueryResultPublic(BaseModel):
    """Rows of a gateway query (masked and filtered for the caller)."""

    query_id: str = Field(description="The query's id in the audit log.")
    columns: list[ResultColumn]
    rows: list[list[Any]] = Field(description="One list per row; decimals as strings, times in ISO 8601, "
                                              "bytes in base64.")
    row_count: int
    truncated: bool = Field(description="Whether the query had more rows than row_cap.")
    row_cap: int
    elapsed_ms: float
    tables: list[str] = Field(description="The catalog tables the query read.")
    stale: list[StaleTable] = Field(default_factory=list, description="Views answered from an earlier "
                                    "version's materialization while their current version's is built.")

    @classmethod
    def of(cls, result: QueryResult) -> QueryResultPublic:
        return cls.model_validate(result.to_json())
