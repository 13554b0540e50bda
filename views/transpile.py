"""Writing a view version's SQL for other engines with sqlglot.

Targets: Redshift, Trino, Athena and DuckDB (and Spark itself). A target that
cannot express the SQL raises :class:`~views.errors.TranspileError` instead
of returning SQL that would mean something else:

* sqlglot's own unsupported-feature errors are raised, not warned;
* functions sqlglot does not know (passed through unchecked) are refused;
* constructs sqlglot writes without complaint but with another meaning, or
  that the target lacks, are refused per target (e.g. lambdas, arrays,
  maps and structs for Redshift);
* the output must parse again in the target dialect.

Table references stay ``domain.name`` (pinned ones ``domain."name@vN"``): the
target engine maps domains to schemas (e.g. a Redshift external schema per
domain).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, UnsupportedError

from lake.enums import ParsableEnum
from lake.service import Lake
from views.catalog import get_view
from views.errors import TranspileError


class Dialect(ParsableEnum, label="dialect"):
    SPARK = "spark"
    REDSHIFT = "redshift"
    TRINO = "trino"
    ATHENA = "athena"
    DUCKDB = "duckdb"


_COLLECTIONS: tuple[type[exp.Expr], ...] = (exp.Lambda, exp.Explode, exp.Posexplode, exp.Struct, exp.Map,
                                            exp.VarMap, exp.Array, exp.ArrayAgg, exp.Unnest, exp.Lateral)

#: Constructs each target cannot express faithfully, with the reason given.
_REFUSED: dict[Dialect, tuple[tuple[type[exp.Expr], str], ...]] = {
    Dialect.REDSHIFT: tuple((t, "Redshift has no arrays, maps, structs or lambdas in plain SQL")
                            for t in _COLLECTIONS) + (
        (exp.RegexpExtract, "Redshift's REGEXP_SUBSTR takes a position where Spark's REGEXP_EXTRACT takes a group"),
        (exp.TableSample, "Redshift has no TABLESAMPLE"),
        (exp.Pivot, "Redshift's PIVOT differs from Spark's"),
    ),
    Dialect.TRINO: ((exp.Pivot, "Trino has no PIVOT"),),
    Dialect.ATHENA: ((exp.Pivot, "Athena has no PIVOT"),),
    Dialect.DUCKDB: (),
    Dialect.SPARK: (),
}


@dataclass(frozen=True)
class Transpiled:
    view: str
    version: int
    dialect: Dialect
    sql: str


def transpile_sql(view: str, version: int, compiled_sql: str, dialect: Dialect | str) -> Transpiled:
    """Write compiled Spark SQL in another dialect, or refuse.

    Raises:
        TranspileError: The dialect cannot express the SQL (with the reason).
    """
    target = dialect if isinstance(dialect, Dialect) else Dialect.parse(dialect)
    tree = sqlglot.parse_one(compiled_sql, read="spark")
    if target is not Dialect.SPARK:
        for node in tree.walk():
            if isinstance(node, exp.Anonymous):
                raise TranspileError(view, version, target.value,
                                     f"function {node.name}() is not known to sqlglot, so its meaning in "
                                     f"{target.value} cannot be checked")
            for kind, reason in _REFUSED[target]:
                if isinstance(node, kind):
                    raise TranspileError(view, version, target.value,
                                         f"{node.sql(dialect='spark')[:80]!r}: {reason}")
    try:
        sql = tree.sql(dialect=target.value, pretty=True, unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as exc:
        raise TranspileError(view, version, target.value, str(exc)) from exc
    try:
        sqlglot.parse_one(sql, read=target.value)
    except ParseError as exc:  # pragma: no cover - a sqlglot generator bug
        raise TranspileError(view, version, target.value, f"the generated SQL does not parse: {exc}") from exc
    return Transpiled(view, version, target, sql)


def transpile(lake: Lake, name: str, dialect: Dialect | str, *, version: int | None = None) -> Transpiled:
    """A view version's SQL in another dialect (the current version by default)."""
    info = get_view(lake, name, version)
    return transpile_sql(info.name, info.version, info.compiled_sql, dialect)
