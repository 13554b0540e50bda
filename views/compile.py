"""Compilation with Spark: the analyzer types each version, and its schema must
agree with sqlglot's.

Spark analyzes the compiled SQL over empty inputs that have the inputs'
schemas (nothing is read). Column names must match sqlglot's (ignoring case),
and every column sqlglot typed must have the same type in Spark; columns
sqlglot could not type take Spark's type. A disagreement, a Spark analysis
error, or an output type views cannot store refuses the version.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

from views import types
from views.analysis import Analysis
from views.binding import Binder
from views.errors import ViewCompileError
from views.sources import Snapshot

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lake.service import Lake

_SPARK_NOISE = re.compile(r"\s*(JVM stacktrace:|SQLSTATE:).*", re.DOTALL)


def _spark_message(exc: Exception, temp_names: dict[str, str]) -> str:
    text = str(exc)
    text = _SPARK_NOISE.sub("", text).strip()
    for temp, ref in temp_names.items():
        text = text.replace(f"`{temp}`", ref).replace(temp, ref)
    return text.splitlines()[0] if text else type(exc).__name__


def spark_check(lake: Lake, spark: SparkSession, snapshot: Snapshot, analysis: Analysis,
                *, version: int | None = None) -> Analysis:
    """Compile an analyzed version with Spark's analyzer.

    Args:
        lake: The lake (for storage options; nothing is read here).
        spark: A classic or Spark Connect session.
        snapshot: The snapshot the analysis resolved against.
        analysis: sqlglot's analysis of the version.
        version: The version number, for error messages.

    Returns:
        The analysis with Spark's types filled in where sqlglot had none.

    Raises:
        ViewCompileError: kind ``spark`` (Spark refused the SQL), ``type`` (an
            output type views cannot store) or ``schema_mismatch``.
    """
    with Binder(spark, lake, snapshot) as binder:
        sql, temp_names = binder.bind_empty(analysis.view, analysis.inputs.sources, analysis.compiled_sql)
        try:
            fields = spark.sql(sql).schema.fields
        except Exception as exc:  # pyspark raises AnalysisException, ParseException, Py4J errors
            raise ViewCompileError(analysis.view, f"Spark cannot compile it: {_spark_message(exc, temp_names)}",
                                   kind="spark", version=version) from exc
    if len(fields) != len(analysis.columns):
        raise ViewCompileError(
            analysis.view, f"Spark outputs {len(fields)} columns, sqlglot {len(analysis.columns)}",
            kind="schema_mismatch", version=version)
    columns = []
    for field, column in zip(fields, analysis.columns, strict=False):
        if field.name.lower() != column.name:
            raise ViewCompileError(analysis.view, f"Spark names column {column.name!r} {field.name!r}",
                                   kind="schema_mismatch", version=version)
        spark_type = types.from_spark(field.dataType)
        if spark_type is None:
            raise ViewCompileError(
                analysis.view, f"column {column.name!r} has type {field.dataType.simpleString()}, which a view "
                "cannot store (only primitive types); CAST it", kind="type", version=version)
        if column.sql_type is not None and column.sql_type != spark_type:
            raise ViewCompileError(
                analysis.view, f"column {column.name!r}: sqlglot types it {column.sql_type} but Spark "
                f"{spark_type}", kind="schema_mismatch", version=version)
        columns.append(dataclasses.replace(column, sql_type=spark_type))
    return dataclasses.replace(analysis, columns=tuple(columns))
