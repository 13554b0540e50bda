"""What a metric aggregates: the output schema and table of a view (or dataset).

A :class:`SourceResolver` turns ``domain.name`` (and a version) into a
:class:`Source`: its columns with Arrow types and PII flags, where its rows
live, and the version of the data in it. The catalog validates definitions
and compiles values against a ``Source`` only, so it works the same over a
view (:class:`ViewResolver`, through ``views.catalog``) and over a dataset's
contract (:class:`DatasetResolver`). :func:`default_resolver` tries views
first, then datasets.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa

from lake.errors import NotFound
from lake.service import Lake


class SourceKind(enum.StrEnum):
    VIEW = "view"
    DATASET = "dataset"


@dataclass(frozen=True)
class SourceColumn:
    name: str
    type: pa.DataType
    pii: bool = False

    @property
    def is_temporal(self) -> bool:
        return bool(pa.types.is_date(self.type) or pa.types.is_timestamp(self.type))


@dataclass(frozen=True)
class Source:
    """A view version or dataset as a metric sees it.

    Attributes:
        name: ``domain.name``.
        kind: View or dataset.
        version: The view version, or the dataset's major version.
        columns: Output columns in order.
        table_uri: The Delta table holding the rows (a materialized view's
            table), or ``None`` for a view that is not materialized.
        storage_options: delta-rs options to read ``table_uri``.
    """

    name: str
    kind: SourceKind
    version: int
    columns: tuple[SourceColumn, ...]
    table_uri: str | None = None
    storage_options: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def column(self, name: str) -> SourceColumn | None:
        lowered = name.lower()
        for col in self.columns:
            if col.name.lower() == lowered:
                return col
        return None

    @property
    def pinned(self) -> str:
        return f"{self.name}@v{self.version}"

    def data_version(self) -> int | None:
        """The Delta version of the rows (``None`` when there is no table yet)."""
        if self.table_uri is None:
            return None
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            return int(DeltaTable(self.table_uri, storage_options=self.storage_options or None).version())
        except TableNotFoundError:
            return None


class SourceResolver(Protocol):
    def resolve(self, name: str, version: int | None = None) -> Source:
        """The source ``name`` at ``version`` (the current one when ``None``).

        Raises:
            NotFound: no such view or dataset (version).
        """
        ...


def _arrow_type(value: Any) -> pa.DataType:
    """An Arrow type from an Arrow type, a contract type name or a Spark type name."""
    if isinstance(value, pa.DataType):
        return value
    from lake.contracts import parse_type
    from lake.errors import InvalidContract

    try:
        return parse_type(str(value))
    except InvalidContract:
        from views.types import to_arrow

        return to_arrow(str(value))


class DatasetResolver:
    """Sources from the dataset registry: a dataset's contract, by major version."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def resolve(self, name: str, version: int | None = None) -> Source:
        info = self.lake.datasets.get(name, major=version)
        columns = tuple(SourceColumn(c.name, c.type, c.pii) for c in info.contract.columns)
        return Source(name=info.name, kind=SourceKind.DATASET, version=info.major, columns=columns,
                      table_uri=info.table_uri, storage_options=self.lake.store.storage_options(info.domain))


class ViewResolver:
    """Sources from the view catalog (``views.catalog.get_view``)."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    @staticmethod
    def available() -> bool:
        try:
            from views import catalog
        except ImportError:
            return False
        return hasattr(catalog, "get_view")

    def resolve(self, name: str, version: int | None = None) -> Source:
        if not self.available():
            raise NotFound(f"view {name} does not exist (the view catalog is not installed)")
        from views import catalog

        info = catalog.get_view(self.lake, name, version)
        columns = tuple(
            SourceColumn(str(c.name), _arrow_type(_first(c, "arrow_type", "type", "data_type")),
                         bool(getattr(c, "pii", False)))
            for c in _first(info, "columns", "output_columns")
        )
        uri = _first(info, "table_uri", "materialized_uri", default=None)
        domain = str(_first(info, "domain", default=name.split(".", 1)[0]))
        return Source(name=name, kind=SourceKind.VIEW, version=int(_first(info, "version")), columns=columns,
                      table_uri=str(uri) if uri else None,
                      storage_options=self.lake.store.storage_options(domain))


def _first(obj: Any, *names: str, default: Any = ...) -> Any:
    for n in names:
        if hasattr(obj, n):
            return getattr(obj, n)
    if default is ...:
        raise AttributeError(f"{type(obj).__name__} has none of {', '.join(names)}")
    return default


class ChainResolver:
    """The first resolver that knows the name wins."""

    def __init__(self, resolvers: Sequence[SourceResolver]) -> None:
        self.resolvers = tuple(resolvers)

    def resolve(self, name: str, version: int | None = None) -> Source:
        misses: list[str] = []
        for r in self.resolvers:
            try:
                return r.resolve(name, version)
            except NotFound as exc:
                misses.append(exc.message)
        what = f"{name}@v{version}" if version is not None else name
        raise NotFound(f"no view or dataset {what}: " + "; ".join(misses))


def default_resolver(lake: Lake) -> SourceResolver:
    """Views first, then datasets."""
    return ChainResolver([ViewResolver(lake), DatasetResolver(lake)])
