"""Request and response bodies of the HTTP API.

These are the API's own shapes: they are built from the lake core's domain
values (``DatasetInfo``, ``IngestResult``, ``Principal``, ``TokenInfo``), never
from ORM rows, so the catalog schema can change without changing the API.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from access.history import HistoryItem
from access.saved import SavedQuery
from lake.auth import Principal, TokenInfo
from lake.datasets import DatasetInfo
from lake.errors import SchemaChange
from lake.ingest import IngestResult
from lake.quarantine import QuarantineListing, ReplayResult, TrendPoint
from lake.search import SearchPage
from lake.service import VacuumResult
from lake.timestamps import UtcDateTime


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable error code, e.g. contract_violation.")
    message: str = Field(description="What went wrong, for a person.")
    details: dict[str, Any] = Field(default_factory=dict, description="Structured fields of the error.")


class ErrorResponse(BaseModel):
    """The envelope of every error answer."""

    error: ErrorBody


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route for the error statuses it may answer, each an :class:`ErrorResponse`."""
    return {status: {"model": ErrorResponse} for status in statuses}


class Health(BaseModel):
    status: Literal["ok"] = "ok"


# -- datasets ----------------------------------------------------------------------


class DatasetPublic(BaseModel):
    """A major version of a dataset with its current contract."""

    name: str = Field(description="domain.dataset")
    domain: str
    major: int
    is_current: bool
    owner: str
    description: str
    table_uri: str
    contract_version: int
    contract: dict[str, Any]
    created_by: str
    created_at: UtcDateTime

    @classmethod
    def of(cls, info: DatasetInfo) -> DatasetPublic:
        return cls.model_validate(info.to_dict())


class ContractChange(BaseModel):
    """One difference between two contract versions."""

    kind: str
    column: str | None
    detail: str
    breaking: bool

    @classmethod
    def of(cls, change: SchemaChange) -> ContractChange:
        return cls.model_validate(change.as_dict())


class ContractPlan(BaseModel):
    """What a contract change would do (``dry_run=true``); nothing was applied."""

    dataset: str
    dry_run: Literal[True] = True
    changes: list[ContractChange]
    breaking: bool = Field(description="Whether the change needs a new major version (major=true).")


class ContractVersionPublic(BaseModel):
    version: int
    created_by: str
    created_at: UtcDateTime
    changes: list[ContractChange]
    contract: dict[str, Any]


class ViolationPublic(BaseModel):
    column: str | None
    reason: str
    failing_rows: int
    row_numbers: list[int]
    samples: list[Any]


class IngestResultPublic(BaseModel):
    """What an ingestion committed (or, with ``replayed``, had committed before)."""

    dataset: str
    commit_id: int
    mode: str
    table_version: int | None
    rows: int
    rejected_rows: int
    quarantine_version: int | None
    replayed: bool
    violations: list[ViolationPublic] = Field(description="Rules broken by quarantined rows.")

    @classmethod
    def of(cls, result: IngestResult) -> IngestResultPublic:
        return cls.model_validate(result.to_dict())


class RowReasonPublic(BaseModel):
    column: str | None = Field(description="The column whose rule the row broke (none: the whole row).")
    rule: str


class QuarantinedRowPublic(BaseModel):
    commit_id: int = Field(description="The commit of the batch the row came with.")
    row_number: int = Field(description="Its place in that batch, from 1.")
    reasons: list[RowReasonPublic]
    values: dict[str, Any] = Field(description="Its values as received; PII columns are left out.")
    pii_columns: list[str] = Field(description="PII columns kept encrypted, never shown.")
    quarantined_at: UtcDateTime


class QuarantinePublic(BaseModel):
    """The rows waiting in a dataset's quarantine, the oldest first."""

    dataset: str
    major: int
    waiting: int = Field(description="Rows waiting (more than listed when truncated).")
    replayed: int = Field(description="Rows landed by replays so far.")
    rows: list[QuarantinedRowPublic]

    @classmethod
    def of(cls, listing: QuarantineListing) -> QuarantinePublic:
        return cls(dataset=listing.dataset, major=listing.major, waiting=listing.waiting, replayed=listing.replayed,
                   rows=[QuarantinedRowPublic.model_validate(r.to_dict()) for r in listing.rows])


class TrendPointPublic(BaseModel):
    day: str = Field(description="A day (UTC), YYYY-MM-DD.")
    column: str | None
    rule: str
    rows: int

    @classmethod
    def of(cls, p: TrendPoint) -> TrendPointPublic:
        return cls(day=p.day.isoformat(), column=p.column, rule=p.rule, rows=p.rows)


class ReplayedRowPublic(BaseModel):
    commit_id: int
    row_number: int
    reasons: list[RowReasonPublic] = Field(description="The rules it breaks under the current contract.")


class ReplayPublic(BaseModel):
    """What a replay of the quarantine landed and what it left."""

    dataset: str
    contract_version: int
    checked: int
    landed: int = Field(description="Rows that pass now and landed (in a dry run: would land).")
    commit_id: int | None
    table_version: int | None
    dry_run: bool
    still_failing: list[ReplayedRowPublic]

    @classmethod
    def of(cls, result: ReplayResult) -> ReplayPublic:
        return cls.model_validate(result.to_dict())


class VacuumPublic(BaseModel):
    """Files a vacuum deleted (or, in a dry run, would delete), relative to each table's root."""

    dataset: str
    major: int
    retention_hours: int
    dry_run: bool
    files: list[str] = Field(description="Data files of the dataset's table.")
    quarantine_files: list[str] = Field(description="Data files of its quarantine table.")

    @classmethod
    def of(cls, result: VacuumResult) -> VacuumPublic:
        return cls.model_validate(result.to_dict())


