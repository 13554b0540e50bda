"""Request and response bodies of the views API (``api/routes/views.py``).

Built from the package's domain values (``ViewInfo``, ``RunInfo``,
``VersionDiff``, ``Plan``...), never from ORM rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from lake.timestamps import UtcDateTime
from views.catalog import ViewInfo
from views.definition import ViewDefinition
from views.diff import VersionDiff
from views.graph import Impact
from views.inspect import CompileResult
from views.materialize import RefreshResult, RunInfo
from views.refreshes import Schedule
from views.registry import Plan
from views.transpile import Transpiled


class ViewCreate(BaseModel):
    """A view definition sent as JSON."""

    view: str = Field(description="domain.name", examples=["playback.daily_active_viewers"])
    sql: str = Field(description="One SELECT (or WITH ... SELECT) in the Spark dialect.")
    owner: str = ""
    description: str = ""
    materialization: str = Field("table", description="table or virtual")
    tags: list[str] = Field(default_factory=list)
    columns: dict[str, str] = Field(default_factory=dict, description="Column name to its description.")

    def definition(self) -> ViewDefinition:
        return ViewDefinition.from_mapping(self.model_dump(include=set(ViewCreate.model_fields)))


class VersionCreate(ViewCreate):
    message: str = Field("", description="Why this version (recorded with it).")
    major: bool = Field(False, description="Declare a breaking change as a new major version.")


class ViewFile(BaseModel):
    path: str = Field(description="File name, for error messages.")
    content: str = Field(description="The view file: a /* YAML header */ then the SQL.")


class DefinitionsBody(BaseModel):
    """A set of definitions to plan or apply (files and/or JSON definitions)."""

    files: list[ViewFile] = Field(default_factory=list)
    definitions: list[ViewCreate] = Field(default_factory=list)
    major: list[str] = Field(default_factory=list, description="Views whose breaking change is declared major.")
    message: str = ""


class RefreshBody(BaseModel):
    views: list[str] | None = Field(None, description="Views to refresh; every view when absent.")
    upstream: bool = False
    downstream: bool = False


class ScheduleBody(BaseModel):
    cron: str | None = Field(None, max_length=127, description="Five-field cron (minute hour day month weekday, "
                             "UTC) or @hourly, @daily, @weekly, @monthly; null or empty for no schedule.")


class SchedulePublic(BaseModel):
    view: str
    cron: str | None
    next_at: UtcDateTime | None

    @classmethod
    def of(cls, schedule: Schedule) -> SchedulePublic:
        return cls(view=schedule.view, cron=schedule.cron, next_at=schedule.next_at)


class DeprecateBody(BaseModel):
    sunset_on: dt.date | None = Field(None, description="From this day on, reading the version fails.")
    note: str = ""


class ViewColumnPublic(BaseModel):
    name: str
    type: str | None = Field(description="Spark type name (binary for PII ciphertext).")
    pii: bool
    encrypted_with: dict[str, Any] | None
    sources: list[dict[str, Any]]
    origins: list[dict[str, Any]]
    transformation: str
    description: str


class ViewPublic(BaseModel):
    """One version of a view."""

    name: str
    domain: str
    version: int
    current_version: int
    status: str
    materialization: str
    table_uri: str | None
    table_version: int | None
    materialized_at: UtcDateTime | None
    columns: list[ViewColumnPublic]
    compiled_sql: str
    sql: str
    dependencies: list[dict[str, Any]]
    grain: dict[str, Any]
    owner: str
    description: str
    tags: list[str]
    author: str
    created_at: UtcDateTime | None
    message: str
    major: bool
    spark_checked: bool
    changes: list[dict[str, Any]]
    deprecated_at: UtcDateTime | None
    sunset_on: dt.date | None
    deprecation_note: str
    served_version: int | None = Field(None, description="The version whose materialization readers get.")
    stale: bool = Field(False, description="Readers get an earlier version's materialization until this "
                                           "version's own is built.")
    served_columns: list[str] = Field(default_factory=list, description="The columns readers see of it.")

    @classmethod
    def of(cls, info: ViewInfo) -> ViewPublic:
        return cls.model_validate(info.to_dict())


class RunPublic(BaseModel):
    run_id: str
    view: str
    version: int
    status: str
    trigger: str
    actor: str
    started_at: UtcDateTime
    finished_at: UtcDateTime | None
    duration_ms: int | None
    rows: int | None
    table_uri: str | None
    table_version: int | None
    sources: dict[str, Any]
    error: str | None

    @classmethod
    def of(cls, run: RunInfo) -> RunPublic:
        return cls.model_validate(run.to_dict())


class RefreshPublic(BaseModel):
    ok: bool
    runs: list[RunPublic]
    failed: list[dict[str, str]]
    skipped: list[dict[str, str]]

    @classmethod
    def of(cls, result: RefreshResult) -> RefreshPublic:
        return cls.model_validate(result.to_dict())


class DiffPublic(BaseModel):
    view: str
    from_version: int
    to_version: int
    breaking: bool
    changes: list[dict[str, Any]]
    sql_summary: list[str]
    sql_diff: str

    @classmethod
    def of(cls, diff: VersionDiff) -> DiffPublic:
        return cls.model_validate(diff.as_dict())


class PlanPublic(BaseModel):
    spark_checked: bool
    applied: bool
    items: list[dict[str, Any]]

    @classmethod
    def of(cls, plan: Plan, *, applied: bool) -> PlanPublic:
        return cls.model_validate({**plan.as_dict(), "applied": applied})


class ImpactPublic(BaseModel):
    view: str
    version: int
    reads: str
    relation: str
    depth: int
    detail: str

    @classmethod
    def of(cls, item: Impact) -> ImpactPublic:
        return cls.model_validate(item.as_dict())


class CompilePublic(BaseModel):
    view: str
    compiled_sql: str
    spark_checked: bool
    columns: list[ViewColumnPublic]
    sqlglot_types: dict[str, str | None]

    @classmethod
    def of(cls, result: CompileResult) -> CompilePublic:
        return cls.model_validate(result.to_dict())


class TranspilePublic(BaseModel):
    view: str
    version: int
    dialect: str
    sql: str

    @classmethod
    def of(cls, t: Transpiled) -> TranspilePublic:
        return cls(view=t.view, version=t.version, dialect=t.dialect.value, sql=t.sql)
