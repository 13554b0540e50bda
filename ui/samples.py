"""Sample rows of a dataset as the viewer may see them.

The access layer says which columns the viewer may read and how each is
masked; the query gateway then runs ``SELECT <those columns> FROM
domain.dataset VERSION AS OF <v> LIMIT n`` as the viewer, so row filters and
masks apply exactly as for any other query of theirs (and the query is
audited).

The rows are kept in a :class:`SampleCache` under a :class:`SampleKey`: the
dataset's major, contract version and Delta version, the policy version, and
the viewer's *effective* access to the table (each permitted column with its
mask, and the row filter), all decided afresh on every page view. Two viewers
share rows only when everything that shapes them is the same; a policy change,
an expired grant or mask, a new batch or a new contract gives a new key, and
so a new query. A warm page does not touch Spark.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from access import AccessControl, MaskKind, Resource
from access.gateway import Admission, Gateway
from access.policy import ColumnAccess
from lake.datasets import DatasetInfo
from lake.errors import LakegateError

if TYPE_CHECKING:
    from lake.service import Lake

SAMPLE_ROWS = 10
#: Samples kept per process (each at most ``SAMPLE_ROWS`` rows).
CACHE_ENTRIES = 512


@dataclass(frozen=True)
class Sample:
    """What the viewer sees of a table.

    Attributes:
        allowed: Whether any column may be read.
        reason: Why not, or whose grants apply.
        columns: The columns shown, in table order.
        rows: Cell texts (``None`` for SQL NULL).
        masks: Column to the mask applied (``redact``, ``hash``...); clear columns are absent.
        hidden: Columns of the contract the viewer may not read at all.
        row_filter: The rows the viewer is limited to, or ``None`` for every row.
        error: Why the rows could not be read, when they could not.
        truncated: More rows exist than were read.
        pending: The rows were not read yet (the page loads them after it is shown).
    """

    allowed: bool
    reason: str
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str | None, ...], ...] = ()
    masks: dict[str, str] = field(default_factory=dict)
    hidden: tuple[str, ...] = ()
    row_filter: str | None = None
    error: str | None = None
    truncated: bool = False
    pending: bool = False

    @property
    def restricted(self) -> bool:
        """Whether the viewer sees less than everything (masks, hidden columns, a row filter, or nothing)."""
        return not self.allowed or bool(self.masks or self.hidden or self.row_filter)


def cell(value: Any) -> str | None:
    """A value as text for a table cell."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        return f"(binary, {len(raw)} bytes) {base64.b64encode(raw[:12]).decode()}…"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@dataclass(frozen=True)
class SampleKey:
    """Everything that decides which rows and values a sample shows.

    Attributes:
        dataset: ``domain.dataset``.
        major: The major version read.
        contract_version: Its contract version (the columns and their PII tags).
        data_version: The Delta version read (the query is pinned to it).
        policy_version: The access policy version the decision was taken with.
        columns: The viewer's permitted columns, each with its mask.
        row_filter: The viewer's row filter, or ``None`` for every row.
        limit: How many rows.
    """

    dataset: str
    major: int
    contract_version: int
    data_version: int
    policy_version: int
    columns: tuple[ColumnAccess, ...]
    row_filter: str | None
    limit: int


@dataclass(frozen=True)
class _Rows:
    columns: tuple[str, ...]
    rows: tuple[tuple[str | None, ...], ...]
    truncated: bool


class SampleCache:
    """Sample rows by :class:`SampleKey`, least recently used dropped first; safe across threads.

    Args:
        max_entries: How many samples to keep.
    """

    def __init__(self, max_entries: int = CACHE_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be positive, got {max_entries}")
        self.max_entries = max_entries
        self._entries: OrderedDict[SampleKey, _Rows] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: SampleKey) -> _Rows | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: SampleKey, rows: _Rows) -> None:
        with self._lock:
            self._entries[key] = rows
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def data_version(lake: Lake, info: DatasetInfo) -> int:
    """The dataset major's newest Delta version."""
    return lake.datasets.table(info).version()