class CommitPublic(BaseModel):
    """A batch committed through Lakegate, as the catalog recorded it."""

    commit_id: int
    table_version: int | None
    operation: str
    rows: int
    rejected_rows: int
    actor: str
    reason: str
    idempotency_key: str | None
    contract_version: int
    source: str
    created_at: UtcDateTime


class TableVersionPublic(BaseModel):
    """One entry of the Delta log of a dataset's table."""

    version: int | None
    timestamp: int | None = Field(description="Commit time in milliseconds since the epoch.")
    operation: str | None
    actor: str | None
    reason: str | None
    idempotency_key: str | None
    metrics: dict[str, Any]


# -- users and tokens ----------------------------------------------------------------


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    roles: list[str] = Field(default_factory=list)
    kind: Literal["user", "service"] = "user"
    display_name: str = ""
    password: SecretStr | None = Field(default=None, max_length=1024,
                                       description="For the web UI; never returned.")


class UserPublic(BaseModel):
    name: str
    roles: list[str]
    kind: str

    @classmethod
    def of(cls, principal: Principal) -> UserPublic:
        return cls(name=principal.name, roles=list(principal.roles), kind=principal.kind.value)


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str | None = Field(default=None, description="Whose token; yourself by default (others: admins only).")
    name: str = Field(default="", max_length=255, description="A label, e.g. the program using it.")
    ttl_days: float | None = Field(default=90, gt=0, le=36_500,
                                   description="Lifetime in days (at most 100 years); null for no expiry.")


class TokenPublic(BaseModel):
    id: int
    user: str
    name: str
    prefix: str = Field(description="First characters of the token, to recognise it.")
    created_at: UtcDateTime
    expires_at: UtcDateTime | None
    revoked: bool

    @classmethod
    def of(cls, info: TokenInfo) -> TokenPublic:
        return cls(id=info.id, user=info.user, name=info.name, prefix=info.prefix, created_at=info.created_at,
                   expires_at=info.expires_at, revoked=info.revoked)


class TokenCreated(TokenPublic):
    """A new token; ``token`` is shown this once and never again."""

    token: str

    @classmethod
    def with_secret(cls, token: str, info: TokenInfo) -> TokenCreated:
        return cls(token=token, **TokenPublic.of(info).model_dump())


# -- search ----------------------------------------------------------------------------------


class SearchHitPublic(BaseModel):
    kind: str = Field(description="dataset, view, metric or column")
    key: str = Field(description="The object's name, e.g. ads.conversions or ads.conversions.email.")
    domain: str
    title: str
    snippet: str = Field(description="Text around the first matching word, cut between words.")
    owner: str
    tags: list[str]
    certified: bool
    score: float = Field(description="Rank within this answer; higher is better.")


class SearchCorrection(BaseModel):
    word: str = Field(description="A query word that begins no indexed word.")
    alternatives: list[str] = Field(description="The indexed words a typo or two away that it was also matched as.")


class SearchPagePublic(BaseModel):
    hits: list[SearchHitPublic]
    offset: int
    limit: int
    has_more: bool = Field(description="Whether the next page (offset + limit) has at least one hit.")
    corrections: list[SearchCorrection]

    @classmethod
    def of(cls, page: SearchPage) -> SearchPagePublic:
        return cls(
            hits=[SearchHitPublic(kind=h.kind, key=h.key, domain=h.domain, title=h.title, snippet=h.snippet,
                                  owner=h.owner, tags=list(h.tags), certified=h.certified, score=h.score)
                  for h in page.hits],
            offset=page.offset, limit=page.limit, has_more=page.has_more,
            corrections=[SearchCorrection(word=c.word, alternatives=list(c.alternatives)) for c in page.corrections],
        )


# -- saved queries and query history ----------------------------------------------------------


class SavedQueryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=255, description="A name, unique among your saved queries; saving under a "
                                                  "name you used replaces that query's SQL.")
    sql: str = Field(description="The SQL text (run later through the gateway as whoever runs it).")
    shared: bool | None = Field(default=None, description="Share it by link; unchanged when absent (new: not shared).")


class SavedQueryShare(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shared: bool = Field(description="Whether anyone signed in who has the link may open it.")


class SavedQueryPublic(BaseModel):
    """A saved query. Whoever runs it runs it as themselves: their own policy applies."""

    id: str
    owner: str
    name: str
    sql: str
    shared: bool
    link: str = Field(description="Where the web UI opens it (the share link).")
    created_at: UtcDateTime
    updated_at: UtcDateTime

    @classmethod
    def of(cls, saved: SavedQuery) -> SavedQueryPublic:
        return cls(id=saved.id, owner=saved.owner, name=saved.name, sql=saved.sql, shared=saved.shared,
                   link=f"/ui/workspace/saved/{saved.id}", created_at=saved.created_at, updated_at=saved.updated_at)


class QueryHistoryItemPublic(BaseModel):
    """One of your gateway queries, as the audit log recorded it."""

    query_id: str
    at: UtcDateTime
    sql: str
    sql_truncated: bool
    outcome: str = Field(description="ok, or the error code of the answer (access_denied, query_refused...).")
    reason: str
    rows: int | None
    tables: list[str]

    @classmethod
    def of(cls, item: HistoryItem) -> QueryHistoryItemPublic:
        return cls(query_id=item.query_id, at=item.at, sql=item.sql, sql_truncated=item.sql_truncated,
                   outcome=item.outcome, reason=item.reason, rows=item.rows, tables=list(item.tables))
