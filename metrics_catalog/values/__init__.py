"""Metric values: compiled with sqlglot, run through the access layer, cached.

A value request names a grain, dimensions and a date range. The catalog picks
the certified revision (or, for its authors and approvers, the latest one),
compiles one SELECT over the revision's pinned view version
(:mod:`~metrics_catalog.values.compile`), runs it as the caller
(:mod:`~metrics_catalog.values.engine`) and caches the rows under a key made
of the metric revision, the request, the source's data version, and the
caller with the policy version (row filters differ per caller and change with
the policy), so new data, a new revision or a policy change is never answered
from the cache.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lake.auth import Principal
from lake.errors import AccessDenied, Conflict
from metrics_catalog import approvals as rules
from metrics_catalog.definition import Grain, MetricDefinition
from metrics_catalog.lifecycle import Status
from metrics_catalog.models import ValueCacheRow
from metrics_catalog.reads import definition_of, metric_row, revision_row
from metrics_catalog.validate import DIALECT
from metrics_catalog.values.compile import ValueQuery, compile_values, value_query
from metrics_catalog.values.engine import QueryRunner
from metrics_catalog.workflow import Workflow

__all__ = ["MetricValues", "QueryRunner", "ValueQuery", "Values", "compile_values", "value_query"]


@dataclass(frozen=True)
class MetricValues:
    metric: str
    revision: int
    certified: bool
    deprecated: bool
    grain: Grain
    dimensions: tuple[str, ...]
    start: dt.date | None
    end: dt.date | None
    unit: str
    format: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    sql: str
    source: str
    data_version: int | None
    engine: str
    cached: bool

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]


def _plain(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _rows(table: pa.Table) -> list[list[Any]]:
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return [[_plain(v) for v in row] for row in zip(*columns, strict=True)] if columns else []


class Values:
    """Metric values through a :class:`~metrics_catalog.values.engine.QueryRunner`."""

    def __init__(self, workflow: Workflow, runner: QueryRunner) -> None:
        self.workflow = workflow
        self.runner = runner
        self.lake = workflow.lake
        self.catalog = workflow.catalog

    def _revision(self, name: str, principal: Principal, uncertified: bool) -> tuple[int, int, MetricDefinition,
                                                                                     Status]:
        with self.catalog.session() as s:
            row = metric_row(s, name)
            status = Status(row.status)
            if uncertified:
                insiders = set(rules.authors(s, row)) | {row.owner}
                chain_roles = {r for st in (row.chain or {}).get("stages", []) for r in st["roles"]}
                if not (principal.is_admin or principal.name in insiders or row.owner in principal.roles
                        or chain_roles & set(principal.roles)):
                    raise AccessDenied(principal.name, "preview", f"metric:{name}",
                                       "uncertified values are for the metric's authors, owner and approvers")
                number = row.current_revision
            else:
                if row.certified_revision is None or status is Status.RETIRED:
                    state = "retired" if status is Status.RETIRED else f"{status.value}, never certified"
                    raise Conflict(f"metric {name} is {state}: only certified metrics are served "
                                   "(its authors and approvers may preview with uncertified=true)")
                number = row.certified_revision
            return row.id, number, definition_of(revision_row(s, row, number)), status

    def get(self, name: str, *, actor: str, grain: Grain | str | None = None, dimensions: Sequence[str] = (),
            start: str | dt.date | None = None, end: str | dt.date | None = None,
            uncertified: bool = False, use_cache: bool = True) -> MetricValues:
        """Values of a metric for ``actor``.

        Args:
            name: The metric.
            actor: Who asks; the query runs as them.
            grain: ``day``, ``week`` or ``month`` (the metric's first grain by default).
            dimensions: Dimensions to group by, among those the metric allows.
            start: First day (inclusive).
            end: Last day (inclusive).
            uncertified: Use the latest revision, certified or not (authors and approvers only).
            use_cache: Answer from the cache when the key matches.

        Raises:
            Conflict: the metric is not certified (or retired).
            AccessDenied: the caller may not read the metric.
            InvalidInput: a grain, dimension or range the metric does not allow.
        """
        principal = self.workflow._principal(actor)
        if not self.workflow.permissions.may_read(principal, name):
            raise AccessDenied(principal.name, "read", f"metric:{name}")
        metric_id, number, definition, status = self._revision(name, principal, uncertified)
        query = value_query(definition, grain=grain, dimensions=dimensions, start=start, end=end)
        source = self.workflow.resolver.resolve(definition.view, definition.view_version)
        data_version = source.data_version()
        compiled = compile_values(definition, source, query, source.name)
        sql = compiled.sql(dialect=DIALECT)
        scope = {"metric": metric_id, "revision": number, "query": query.key(), "source": source.pinned,
                 "data_version": data_version, "engine": self.runner.name,
                 "caller": self.runner.scope(principal.name)}
        key = hashlib.sha256(json.dumps(scope, sort_keys=True).encode()).hexdigest()
        base = MetricValues(metric=name, revision=number, certified=not uncertified,
                            deprecated=status is Status.DEPRECATED, grain=query.grain, dimensions=query.dimensions,
                            start=query.start, end=query.end, unit=definition.unit, format=definition.format.value,
                            columns=(), rows=(), sql=sql, source=source.pinned, data_version=data_version,
                            engine=self.runner.name, cached=False)
        if use_cache:
            with self.catalog.session() as s:
                hit = s.get(ValueCacheRow, key)
                if hit is not None:
                    return dataclasses.replace(base, columns=tuple(hit.result["columns"]),
                                               rows=tuple(tuple(r) for r in hit.result["rows"]), cached=True)
        table = self.runner.run(principal.name, compiled, source, data_version)
        columns = ("period", *query.dimensions, "value")
        rows = _rows(table)
        try:
            with self.catalog.session() as s:
                if s.get(ValueCacheRow, key) is None:
                    s.add(ValueCacheRow(key=key, metric_id=metric_id, revision=number,
                                        data_version=str(data_version), result={"columns": list(columns),
                                                                                "rows": rows}))
        except IntegrityError:  # another request cached the same key first
            pass
        return dataclasses.replace(base, columns=columns, rows=tuple(tuple(r) for r in rows))

    def clear_cache(self, name: str | None = None) -> int:
        """Drop cached values (of one metric, or all); returns how many."""
        with self.catalog.session() as s:
            q = select(ValueCacheRow)
            if name is not None:
                q = q.where(ValueCacheRow.metric_id == metric_row(s, name).id)
            rows = s.scalars(q).all()
            for r in rows:
                s.delete(r)
            return len(rows)

    def sql(self, name: str, *, grain: Grain | str | None = None, dimensions: Sequence[str] = (),
            start: str | None = None, end: str | None = None, revision: int | None = None) -> str:
        """The SQL a value request compiles to (no data is read)."""
        with self.catalog.session() as s:
            row = metric_row(s, name)
            number = revision or row.certified_revision or row.current_revision
            definition = definition_of(revision_row(s, row, number))
        query = value_query(definition, grain=grain, dimensions=dimensions, start=start, end=end)
        source = self.workflow.resolver.resolve(definition.view, definition.view_version)
        return compile_values(definition, source, query, source.name).sql(dialect=DIALECT, pretty=True)
