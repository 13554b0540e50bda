"""OpenLineage events: runs of materializations, and registrations.

Registering a dataset or a view version (``access.registration``) emits one
``DatasetEvent`` with its schema, its Lakegate name and version. Each run
emits START, then COMPLETE or FAIL, with the datasets and views it read (schema and version facets), the table it wrote (schema, column lineage
and output statistics facets) and the compiled SQL (SQL job facet).

Events go to a file transport by default — one JSON event per line in
``<LAKEGATE_HOME>/openlineage/events.jsonl`` — or to an OpenLineage HTTP
endpoint (e.g. Marquez) when ``settings.openlineage_url`` (``LAKEGATE_OPENLINEAGE_URL``)
is set (``LAKEGATE_OPENLINEAGE_API_KEY`` adds a bearer token). Emitting never fails a
run: a transport error is logged.

Dataset names follow OpenLineage's naming: a local table is namespace
``file`` and its absolute path; an S3 table is namespace ``s3://bucket`` and
its key. A symlink facet carries the Lakegate name (``domain.name``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lake.settings import Settings
from views.columns import ColumnSource, ViewColumn

log = logging.getLogger(__name__)

#: Environment variables read by :meth:`LineageEmitter.from_settings`.
NAMESPACE = "lakegate"
PRODUCER = "urn:lakegate:views"


def dataset_identity(table_uri: str) -> tuple[str, str]:
    """OpenLineage ``(namespace, name)`` of a table at a URI."""
    parsed = urlparse(table_uri)
    if parsed.scheme in ("", "file") or len(parsed.scheme) == 1:
        path = parsed.path if parsed.scheme == "file" else table_uri
        return "file", os.path.abspath(path)
    return f"{parsed.scheme}://{parsed.netloc}", parsed.path.lstrip("/")


@dataclass(frozen=True)
class LineageDataset:
    """A table a run reads or writes, as OpenLineage sees it."""

    lakegate_name: str
    table_uri: str | None
    columns: tuple[tuple[str, str | None], ...]
    version: int | None = None

    @property
    def identity(self) -> tuple[str, str]:
        if self.table_uri is None:  # a virtual view has no table
            return NAMESPACE, self.lakegate_name
        return dataset_identity(self.table_uri)


@dataclass(frozen=True)
class RunContext:
    """What the events of one run describe."""

    run_id: str
    view: str
    version: int
    compiled_sql: str
    inputs: tuple[LineageDataset, ...]
    output: LineageDataset
    columns: tuple[ViewColumn, ...]
    source_uris: dict[tuple[str, int], LineageDataset]


class LineageEmitter:
    """Sends run events through an OpenLineage transport.

    Args:
        transport: An ``openlineage.client`` transport; None disables events.
    """

    def __init__(self, transport: Any | None) -> None:
        self.transport = transport

    @classmethod
    def from_settings(cls, settings: Settings) -> LineageEmitter:
        """HTTP when ``settings.openlineage_url`` is set, else a file under the home."""
        url = (settings.openlineage_url or "").strip()
        if url:
            from openlineage.client.transport.http import (
                ApiKeyTokenProvider,
                HttpConfig,
                HttpTransport,
            )

            key = settings.openlineage_api_key.get_secret_value() if settings.openlineage_api_key else ""
            config = HttpConfig(url=url, timeout=5.0, retry={"total": 1})
            if key:
                config.auth = ApiKeyTokenProvider({"api_key": key})
            return cls(HttpTransport(config))
        from openlineage.client.transport.file import FileConfig, FileTransport

        path = Path(settings.home) / "openlineage" / "events.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(FileTransport(FileConfig(log_file_path=str(path), append=True)))

    # -- events -----------------------------------------------------------------

    def _dataset_facets(self, ds: LineageDataset) -> dict[str, Any]:
        from openlineage.client.generated.dataset_version_dataset import (
            DatasetVersionDatasetFacet,
        )
        from openlineage.client.generated.schema_dataset import (
            SchemaDatasetFacet,
            SchemaDatasetFacetFields,
        )
        from openlineage.client.generated.symlinks_dataset import (
            Identifier,
            SymlinksDatasetFacet,
        )

        facets: dict[str, Any] = {
            "schema": SchemaDatasetFacet(fields=[SchemaDatasetFacetFields(name=n, type=t) for n, t in ds.columns]),
            "symlinks": SymlinksDatasetFacet(identifiers=[Identifier(namespace=NAMESPACE, name=ds.lakegate_name,
                                                                     type="TABLE")]),
        }
        if ds.version is not None:
            facets["version"] = DatasetVersionDatasetFacet(datasetVersion=str(ds.version))
        return facets

    def _column_lineage(self, ctx: RunContext) -> Any:
        from openlineage.client.generated.column_lineage_dataset import (
            ColumnLineageDatasetFacet,
            Fields,
            InputField,
        )

        def field(src: ColumnSource) -> InputField:
            ds = ctx.source_uris.get((src.name, src.version))
            namespace, name = ds.identity if ds else (NAMESPACE, src.name)
            return InputField(namespace=namespace, name=name, field=src.column)

        fields = {
            col.name: Fields(
                inputFields=[field(s) for s in col.sources],
                transformationType="IDENTITY" if col.transformation.value == "identity" else "TRANSFORMATION",
                transformationDescription=col.transformation.value,
            )
            for col in ctx.columns
        }
        return ColumnLineageDatasetFacet(fields=fields)

    def _event(self, state: str, ctx: RunContext, *, rows: int | None = None, error: str | None = None) -> Any:
        from openlineage.client.event_v2 import (
            InputDataset,
            Job,
            OutputDataset,
            Run,
            RunEvent,
            RunState,
        )
        from openlineage.client.generated.error_message_run import ErrorMessageRunFacet
        from openlineage.client.generated.job_type_job import JobTypeJobFacet
        from openlineage.client.generated.output_statistics_output_dataset import (
            OutputStatisticsOutputDatasetFacet,
        )
        from openlineage.client.generated.sql_job import SQLJobFacet

        run_facets: dict[str, Any] = {}
        if error is not None:
            run_facets["errorMessage"] = ErrorMessageRunFacet(message=error, programmingLanguage="python")
        inputs = [InputDataset(namespace=d.identity[0], name=d.identity[1], facets=self._dataset_facets(d))
                  for d in ctx.inputs]
        out_facets = self._dataset_facets(ctx.output)
        out_facets["columnLineage"] = self._column_lineage(ctx)
        output_facets: dict[str, Any] = {}
        if rows is not None:
            output_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(rowCount=rows)
        output = OutputDataset(namespace=ctx.output.identity[0], name=ctx.output.identity[1], facets=out_facets,
                               outputFacets=output_facets)
        job = Job(namespace=NAMESPACE, name=f"view.{ctx.view}.v{ctx.version}", facets={
            "sql": SQLJobFacet(query=ctx.compiled_sql),
            "jobType": JobTypeJobFacet(processingType="BATCH", integration="LAKEGATE", jobType="VIEW"),
        })
        return RunEvent(
            eventType=getattr(RunState, state),
            eventTime=dt.datetime.now(dt.UTC).isoformat(),
            run=Run(runId=ctx.run_id, facets=run_facets),
            job=job,
            producer=PRODUCER,
            inputs=inputs,
            outputs=[output],
        )

    def _emit(self, state: str, ctx: RunContext, **kwargs: Any) -> None:
        if self.transport is None:
            return
        try:
            self.transport.emit(self._event(state, ctx, **kwargs))
        except Exception as exc:  # noqa: BLE001 - lineage must never fail a run
            log.warning("could not emit OpenLineage %s event for %s v%s: %s", state, ctx.view, ctx.version, exc)

    def start(self, ctx: RunContext) -> None:
        self._emit("START", ctx)

    def complete(self, ctx: RunContext, rows: int) -> None:
        self._emit("COMPLETE", ctx, rows=rows)

    def fail(self, ctx: RunContext, error: str) -> None:
        self._emit("FAIL", ctx, error=error)

    def registered(self, dataset: LineageDataset) -> None:
        """A dataset or view version was registered: an OpenLineage ``DatasetEvent`` with its
        schema, Lakegate name and version facets. Never raises (a transport error is logged)."""
        if self.transport is None:
            return
        try:
            from openlineage.client.event_v2 import DatasetEvent, StaticDataset

            namespace, name = dataset.identity
            self.transport.emit(DatasetEvent(
                eventTime=dt.datetime.now(dt.UTC).isoformat(), producer=PRODUCER,
                dataset=StaticDataset(namespace=namespace, name=name, facets=self._dataset_facets(dataset))))
        except Exception as exc:  # noqa: BLE001 - lineage must never fail a registration
            log.warning("could not emit the OpenLineage event of registering %s: %s", dataset.lakegate_name, exc)


def read_events(path: str | Path) -> Sequence[dict[str, Any]]:
    """Events written by the file transport (one JSON document per line)."""
    import json

    text = Path(path).read_text(encoding="utf-8") if Path(path).exists() else ""
    return [json.loads(line) for line in text.splitlines() if line.strip()]
