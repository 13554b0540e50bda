"""Governed exports for SageMaker (and any subscriber): a Parquet snapshot as its role sees it.

An export runs ``SELECT * FROM <table> VERSION AS OF <v>`` through the query
gateway as the subscriber (or one of its roles), so row filters, hidden
columns and masks apply exactly as they do to queries, at a Delta version
fixed when the export starts. The rows are written as Parquet files with a
``manifest.json`` (files, row counts, SHA-256 checksums, source versions) and
a ``datacard.json`` (:mod:`access.subscribers.datacard`):

* in S3 mode under ``<lake prefix>/_exports/<subscriber>/<export id>/``,
  every object SSE-KMS encrypted under the source table's domain key, with
  presigned GET URLs that expire (1 second to 7 days);
* in local mode in ``$LAKEGATE_HOME/exports/<subscriber>/<export id>/``
  (directories 0700, files 0600), without URLs.

An export larger than ``LAKEGATE_SUBSCRIBERS_EXPORT_MAX_ROWS`` is refused
before anything is written. Each export is audited (kind ``query``) and recorded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlglot import exp

from access.audit import AuditKind, Decision
from access.resources import Action, ResourceKind
from access.subscribers.datacard import build_datacard
from access.subscribers.errors import ExportTooLarge
from access.subscribers.models import ExportRow
from access.subscribers.registry import SubscriberRegistry
from access.subscribers.settings import SubscriberSettings
from access.subscribers.tables import LakeTable, find_table
from access.subscribers.values import Subscriber
from lake.catalog.models import utcnow
from lake.errors import AccessDenied, ConfigError, InvalidInput, NotFound

if TYPE_CHECKING:
    from access.gateway import Gateway
    from access.policy import AccessControl

EXPORT_PREFIX = "_exports"
MANIFEST_NAME = "manifest.json"
DATACARD_NAME = "datacard.json"


@dataclass(frozen=True)
class ExportFile:
    """One file of an export: name, rows, size, SHA-256, and a presigned URL (S3 mode)."""

    name: str
    rows: int
    bytes: int
    sha256: str
    url: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Export:
    """A governed export.

    Attributes:
        id: The export id.
        subscriber: For whom.
        table: The exported table (``dataset:d.n`` or ``view:d.n`` key).
        subject: Whose access applied (the subscriber's, or one of its roles).
        location: Where the files are (``s3://...`` or a local directory).
        rows: Rows exported.
        files: The Parquet files (with URLs in S3 mode, only when just made).
        source_versions: Delta version read, per table key.
        manifest: The manifest document.
        datacard: The data card document.
        manifest_url, datacard_url: Presigned URLs (S3 mode, only when just made).
        urls_expire_at: When the URLs stop working.
    """

    id: str
    subscriber: str
    table: str
    subject: str
    location: str
    rows: int
    files: tuple[ExportFile, ...]
    source_versions: Mapping[str, int]
    created_at: dt.datetime
    manifest: Mapping[str, Any] = field(default_factory=dict, repr=False)
    datacard: Mapping[str, Any] = field(default_factory=dict, repr=False)
    manifest_url: str | None = field(default=None, repr=False)
    datacard_url: str | None = field(default=None, repr=False)
    urls_expire_at: dt.datetime | None = None


def export_query(table: LakeTable, version: int) -> str:
    """``SELECT * FROM <domain>.<name> VERSION AS OF <version>`` in Spark SQL."""
    assert table.resource.name is not None
    source = exp.Table(this=exp.to_identifier(table.resource.name, quoted=True),
                       db=exp.to_identifier(table.domain, quoted=True),
                       version=exp.Version(this="VERSION", kind="AS OF", expression=exp.Literal.number(version)))
    return exp.select(exp.Star()).from_(source).sql(dialect="spark")


class Exports:
    """Governed exports of one lake.

    Args:
        access: The access layer.
        registry: The subscriber registry.
        settings: Export limits.
        gateway: The query gateway exports run through (the composition root
            wires one with no catalog cache); with none, exports are refused.
    """

    def __init__(self, access: AccessControl, registry: SubscriberRegistry, settings: SubscriberSettings,
                 gateway: Gateway | None = None) -> None:
        self.access = access
        self.registry = registry
        self.settings = settings
        self._gateway = gateway

    @property
    def gateway(self) -> Gateway:
        if self._gateway is None:
            raise ConfigError("no query gateway is wired to exports (build the services with api.services)")
        return self._gateway

    def _subject(self, sub: Subscriber, role: str | None) -> str:
        if role is None:
            return sub.subject
        if role not in sub.roles:
            raise InvalidInput(f"subscriber {sub.name} is not bound to role {role!r}; "
                               f"its roles: {', '.join(sub.roles) or 'none'}")
        return role

    def _source_version(self, table: LakeTable) -> int:
        from deltalake import DeltaTable

        assert table.table_uri is not None
        options = self.access.lake.store.storage_options(table.domain)
        return int(DeltaTable(table.table_uri, storage_options=options or None).version())

    def export(self, name: str, table_name: str, *, role: str | None = None, url_seconds: int | None = None,
               actor: str) -> Export:
        """Export ``table_name`` as subscriber ``name`` (or its ``role``) sees it.

        Args:
            name: The subscriber.
            table_name: ``domain.name`` (a dataset, else a view) or a ``dataset:``/``view:`` key.
            role: One of the subscriber's roles whose access applies instead of all of them.
            url_seconds: Lifetime of presigned URLs (S3 mode).
            actor: Who asked (recorded).

        Raises:
            NotFound, SubscriberSuspended, AccessDenied, QueryRefused, ExportTooLarge, InvalidInput.
        """
        from access.gateway.run import execute

        sub = self.registry.require_active(name)
        subject = self._subject(sub, role)
        seconds = self.settings.url_lifetime(url_seconds)
        try:
            table = find_table(self.access.lake, table_name)
        except NotFound:
            raise AccessDenied(subject, Action.READ.value, f"table {table_name}",
                               "it does not exist or you have no read access to it") from None
        if table.table_uri is None:
            raise InvalidInput(f"{table.name} has no materialized table to export; materialize it first")
        decision = self.access.table_access(subject, table.resource, table.column_pii())
        if not decision.allowed:
            raise AccessDenied(subject, Action.READ.value, f"table {table.name}", decision.reason)
        version = self._source_version(table)
        planned = self.gateway.plan(subject, export_query(table, version))
        rows = execute(planned, self.access.lake.settings, row_cap=self.settings.export_max_rows,
                       timeout_seconds=self.settings.export_timeout_seconds)
        if rows.truncated:
            raise ExportTooLarge(table.name, self.settings.export_max_rows)
        export_id = uuid.uuid4().hex
        created = utcnow()
        datacard = build_datacard(export_id=export_id, subscriber=sub.name, subject=subject, table=table,
                                  access=decision, policy_version=self.access.version, source_version=version,
                                  rows=rows.table.num_rows, created_at=created,
                                  **self._describe(table))
        writer = _S3Writer(self.access, table.domain, sub.name, export_id) if self.access.lake.settings.is_s3 \
            else _LocalWriter(self.access.lake.settings.home, sub.name, export_id)
        files = self._write_parts(writer, rows.table)
        sources = {table.resource.key: version}
        manifest = {
            "export_id": export_id, "subscriber": sub.name, "subject": subject, "table": table.resource.key,
            "created_at": created.isoformat(), "format": "parquet", "location": writer.location,
            "rows": rows.table.num_rows, "query_id": planned.query_id, "source_versions": sources,
            "files": [{"name": f.name, "rows": f.rows, "bytes": f.bytes, "sha256": f.sha256} for f in files],
            "datacard": DATACARD_NAME,
        }
        writer.put(MANIFEST_NAME, json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8"))
        writer.put(DATACARD_NAME, json.dumps(datacard, indent=2, sort_keys=True).encode("utf-8"))
        expires = created + dt.timedelta(seconds=seconds) if writer.signs else None
        files = tuple(ExportFile(f.name, f.rows, f.bytes, f.sha256, writer.url(f.name, seconds)) for f in files)
        with self.access.lake.catalog.session() as s:
            s.add(ExportRow(id=export_id, subscriber=sub.name, table_key=table.resource.key, subject=subject,
                            location=writer.location, rows=rows.table.num_rows, files=manifest["files"],
                            source_versions=sources, created_by=actor, created_at=created, urls_expire_at=expires))
        use = planned.uses[0] if planned.uses else None
        self.access.audit.record(AuditKind.QUERY, actor=subject, action=Action.READ.value,
                                 resource=table.resource.key, decision=Decision.ALLOW, detail={
                                     "export_id": export_id, "subscriber": sub.name, "requested_by": actor,
                                     "query_id": planned.query_id, "rows": rows.table.num_rows,
                                     "source_version": version, "location": writer.location,
                                     "columns": list(use.columns) if use else [],
                                     "masks": dict(use.masked) if use else {},
                                     "row_filter": use.row_filter if use else False})
        return Export(export_id, sub.name, table.resource.key, subject, writer.location, rows.table.num_rows, files,
                      sources, created, manifest, datacard, writer.url(MANIFEST_NAME, seconds),
                      writer.url(DATACARD_NAME, seconds), expires)

    def _describe(self, table: LakeTable) -> dict[str, str]:
        if table.kind is ResourceKind.VIEW and table.view is not None:
            return {"description": table.view.description, "owner": table.view.owner}
        info = self.access.lake.datasets.get(table.name)
        return {"description": info.description, "owner": info.owner}

    def _write_parts(self, writer: _Writer, data: pa.Table) -> tuple[ExportFile, ...]:
        per_file = self.settings.export_rows_per_file
        out: list[ExportFile] = []
        offsets = range(0, max(data.num_rows, 1), per_file)
        for i, start in enumerate(offsets):
            part = data.slice(start, per_file)
            buffer = io.BytesIO()
            pq.write_table(part, buffer, compression="zstd")
            payload = buffer.getvalue()
            name = f"part-{i:05d}.parquet"
            writer.put(name, payload)
            out.append(ExportFile(name, part.num_rows, len(payload), hashlib.sha256(payload).hexdigest()))
        return tuple(out)

    def list(self, name: str, *, limit: int = 100) -> list[Export]:
        """Exports of subscriber ``name``, newest first (without URLs)."""
        with self.access.lake.catalog.session() as s:
            rows = list(s.scalars(select(ExportRow).where(ExportRow.subscriber == name)
                                  .order_by(ExportRow.created_at.desc()).limit(limit)))
            return [Export(r.id, r.subscriber, r.table_key, r.subject, r.location, r.rows,
                           tuple(ExportFile(f["name"], f["rows"], f["bytes"], f["sha256"]) for f in r.files),
                           dict(r.source_versions), r.created_at or utcnow(),
                           urls_expire_at=r.urls_expire_at) for r in rows]


class _Writer(Protocol):
    """Where an export's files go: ``location`` names it; ``signs`` says whether ``url`` gives links."""

    location: str
    signs: bool

    def put(self, name: str, data: bytes) -> None: ...

    def url(self, name: str, seconds: int) -> str | None: ...


class _LocalWriter:
    signs = False

    def __init__(self, home: Path, subscriber: str, export_id: str) -> None:
        self.dir = home / "exports" / subscriber / export_id
        self.dir.mkdir(parents=True, mode=0o700)
        for parent in (self.dir.parent, self.dir.parent.parent):
            os.chmod(parent, 0o700)
        self.location = str(self.dir)

    def put(self, name: str, data: bytes) -> None:
        path = self.dir / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)

    def url(self, name: str, seconds: int) -> str | None:
        return None  # files on this machine: no link to sign


class _S3Writer:
    signs = True

    def __init__(self, access: AccessControl, domain: str, subscriber: str, export_id: str) -> None:
        self.store = access.lake.store
        self.domain = domain
        self.prefix = f"{EXPORT_PREFIX}/{subscriber}/{export_id}"
        self.location = f"{self.store.root}/{self.prefix}/"

    def put(self, name: str, data: bytes) -> None:
        self.store.put_object(f"{self.prefix}/{name}", data, self.domain)

    def url(self, name: str, seconds: int) -> str | None:
        """A presigned GET that expires (SigV4: S3 serves SSE-KMS objects only to SigV4 requests)."""
        return self.store.presign(f"{self.prefix}/{name}", seconds)
