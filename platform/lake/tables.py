"""Delta tables through delta-rs: create, append, overwrite, upsert, time
travel, history, vacuum and optimize.

Every commit Lakegate makes records who made it, why, and the idempotency key
of the batch in the Delta commit metadata (``lakegate.*`` keys); a write
returns the version its own commit made, never a later one. Errors name the
table by its label (the dataset), never by its location in the lake: the
store's own message goes to the server log only.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import ColumnProperties, CommitProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from lake.errors import CommitConflict, InvalidInput, NotFound, StorageError

log = logging.getLogger(__name__)
_T = TypeVar("_T")

#: Up to this many distinct keys, candidate files are chosen by file statistics
#: for each key value; above it, by the batch's range of each key column.
KEY_LIST_PRUNING_LIMIT = 1_000
#: Rows per batch when scanning key columns, and how many files and batches
#: the scan reads ahead: what bounds its memory, whatever the table's size.
KEY_SCAN_BATCH_ROWS = 64 * 1024
KEY_SCAN_FILES_AHEAD = 1
KEY_SCAN_BATCHES_AHEAD = 2
#: Key column types whose values file statistics can rule out.
_PRUNABLE = (pa.types.is_integer, pa.types.is_string, pa.types.is_large_string, pa.types.is_date,
             pa.types.is_timestamp)


@dataclass(frozen=True)
class CommitInfo:
    """Who commits, why, and under which idempotency key."""

    actor: str
    reason: str = ""
    idempotency_key: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def metadata(self) -> dict[str, str]:
        """The ``lakegate.*`` keys of the commit (delta-rs custom metadata, delta-spark user metadata)."""
        meta: dict[str, str] = {"lakegate.actor": self.actor, "lakegate.reason": self.reason}
        if self.idempotency_key:
            meta["lakegate.idempotency_key"] = self.idempotency_key
        meta.update({f"lakegate.{k}": v for k, v in self.extra.items()})
        return meta

    def properties(self) -> CommitProperties:
        return CommitProperties(custom_metadata=self.metadata())


def _writer_properties(unique: Collection[str]) -> WriterProperties:
    """Parquet settings of a write: delta-rs's own (Snappy, as ``pyarrow`` writes by default),
    except that a column whose values are all distinct is written without a dictionary. One
    never pays for such a column: the writer would hash its values into a dictionary until the
    dictionary's size limit, then fall back to plain values for the rest of the row group."""
    return WriterProperties(compression="SNAPPY", column_properties={
        name: ColumnProperties(dictionary_enabled=False) for name in unique} or None)


def _files(table: DeltaTable) -> list[str]:
    """Paths of the data files of the table's snapshot, relative to its root."""
    return [str(p) for p in pa.table(table.get_add_actions()).column("path").to_pylist()]


