"""Binding a view's SQL to Spark: each input registered under a safe temp-view
name, and the SQL's table references rewritten to those names with sqlglot.

Two kinds of binding:

* **for compilation** each input is an empty DataFrame with the input's schema,
  so Spark's analyzer types the query without reading data;
* **for a run** each dataset is its Delta table at the current table version,
  each table view is its latest materialization of the version the dependency
  reads, and each virtual view is bound in turn and registered as a temp view
  over its own inputs. The table versions read are recorded.

Temp views are named ``lg_<random>_<n>`` and dropped when the binder closes.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import sqlglot
from sqlalchemy import select
from sqlglot import exp

from lake.service import Lake
from views.columns import Dependency, SourceKind
from views.definition import Materialization
from views.errors import NotMaterialized, ViewCompileError
from views.models import ViewRun
from views.names import Ref, ref_of_table
from views.sources import Snapshot, Source
from views.versions import VersionRecord

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass(frozen=True)
class SourceRead:
    """One table a run read, at which table version."""

    kind: SourceKind
    name: str
    version: int
    table_uri: str
    table_version: int

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "name": self.name, "version": self.version, "table_uri": self.table_uri,
                "table_version": self.table_version}


def rewrite_tables(sql: str, names: dict[Ref, str]) -> str:
    """The compiled SQL with each ``domain.name[@vN]`` replaced by its temp view name."""
    tree = sqlglot.parse_one(sql, read="spark")
    for node in tree.find_all(exp.Table):
        ref = ref_of_table(node)
        if ref is None:
            continue
        node.set("this", exp.to_identifier(names[ref], quoted=True))
        node.set("db", None)
        node.set("catalog", None)
    return tree.sql(dialect="spark")


def ddl_schema(columns: list[tuple[str, str]]) -> str:
    """A Spark DDL schema string (``` `a` int, `b` string ```) with quoted names."""
    return ", ".join(f"{exp.to_identifier(name, quoted=True).sql(dialect='spark')} {sql_type}"
                     for name, sql_type in columns)


def latest_materialization(lake: Lake, record: VersionRecord) -> tuple[str, int] | None:
    """``(table_uri, table_version)`` of a version's newest successful run, if any."""
    with lake.catalog.session() as s:
        run = s.scalars(
            select(ViewRun)
            .where(ViewRun.view_version_id == record.row_id, ViewRun.status == "succeeded")
            .order_by(ViewRun.id.desc())
            .limit(1)
        ).first()
        if run is None or run.table_uri is None or run.table_version is None:
            return None
        return run.table_uri, int(run.table_version)


@dataclass
class Binder:
    """Registers inputs in a Spark session; use as a context manager."""

    spark: SparkSession
    lake: Lake
    snapshot: Snapshot
    temp_views: list[str] = field(default_factory=list)
    reads: dict[str, SourceRead] = field(default_factory=dict)
    _prefix: str = field(default_factory=lambda: f"lg_{uuid.uuid4().hex[:12]}")

    def _name(self) -> str:
        name = f"{self._prefix}_{len(self.temp_views)}"
        self.temp_views.append(name)
        return name

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        for name in self.temp_views:
            # A stopped session has no views left to drop.
            with contextlib.suppress(Exception):
                self.spark.catalog.dropTempView(name)
        self.temp_views.clear()

    # -- compilation --------------------------------------------------------------

    def bind_empty(self, view: str, sources: dict[Ref, Source], compiled_sql: str) -> tuple[str, dict[str, str]]:
        """The SQL over empty inputs with the sources' schemas; also temp name -> reference."""
        names: dict[Ref, str] = {}
        for ref, source in sources.items():
            unknown = [c.name for c in source.columns if c.sql_type is None]
            if unknown:
                raise ViewCompileError(view, f"{source.name} v{source.version} has columns of unknown type "
                                             f"{unknown}; compile it with Spark first", kind="type")
            temp = self._name()
            schema = ddl_schema([(c.name, c.sql_type or "") for c in source.columns])
            self.spark.createDataFrame([], schema).createOrReplaceTempView(temp)
            names[ref] = temp
        return rewrite_tables(compiled_sql, names), {v: str(k) for k, v in names.items()}

    # -- runs -----------------------------------------------------------------------

    def _dataset(self, dep: Dependency) -> str:
        from lake.spark import register_delta

        info = self.lake.datasets.get(dep.name, major=dep.version)
        options = self.lake.store.storage_options(info.domain)
        table_version = self.lake.datasets.table(info).version()
        temp = self._name()
        register_delta(self.spark, temp, info.table_uri, version=table_version, storage_options=options)
        self.reads[dep.name] = SourceRead(SourceKind.DATASET, dep.name, dep.version, info.table_uri, table_version)
        return temp

    def _view(self, dep: Dependency, needed_by: str) -> str:
        from lake.spark import register_delta

        record = self.snapshot.effective(dep, needed_by=needed_by)
        if record.materialization is Materialization.VIRTUAL:
            temp = self._name()
            self.spark.sql(self.bind_run(record)).createOrReplaceTempView(temp)
            return temp
        found = latest_materialization(self.lake, record)
        if found is None:
            raise NotMaterialized(record.view, record.version, needed_by)
        uri, table_version = found
        temp = self._name()
        register_delta(self.spark, temp, uri, version=table_version,
                       storage_options=self.lake.store.storage_options(record.domain))
        self.reads[record.view] = SourceRead(SourceKind.VIEW, record.view, record.version, uri, table_version)
        return temp

    def bind_run(self, record: VersionRecord) -> str:
        """The version's SQL over its real inputs (registering them)."""
        names: dict[Ref, str] = {}
        for dep in record.dependencies:
            domain, name = dep.name.split(".", 1)
            ref = Ref(domain, name, dep.version if dep.pinned else None)
            if dep.kind is SourceKind.DATASET:
                names[ref] = self._dataset(dep)
            else:
                names[ref] = self._view(dep, record.view)
        return rewrite_tables(record.compiled_sql, names)
