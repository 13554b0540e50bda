"""Sample rows of a dataset as the viewer may see them.

The access layer says which columns the viewer may read and how each is
masked; the query gateway then runs ``SELECT <those columns> FROM
domain.dataset LIMIT n`` as the viewer, so row filters and masks apply
exactly as for any other query of theirs (and the query is audited).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
from dataclasses import dataclass, field, replace
from typing import Any

from sqlglot import exp

from access import AccessControl, MaskKind, Resource
from access.gateway import Admission, Gateway
from lake.datasets import DatasetInfo
from lake.errors import LakegateError

SAMPLE_ROWS = 10


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


def sample_query(info: DatasetInfo, columns: list[str], limit: int) -> str:
    """``SELECT <columns> FROM domain.dataset LIMIT n`` in Spark SQL, identifiers quoted."""
    table = exp.Table(this=exp.to_identifier(info.name.split(".", 1)[1], quoted=True),
                      db=exp.to_identifier(info.domain, quoted=True))
    select = exp.select(*(exp.column(c, quoted=True) for c in columns)).from_(table).limit(limit)
    return select.sql(dialect="spark")


def sample_rows(gateway: Gateway, access: AccessControl, subject: str, info: DatasetInfo, *,
                admission: Admission, limit: int = SAMPLE_ROWS) -> Sample:
    """Up to ``limit`` rows of the dataset, masked and filtered for ``subject``.

    The query runs only if one of ``admission``'s query slots is free now; a
    busy server shows the page without rows rather than queueing a page view.
    """
    contract = info.contract
    table_access = access.table_access(subject, Resource.table(info.name),
                                       [(c.name, c.pii) for c in contract.columns])
    if not table_access.allowed:
        return Sample(False, table_access.reason, hidden=tuple(contract.column_names))
    shown = [c.name for c in table_access.columns]
    masks = {c.name: str(c.mask) for c in table_access.columns
             if c.mask is not None and c.mask.kind is not MaskKind.DECRYPT}
    hidden = tuple(n for n in contract.column_names if n not in shown)
    base = Sample(True, table_access.reason, columns=tuple(shown), masks=masks, hidden=hidden,
                  row_filter=table_access.row_filter)
    if not admission.try_enter(subject):
        return replace(base, error="the query gateway is busy; sample rows are not shown right now")
    try:
        result = gateway.query(subject, sample_query(info, shown, limit), max_rows=limit)
    except LakegateError as exc:
        return replace(base, error=exc.message)
    finally:
        admission.leave(subject)
    names = result.table.column_names
    data = [result.table.column(i).to_pylist() for i in range(len(names))]
    rows = tuple(tuple(cell(v) for v in row) for row in zip(*data, strict=True)) if data else ()
    return replace(base, columns=tuple(names), rows=rows, truncated=result.truncated)
