"""Materializing views with Spark: runs, refreshes of the DAG, reads.

A run of a table view binds the version's inputs (datasets at their current
table version, upstream table views at their latest materialization, virtual
views expanded), executes the compiled SQL in Spark, checks the result's
schema against the version's, and overwrites the version's Delta table
``<root>/views/<domain>.<name>/v<N>`` in one delta-rs commit. Every run is
recorded (status, rows, duration, table versions read, error). A failed run
commits nothing, so the previous materialization stays the one readers get.

PII columns hold the datasets' ciphertext: views compute over stored values
and a run never decrypts (see :mod:`views.analysis.lineage` for what a view
may do with them). Results are collected to the driver as Arrow and written
by delta-rs, as Lakegate writes every table; very large views want a cluster
with delta-spark writing natively.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlalchemy import select, update

from lake.errors import InvalidInput, LakegateError
from lake.service import Lake
from lake.tables import CommitInfo, DeltaTableIO
from views import types
from views.binding import Binder, latest_materialization
from views.columns import Dependency, SourceKind
from views.definition import Materialization
from views.errors import (
    MaterializationFailed,
    NotMaterialized,
    ViewNotFound,
    ViewSunset,
)
from views.events import LineageDataset, LineageEmitter, RunContext
from views.graph import CycleFound, topological_order
from views.models import ViewRun
from views.names import parse_ref
from views.sources import Snapshot
from views.versions import VersionRecord


class RunStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SUPERSEDED = "superseded"  # a queued run another run of the same version made needless


@dataclass(frozen=True)
class RunInfo:
    """One materialization run."""

    run_id: str
    view: str
    version: int
    status: RunStatus
    trigger: str
    actor: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    duration_ms: int | None
    rows: int | None
    table_uri: str | None
    table_version: int | None
    sources: dict[str, Any]
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "status": self.status.value, "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat() if self.finished_at else None}

    @classmethod
    def of(cls, view: str, version: int, row: ViewRun) -> RunInfo:
        return cls(row.run_id, view, version, RunStatus(row.status), row.trigger, row.actor, row.started_at,
                   row.finished_at, row.duration_ms, row.rows, row.table_uri, row.table_version,
                   dict(row.source_versions or {}), row.error)


def view_table_uri(lake: Lake, view: str, version: int) -> str:
    """Where a version's Delta table lives: ``<root>/views/<domain>.<name>/v<N>``."""
    root = lake.store.root.rstrip("/")
    return f"{root}/views/{view}/v{version}"


def _finish(lake: Lake, run_pk: int, **fields: Any) -> ViewRun:
    with lake.catalog.session() as s:
        row = s.get_one(ViewRun, run_pk)
        for key, value in fields.items():
            setattr(row, key, value)
        row.finished_at = dt.datetime.now(dt.UTC)
        s.flush()
        return row


def _check_result_schema(record: VersionRecord, fields: Sequence[Any]) -> None:
    """The run's output must have the version's columns and types (inputs may have drifted)."""
    problems = []
    if len(fields) != len(record.columns):
        problems.append(f"{len(fields)} columns instead of {len(record.columns)}")
    for field, col in zip(fields, record.columns, strict=False):
        got = types.from_spark(field.dataType)
        if field.name.lower() != col.name:
            problems.append(f"column {col.name!r} is named {field.name!r}")
        elif col.sql_type is not None and got != col.sql_type:
            problems.append(f"column {col.name!r} is {got} instead of {col.sql_type}")
    if problems:
        raise InvalidInput(f"the inputs of {record.view} v{record.version} changed since it was compiled: "
                           + "; ".join(problems) + "; create a new version of the view")


def _lineage_context(lake: Lake, run_id: str, record: VersionRecord, binder: Binder, uri: str) -> RunContext:
    by_name = {read.name: read for read in binder.reads.values()}
    sources: dict[tuple[str, int], LineageDataset] = {}
    inputs = []
    for dep in record.dependencies:
        read = by_name.get(dep.name)
        if read is None:
            ds = LineageDataset(f"{dep.name}@v{dep.version}", None, ())
        else:
            if read.kind is SourceKind.DATASET:
                contract = lake.datasets.get(dep.name, major=dep.version).contract
                cols = tuple((c.name, types.from_arrow(c.storage_type)) for c in contract.columns)
            else:
                cols = tuple((c.name, c.sql_type or "unknown")
                             for c in binder.snapshot.record(read.name, read.version).columns)
            ds = LineageDataset(dep.name, read.table_uri, cols, read.table_version)
        sources[(dep.name, dep.version)] = ds
        inputs.append(ds)
    output = LineageDataset(record.view, uri, tuple((c.name, c.sql_type) for c in record.columns))
    return RunContext(run_id, record.view, record.version, record.compiled_sql, tuple(inputs), output,
                      record.columns, sources)


