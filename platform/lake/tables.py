"""Delta tables through delta-rs: create, append, overwrite, upsert, time
travel, history, vacuum and optimize.

Every commit Lakegate makes records who made it, why, and the idempotency key
of the batch in the Delta commit metadata (``lakegate.*`` keys).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError, TableNotFoundError

from lake.errors import NotFound, StorageError


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


class DeltaTableIO:
    """One Delta table at a URI (local path or ``s3://``).

    Args:
        uri: Table root.
        storage_options: delta-rs options (credentials, SSE-KMS) for S3.
    """

    def __init__(self, uri: str, storage_options: dict[str, str] | None = None) -> None:
        self.uri = uri
        self.storage_options = dict(storage_options or {})

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
            raise StorageError(f"cannot create Delta table at {self.uri}: {exc}") from exc
        return int(dt_.version())

    def open(self, version: int | None = None) -> DeltaTable:
        try:
            return DeltaTable(self.uri, version=version, storage_options=self.storage_options or None)
        except TableNotFoundError as exc:
            raise NotFound(f"no Delta table at {self.uri}") from exc
        except DeltaError as exc:
            if version is not None:
                raise NotFound(f"table {self.uri} has no version {version}: {exc}") from exc
            raise StorageError(f"cannot open Delta table at {self.uri}: {exc}") from exc

    def version(self) -> int:
        return int(self.open().version())

    # -- writes --------------------------------------------------------------

    def _write(self, data: pa.Table, mode: Literal["append", "overwrite"], info: CommitInfo, *,
               merge_schema: bool = False) -> int:
        try:
            write_deltalake(
                self.uri,
                data,
                mode=mode,
                schema_mode="merge" if merge_schema else None,
                storage_options=self.storage_options or None,
                commit_properties=info.properties(),
            )
        except DeltaError as exc:
            raise StorageError(f"{mode} to {self.uri} failed: {exc}") from exc
        return self.version()

    def append(self, data: pa.Table, info: CommitInfo) -> int:
        """Append rows in one transaction; return the new table version."""
        return self._write(data, "append", info)

    def overwrite(self, data: pa.Table, info: CommitInfo) -> int:
        """Replace every row in one transaction; older versions stay readable."""
        return self._write(data, "overwrite", info)

    def upsert(self, data: pa.Table, keys: Sequence[str], info: CommitInfo) -> int:
        """Merge on the primary key: update matching rows, insert the others."""
        if not keys:
            raise StorageError(f"upsert into {self.uri} needs a primary key")
        predicate = " AND ".join(f'target."{k}" = source."{k}"' for k in keys)
        try:
            (
                self.open()
                .merge(
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
        except DeltaError as exc:
            raise StorageError(f"upsert into {self.uri} failed: {exc}") from exc
        return self.version()

    def add_columns(self, fields: Sequence[pa.Field], info: CommitInfo) -> int:
        """Add nullable columns (schema evolution) in one metadata commit."""
        from deltalake.schema import Field as DeltaField

        table = self.open()
        try:
            table.alter.add_columns(
                [DeltaField.from_arrow(f) for f in fields], commit_properties=info.properties()
            )
        except DeltaError as exc:
            raise StorageError(f"cannot add columns to {self.uri}: {exc}") from exc
        return self.version()

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
                raise NotFound(f"table {self.uri} has no version at {timestamp}: {exc}") from exc
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

    # -- maintenance ----------------------------------------------------------

    def vacuum(self, info: CommitInfo, *, retention_hours: int = 168, dry_run: bool = False) -> list[str]:
        """Delete files no longer referenced by versions within the retention."""
        try:
            return list(
                self.open().vacuum(
                    retention_hours=retention_hours,
                    dry_run=dry_run,
                    enforce_retention_duration=False,
                    commit_properties=info.properties(),
                )
            )
        except DeltaError as exc:
            raise StorageError(f"vacuum of {self.uri} failed: {exc}") from exc

    def optimize(self, info: CommitInfo) -> dict[str, Any]:
        """Compact small files; returns delta-rs metrics."""
        try:
            return dict(self.open().optimize.compact(commit_properties=info.properties()))
        except DeltaError as exc:
            raise StorageError(f"optimize of {self.uri} failed: {exc}") from exc
