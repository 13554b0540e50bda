"""Catalog objects a gateway query may name, and the resolvers that find them.

A table reference ``domain.name`` resolves to a :class:`CatalogTable`: its
resource (a dataset, or a view when the views package provides one), its
columns with contract types and PII tags, and where its Delta table lives.
Resolvers are tried in order; the first that knows the name wins. Datasets
come from ``lake.datasets``; views come from ``views.catalog.get_view`` and
are read through their latest materialization (:class:`ViewResolver`).

A name that no resolver knows is treated exactly like a table the caller may
not read: the gateway answers "does not exist or you may not read it" for
both, so a subscriber cannot probe the catalog for tables it has no access to.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa

from access.gateway.masks_sql import ColumnSpec
from access.resources import Resource
from lake.errors import Conflict, LakegateError, NotFound
from lake.service import Lake

_NAME = re.compile(r"([a-z][a-z0-9_]{0,62})\.([a-z][a-z0-9_]{0,62})(?:@v([1-9][0-9]{0,8}))?")


@dataclass(frozen=True)
class Staleness:
    """A view read through an earlier version's materialization until its own is built.

    Attributes:
        version: The view's current version (what the name reads).
        served_version: The version whose materialization answered.
        materialized_at: When that materialization was built.
    """

    version: int
    served_version: int
    materialized_at: dt.datetime | None

    def to_dict(self, table: str) -> dict[str, Any]:
        return {"table": table, "version": self.version, "served_version": self.served_version,
                "materialized_at": self.materialized_at.isoformat() if self.materialized_at else None}


@dataclass(frozen=True)
class CatalogTable:
    """A dataset or materialized view that a query reads.

    Attributes:
        resource: What the access layer decides about.
        columns: The columns, in table order, with types in clear, PII tags and
            the key of each column stored encrypted.
        table_uri: The Delta table's root.
        storage_options: delta-rs options for the store (may hold credentials).
        data_keys: Key name to a function returning that data key; called only
            when a mask or row filter needs the clear value.
        version: The Delta version to read (a view's materialization), or the latest.
        unreadable: Why the object cannot be read even when the caller may
            (a view past its sunset date, a virtual or never materialized view);
            raised only after the caller was authorized, so it reveals nothing.
        stale: Set when a view is answered from an earlier version's
            materialization (its columns are then those both versions have alike).
    """

    resource: Resource
    columns: tuple[ColumnSpec, ...]
    table_uri: str = field(repr=False)
    storage_options: Mapping[str, str] | None = field(default=None, repr=False, compare=False)
    data_keys: Mapping[str, Callable[[], bytes]] = field(default_factory=dict, repr=False, compare=False)
    version: int | None = None
    unreadable: LakegateError | None = field(default=None, compare=False)
    stale: Staleness | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        """``domain.name``."""
        return self.resource.qualified

    def column(self, name: str) -> ColumnSpec | None:
        for col in self.columns:
            if col.name == name:
                return col
        return None


class TableResolver(Protocol):
    """Finds a catalog object by its lower-case ``domain.name``."""

    def resolve(self, qualified: str, pin: int | None = None) -> CatalogTable | None:
        """The object (its major or version ``pin`` if given), or ``None`` when unknown here."""
        ...


def split_name(name: str) -> tuple[str, int | None] | None:
    """``domain.name`` or ``domain.name@vN`` as (``domain.name``, N); ``None`` if malformed."""
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    return f"{match.group(1)}.{match.group(2)}", int(match.group(3)) if match.group(3) else None


def valid_name(qualified: str) -> bool:
    """Whether ``qualified`` is a well-formed ``domain.name`` (``@vN`` pin allowed)."""
    return split_name(qualified) is not None


class DatasetResolver:
    """Datasets (their current major version) from the lake's registry."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def resolve(self, qualified: str, pin: int | None = None) -> CatalogTable | None:
        try:
            info = self.lake.datasets.get(qualified, major=pin)
        except NotFound:
            return None
        registry = self.lake.datasets
        key = info.name
        columns = tuple(ColumnSpec(c.name, c.type, c.pii, key if c.pii else None) for c in info.contract.columns)
        keys = {key: _once(functools.partial(registry.data_key, info))} if info.contract.pii_columns else {}
        return CatalogTable(
            resource=Resource.table(info.name),
            columns=columns,
            table_uri=info.table_uri,
            storage_options=self.lake.store.storage_options(info.domain),
            data_keys=keys,
        )


def _once(fetch: Callable[[], bytes]) -> Callable[[], bytes]:
    """``fetch``, called at most once (a resolved table is reused for the lookup cache's TTL)."""
    box: list[bytes] = []
    lock = threading.Lock()

    def get() -> bytes:
        with lock:
            if not box:
                box.append(fetch())
            return box[0]

    return get


class ViewResolver:
    """Views from ``views.catalog.get_view(lake, name)``, read through their materialization.

    A view's columns carry the PII tags its lineage gave them; a column that
    passes a dataset's ciphertext through is decrypted with that dataset's key
    (where a mask needs it). A virtual view, a view never materialized and a
    version past its sunset date resolve (so the caller's access is decided
    first, and the answer reveals nothing) but cannot be read. A view whose
    current version is not materialized yet is read through the earlier
    version that stands in for it (``views.catalog``: its ``served_columns``
    only, the stricter PII tag of the two), marked stale.
    """

    def __init__(self, lake: Lake, get_view: Callable[..., Any]) -> None:
        self.lake = lake
        self.get_view = get_view

    def resolve(self, qualified: str, pin: int | None = None) -> CatalogTable | None:
        try:
            view = self.get_view(self.lake, qualified, version=pin, allow_retired=True)
        except NotFound:
            return None
        domain = qualified.split(".", 1)[0]
        columns: list[ColumnSpec] = []
        keys: dict[str, Callable[[], bytes]] = {}
        stale = bool(getattr(view, "stale", False))
        for col in (view.served_columns if stale else view.columns):
            encrypted = getattr(col, "encrypted_with", None)
            if encrypted is not None:
                key = f"{encrypted.dataset}@v{encrypted.major}"
                keys.setdefault(key, _once(functools.partial(self._dataset_key, encrypted.dataset, encrypted.major)))
                columns.append(ColumnSpec(col.name, encrypted.arrow_logical_type, True, key))
            else:
                columns.append(ColumnSpec(col.name, _arrow_type(getattr(col, "sql_type", None)), bool(col.pii)))
        return CatalogTable(
            resource=Resource.view(qualified),
            columns=tuple(columns),
            table_uri=str(view.table_uri or ""),
            storage_options=self.lake.store.storage_options(domain),
            data_keys=keys,
            version=getattr(view, "table_version", None),
            unreadable=self._unreadable(view, qualified),
            stale=Staleness(view.version, view.served_version, view.materialized_at) if stale else None,
        )

    def _dataset_key(self, dataset: str, major: int) -> bytes:
        return self.lake.datasets.data_key(self.lake.datasets.get(dataset, major=major))

    @staticmethod
    def _unreadable(view: Any, qualified: str) -> LakegateError | None:
        sunset = getattr(view, "sunset_on", None)
        if sunset is not None and sunset <= dt.date.today():
            return Conflict(f"view {qualified} version {view.version} was retired on {sunset.isoformat()}; "
                            f"read version {view.current_version} instead")
        if not view.table_uri:
            kind = str(getattr(view, "materialization", ""))
            if kind.endswith("virtual"):
                return Conflict(f"view {qualified} is virtual; the gateway reads materialized views only")
            return Conflict(f"view {qualified} version {view.version} has not been materialized yet; its owners "
                            "refresh it (POST /api/v1/views/{name}/refresh), or its schedule does")
        return None


def _arrow_type(sql_type: str | None) -> pa.DataType:
    if not sql_type:
        return pa.string()
    try:
        from views.types import to_arrow
    except ImportError:  # pragma: no cover - the views package is part of Lakegate
        return pa.string()
    try:
        return to_arrow(sql_type)
    except (KeyError, ValueError, LakegateError):
        return pa.string()


def default_resolvers(lake: Lake) -> list[TableResolver]:
    """Datasets first, then views when the views package provides ``views.catalog.get_view``."""
    resolvers: list[TableResolver] = [DatasetResolver(lake)]
    try:
        module = importlib.import_module("views.catalog")
    except ImportError:
        return resolvers
    get_view = getattr(module, "get_view", None)
    if callable(get_view):
        resolvers.append(ViewResolver(lake, get_view))
    return resolvers


class CatalogLookup:
    """Resolves names through resolvers, with a short per-name cache.

    The cache keeps contracts and table locations only (never decisions or
    keys), for ``ttl_seconds``; 0 disables it.
    """

    def __init__(self, resolvers: Sequence[TableResolver], *, ttl_seconds: float = 0.0) -> None:
        self.resolvers = list(resolvers)
        self.ttl_seconds = ttl_seconds
        self._cache: dict[str, tuple[float, CatalogTable | None]] = {}
        self._lock = threading.Lock()

    def resolve(self, name: str) -> CatalogTable | None:
        """The object ``name`` (``domain.name``, or ``domain.name@vN`` for a pinned major or version)."""
        split = split_name(name)
        if split is None:
            return None
        if self.ttl_seconds > 0:
            now = time.monotonic()
            with self._lock:
                hit = self._cache.get(name)
            if hit is not None and now - hit[0] < self.ttl_seconds:
                return hit[1]
        found: CatalogTable | None = None
        for resolver in self.resolvers:
            found = resolver.resolve(*split)
            if found is not None:
                break
        if self.ttl_seconds > 0:
            with self._lock:
                self._cache[name] = (time.monotonic(), found)
        return found

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()


__all__ = [
    "CatalogLookup",
    "CatalogTable",
    "DatasetResolver",
    "Staleness",
    "TableResolver",
    "ViewResolver",
    "default_resolvers",
    "split_name",
    "valid_name",
]
