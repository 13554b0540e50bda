"""The tables an engine may be given: datasets (current major) and views (current version).

A :class:`LakeTable` is what subscriber features need of a catalog object:
its resource (what the access layer decides about), its columns with PII
tags, and where its Delta table lives (a :class:`deploy.policies.TableGrant`
for IAM). Views come from ``views.catalog`` when that package is installed;
a view without a materialized table has no files (``table_uri`` ``None``).
"""

from __future__ import annotations

import importlib
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from access.resources import Resource, ResourceKind
from deploy.policies import TableGrant
from lake.errors import InvalidInput, LakegateError, NotFound

if TYPE_CHECKING:
    from lake.datasets import DatasetInfo
    from lake.service import Lake


@dataclass(frozen=True)
class TableColumn:
    """A column: its name, contract (logical) type and PII tag."""

    name: str
    type: pa.DataType
    pii: bool = False


@dataclass(frozen=True)
class LakeTable:
    """A dataset's current major version or a view's current version.

    Attributes:
        resource: ``dataset:<d>.<n>`` or ``view:<d>.<n>``.
        columns: Columns in table order.
        version: The dataset's major version, or the view's version.
        table_uri: The Delta table; ``None`` for a view never materialized or virtual.
        partition_by: Hive-style partition columns of the Delta table.
        compiled_sql: A view's Spark SQL over ``domain.name`` references.
        dependencies: The ``domain.name`` of each table a view reads.
        view: The ``views.catalog.ViewInfo`` of a view (lineage for data cards).
    """

    resource: Resource
    columns: tuple[TableColumn, ...]
    version: int
    table_uri: str | None = field(default=None, repr=False)
    partition_by: tuple[str, ...] = ()
    compiled_sql: str | None = field(default=None, repr=False)
    dependencies: tuple[str, ...] = ()
    view: Any = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        """``domain.name``."""
        return self.resource.qualified

    @property
    def domain(self) -> str:
        return self.resource.domain

    @property
    def kind(self) -> ResourceKind:
        return self.resource.kind

    @property
    def key(self) -> str:
        """``dataset:ads.conversions@v1``: the resource key and the stored version."""
        return f"{self.resource.key}@v{self.version}"

    @property
    def grant(self) -> TableGrant | None:
        """Where its files are, for IAM (``None`` without files)."""
        if self.table_uri is None:
            return None
        assert self.resource.name is not None
        kind = "view" if self.kind is ResourceKind.VIEW else "dataset"
        return TableGrant(self.domain, self.resource.name, self.version, kind)

    def column_pii(self) -> list[tuple[str, bool]]:
        """Every column as ``(name, is_pii)``: what ``AccessControl.table_access`` takes."""
        return [(c.name, c.pii) for c in self.columns]


def _views_module() -> Any:
    try:
        return importlib.import_module("views.catalog")
    except ImportError:
        return None


def dataset_table(lake: Lake, name: str) -> LakeTable | None:
    """The current major of dataset ``name``, or ``None``."""
    try:
        info = lake.datasets.get(name)
    except NotFound:
        return None
    return _dataset_table(info)


def _dataset_table(info: DatasetInfo) -> LakeTable:
    return LakeTable(
        resource=Resource.table(info.name),
        columns=tuple(TableColumn(c.name, c.type, c.pii) for c in info.contract.columns),
        version=info.major,
        table_uri=info.table_uri,
        partition_by=tuple(info.contract.partition_by),
    )


def _view_table(view: Any) -> LakeTable:
    columns = tuple(TableColumn(c.name, c.type if isinstance(c.type, pa.DataType) else pa.string(), bool(c.pii))
                    for c in view.columns)
    return LakeTable(
        resource=Resource.view(view.name),
        columns=columns,
        version=int(view.version),
        table_uri=view.table_uri,
        compiled_sql=view.compiled_sql,
        dependencies=tuple(d.name for d in view.dependencies),
        view=view,
    )


def view_table(lake: Lake, name: str) -> LakeTable | None:
    """The current version of view ``name``, or ``None`` (also without the views package)."""
    module = _views_module()
    if module is None:
        return None
    try:
        view = module.get_view(lake, name)
    except (NotFound, InvalidInput):
        return None
    except LakegateError:  # a retired version: nothing to hand out
        return None
    return _view_table(view)


def find_table(lake: Lake, name: str) -> LakeTable:
    """A table by ``domain.name`` (a dataset first, then a view) or by key (``view:d.n``).

    Raises:
        NotFound: No such dataset or view.
        InvalidInput: A malformed name.
    """
    text = name.strip()
    if text.startswith(("dataset:", "view:")):
        resource = Resource.parse(text)
        lookups: tuple[Callable[[Lake, str], LakeTable | None], ...] = (
            (dataset_table,) if resource.kind is ResourceKind.DATASET else (view_table,))
        qualified = resource.qualified
    else:
        Resource.table(text)  # validates domain.name
        lookups = (dataset_table, view_table)
        qualified = text
    for lookup in lookups:
        found = lookup(lake, qualified)
        if found is not None:
            return found
    raise NotFound(f"no dataset or view {qualified}")


def _fingerprint(lake: Lake) -> tuple[object, ...]:
    """Changes whenever a dataset, contract version, view version or successful
    materialization is added (one query per table family)."""
    from sqlalchemy import func, select

    from lake.catalog.models import ContractVersion, Dataset

    with lake.catalog.session() as s:
        parts: list[object] = list(s.execute(select(func.max(Dataset.id), func.count(Dataset.id))).one())
        parts += list(s.execute(select(func.max(ContractVersion.id), func.count(ContractVersion.id))).one())
        if _views_module() is not None:
            from views.models import ViewRun, ViewVersion

            parts += list(s.execute(select(func.max(ViewVersion.id), func.count(ViewVersion.id))).one())
            parts += list(s.execute(select(func.max(ViewRun.id), func.count(ViewRun.id))
                                    .where(ViewRun.status == "succeeded")).one())
    return tuple(parts)


_CACHE: weakref.WeakKeyDictionary[Any, tuple[tuple[object, ...], list[LakeTable]]] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def lake_tables(lake: Lake) -> list[LakeTable]:
    """Every dataset (current major) and view (current version), datasets first, by name.

    Reading every contract and view is costly, and policy changes ask for the
    list each time; it is kept per lake and read again when the catalog's
    fingerprint (datasets, contract versions, view versions, materializations)
    changes, so it is never stale.
    """
    fingerprint = _fingerprint(lake)
    with _CACHE_LOCK:
        hit = _CACHE.get(lake)
    if hit is not None and hit[0] == fingerprint:
        return list(hit[1])
    out = [_dataset_table(info) for info in lake.datasets.list()]
    module = _views_module()
    if module is not None:
        out.extend(_view_table(v) for v in module.list_views(lake))
    with _CACHE_LOCK:
        _CACHE[lake] = (fingerprint, out)
    return list(out)
