"""The :class:`Lake`: one deployment's catalog, storage, keys and operations.

The API, the CLI and the UI all go through a ``Lake``; it holds no state of
its own beyond open connections, so several processes can share one lake.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from lake.auth import Users
from lake.catalog import Catalog
from lake.contracts import Contract
from lake.crypto import KeyProvider, KmsKeyProvider, LocalKeyProvider
from lake.datasets import DatasetInfo, DatasetRegistry
from lake.errors import ConfigError, InvalidInput
from lake.formats import BatchFormat, Source
from lake.ingest import Ingestor, IngestResult, OnError, WriteMode, decrypt_pii
from lake.quarantine import Quarantine
from lake.s3 import S3Store
from lake.settings import Settings, get_settings
from lake.storage import ObjectStore, open_store
from lake.tables import CommitInfo
from lake.throttle import SignInThrottle, ThrottlePolicy

#: Delta's default: a week of time travel survives a vacuum.
DEFAULT_RETENTION_HOURS = 168


@dataclass(frozen=True)
class VacuumResult:
    """The files a vacuum deleted (or, in a dry run, would delete), relative to each table's root."""

    dataset: str
    major: int
    retention_hours: int
    dry_run: bool
    files: tuple[str, ...]
    quarantine_files: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "major": self.major, "retention_hours": self.retention_hours,
                "dry_run": self.dry_run, "files": list(self.files), "quarantine_files": list(self.quarantine_files)}


class Lake:
    """Entry point to the lake core.

    Args:
        settings: Deployment settings (``get_settings()`` by default).
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.settings.home.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(self.settings.database_url)
        self.store: ObjectStore = open_store(self.settings)
        self.store.setup()
        self.keys: KeyProvider
        if isinstance(self.store, S3Store):
            self.keys = KmsKeyProvider(self.store.kms_client())
        else:
            if self.settings.production:
                raise ConfigError("production mode needs KMS (S3 storage) for data keys")
            self.keys = LocalKeyProvider(self.settings.master_key_file)
        self.datasets = DatasetRegistry(self.catalog, self.store, self.keys)
        self.ingestor = Ingestor(self.catalog, self.datasets, lock_timeout=self.settings.commit_lock_timeout)
        self.quarantine = Quarantine(self.ingestor)
        self.users = Users(self.catalog, SignInThrottle(ThrottlePolicy(
            free_attempts=self.settings.sign_in_free_attempts,
            max_backoff_seconds=self.settings.sign_in_max_backoff_seconds,
            max_concurrent_hashes=self.settings.max_concurrent_password_checks)))
        # A writer that died mid-commit left its commit pending: record or undo it now.
        self.ingestor.recover()

    def close(self) -> None:
        self.catalog.dispose()

    # -- datasets --------------------------------------------------------------

    def register(self, contract: Contract | Mapping[str, Any] | str, *, actor: str) -> DatasetInfo:
        return self.datasets.register(contract, actor=actor)

    def dataset(self, name: str, *, major: int | None = None) -> DatasetInfo:
        return self.datasets.get(name, major=major)

    def evolve(self, name: str, contract: Contract | Mapping[str, Any] | str, *, actor: str,
               major: bool = False) -> DatasetInfo:
        return self.datasets.evolve(name, contract, actor=actor, major=major)

    # -- data ------------------------------------------------------------------

    def ingest(self, dataset: str, source: Source, fmt: BatchFormat | str, *, actor: str,
               mode: WriteMode | str = WriteMode.APPEND, on_error: OnError | str = OnError.REJECT,
               idempotency_key: str | None = None, reason: str = "", source_name: str = "") -> IngestResult:
        return self.ingestor.ingest(dataset, source, fmt, actor=actor, mode=mode, on_error=on_error,
                                    idempotency_key=idempotency_key, reason=reason, source_name=source_name)

    def ingest_table(self, dataset: str, table: pa.Table, *, actor: str, **kwargs: Any) -> IngestResult:
        """Ingest an in-memory Arrow table."""
        return self.ingest(dataset, table, BatchFormat.ARROW, actor=actor, **kwargs)

    def read(self, dataset: str, *, version: int | None = None, timestamp: dt.datetime | str | None = None,
             major: int | None = None, columns: list[str] | None = None, decrypt: bool = False) -> pa.Table:
        """Rows of a dataset at a version; PII stays encrypted unless ``decrypt``.

        Callers outside the core must go through the access layer, which
        decides who may see PII in clear.
        """
        info = self.datasets.get(dataset, major=major)
        stored = self.datasets.table(info).read(version=version, timestamp=timestamp, columns=columns)
        if decrypt and info.contract.pii_columns:
            return decrypt_pii(stored, info.contract, self.datasets.data_key(info))
        return stored

    def history(self, dataset: str, *, major: int | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        info = self.datasets.get(dataset, major=major)
        return self.datasets.table(info).history(limit)

    def commits(self, dataset: str, *, limit: int = 100, major: int | None = None) -> list[dict[str, Any]]:
        return self.ingestor.commits(dataset, limit=limit, major=major)

    def vacuum(self, dataset: str, *, actor: str, retention_hours: int = DEFAULT_RETENTION_HOURS,
               dry_run: bool = False, major: int | None = None) -> VacuumResult:
        """Delete the files of a dataset (current major) that no version within the retention needs.

        Full mode: files removed by commits older than the retention, and files
        no commit references (left by a write that failed or a writer that
        died) once they are older than the retention. Holds the table's write
        lock, so no batch is in flight meanwhile.

        Args:
            dataset: ``domain.dataset``.
            actor: Who vacuums (recorded in the commit).
            retention_hours: Keep what versions of the last N hours need (time
                travel within them keeps working).
            dry_run: Only list the files.
            major: A major version; the current one by default.
        """
        if retention_hours < 0:
            raise InvalidInput("retention_hours must be 0 or more")
        info = self.datasets.get(dataset, major=major)
        commit = CommitInfo(actor=actor, reason="vacuum")
        with self.ingestor.writing(info):
            files = self.datasets.table(info).vacuum(commit, retention_hours=retention_hours, dry_run=dry_run)
            quarantine = self.datasets.table(info, quarantine=True)
            q_files = (quarantine.vacuum(commit, retention_hours=retention_hours, dry_run=dry_run)
                       if quarantine.exists() else [])
        return VacuumResult(info.name, info.major, retention_hours, dry_run, tuple(files), tuple(q_files))

    def optimize(self, dataset: str, *, actor: str) -> dict[str, Any]:
        info = self.datasets.get(dataset)
        with self.ingestor.writing(info):
            return self.datasets.table(info, exclusive=True).optimize(CommitInfo(actor=actor, reason="optimize"))
