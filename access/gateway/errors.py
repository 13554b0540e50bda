"""Errors of the query gateway, beside :class:`lake.errors.AccessDenied`.

    LakegateError
    ├── InvalidInput
    │   ├── QueryRefused            not a single read query, or a construct the gateway never runs
    │   │                           (DDL/DML, table functions, file paths, hints, parameters...)
    │   ├── UnknownColumn           a column no table of the query has
    │   └── QueryFailed             Spark refused or failed the governed query
    ├── AccessDenied                a table (unknown or not readable: one message for both)
    │                               or a column the caller may not read
    ├── QueryTimeout                the query ran past its time limit and was cancelled
    └── QueryCancelled              its client went away; the query was cancelled

Messages name what was wrong and where (line and column of the SQL when
known) and never carry keys, storage paths or generated table names.
"""

from __future__ import annotations

from typing import Any

from lake.errors import InvalidInput, LakegateError


def _where(line: int | None, col: int | None) -> str:
    if line is None:
        return ""
    return f" (line {line}, column {col})" if col is not None else f" (line {line})"


class QueryRefused(InvalidInput):
    """The SQL is not something the gateway runs: only one read query is accepted."""

    code = "query_refused"

    def __init__(self, reason: str, *, line: int | None = None, col: int | None = None) -> None:
        super().__init__(f"query refused: {reason}{_where(line, col)}")
        self.reason = reason
        self.line = line
        self.col = col

    def details(self) -> dict[str, Any]:
        return {"reason": self.reason, "line": self.line, "column": self.col}


class UnknownColumn(InvalidInput):
    """A column reference that no table or subquery of the query provides."""

    code = "unknown_column"

    def __init__(self, column: str, *, table: str | None = None, line: int | None = None,
                 col: int | None = None) -> None:
        where = f" in {table}" if table else ""
        super().__init__(f"column {column!r} does not exist{where}{_where(line, col)}")
        self.column = column
        self.table = table
        self.line = line
        self.col = col

    def details(self) -> dict[str, Any]:
        return {"column": self.column, "table": self.table, "line": self.line, "column_number": self.col}


class QueryFailed(InvalidInput):
    """Spark could not analyze or run the governed query (a type error, a division by zero...)."""

    code = "query_failed"

    def __init__(self, reason: str, *, error_class: str | None = None) -> None:
        super().__init__(f"the query failed: {reason}")
        self.reason = reason
        self.error_class = error_class

    def details(self) -> dict[str, Any]:
        return {"error_class": self.error_class}


class QueryTimeout(LakegateError):
    """The query did not finish within its time limit; its Spark jobs were cancelled."""

    code = "query_timeout"
    http_status = 504

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"the query did not finish within {seconds:g} s and was cancelled; "
            "narrow it (filters, fewer rows) or ask for a longer time limit"
        )
        self.seconds = seconds

    def details(self) -> dict[str, Any]:
        return {"timeout_seconds": self.seconds}


class QueryCancelled(LakegateError):
    """The client went away before the answer; the query's Spark jobs were cancelled.

    Nobody reads the answer; the status (499, "client closed request") is for logs.
    """

    code = "query_cancelled"
    http_status = 499

    def __init__(self) -> None:
        super().__init__("the query was cancelled because its client went away")
