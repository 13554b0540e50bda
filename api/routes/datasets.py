"""Datasets: register with a contract, discover, evolve the contract, land batches,
read the commit log.

Handlers parse the request, authorize the caller and call the :class:`Lake`;
blocking lake calls run in a worker thread.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import AsyncIterator
from typing import Annotated, Any, BinaryIO, cast

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from access import Action, Resource, producers, registration
from api.authz import LAKE, AccessDep, dataset_from_path, known, require
from api.deps import LakeDep, PrincipalDep, SettingsDep
from api.guards import bounded_stream, read_text
from api.params import OptionalNumberQuery
from api.schemas import (
    CommitPublic,
    ContractChange,
    ContractPlan,
    ContractVersionPublic,
    DatasetPublic,
    IngestResultPublic,
    QuarantinePublic,
    ReplayPublic,
    TableVersionPublic,
    TrendPointPublic,
    VacuumPublic,
    error_responses,
)
from lake.auth import Principal
from lake.contracts import parse_contract
from lake.datasets import DatasetInfo
from lake.errors import InvalidContract, InvalidInput
from lake.formats import BatchFormat
from lake.ingest import OnError, WriteMode
from lake.nesting import load_json
from lake.service import DEFAULT_RETENTION_HOURS, Lake

router = APIRouter(prefix="/datasets", tags=["datasets"])

#: Largest contract document accepted (contracts are small; batches have their own limit).
MAX_CONTRACT_BYTES = 1 << 20
#: A batch is held in memory up to this size, then spooled to a temporary file.
SPOOL_IN_MEMORY_BYTES = 8 << 20

_YAML_TYPES = {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}

_CONTRACT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The data contract, as JSON or as YAML text.",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}
_BATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The batch file. Its format comes from ?format= or the Content-Type.",
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in ("application/vnd.apache.parquet", "application/vnd.apache.arrow.stream",
                          "text/csv", "application/x-ndjson")
        },
    }
}


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def _contract_document(request: Request) -> dict[str, Any] | str:
    """The request body as a contract: YAML text, or a JSON object."""
    text = await read_text(request, MAX_CONTRACT_BYTES, what="the contract")
    if not text.strip():
        raise InvalidContract("the request body is empty; send the contract as JSON or YAML")
    if _media_type(request) in _YAML_TYPES:
        return text
    try:
        doc = load_json(text)
    except json.JSONDecodeError as exc:
        raise InvalidContract(
            f"not valid JSON: {exc.msg} (send YAML with Content-Type: application/yaml)",
            where=f"line {exc.lineno}, column {exc.colno}",
        ) from exc
    if not isinstance(doc, dict):
        raise InvalidContract("a contract must be a JSON object with 'dataset' and 'columns'")
    return doc


def _batch_format(fmt: str | None, request: Request) -> BatchFormat:
    text = fmt or _media_type(request)
    if not text or text == "application/octet-stream":
        raise InvalidInput(
            "the batch format is unknown: pass ?format=parquet|arrow|csv|jsonl "
            "or a Content-Type such as text/csv"
        )
    return BatchFormat.parse(text)


@contextlib.asynccontextmanager
async def _spooled_body(request: Request, limit: int) -> AsyncIterator[BinaryIO]:
    """The request body, streamed into a spooled temporary file (memory, then disk).

    Raises:
        PayloadTooLarge: as soon as the declared or received size passes ``limit``.
    """
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES) as spool:
        async for chunk in bounded_stream(request, limit):
            await run_in_threadpool(spool.write, chunk)
        spool.seek(0)
        yield cast(BinaryIO, spool)


async def _writable(lake: Lake, principal: Principal, name: str) -> DatasetInfo:
    """The dataset (WRITE was checked by the route's dependency)."""
    return await run_in_threadpool(lake.dataset, name)


@router.post("", status_code=201, openapi_extra=_CONTRACT_BODY, responses=error_responses(400, 403, 409, 413, 422))
async def register_dataset(request: Request, lake: LakeDep, principal: PrincipalDep,
                           access: AccessDep) -> DatasetPublic:
    """Register a dataset with its first contract (needs ``propose`` on its domain);
    the registering principal and the contract's owner may then write to it."""
    contract = parse_contract(await _contract_document(request))
    info = await run_in_threadpool(
        lambda: registration.register_dataset(access, contract, by=known(access, principal)))
    return DatasetPublic.of(info)


@router.get("")
def list_datasets(lake: LakeDep, principal: PrincipalDep, access: AccessDep,
                  domain: Annotated[str | None, Query(description="Only datasets of this domain.")] = None,
                  ) -> list[DatasetPublic]:
    """Current major versions of the datasets the caller may discover."""
    subject = known(access, principal)
    return [DatasetPublic.of(info) for info in lake.datasets.list(domain=domain)
            if access.can(subject, Action.DISCOVER, Resource.table(info.name))]


@router.get("/{name}", responses=error_responses(404), dependencies=[require(Action.DISCOVER, dataset_from_path, audit=False)])
def get_dataset(name: str, lake: LakeDep, principal: PrincipalDep,
                major: Annotated[OptionalNumberQuery, Query(description="A major version; the current one by default.")]
                = None) -> DatasetPublic:
    """A dataset (``domain.dataset``) with its current contract."""
    return DatasetPublic.of(lake.dataset(name, major=major))


@router.get("/{name}/contract/versions", responses=error_responses(404),
            dependencies=[require(Action.DISCOVER, dataset_from_path, audit=False)])
def contract_versions(name: str, lake: LakeDep, principal: PrincipalDep,
                      major: OptionalNumberQuery = None) -> list[ContractVersionPublic]:
    """Every contract version of a major version, oldest first, with its changes."""
    return [ContractVersionPublic.model_validate(v) for v in lake.datasets.contract_versions(name, major=major)]


@router.post("/{name}/contract", openapi_extra=_CONTRACT_BODY, responses=error_responses(400, 403, 404, 409, 413, 422),
             dependencies=[require(Action.WRITE, dataset_from_path)])
async def evolve_contract(
    name: str, request: Request, lake: LakeDep, principal: PrincipalDep,
    major: Annotated[bool, Query(description="Open the next major version (for a breaking change).")] = False,
    dry_run: Annotated[bool, Query(description="Only say what would change.")] = False,
) -> DatasetPublic | ContractPlan:
    """Apply a new contract: compatible changes make a new contract version; breaking
    ones answer 409 unless ``major=true``. With ``dry_run=true`` nothing is applied."""
    info = await _writable(lake, principal, name)
    doc = await _contract_document(request)
    if dry_run:
        changes = await run_in_threadpool(lake.datasets.plan_change, info.name, doc)
        return ContractPlan(dataset=info.name, changes=[ContractChange.of(c) for c in changes],
                            breaking=any(c.breaking for c in changes))
    evolved = await run_in_threadpool(lambda: lake.evolve(info.name, doc, actor=principal.name, major=major))
    return DatasetPublic.of(evolved)


@router.post("/{name}/batches", status_code=201, openapi_extra=_BATCH_BODY,
             dependencies=[require(Action.WRITE, dataset_from_path)],
             responses={200: {"model": IngestResultPublic, "description": "Replayed: the key landed before."},
                        **error_responses(403, 404, 409, 413, 422)})
async def ingest_batch(
    name: str, request: Request, response: Response, lake: LakeDep, settings: SettingsDep,
    principal: PrincipalDep,
    fmt: Annotated[str | None, Query(alias="format", description="parquet, arrow, csv or jsonl.")] = None,
    mode: WriteMode = WriteMode.APPEND,
    on_error: OnError = OnError.REJECT,
    reason: Annotated[str, Query(max_length=1000)] = "",
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=255)] = None,
) -> IngestResultPublic:
    """Land one batch (the raw request body) in one Delta commit, or nothing.

    The body is streamed to a spooled temporary file and refused with 413 as
    soon as it passes the upload limit. A retry with the same
    ``Idempotency-Key`` lands once and answers 200 with ``replayed: true``.
    """
    info = await _writable(lake, principal, name)
    batch_format = _batch_format(fmt, request)
    async with _spooled_body(request, settings.max_upload_bytes) as batch:
        result = await run_in_threadpool(
            lambda: lake.ingest(info.name, batch, batch_format, actor=principal.name, mode=mode, on_error=on_error,
                                idempotency_key=idempotency_key, reason=reason, source_name="api")
        )
    if result.replayed:
        response.status_code = 200
    return IngestResultPublic.of(result)


