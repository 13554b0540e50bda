"""What a caller may name in a gateway query: the tables and columns it may read.

The SQL workspace completes table and column names from this list, so it
follows the gateway's own rules: a name resolves through the gateway's
:class:`~access.gateway.resolve.CatalogLookup` and the access layer's
``table_access`` decides which columns the caller reads and how each is
masked. A table the caller may not read, and a column it may not read, are
left out (never listed as "denied"); views that cannot be read (virtual,
not materialized, retired) are left out too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from access.masks import MaskKind
from lake.contracts import type_name

if TYPE_CHECKING:
    from access.gateway.service import Gateway

#: Most tables one list holds (completion needs no more).
MAX_TABLES = 1000


@dataclass(frozen=True)
class ReadableColumn:
    """A column the caller reads.

    Attributes:
        name: The column's name.
        type: Its Arrow type in contract spelling (``decimal(12,2)``).
        mask: How it is shown to the caller (``redact``, ``hash``...), ``None`` in clear.
    """

    name: str
    type: str
    mask: str | None


@dataclass(frozen=True)
class ReadableTable:
    """A dataset or view the caller may query, with the columns it reads."""

    name: str
    kind: str  # dataset, view
    columns: tuple[ReadableColumn, ...]


def readable_tables(gateway: Gateway, subject: str, names: Iterable[str]) -> list[ReadableTable]:
    """The tables among ``names`` that ``subject`` may read, with their readable columns, sorted by name.

    Args:
        gateway: The gateway whose lookup resolves names.
        subject: The caller.
        names: Candidate ``domain.name`` names (the catalog's datasets and views).
    """
    out: list[ReadableTable] = []
    for name in sorted(set(names)):
        if len(out) >= MAX_TABLES:
            break
        table = gateway.lookup.resolve(name)
        if table is None or table.unreadable is not None:
            continue
        access = gateway.access.table_access(subject, table.resource, [(c.name, c.pii) for c in table.columns])
        if not access.allowed:
            continue
        specs = {c.name: c for c in table.columns}
        columns = []
        for col in access.columns:
            spec = specs.get(col.name)
            if spec is None:
                continue
            try:
                type_text = type_name(spec.type)
            except Exception:  # noqa: BLE001 - nested types have no contract spelling
                type_text = str(spec.type)
            mask = None if col.mask is None or col.mask.kind is MaskKind.DECRYPT else str(col.mask)
            columns.append(ReadableColumn(col.name, type_text, mask))
        out.append(ReadableTable(table.name, table.resource.kind.value, tuple(columns)))
    return out
