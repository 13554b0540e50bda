"""A view version as a domain value, built from catalog rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from views.columns import Dependency, Grain, SourceKind, ViewColumn
from views.deferred import DeferredText
from views.definition import Materialization, ViewDefinition
from views.models import View, ViewVersion


@dataclass(frozen=True)
class VersionRecord:
    """Everything one version holds. Immutable but for deprecation."""

    view: str
    version: int
    sql: str
    materialization: Materialization
    owner: str
    description: str
    tags: tuple[str, ...]
    columns: tuple[ViewColumn, ...]
    dependencies: tuple[Dependency, ...]
    grain: Grain
    major: bool
    #: A ``str``; given as a :class:`~views.deferred.Deferred` by planning, which does not read it,
    #: and written when first read (a descriptor, one for the class: no shared default).
    compiled_sql: DeferredText = DeferredText()  # noqa: RUF009
    changes: tuple[dict[str, Any], ...] = ()
    spark_checked: bool = False
    author: str = ""
    message: str = ""
    created_at: dt.datetime | None = None
    deprecated_at: dt.datetime | None = None
    sunset_on: dt.date | None = None
    deprecation_note: str = ""
    row_id: int | None = field(default=None, compare=False)

    @property
    def domain(self) -> str:
        return self.view.split(".", 1)[0]

    @property
    def short_name(self) -> str:
        return self.view.split(".", 1)[1]

    @property
    def deprecated(self) -> bool:
        return self.deprecated_at is not None

    def sunset_passed(self, today: dt.date | None = None) -> bool:
        today = today or dt.datetime.now(dt.UTC).date()
        return self.sunset_on is not None and self.sunset_on <= today

    def column(self, name: str) -> ViewColumn | None:
        for col in self.columns:
            if col.name == name:
                return col
        return None

    def view_dependencies(self) -> list[Dependency]:
        return [d for d in self.dependencies if d.kind is SourceKind.VIEW]

    def definition(self) -> ViewDefinition:
        """The definition this version was created from (SQL as written)."""
        return ViewDefinition(
            name=self.view, sql=self.sql, owner=self.owner, description=self.description,
            column_docs=tuple((c.name, c.description) for c in self.columns if c.description),
            tags=self.tags, materialization=self.materialization,
        )

    @classmethod
    def from_row(cls, view_name: str, row: ViewVersion) -> VersionRecord:
        return cls(
            view=view_name,
            version=row.version,
            sql=row.sql,
            compiled_sql=row.compiled_sql,
            materialization=Materialization(row.materialization),
            owner=row.owner,
            description=row.description,
            tags=tuple(row.tags or ()),
            columns=tuple(ViewColumn.from_dict(c) for c in row.columns),
            dependencies=tuple(Dependency.from_dict(d) for d in row.dependencies),
            grain=Grain.from_dict(row.grain),
            major=row.major,
            changes=tuple(row.changes or ()),
            spark_checked=row.spark_checked,
            author=row.author,
            message=row.message,
            created_at=row.created_at,
            deprecated_at=row.deprecated_at,
            sunset_on=row.sunset_on,
            deprecation_note=row.deprecation_note or "",
            row_id=row.id,
        )

    def to_row(self, view: View) -> ViewVersion:
        return ViewVersion(
            view_id=view.id, version=self.version, sql=self.sql, compiled_sql=self.compiled_sql,
            materialization=self.materialization.value, owner=self.owner, description=self.description,
            tags=list(self.tags), columns=[c.to_dict() for c in self.columns],
            dependencies=[d.to_dict() for d in self.dependencies], grain=self.grain.to_dict(), major=self.major,
            changes=list(self.changes), spark_checked=self.spark_checked, author=self.author, message=self.message,
            deprecation_note="",
        )
