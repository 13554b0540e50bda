"""Reading views: the API the access layer, the HTTP API and the CLI use.

    from views.catalog import get_view, list_views

    info = get_view(lake, "playback.daily_active_viewers")         # current version
    info = get_view(lake, "playback.daily_active_viewers", version=1)
    info = get_view(lake, "playback.daily_active_viewers@v1")      # same
    info.table_uri          # Delta table of its latest materialization, or None
    info.compiled_sql       # Spark SQL; bind it with views.binding to run it
    [c for c in info.columns if c.pii]   # masks apply to these

A version past its sunset date raises :class:`~views.errors.ViewSunset`
unless ``allow_retired=True`` (for catalogs and audits).

Views never go dark: while the current version of a table view has no
materialization of its own yet, readers get the newest earlier version's
materialization of the same major line, marked ``stale``. They see only the
current version's columns that the served table also has, with the same type
and storage, each masked as PII if either version says so
(``served_columns``): a column the new version drops, retypes or newly
derives from PII never shows through the old table. A major version never
serves an older major's rows (its grain or meaning changed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from lake.service import Lake
from views.columns import Dependency, Grain, ViewColumn
from views.definition import Materialization
from views.errors import ViewSunset
from views.models import ViewRun
from views.names import parse_ref
from views.sources import Snapshot
from views.versions import VersionRecord


class VersionStatus(enum.StrEnum):
    CURRENT = "current"  # the version the view's name reads
    SUPERSEDED = "superseded"  # an older version, still readable (pinned readers use it)
    DEPRECATED = "deprecated"  # deprecated; unreadable from its sunset date on


@dataclass(frozen=True)
class ViewInfo:
    """One version of a view, for readers and governance.

    Attributes:
        name: ``domain.name``.
        domain: The view's domain.
        version: This version's number.
        current_version: The view's current version.
        status: current, superseded or deprecated.
        materialization: ``table`` or ``virtual``.
        table_uri: The Delta table of this version's latest successful
            materialization (``<root>/views/<domain>.<name>/v<N>``); None for a
            virtual view or one never materialized.
        table_version: Delta version of that materialization.
        materialized_at: When that run finished.
        columns: Output columns with Arrow types, PII flags and lineage.
        compiled_sql: Qualified Spark SQL over ``domain.name`` references.
        sql: The SQL as written.
        dependencies: Datasets and views this version reads.
        grain: What one row stands for.
        served_version: The version whose materialization readers get: this
            one, or while it has none an earlier one of the same major line
            (``stale``); None when there is nothing to read.
        served_columns: The columns readers see of the served table (all of
            ``columns`` when fresh; when stale, those the served table has alike).
    """

    name: str
    domain: str
    version: int
    current_version: int
    status: VersionStatus
    materialization: Materialization
    table_uri: str | None
    table_version: int | None
    materialized_at: dt.datetime | None
    columns: tuple[ViewColumn, ...]
    compiled_sql: str
    sql: str
    dependencies: tuple[Dependency, ...]
    grain: Grain
    owner: str
    description: str
    tags: tuple[str, ...]
    author: str
    created_at: dt.datetime | None
    message: str
    major: bool
    spark_checked: bool
    changes: tuple[dict[str, Any], ...]
    deprecated_at: dt.datetime | None
    sunset_on: dt.date | None
    deprecation_note: str
    served_version: int | None = None
    served_columns: tuple[ViewColumn, ...] = ()

    @property
    def stale(self) -> bool:
        """Readers get an earlier version's materialization until this version's own is built."""
        return self.served_version is not None and self.served_version != self.version

    @property
    def pii_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.pii]

    def column(self, name: str) -> ViewColumn:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "domain": self.domain, "version": self.version,
            "current_version": self.current_version, "status": self.status.value,
            "materialization": self.materialization.value, "table_uri": self.table_uri,
            "table_version": self.table_version,
            "materialized_at": self.materialized_at.isoformat() if self.materialized_at else None,
            "columns": [c.to_dict() for c in self.columns], "compiled_sql": self.compiled_sql, "sql": self.sql,
            "dependencies": [d.to_dict() for d in self.dependencies],
            "grain": {**self.grain.to_dict(), "description": self.grain.describe()},
            "owner": self.owner, "description": self.description, "tags": list(self.tags), "author": self.author,
            "created_at": self.created_at.isoformat() if self.created_at else None, "message": self.message,
            "major": self.major, "spark_checked": self.spark_checked, "changes": list(self.changes),
            "deprecated_at": self.deprecated_at.isoformat() if self.deprecated_at else None,
            "sunset_on": self.sunset_on.isoformat() if self.sunset_on else None,
            "deprecation_note": self.deprecation_note,
            "served_version": self.served_version, "stale": self.stale,
            "served_columns": [c.name for c in self.served_columns],
        }


def _materializations(lake: Lake, row_ids: list[int]) -> dict[int, ViewRun]:
    """Latest successful run per version row id."""
    if not row_ids:
        return {}
    out: dict[int, ViewRun] = {}
    with lake.catalog.session() as s:
        for run in s.scalars(select(ViewRun).where(ViewRun.view_version_id.in_(row_ids),
                                                   ViewRun.status == "succeeded").order_by(ViewRun.id.desc())):
            out.setdefault(run.view_version_id, run)
    return out


def _info(record: VersionRecord, current: int, run: ViewRun | None,
          fallback: tuple[VersionRecord, ViewRun] | None = None) -> ViewInfo:
    if record.deprecated:
        status = VersionStatus.DEPRECATED
    elif record.version == current:
        status = VersionStatus.CURRENT
    else:
        status = VersionStatus.SUPERSEDED
    table = record.materialization is Materialization.TABLE
    served_record, served_run = (record, run) if run is not None or fallback is None else fallback
    if not table or served_run is None:
        served_record, served_run = record, None
    served_columns = record.columns if served_record is record else stale_columns(record, served_record)
    return ViewInfo(
        name=record.view, domain=record.domain, version=record.version, current_version=current, status=status,
        materialization=record.materialization,
        table_uri=served_run.table_uri if served_run is not None else None,
        table_version=int(served_run.table_version) if served_run is not None
        and served_run.table_version is not None else None,
        materialized_at=served_run.finished_at if served_run is not None else None,
        columns=record.columns, compiled_sql=record.compiled_sql, sql=record.sql,
        dependencies=record.dependencies, grain=record.grain, owner=record.owner, description=record.description,
        tags=record.tags, author=record.author, created_at=record.created_at, message=record.message,
        major=record.major, spark_checked=record.spark_checked, changes=record.changes,
        deprecated_at=record.deprecated_at, sunset_on=record.sunset_on, deprecation_note=record.deprecation_note,
        served_version=served_record.version if served_run is not None else None,
        served_columns=served_columns if served_run is not None else (),
    )


def stale_columns(record: VersionRecord, served: VersionRecord) -> tuple[ViewColumn, ...]:
    """The columns of ``record`` readers may see in ``served``'s table: same name, type and storage
    (ciphertext or not); PII if either version says so; decrypted with the served table's key."""
    old = {c.name: c for c in served.columns}
    out = []
    for col in record.columns:
        was = old.get(col.name)
        if was is None or was.sql_type != col.sql_type or (was.encrypted_with is None) != (col.encrypted_with is None):
            continue
        out.append(dataclasses.replace(col, pii=col.pii or was.pii, encrypted_with=was.encrypted_with))
    return tuple(out)