def materialize(lake: Lake, name: str, version: int | None = None, *, actor: str, trigger: str = "manual",
                emitter: LineageEmitter | None = None, snapshot: Snapshot | None = None,
                run_pk: int | None = None) -> RunInfo:
    """Materialize one version of a table view (the current one by default).

    Args:
        lake: The lake.
        name: ``domain.name`` (or ``domain.name@vN``).
        version: The version to materialize.
        actor: Recorded on the run and the Delta commit.
        trigger: Why it runs (``manual``, ``refresh``, ``demo``...).
        emitter: Where OpenLineage events go (``LineageEmitter.from_settings`` by default).
        snapshot: The catalog (loaded by default).
        run_pk: A queued run of this version to carry out (claimed by the
            caller); a new run is recorded by default.

    Returns:
        The succeeded run.

    Raises:
        ViewNotFound, ViewSunset: The version cannot be read.
        InvalidInput: The view is virtual.
        NotMaterialized: An upstream table view was never materialized (run recorded as failed).
        MaterializationFailed: Spark or storage failed (run recorded as failed).
    """
    from lake.spark import spark_session, write_delta

    ref = parse_ref(name)
    snapshot = snapshot or Snapshot.load(lake)
    record = snapshot.record(ref.qualified, version if version is not None else ref.pin)
    if record.sunset_passed():
        assert record.sunset_on is not None
        raise ViewSunset(record.view, record.version, record.sunset_on, snapshot.view(record.view).current)
    if record.materialization is Materialization.VIRTUAL:
        raise InvalidInput(f"{record.view} v{record.version} is a virtual view: it is expanded when read, "
                           "never materialized")
    emitter = emitter or LineageEmitter.from_settings(lake.settings)
    run_id = str(uuid.uuid4())
    uri = view_table_uri(lake, record.view, record.version)
    with lake.catalog.session() as s:
        if run_pk is not None:
            queued = s.get_one(ViewRun, run_pk)
            queued.status, queued.started_at = RunStatus.RUNNING.value, dt.datetime.now(dt.UTC)
            run_id = queued.run_id
        else:
            row = ViewRun(run_id=run_id, view_version_id=record.row_id, status=RunStatus.RUNNING.value,
                          trigger=trigger, actor=actor, source_versions={})
            s.add(row)
            s.flush()
            run_pk = row.id
    started = time.perf_counter()
    ctx: RunContext | None = None
    binder: Binder | None = None
    try:
        spark = spark_session(lake.settings)
        with Binder(spark, lake, snapshot) as binder:
            sql = binder.bind_run(record)
            ctx = _lineage_context(lake, run_id, record, binder, uri)
            emitter.start(ctx)
            df = spark.sql(sql)
            _check_result_schema(record, df.schema.fields)
            info = CommitInfo(actor=actor, reason=f"materialize {record.view} v{record.version}",
                              extra={"view": record.view, "view_version": str(record.version), "view_run": run_id})
            written = write_delta(df.toDF(*[c.name for c in record.columns]), uri, mode="overwrite",
                                  metadata=info.metadata(),
                                  storage_options=lake.store.storage_options(record.domain))
    except Exception as exc:
        reason = exc.message if isinstance(exc, LakegateError) else _clean(exc)
        reads = {k: v.to_dict() for k, v in binder.reads.items()} if binder else {}
        _finish(lake, run_pk, status=RunStatus.FAILED.value, error=reason, source_versions=reads,
                duration_ms=int((time.perf_counter() - started) * 1000))
        if ctx is not None:
            emitter.fail(ctx, reason)
        if isinstance(exc, (NotMaterialized, ViewNotFound, ViewSunset)):
            raise
        raise MaterializationFailed(record.view, record.version, run_id, reason) from exc
    done = _finish(lake, run_pk, status=RunStatus.SUCCEEDED.value, rows=written.rows, table_uri=uri,
                   table_version=written.version, duration_ms=int((time.perf_counter() - started) * 1000),
                   source_versions={k: v.to_dict() for k, v in binder.reads.items()})
    assert ctx is not None
    emitter.complete(ctx, written.rows)
    with lake.catalog.session() as s:
        # Runs queued before this one started would build the same thing again.
        s.execute(update(ViewRun).where(ViewRun.view_version_id == record.row_id, ViewRun.id < run_pk,
                                        ViewRun.status == RunStatus.QUEUED.value)
                  .values(status=RunStatus.SUPERSEDED.value, finished_at=dt.datetime.now(dt.UTC),
                          error=f"superseded by run {run_id}"))
    return RunInfo.of(record.view, record.version, done)


def _clean(exc: Exception) -> str:
    text = str(exc).strip()
    for marker in ("\nJVM stacktrace:", "\n\tat "):
        text = text.split(marker, 1)[0]
    return (text or type(exc).__name__)[:2000]


@dataclass(frozen=True)
class RefreshResult:
    """Runs of a refresh, in dependency order, and what was skipped and why."""

    runs: tuple[RunInfo, ...]
    failed: tuple[tuple[str, str], ...]
    skipped: tuple[tuple[str, str], ...]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "runs": [r.to_dict() for r in self.runs],
                "failed": [{"view": v, "error": e} for v, e in self.failed],
                "skipped": [{"view": v, "reason": r} for v, r in self.skipped]}


