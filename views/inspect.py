"""Questions about views that the API and CLI ask by name: diff two versions,
impact of changing a view, lineage graph, and compiling a definition without
creating a version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lake.service import Lake
from views.analysis import analyze
from views.columns import ViewColumn
from views.definition import ViewDefinition
from views.diff import VersionDiff, diff_versions
from views.graph import Impact, impact, lineage_graph
from views.names import parse_ref
from views.sources import Snapshot


def diff(lake: Lake, name: str, from_version: int, to_version: int | None = None) -> VersionDiff:
    """Differences between two versions of a view (``to_version`` defaults to the current one).

    Raises:
        ViewNotFound: A version does not exist.
    """
    snapshot = Snapshot.load(lake)
    view = parse_ref(name).qualified
    return diff_versions(snapshot.record(view, from_version), snapshot.record(view, to_version))


def impact_of(lake: Lake, name: str, *, breaking: bool = True) -> list[Impact]:
    """Downstream views a new version of ``name`` would affect."""
    snapshot = Snapshot.load(lake)
    view = parse_ref(name).qualified
    snapshot.view(view)
    return impact(snapshot, view, breaking=breaking)


def lineage(lake: Lake, name: str, *, version: int | None = None, upstream: bool = True,
            downstream: bool = True) -> dict[str, Any]:
    """Table and column lineage around a view version, as JSON-ready nodes and edges."""
    ref = parse_ref(name)
    return lineage_graph(Snapshot.load(lake), ref.qualified, version=version if version is not None else ref.pin,
                         upstream=upstream, downstream=downstream)


@dataclass(frozen=True)
class CompileResult:
    """A definition compiled by sqlglot and Spark, without creating a version."""

    view: str
    compiled_sql: str
    columns: tuple[ViewColumn, ...]
    sqlglot_types: dict[str, str | None]
    spark_checked: bool

    def to_dict(self) -> dict[str, Any]:
        return {"view": self.view, "compiled_sql": self.compiled_sql, "spark_checked": self.spark_checked,
                "columns": [c.to_dict() for c in self.columns], "sqlglot_types": self.sqlglot_types}


def compile_definition(lake: Lake, definition: ViewDefinition, *, spark_check: bool = True) -> CompileResult:
    """Analyze and compile a definition as its next version would be, creating nothing.

    Raises:
        ViewCompileError: The SQL is refused, or Spark disagrees with sqlglot.
    """
    snapshot = Snapshot.load(lake)
    version = snapshot.next_version(definition.name)
    analysis = analyze(definition, snapshot, version=version)
    sqlglot_types = {c.name: c.sql_type for c in analysis.columns}
    if spark_check:
        from lake.spark import spark_session
        from views.compile import spark_check as check

        analysis = check(lake, spark_session(lake.settings), snapshot, analysis, version=version)
    return CompileResult(definition.name, analysis.compiled_sql, analysis.columns, sqlglot_types, spark_check)


def compile_current(lake: Lake, name: str, *, spark_check: bool = True) -> CompileResult:
    """Compile a view's current definition against today's catalog (a dry run of its next version)."""
    snapshot = Snapshot.load(lake)
    return compile_definition(lake, snapshot.record(parse_ref(name).qualified).definition(),
                              spark_check=spark_check)