def stand_in(lake: Lake, versions: dict[int, VersionRecord], record: VersionRecord
             ) -> tuple[VersionRecord, ViewRun] | None:
    """The newest earlier version of ``record``'s major line with a materialization (its record and run).

    The line ends at a major version: ``record`` if major, or the nearest one before it.
    """
    if record.materialization is not Materialization.TABLE or record.major:
        return None
    earlier = []
    for number in range(record.version - 1, 0, -1):
        older = versions.get(number)
        if older is None:
            continue
        if older.materialization is Materialization.TABLE and not older.sunset_passed():
            earlier.append(older)
        if older.major:
            break
    runs = _materializations(lake, [r.row_id for r in earlier if r.row_id is not None])
    for older in earlier:
        run = runs.get(older.row_id or -1)
        if run is not None:
            return older, run
    return None


def _serving(lake: Lake, versions: dict[int, VersionRecord], record: VersionRecord, current: int,
             run: ViewRun | None) -> tuple[VersionRecord, ViewRun] | None:
    """A stand-in for the current version while it has no materialization of its own."""
    if run is not None or record.version != current:
        return None
    return stand_in(lake, versions, record)


def get_view(lake: Lake, name: str, version: int | None = None, *, allow_retired: bool = False) -> ViewInfo:
    """One version of a view (the current one by default).

    Args:
        lake: The lake.
        name: ``domain.name``, or ``domain.name@vN`` for a version.
        version: The version; wins over a pin in ``name``.
        allow_retired: Return a version past its sunset date instead of raising.

    Raises:
        ViewNotFound: No such view or version.
        ViewSunset: The version's sunset date has passed.
    """
    ref = parse_ref(name)
    snapshot = Snapshot.load(lake)
    record = snapshot.record(ref.qualified, version if version is not None else ref.pin)
    current = snapshot.view(ref.qualified).current
    assert current is not None
    if not allow_retired and record.sunset_passed():
        assert record.sunset_on is not None
        raise ViewSunset(record.view, record.version, record.sunset_on, current)
    assert record.row_id is not None
    run = _materializations(lake, [record.row_id]).get(record.row_id)
    versions = snapshot.view(ref.qualified).versions
    return _info(record, current, run, _serving(lake, versions, record, current, run))


def list_views(lake: Lake, *, domain: str | None = None) -> list[ViewInfo]:
    """The current version of every view (of one domain), sorted by name."""
    snapshot = Snapshot.load(lake)
    records = [state.current_record() for name, state in sorted(snapshot.views.items())
               if domain is None or name.split(".", 1)[0] == domain]
    found = [r for r in records if r is not None]
    runs = _materializations(lake, [r.row_id for r in found if r.row_id is not None])
    out = []
    for r in found:
        run = runs.get(r.row_id or -1)
        versions = snapshot.view(r.view).versions
        out.append(_info(r, r.version, run, _serving(lake, versions, r, r.version, run)))
    return out


def list_versions(lake: Lake, name: str) -> list[ViewInfo]:
    """Every version of a view, oldest first (retired ones included)."""
    ref = parse_ref(name)
    snapshot = Snapshot.load(lake)
    state = snapshot.view(ref.qualified)
    assert state.current is not None
    records = [state.versions[v] for v in sorted(state.versions)]
    runs = _materializations(lake, [r.row_id for r in records if r.row_id is not None])
    out = []
    for r in records:
        run = runs.get(r.row_id or -1)
        out.append(_info(r, state.current, run, _serving(lake, state.versions, r, state.current, run)))
    return out
