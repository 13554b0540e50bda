"""The :class:`Gateway`: plan, run and audit governed queries.

Every query is written to the audit log (kind ``query``), allowed or not: one
entry per catalog object it reads (so a search by resource finds it), or a
single entry without a resource when it was refused before any table was
known. Entries carry the query id, the SQL text (up to
:data:`AUDIT_SQL_CHARS` characters) and its SHA-256, the decision and its
reason, the columns, masks and row-filter use, and the row count. They never
carry keys or the rewritten SQL's parameters.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from access.audit import AuditKind, Decision
from access.gateway.errors import QueryRefused, UnknownColumn
from access.gateway.limits import GatewayLimits
from access.gateway.plan import GovernedQuery, plan_query, sql_hash
from access.gateway.resolve import (
    CatalogLookup,
    TableResolver,
    default_resolvers,
    split_name,
)
from access.gateway.results import QueryResult
from access.gateway.run import execute
from access.resources import Action, Resource
from lake.errors import AccessDenied, LakegateError

if TYPE_CHECKING:
    from access.policy import AccessControl
    from lake.service import Lake

log = logging.getLogger(__name__)

#: Longest SQL text kept in an audit entry (the hash covers the whole text).
AUDIT_SQL_CHARS = 10_000


class Gateway:
    """The governed query gateway of one lake.

    Args:
        lake: The open lake.
        access: The access layer's decision point (the one of the app or command).
        limits: Row caps and time limits (the lake's ``settings.gateway`` by default).
        resolvers: What table names resolve to (datasets, then views if available).

    Example::

        gateway = Gateway(lake, access)
        result = gateway.query("alice", "SELECT country, count(*) FROM ads.conversions GROUP BY 1")
        result.table  # a pyarrow.Table
    """

    def __init__(self, lake: Lake, access: AccessControl, *, limits: GatewayLimits | None = None,
                 resolvers: Sequence[TableResolver] | None = None) -> None:
        self.lake = lake
        self.access = access
        self.limits = limits or lake.settings.gateway
        self.lookup = CatalogLookup(resolvers if resolvers is not None else default_resolvers(lake),
                                    ttl_seconds=self.limits.catalog_cache_seconds)

    def plan(self, subject: str, sql: str, *, query_id: str | None = None, audit: bool = True) -> GovernedQuery:
        """Parse, authorize, check and rewrite ``sql`` for ``subject`` without running it.

        A refusal or denial is audited (``deny``), as is any other error
        (without a decision); a successful plan is audited when it runs.

        Raises:
            QueryRefused, AccessDenied, UnknownColumn: as :func:`~access.gateway.plan.plan_query`.
            Conflict: A view that cannot be read (virtual, not materialized, retired).
        """
        query_id = query_id or uuid.uuid4().hex
        try:
            return plan_query(subject, sql, lookup=self.lookup, policy=self.access, query_id=query_id)
        except LakegateError as exc:
            if audit:
                self._audit_refusal(subject, sql, query_id, exc)
            raise
        except RecursionError:
            # A shape the up-front bounds did not foresee: refused, never a crash.
            refused = QueryRefused("the query is nested too deeply for the gateway; simplify it")
            if audit:
                self._audit_refusal(subject, sql, query_id, refused)
            raise refused from None
        except Exception as exc:
            if audit:
                self._audit_failure(subject, sql, query_id, exc)
            raise

    def query(self, subject: str, sql: str, *, max_rows: int | None = None,
              timeout_seconds: float | None = None, cancel: threading.Event | None = None) -> QueryResult:
        """Run one governed query for ``subject``.

        Args:
            subject: The caller (user or service principal name).
            sql: One Spark SQL SELECT over ``domain.name`` tables.
            max_rows: Row cap (the server default when ``None``; at most the server maximum).
            timeout_seconds: Time limit (likewise).
            cancel: Set when the answer is no longer wanted; the query is then cancelled.

        Returns:
            The rows (masked and filtered for ``subject``) and whether they were truncated.

        Raises:
            QueryRefused: Not a single read query, or a refused construct.
            AccessDenied: A table that is unknown or not readable, or a denied column.
            UnknownColumn: A column no table of the query has.
            QueryFailed: Spark rejected or failed the governed query.
            QueryTimeout: The time limit passed; the query was cancelled.
            InvalidInput: ``max_rows`` or ``timeout_seconds`` out of range.
        """
        started = time.perf_counter()
        planned = self.plan(subject, sql)
        try:
            row_cap = self.limits.rows(max_rows)
            timeout = self.limits.timeout(timeout_seconds)
        except LakegateError as exc:
            # Refused by a limit: audited with the tables it would have read.
            self._audit_run(planned, outcome=exc.code, rows=None, error=exc.message)
            raise
        try:
            rows = execute(planned, self.lake.settings, row_cap=row_cap, timeout_seconds=timeout, cancel=cancel)
        except LakegateError as exc:
            self._audit_run(planned, outcome=exc.code, rows=None, error=exc.message)
            raise
        except Exception as exc:
            self._audit_run(planned, outcome="internal_error", rows=None, error=type(exc).__name__)
            raise
        elapsed_ms = (time.perf_counter() - started) * 1000
        self._audit_run(planned, outcome="ok", rows=rows.table.num_rows, truncated=rows.truncated,
                        elapsed_ms=elapsed_ms)
        return QueryResult(
            query_id=planned.query_id,
            table=rows.table,
            truncated=rows.truncated,
            row_cap=row_cap,
            elapsed_ms=elapsed_ms,
            tables=planned.tables,
            stale=tuple(st.to_dict(name) for name, st in planned.stale.items()),
        )

    # -- audit -----------------------------------------------------------------------------

    def _record(self, subject: str, resource: str, decision: Decision, detail: dict[str, Any]) -> None:
        try:
            self.access.audit.record(AuditKind.QUERY, actor=subject, action=Action.READ.value, resource=resource,
                                     decision=decision, detail=detail)
        except Exception:
            log.exception("could not write the audit entry of gateway query %s", detail.get("query_id"))
            raise

    @staticmethod
    def _base_detail(query_id: str, sql: str) -> dict[str, Any]:
        return {"query_id": query_id, "sql": sql[:AUDIT_SQL_CHARS], "sql_sha256": sql_hash(sql),
                "sql_truncated": len(sql) > AUDIT_SQL_CHARS}

    def _audit_refusal(self, subject: str, sql: str, query_id: str, exc: LakegateError) -> None:
        detail = self._base_detail(query_id, sql)
        detail.update({"outcome": exc.code, "reason": exc.message})
        resource = ""
        if isinstance(exc, AccessDenied):
            what, _, name = exc.resource.partition(" ")
            table_name, column = (name, None) if what == "table" else tuple(name.rsplit(".", 1))
            split = split_name(table_name)
            if split is None:
                detail["table"] = name
            else:
                found = self.lookup.resolve(table_name)
                detail["exists"] = found is not None
                table = found.resource if found is not None else Resource.table(split[0])
                try:
                    resource = (Resource.column_of(table, column) if column else table).key
                except LakegateError:
                    resource = table.key
        refused = isinstance(exc, QueryRefused | AccessDenied | UnknownColumn)
        self._record(subject, resource, Decision.DENY if refused else Decision.NONE, detail)

    def _audit_failure(self, subject: str, sql: str, query_id: str, exc: BaseException) -> None:
        """An unexpected error while planning: recorded without a decision (the log has the trace)."""
        detail = self._base_detail(query_id, sql)
        detail.update({"outcome": "internal_error", "error": type(exc).__name__})
        self._record(subject, "", Decision.NONE, detail)

    def _audit_run(self, planned: GovernedQuery, *, outcome: str, rows: int | None, error: str | None = None,
                   truncated: bool | None = None, elapsed_ms: float | None = None) -> None:
        for use in planned.uses or (None,):
            detail = self._base_detail(planned.query_id, planned.sql)
            detail.update({"outcome": outcome, "tables": list(planned.tables), "rows": rows})
            if use is not None:
                detail.update({"columns": list(use.columns), "masks": dict(use.masked),
                               "row_filter": use.row_filter})
                stale = planned.stale.get(use.table)
                if stale is not None:  # which materialization answered, for the auditor
                    detail["served_version"] = stale.served_version
            if truncated is not None:
                detail["truncated"] = truncated
            if elapsed_ms is not None:
                detail["elapsed_ms"] = round(elapsed_ms, 3)
            if error is not None:
                detail["error"] = error
            resource = ""
            if use is not None:
                resource = (Resource.view(use.table) if use.kind == "view" else Resource.table(use.table)).key
            self._record(planned.subject, resource, Decision.ALLOW, detail)