def sample_query(info: DatasetInfo, columns: list[str], limit: int, version: int | None = None) -> str:
    """``SELECT <columns> FROM domain.dataset [VERSION AS OF v] LIMIT n`` in Spark SQL, identifiers quoted.

    An old major is named ``domain.`dataset@vN``` (the gateway's name for a pinned major).
    """
    table_name = info.name.split(".", 1)[1]
    if not info.is_current:
        table_name = f"{table_name}@v{info.major}"
    table = exp.Table(this=exp.to_identifier(table_name, quoted=True),
                      db=exp.to_identifier(info.domain, quoted=True))
    if version is not None:
        table.set("version", exp.Version(this="VERSION", kind="AS OF", expression=exp.Literal.number(version)))
    select = exp.select(*(exp.column(c, quoted=True) for c in columns)).from_(table).limit(limit)
    return select.sql(dialect="spark")


def sample_rows(gateway: Gateway, access: AccessControl, subject: str, info: DatasetInfo, *,
                admission: Admission, limit: int = SAMPLE_ROWS, cache: SampleCache | None = None,
                version: int | None = None, cached_only: bool = False) -> Sample:
    """Up to ``limit`` rows of the dataset, masked and filtered for ``subject``.

    The query runs only if one of ``admission``'s query slots is free now; a
    busy server shows the page without rows rather than queueing a page view.

    Args:
        gateway: Runs the query as ``subject``.
        access: Decides the columns, masks and rows ``subject`` sees.
        subject: The viewer.
        info: The dataset major to sample.
        admission: Query slots of the app.
        limit: How many rows.
        cache: Where rows are kept between page views (see :class:`SampleKey`).
        version: The Delta version to read (with ``cache``: needed to use it).
        cached_only: Do not query: rows from ``cache`` or a ``pending`` sample.
    """
    contract = info.contract
    table_access = access.table_access(subject, Resource.table(info.name),
                                       [(c.name, c.pii) for c in contract.columns])
    policy_version = access.version  # the version table_access decided with (it refreshes first)
    if not table_access.allowed:
        return Sample(False, table_access.reason, hidden=tuple(contract.column_names))
    shown = [c.name for c in table_access.columns]
    masks = {c.name: str(c.mask) for c in table_access.columns
             if c.mask is not None and c.mask.kind is not MaskKind.DECRYPT}
    hidden = tuple(n for n in contract.column_names if n not in shown)
    base = Sample(True, table_access.reason, columns=tuple(shown), masks=masks, hidden=hidden,
                  row_filter=table_access.row_filter)
    key = None
    if cache is not None and version is not None:
        key = SampleKey(info.name, info.major, info.contract_version, version, policy_version,
                        table_access.columns, table_access.row_filter, limit)
        found = cache.get(key)
        if found is not None:
            return replace(base, columns=found.columns, rows=found.rows, truncated=found.truncated)
    if cached_only:
        return replace(base, pending=True)
    if not admission.try_enter(subject):
        return replace(base, error="the query gateway is busy; sample rows are not shown right now")
    try:
        result = gateway.query(subject, sample_query(info, shown, limit, version), max_rows=limit)
    except LakegateError as exc:
        return replace(base, error=exc.message)
    finally:
        admission.leave(subject)
    names = result.table.column_names
    data = [result.table.column(i).to_pylist() for i in range(len(names))]
    rows = _Rows(tuple(names), tuple(tuple(cell(v) for v in row) for row in zip(*data, strict=True)) if data else (),
                 result.truncated)
    # Kept only if the policy did not change while the query ran (the gateway decided afresh).
    if key is not None and cache is not None and access.version == policy_version:
        cache.put(key, rows)
    return replace(base, columns=rows.columns, rows=rows.rows, truncated=rows.truncated)
