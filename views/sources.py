"""What a view can read: a snapshot of the catalog's datasets and views.

Analysis resolves every table reference against a :class:`Snapshot`: datasets
(with their contracts: storage types, PII) and views (with the output schemas
of their versions). Planning several definitions overlays the planned versions
on the snapshot, so a directory of views that read each other is analyzed as
if applied in dependency order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import select

from lake.catalog.models import Domain
from lake.contracts import type_name
from lake.datasets import DatasetInfo
from lake.service import Lake
from views import types
from views.columns import ColumnSource, Dependency, EncryptedWith, SourceKind
from views.errors import ViewNotFound, ViewSunset
from views.models import View, ViewVersion
from views.names import Ref
from views.versions import VersionRecord


@dataclass(frozen=True)
class SourceColumn:
    name: str
    sql_type: str | None
    pii: bool
    encrypted_with: EncryptedWith | None
    origins: tuple[ColumnSource, ...]


@dataclass(frozen=True)
class Source:
    """A resolved input of a view: a dataset major version or a view version."""

    kind: SourceKind
    name: str
    version: int
    pinned: bool
    columns: tuple[SourceColumn, ...]

    @cached_property
    def names(self) -> dict[str, SourceColumn]:
        """The columns by name (the first of a name)."""
        out: dict[str, SourceColumn] = {}
        for col in self.columns:
            out.setdefault(col.name, col)
        return out

    def column(self, name: str) -> SourceColumn | None:
        return self.names.get(name)

    def column_source(self, column: str) -> ColumnSource:
        return ColumnSource(self.kind, self.name, self.version, column)

    def dependency(self) -> Dependency:
        return Dependency(self.kind, self.name, self.version, self.pinned)


@dataclass
class ViewState:
    """A view in the snapshot: its versions and current pointer."""

    name: str
    id: int | None
    current: int | None
    versions: dict[int, VersionRecord] = field(default_factory=dict)

    def current_record(self) -> VersionRecord | None:
        return self.versions.get(self.current) if self.current is not None else None


def dataset_source(info: DatasetInfo, *, pinned: bool = False) -> Source:
    """A dataset as views see it: stored types, so PII columns are ciphertext (``binary``)."""
    cols = []
    for col in info.contract.columns:
        origin = ColumnSource(SourceKind.DATASET, info.name, info.major, col.name)
        encrypted = EncryptedWith(info.name, info.major, col.name, type_name(col.type)) if col.pii else None
        cols.append(SourceColumn(col.name, types.from_arrow(col.storage_type), col.pii, encrypted, (origin,)))
    return Source(SourceKind.DATASET, info.name, info.major, pinned, tuple(cols))


def view_source(record: VersionRecord, *, pinned: bool = False) -> Source:
    cols = tuple(SourceColumn(c.name, c.sql_type, c.pii, c.encrypted_with, c.origins) for c in record.columns)
    return Source(SourceKind.VIEW, record.view, record.version, pinned, cols)


class Snapshot:
    """Datasets and views of the catalog at one moment, plus planned versions."""

    def __init__(self, datasets: dict[str, dict[int, DatasetInfo]], current_major: dict[str, int],
                 views: dict[str, ViewState]) -> None:
        self.datasets = datasets
        self.current_major = current_major
        self.views = views
        # Each reference resolves to one Source per snapshot (views reading the same input share it);
        # a view's entries go when a version of it is added.
        self._resolved: dict[str, dict[int | None, Source | None]] = {}

    @classmethod
    def load(cls, lake: Lake) -> Snapshot:
        """Read every dataset major and every view version from the catalog."""
        datasets: dict[str, dict[int, DatasetInfo]] = {}
        current: dict[str, int] = {}
        for info in lake.datasets.list(include_old_majors=True):
            datasets.setdefault(info.name, {})[info.major] = info
            if info.is_current:
                current[info.name] = info.major
        views: dict[str, ViewState] = {}
        with lake.catalog.session() as s:
            by_id: dict[int, ViewState] = {}
            for view, domain in s.execute(select(View, Domain.name).join(Domain, Domain.id == View.domain_id)):
                state = ViewState(f"{domain}.{view.name}", view.id, view.current_version)
                views[state.name] = by_id[view.id] = state
            for row in s.scalars(select(ViewVersion).order_by(ViewVersion.view_id, ViewVersion.version)):
                state = by_id[row.view_id]
                state.versions[row.version] = VersionRecord.from_row(state.name, row)
        return cls(datasets, current, views)

    # -- names -----------------------------------------------------------------

    def is_dataset(self, name: str) -> bool:
        return name in self.datasets

    def is_view(self, name: str) -> bool:
        state = self.views.get(name)
        return state is not None and state.current is not None

    def names(self) -> list[str]:
        return sorted(set(self.datasets) | {n for n in self.views if self.is_view(n)})

    def view(self, name: str) -> ViewState:
        state = self.views.get(name)
        if state is None or state.current is None:
            raise ViewNotFound(f"view {name} does not exist")
        return state

    def record(self, name: str, version: int | None = None) -> VersionRecord:
        """A view's version (the current one by default).

        Raises:
            ViewNotFound: No such view or version.
        """
        state = self.view(name)
        number = version if version is not None else state.current
        assert number is not None
        record = state.versions.get(number)
        if record is None:
            raise ViewNotFound(f"view {name} has no version {number} (versions 1 to {max(state.versions)})")
        return record

    # -- resolution -----------------------------------------------------------------

    def resolve(self, ref: Ref) -> Source | None:
        """The input a reference names when a new version is analyzed: a dataset's
        current (or pinned) major, a view's current (or pinned) version; None if
        nothing has that name or version.

        Raises:
            ValueError: A dataset and a view share the name.
        """
        kept = self._resolved.setdefault(ref.qualified, {})
        if ref.pin in kept:
            return kept[ref.pin]
        source = kept[ref.pin] = self._resolve(ref)
        return source

    def _resolve(self, ref: Ref) -> Source | None:
        name = ref.qualified
        if name in self.datasets and self.is_view(name):
            raise ValueError(f"{name} is both a dataset and a view")
        if name in self.datasets:
            major = ref.pin if ref.pin is not None else self.current_major.get(name)
            info = self.datasets[name].get(major) if major is not None else None
            return dataset_source(info, pinned=ref.pin is not None) if info else None
        if self.is_view(name):
            state = self.views[name]
            record = state.versions.get(ref.pin if ref.pin is not None else state.current or 0)
            return view_source(record, pinned=ref.pin is not None) if record else None
        return None

    def add_version(self, record: VersionRecord) -> None:
        """Overlay a planned version: it becomes the view's current version."""
        self._resolved.pop(record.view, None)
        state = self.views.get(record.view)
        if state is None:
            state = self.views[record.view] = ViewState(record.view, None, None)
        state.versions[record.version] = record
        state.current = record.version

    def next_version(self, name: str) -> int:
        state = self.views.get(name)
        return max(state.versions, default=0) + 1 if state else 1

    def effective(self, dependency: Dependency, *, needed_by: str | None = None,
                  today: dt.date | None = None) -> VersionRecord:
        """The version of a view a dependency reads now.

        A pinned dependency reads its version; an unpinned one reads the newest
        version reached from it without passing a major (breaking) version.

        Raises:
            ViewNotFound: The view or version is gone.
            ViewSunset: That version's sunset date has passed.
        """
        state = self.view(dependency.name)
        number = dependency.version
        if not dependency.pinned:
            while number + 1 in state.versions and not state.versions[number + 1].major:
                number += 1
        record = self.record(dependency.name, number)
        if record.sunset_passed(today):
            assert record.sunset_on is not None
            raise ViewSunset(record.view, record.version, record.sunset_on, state.current, needed_by=needed_by)
        return record

    def dependents(self, name: str) -> list[tuple[VersionRecord, Dependency]]:
        """Current versions of views that read ``name``, with the dependency."""
        out = []
        for state in self.views.values():
            record = state.current_record()
            if record is None:
                continue
            for dep in record.dependencies:
                if dep.name == name:
                    out.append((record, dep))
        return out