def _key(record: VersionRecord) -> str:
    return f"{record.view}@v{record.version}"


def refresh(lake: Lake, names: Sequence[str] | None = None, *, actor: str, upstream: bool = False,
            downstream: bool = False, trigger: str = "refresh", emitter: LineageEmitter | None = None) -> RefreshResult:
    """Rebuild table views in dependency order.

    Args:
        lake: The lake.
        names: Views to refresh (their current versions); all views by default.
        actor: Recorded on the runs.
        upstream: Also refresh the versions these views read, transitively.
        downstream: Also refresh views that read these, transitively.
        trigger: Recorded on the runs.
        emitter: OpenLineage events (from the settings by default).

    Returns:
        The runs; a failed view's downstream views are skipped, others still run.

    Raises:
        ViewNotFound: A named view does not exist.
    """
    snapshot = Snapshot.load(lake)
    emitter = emitter or LineageEmitter.from_settings(lake.settings)
    chosen: dict[str, VersionRecord] = {}
    if names is None:
        for view_name in snapshot.views:
            if snapshot.is_view(view_name):
                record = snapshot.record(view_name)
                chosen[_key(record)] = record
    else:
        for n in names:
            ref = parse_ref(n)
            record = snapshot.record(ref.qualified, ref.pin)
            chosen[_key(record)] = record
    problems: dict[str, str] = {}
    if upstream:
        todo = list(chosen.values())
        while todo:
            record = todo.pop()
            for dep in record.view_dependencies():
                try:
                    up = snapshot.effective(dep, needed_by=record.view)
                except (ViewNotFound, ViewSunset) as exc:
                    problems[_key(record)] = exc.message
                    continue
                if _key(up) not in chosen:
                    chosen[_key(up)] = up
                    todo.append(up)
    if downstream:
        todo = list(chosen.values())
        while todo:
            record = todo.pop()
            for reader, _dep in snapshot.dependents(record.view):
                if _key(reader) not in chosen:
                    chosen[_key(reader)] = reader
                    todo.append(reader)

    def reads(record: VersionRecord) -> set[str]:
        out = set()
        for dep in record.view_dependencies():
            try:
                out.add(_key(snapshot.effective(dep)))
            except LakegateError:
                continue
        return out

    try:
        order = topological_order({k: reads(r) for k, r in chosen.items()})
    except CycleFound as found:  # pragma: no cover - cycles are refused when versions are created
        raise InvalidInput(f"views read each other in a circle: {found}") from None
    runs: list[RunInfo] = []
    failed: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    broken: set[str] = set()
    for key in order:
        record = chosen[key]
        bad = sorted(reads(record) & broken)
        if key in problems or bad:
            skipped.append((key, problems.get(key) or f"reads {', '.join(bad)}, which failed"))
            broken.add(key)
            continue
        if record.materialization is Materialization.VIRTUAL:
            continue
        try:
            runs.append(materialize(lake, record.view, record.version, actor=actor, trigger=trigger,
                                    emitter=emitter, snapshot=snapshot))
        except LakegateError as exc:
            failed.append((key, exc.message))
            broken.add(key)
    return RefreshResult(tuple(runs), tuple(failed), tuple(skipped))


def runs(lake: Lake, name: str, *, version: int | None = None, limit: int = 50) -> list[RunInfo]:
    """Runs of a view (of one version), newest first."""
    ref = parse_ref(name)
    snapshot = Snapshot.load(lake)
    state = snapshot.view(ref.qualified)
    wanted = version if version is not None else ref.pin
    by_row = {r.row_id: r for r in state.versions.values() if wanted is None or r.version == wanted}
    if wanted is not None and not by_row:
        raise ViewNotFound(f"view {ref.qualified} has no version {wanted}")
    with lake.catalog.session() as s:
        rows = s.scalars(select(ViewRun).where(ViewRun.view_version_id.in_(list(by_row)))
                         .order_by(ViewRun.id.desc()).limit(limit)).all()
        return [RunInfo.of(ref.qualified, by_row[r.view_version_id].version, r) for r in rows]


def read_view(lake: Lake, name: str, version: int | None = None) -> pa.Table:
    """Rows of a version's latest materialization (PII columns stay ciphertext).

    Raises:
        ViewNotFound, ViewSunset: The version cannot be read.
        NotMaterialized: It has no materialization.
    """
    ref = parse_ref(name)
    snapshot = Snapshot.load(lake)
    record = snapshot.record(ref.qualified, version if version is not None else ref.pin)
    snapshot.effective(Dependency(SourceKind.VIEW, record.view, record.version, pinned=True))
    found = latest_materialization(lake, record)
    if found is None:
        raise NotMaterialized(record.view, record.version, "this read")
    uri, table_version = found
    return DeltaTableIO(uri, lake.store.storage_options(record.domain)).read(version=table_version)


__all__ = ["RefreshResult", "RunInfo", "RunStatus", "materialize", "read_view", "refresh", "runs",
           "view_table_uri"]
