"""A metric value request compiled to one Spark SQL SELECT, built as a sqlglot tree.

::

    SELECT CAST(DATE_TRUNC('WEEK', m.event_ts) AS DATE) AS period,
           m.country AS country,
           <expression over m> AS value
    FROM <view> AS m
    WHERE <filters> AND m.event_ts >= <from> AND m.event_ts < <to + 1 day>
    GROUP BY 1, 2 ORDER BY 1, 2

``from`` and ``to`` are dates, both included; a week starts on Monday and a
period is named by its first day, so the first and last periods of a range
may be partial.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from lake.errors import InvalidInput
from metrics_catalog.definition import Grain, MetricDefinition
from metrics_catalog.sources import Source
from metrics_catalog.validate import DIALECT, parse_sql

ALIAS = "m"


@dataclass(frozen=True)
class ValueQuery:
    """What values are asked for: grain, dimensions and an inclusive date range."""

    grain: Grain
    dimensions: tuple[str, ...] = ()
    start: dt.date | None = None
    end: dt.date | None = None

    def key(self) -> dict[str, object]:
        return {"grain": self.grain.value, "dimensions": list(self.dimensions),
                "from": self.start.isoformat() if self.start else None,
                "to": self.end.isoformat() if self.end else None}


def _date(text: str | dt.date | None, what: str) -> dt.date | None:
    if text is None or text == "":
        return None
    if isinstance(text, dt.datetime):
        return text.date()
    if isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{what} must be a date like 2026-10-01, got {text!r}") from None


def value_query(definition: MetricDefinition, *, grain: Grain | str | None = None,
                dimensions: Sequence[str] = (), start: str | dt.date | None = None,
                end: str | dt.date | None = None) -> ValueQuery:
    """Check a request against what the metric allows.

    Raises:
        InvalidInput: a grain or dimension the metric does not offer, or a bad range.
    """
    chosen = definition.grains[0] if grain is None else (Grain.parse(grain) if isinstance(grain, str) else grain)
    if chosen not in definition.grains:
        raise InvalidInput(f"metric {definition.name} offers grains {', '.join(g.value for g in definition.grains)}; "
                           f"not {chosen.value}")
    allowed = {d.lower(): d for d in definition.dimensions}
    dims: list[str] = []
    for d in dimensions:
        key = d.strip().lower()
        if key not in allowed:
            raise InvalidInput(f"metric {definition.name} may be grouped by "
                               f"{', '.join(definition.dimensions) or 'no dimension'}; not {d!r}")
        if allowed[key] not in dims:
            dims.append(allowed[key])
    lo, hi = _date(start, "from"), _date(end, "to")
    if lo is not None and hi is not None and lo > hi:
        raise InvalidInput(f"from ({lo}) is after to ({hi})")
    return ValueQuery(chosen, tuple(dims), lo, hi)


def _column(source: Source, name: str) -> exp.Column:
    found = source.column(name)
    assert found is not None, name  # definitions are validated against the source
    return exp.column(exp.to_identifier(found.name, quoted=True), table=exp.to_identifier(ALIAS, quoted=True))


def _over_source(tree: exp.Expr, source: Source) -> exp.Expr:
    """``tree`` with every column qualified by the source alias and spelled as in the source."""
    def fix(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column):
            return _column(source, node.name)
        return node

    return tree.copy().transform(fix)


def _literal(day: dt.date, temporal: Any) -> exp.Expr:
    if temporal is exp.DataType.Type.DATE:
        return exp.cast(exp.Literal.string(day.isoformat()), exp.DataType.build("DATE"))
    return exp.cast(exp.Literal.string(f"{day.isoformat()} 00:00:00"),
                    exp.DataType.build("TIMESTAMP_NTZ" if temporal is exp.DataType.Type.TIMESTAMPNTZ
                                       else "TIMESTAMP", dialect=DIALECT))


def compile_values(definition: MetricDefinition, source: Source, query: ValueQuery, table: str) -> exp.Select:
    """The SELECT computing ``query`` over ``table`` (the source's name, or a temp view holding its rows)."""
    import pyarrow as pa

    time_col = source.column(definition.time_dimension)
    assert time_col is not None
    if pa.types.is_date(time_col.type):
        temporal = exp.DataType.Type.DATE
    elif time_col.type.tz is None:
        temporal = exp.DataType.Type.TIMESTAMPNTZ
    else:
        temporal = exp.DataType.Type.TIMESTAMP
    time_ref = _column(source, time_col.name)
    period = exp.cast(exp.Anonymous(this="DATE_TRUNC", expressions=[exp.Literal.string(query.grain.spark_unit),
                                                                      time_ref.copy()]),
                      exp.DataType.build("DATE"))
    selects: list[exp.Expr] = [exp.alias_(period, "period", quoted=True)]
    for dim in query.dimensions:
        selects.append(exp.alias_(_column(source, dim), dim, quoted=True))
    measure = _over_source(parse_sql(definition.name, "expression", definition.expression), source)
    selects.append(exp.alias_(measure, "value", quoted=True))

    conditions: list[exp.Expr] = []
    for i, text in enumerate(definition.filters):
        conditions.append(exp.paren(_over_source(parse_sql(definition.name, f"filters[{i}]", text), source)))
    if query.start is not None:
        conditions.append(exp.GTE(this=time_ref.copy(), expression=_literal(query.start, temporal)))
    if query.end is not None:
        conditions.append(exp.LT(this=time_ref.copy(),
                                 expression=_literal(query.end + dt.timedelta(days=1), temporal)))

    positions = [exp.Literal.number(i + 1) for i in range(1 + len(query.dimensions))]
    parts = table.split(".")
    source_table = exp.Table(this=exp.to_identifier(parts[-1], quoted=True),
                             db=exp.to_identifier(parts[0], quoted=True) if len(parts) == 2 else None,
                             alias=exp.TableAlias(this=exp.to_identifier(ALIAS, quoted=True)))
    select = exp.select(*selects).from_(source_table)
    if conditions:
        select = select.where(exp.and_(*conditions))
    return select.group_by(*positions).order_by(*[p.copy() for p in positions])