@router.get("/{name}/commits", responses=error_responses(404),
            dependencies=[require(Action.DISCOVER, dataset_from_path, audit=False)])
def list_commits(name: str, lake: LakeDep, principal: PrincipalDep,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[CommitPublic]:
    """Batches committed through Lakegate to the current major version, newest first."""
    return [CommitPublic.model_validate(c) for c in lake.commits(name, limit=limit)]


@router.get("/{name}/history", responses=error_responses(404),
            dependencies=[require(Action.DISCOVER, dataset_from_path, audit=False)])
def table_history(name: str, lake: LakeDep, principal: PrincipalDep,
                  major: OptionalNumberQuery = None,
                  limit: Annotated[int | None, Query(ge=1, le=1000)] = None) -> list[TableVersionPublic]:
    """The Delta log of the dataset's table, newest first."""
    return [TableVersionPublic.model_validate(v) for v in lake.history(name, major=major, limit=limit)]


@router.get("/{name}/quarantine", responses=error_responses(403, 404),
             dependencies=[require(Action.DISCOVER, dataset_from_path, audit=False)])
def quarantine(name: str, access: AccessDep, principal: PrincipalDep,
               limit: Annotated[int, Query(ge=1, le=1000, description="The oldest N rows.")] = 200,
               ) -> QuarantinePublic:
    """Rows waiting in the dataset's quarantine with the rules they broke (its producers, owner and
    admins: ``write`` on it); PII values are never shown."""
    return QuarantinePublic.of(producers.quarantined_rows(access, name, by=known(access, principal), limit=limit))


@router.get("/{name}/quarantine/trend", responses=error_responses(403, 404),
             dependencies=[require(Action.DISCOVER, dataset_from_path, audit=False)])
def quarantine_trend(name: str, access: AccessDep, principal: PrincipalDep,
                     days: Annotated[int, Query(ge=1, le=366)] = 30) -> list[TrendPointPublic]:
    """Rows quarantined per day (UTC) and rule over the last ``days`` days, the newest day first."""
    return [TrendPointPublic.of(p) for p in producers.violation_trend(access, name, by=known(access, principal),
                                                                      days=days)]


@router.post("/{name}/quarantine/replay", responses=error_responses(403, 404, 409),
             dependencies=[require(Action.DISCOVER, dataset_from_path, audit=False)])
def replay_quarantine(name: str, access: AccessDep, principal: PrincipalDep,
                      dry_run: Annotated[bool, Query(description="Only say what would land.")] = False,
                      reason: Annotated[str, Query(max_length=1000)] = "") -> ReplayPublic:
    """Check the quarantined rows against the current contract and land those that pass, in one
    commit; the others stay quarantined (producers, owner and admins)."""
    return ReplayPublic.of(producers.replay_quarantine(access, name, by=known(access, principal), dry_run=dry_run,
                                                       reason=reason))


@router.post("/{name}/vacuum", responses=error_responses(403, 404, 409, 422),
             dependencies=[require(Action.ADMIN, LAKE)])
def vacuum_dataset(
    name: str, lake: LakeDep, principal: PrincipalDep,
    retention_hours: Annotated[int, Query(ge=0, le=100 * 365 * 24, description=(
        "Keep the files versions of the last N hours need (time travel within them keeps working)."))]
    = DEFAULT_RETENTION_HOURS,
    dry_run: Annotated[bool, Query(description="Only list the files.")] = False,
    major: Annotated[OptionalNumberQuery, Query(description="A major version; the current one by default.")] = None,
) -> VacuumPublic:
    """Delete the files of a dataset's table (and its quarantine table) that no version
    within the retention needs, orphans of failed writes included (admins only).

    Full mode: files removed by commits older than the retention, and files no
    commit references (left by a failed write or a killed process) once they
    are older than the retention. The table is locked meanwhile; a table busy
    for too long answers 409.
    """
    return VacuumPublic.of(lake.vacuum(name, actor=principal.name, retention_hours=retention_hours,
                                       dry_run=dry_run, major=major))