class DeltaTableIO:
    """One Delta table at a URI (local path or ``s3://``).

    Args:
        uri: Table root.
        storage_options: delta-rs options (credentials, SSE-KMS) for S3.
        label: How errors name the table (a dataset name); never its location.
        exclusive: The caller holds the table's write lock (no other writer
            has files in flight), so the files of a commit attempt that failed
            are removed at once.
    """

    def __init__(self, uri: str, storage_options: dict[str, str] | None = None, *,
                 label: str | None = None, exclusive: bool = False) -> None:
        self.uri = uri
        self.storage_options = dict(storage_options or {})
        self.label = label or "the table"
        self.exclusive = exclusive

    def _failed(self, what: str, exc: Exception) -> StorageError:
        """A path-free error for callers; the store's own message goes to the log."""
        log.warning("%s of %s (%s) failed: %s", what, self.label, self.uri, exc)
        return StorageError(f"{what} of {self.label} failed in the table store "
                            f"({type(exc).__name__}); the server log has the details")

    def _committing(self, what: str, attempt: Callable[[], _T], *, attempts: int = 3) -> _T:
        """Run one commit, again if a concurrent commit won (``attempt`` starts over
        from the newest version each time)."""
        for n in range(1, attempts + 1):
            started = dt.datetime.now(dt.UTC)
            try:
                return attempt()
            except CommitFailedError as exc:
                log.info("%s of %s lost to a concurrent commit (attempt %d): %s", what, self.label, n, exc)
                if self.exclusive:
                    self.remove_unreferenced(started)
                if n == attempts:
                    raise CommitConflict(f"{what} of {self.label}", attempts) from exc
            except DeltaError as exc:
                raise self._failed(what, exc) from exc
        raise AssertionError("unreachable")

    # -- lifecycle ---------------------------------------------------------

    def exists(self) -> bool:
        return bool(DeltaTable.is_deltatable(self.uri, storage_options=self.storage_options or None))

    def create(
        self,
        schema: pa.Schema,
        info: CommitInfo,
        *,
        partition_by: Sequence[str] = (),
        name: str | None = None,
        description: str | None = None,
    ) -> int:
        """Create the table with no rows; a table already there is an error."""
        try:
            dt_ = DeltaTable.create(
                self.uri,
                schema,
                mode="error",
                partition_by=list(partition_by) or None,
                name=name,
                description=description,
                storage_options=self.storage_options or None,
                commit_properties=info.properties(),
            )
        except DeltaError as exc:
            raise self._failed("creating the Delta table", exc) from exc
        return int(dt_.version())

    def open(self, version: int | None = None) -> DeltaTable:
        try:
            return DeltaTable(self.uri, version=version, storage_options=self.storage_options or None)
        except TableNotFoundError as exc:
            log.warning("no Delta table for %s at %s", self.label, self.uri)
            raise NotFound(f"{self.label} has no Delta table in the lake") from exc
        except DeltaError as exc:
            if version is not None:
                raise NotFound(f"{self.label} has no version {version}") from exc
            raise self._failed("opening", exc) from exc

    def version(self) -> int:
        return int(self.open().version())

    # -- writes --------------------------------------------------------------

    def _write(self, data: pa.Table, mode: Literal["append", "overwrite"], info: CommitInfo, *,
               merge_schema: bool = False, unique: Collection[str] = ()) -> int:
        properties = _writer_properties(unique)

        def attempt() -> int:
            schema_mode: Literal["merge"] | None = "merge" if merge_schema else None
            if not self.exists():  # the first write creates the table (a quarantine table)
                write_deltalake(self.uri, data, mode=mode, schema_mode=schema_mode,
                                storage_options=self.storage_options or None, writer_properties=properties,
                                commit_properties=info.properties())
                return int(self.open().version())
            table = self.open()
            write_deltalake(table, data, mode=mode, schema_mode=schema_mode, writer_properties=properties,
                            commit_properties=info.properties())
            return int(table.version())  # the version of this commit (the table object follows it)

        return self._committing(mode, attempt)

    def append(self, data: pa.Table, info: CommitInfo, *, unique: Collection[str] = ()) -> int:
        """Append rows in one transaction; return the new table version.

        ``unique`` names columns whose values are all distinct in ``data`` (a
        checked primary key): they are written without a dictionary.
        """
        return self._write(data, "append", info, unique=unique)

    def overwrite(self, data: pa.Table, info: CommitInfo, *, unique: Collection[str] = ()) -> int:
        """Replace every row in one transaction; older versions stay readable (``unique`` as for append)."""
        return self._write(data, "overwrite", info, unique=unique)

    def upsert(self, data: pa.Table, keys: Sequence[str], info: CommitInfo) -> int:
        """Merge on the primary key: update matching rows, insert the others."""
        if not keys:
            raise InvalidInput(f"upsert into {self.label} needs a primary key")
        predicate = " AND ".join(f'target."{k}" = source."{k}"' for k in keys)

        def attempt() -> int:
            table = self.open()
            (
                table.merge(
                    data,
                    predicate=predicate,
                    source_alias="source",
                    target_alias="target",
                    commit_properties=info.properties(),
                )
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute()
            )
            return int(table.version())

        return self._committing("upsert", attempt)

    def add_columns(self, fields: Sequence[pa.Field], info: CommitInfo) -> int:
        """Add nullable columns (schema evolution) in one metadata commit."""
        from deltalake.schema import Field as DeltaField

        def attempt() -> int:
            table = self.open()
            table.alter.add_columns([DeltaField.from_arrow(f) for f in fields], commit_properties=info.properties())
            return int(table.version())

        return self._committing("adding columns", attempt)

    def delete_rows(self, column: str, value: int, info: CommitInfo) -> int:
        """Delete the rows whose integer ``column`` equals ``value``, in one commit."""
        predicate = f'"{column}" = {int(value)}'

        def attempt() -> int:
            table = self.open()
            table.delete(predicate, commit_properties=info.properties())
            return int(table.version())

        return self._committing("deleting rows", attempt)

    # -- reads ---------------------------------------------------------------

    def read(
        self,
        *,
        version: int | None = None,
        timestamp: dt.datetime | str | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """Rows of the snapshot at a version or timestamp (latest by default)."""
        table = self.open(version)
        if timestamp is not None:
            try:
                table.load_as_version(timestamp)
            except (DeltaError, ValueError) as exc:
                raise NotFound(f"{self.label} has no version at {timestamp}") from exc
        return table.to_pyarrow_table(columns=list(columns) if columns else None)

    def schema(self) -> pa.Schema:
        return pa.schema(self.open().schema().to_arrow())

    def history(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Commits, newest first, with Lakegate's actor/reason/idempotency key."""
        out = []
        for entry in self.open().history(limit):
            out.append(
                {
                    "version": entry.get("version"),
                    "timestamp": entry.get("timestamp"),
                    "operation": entry.get("operation"),
                    "actor": entry.get("lakegate.actor"),
                    "reason": entry.get("lakegate.reason"),
                    "idempotency_key": entry.get("lakegate.idempotency_key"),
                    "metrics": entry.get("operationMetrics", {}),
                }
            )
        return out

    def find_idempotency_key(self, key: str, *, search: int = 200) -> int | None:
        """The version whose commit carries ``key``, among the newest ``search`` commits."""
        for entry in self.open().history(search):
            if entry.get("lakegate.idempotency_key") == key:
                return int(entry["version"])
        return None

    def find_commits(self, field_name: str, values: Collection[str], *,
                     since: dt.datetime | None = None) -> dict[str, dict[str, Any]]:
        """Commits whose ``lakegate.<field_name>`` metadata is one of ``values``.

        Reads the log from the newest commit back, a growing number of entries
        at a time, until every value is found, the log ends, or (with
        ``since``) the commits are older than ``since``.

        Returns:
            Each value found, with its commit's history entry (``version``,
            ``operationMetrics`` and the ``lakegate.*`` metadata among others).
        """
        wanted, found = set(values), {}
        if not wanted:
            return {}
        key = f"lakegate.{field_name}"
        cutoff = int(since.timestamp() * 1000) if since is not None else None
        table = self.open()
        newest = int(table.version())
        limit = 20
        while True:
            entries = table.history(limit)
            for entry in entries:
                value = entry.get(key)
                if value in wanted and value not in found:
                    found[value] = entry
            oldest = entries[-1] if entries else None
            if (len(found) == len(wanted) or len(entries) < limit or oldest is None
                    or int(oldest.get("version", 0)) == 0 or limit > newest
                    or (cutoff is not None and int(oldest.get("timestamp", 0)) < cutoff)):
                return found
            limit *= 10

    def find_keys(self, keys: pa.Table) -> pa.Table:
        """The rows of ``keys`` (primary-key columns) whose key is already in the table.

        Memory stays flat as the table grows: only the key columns are read,
        only from files whose statistics (min/max per file, partition values)
        may hold one of the keys, in a stream of small batches filtered as
        they come.
        """
        names = keys.column_names
        if keys.num_rows == 0:
            return keys
        table = self.open()
        if not _files(table):  # a new table: nothing to look up, and no copy of the keys
            return keys.slice(0, 0)
        if any(keys.column(n).null_count for n in names):  # a null key matches nothing
            valid = pc.is_valid(keys.column(names[0]))
            for n in names[1:]:
                valid = pc.and_(valid, pc.is_valid(keys.column(n)))
            keys = keys.filter(valid)
        if keys.num_rows == 0:
            return keys
        schema = pa.schema(table.schema().to_arrow())
        distinct = {n: pc.unique(keys.column(n)).cast(schema.field(n).type) for n in names}
        pruning: list[tuple[str, str, Any]] = []
        for n in names:
            if not any(test(schema.field(n).type) for test in _PRUNABLE):
                continue
            values = distinct[n]
            if len(values) <= KEY_LIST_PRUNING_LIMIT:
                pruning.append((n, "in", values.to_pylist()))
            else:
                bounds = pc.min_max(values)
                pruning += [(n, ">=", bounds["min"].as_py()), (n, "<=", bounds["max"].as_py())]
        try:
            dataset = table.to_pyarrow_dataset(file_pruning_predicate=pruning or None)
            condition = pc.field(names[0]).isin(distinct[names[0]])
            for n in names[1:]:
                condition = condition & pc.field(n).isin(distinct[n])
            scanner = dataset.scanner(columns=names, filter=condition, batch_size=KEY_SCAN_BATCH_ROWS,
                                      fragment_readahead=KEY_SCAN_FILES_AHEAD,
                                      batch_readahead=KEY_SCAN_BATCHES_AHEAD)
            hits = [batch for batch in scanner.to_batches() if batch.num_rows]
        except (DeltaError, OSError, pa.ArrowException) as exc:
            raise self._failed("reading the primary keys", exc) from exc
        if not hits:
            return keys.slice(0, 0)
        present = pa.Table.from_batches(hits).cast(keys.schema)
        if len(names) == 1:
            return keys.filter(pc.is_in(keys.column(names[0]), value_set=present.column(names[0])))
        return keys.join(present.group_by(names).aggregate([]), keys=names, join_type="left semi")

    def remove_unreferenced(self, since: dt.datetime) -> list[str]:
        """Delete data files written at or after ``since`` that the table does not reference.

        Only for the holder of the table's write lock, after a write that
        failed or a writer that died: no other writer can have files in flight
        then, so such a file is an orphan of the failed write.

        Returns:
            The deleted files, relative to the table root.
        """
        import pyarrow.fs as pa_fs
        from deltalake.fs import DeltaStorageHandler

        try:
            table = self.open()
            active = {os.path.basename(p) for p in _files(table)}
            fs = pa_fs.PyFileSystem(DeltaStorageHandler.from_table(table._table, self.storage_options or None))
            removed = []
            for item in fs.get_file_info(pa_fs.FileSelector("", recursive=True)):
                parts = item.path.split("/")
                if (item.type != pa_fs.FileType.File or any(p.startswith(("_", ".")) for p in parts)
                        or parts[-1] in active or item.mtime is None or item.mtime < since):
                    continue
                fs.delete_file(item.path)
                removed.append(item.path)
        except (DeltaError, OSError) as exc:
            raise self._failed("removing files of a failed write", exc) from exc
        if removed:
            log.info("removed %d file(s) of a failed write from %s", len(removed), self.label)
        return removed

    # -- maintenance ----------------------------------------------------------

    def vacuum(self, info: CommitInfo, *, retention_hours: int = 168, dry_run: bool = False) -> list[str]:
        """Delete files no version within the retention references (full mode).

        Full mode: files removed by commits older than the retention, and files
        no commit ever referenced (left by a writer that failed or died) once
        they are older than the retention.

        Returns:
            The files deleted (or, with ``dry_run``, that would be), relative
            to the table root.
        """
        prefix = self.uri.rstrip("/") + "/"
        try:
            files = self.open().vacuum(
                retention_hours=retention_hours,
                dry_run=dry_run,
                enforce_retention_duration=False,
                full=True,
                commit_properties=info.properties(),
            )
        except DeltaError as exc:
            raise self._failed("vacuum", exc) from exc
        return sorted(f[len(prefix):] if f.startswith(prefix) else f for f in files)

    def optimize(self, info: CommitInfo) -> dict[str, Any]:
        """Compact small files; returns delta-rs metrics."""
        return self._committing("optimize", lambda: dict(self.open().optimize.compact(
            commit_properties=info.properties())))
