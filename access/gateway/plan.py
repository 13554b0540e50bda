"""From a subscriber's SQL to a governed query: parse, bind, authorize, check, rewrite.

Nothing here runs on Spark; :mod:`access.gateway.run` executes the plan.

Denial messages: a table that does not exist and a table the caller may not
read get the same answer (``AccessDenied``: "may not read table X: it does
not exist or you have no read access to it"), so the gateway is no oracle for
the catalog. A denied column is named (the caller can read its table, whose
contract is public to readers).
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlglot import exp

from access.gateway.bind import GENERATED_PREFIX, CatalogRef, bind_tables
from access.gateway.check import RefColumns, check_columns
from access.gateway.errors import QueryRefused
from access.gateway.masks_sql import Params
from access.gateway.parse import parse_query
from access.gateway.resolve import CatalogLookup, CatalogTable, Staleness
from access.gateway.rewrite import (
    RowFilterUnusable,
    SourceView,
    check_rendered,
    governed_subquery,
    render,
    verify_rewritten,
)
from access.masks import Reveal
from access.policy import TableAccess
from access.resources import Action, Resource
from lake.errors import AccessDenied

#: The reason given for a table that is unknown or not readable (one message for both).
TABLE_DENIED = "it does not exist or you have no read access to it"


class AccessPolicy(Protocol):
    """What the gateway asks of :class:`access.policy.AccessControl`."""

    def table_access(self, subject: str, table: Resource, columns: Sequence[tuple[str, bool]]) -> TableAccess: ...

    def hash_key(self, table: Resource) -> bytes: ...


@dataclass(frozen=True)
class TableUse:
    """One catalog object a query reads, as decided for the caller (for the audit log)."""

    table: str
    kind: str
    columns: tuple[str, ...]
    masked: Mapping[str, str]
    row_filter: bool


@dataclass(frozen=True)
class GovernedQuery:
    """A query ready to run: the rewritten SQL and what it reads.

    Attributes:
        query_id: A new id per query.
        subject: Who asked.
        sql: The subscriber's SQL.
        sql_hash: SHA-256 (hex) of ``sql``.
        rewritten: The governed Spark SQL; keys are parameter markers.
        sources: Delta snapshots to register as temp views before running.
        uses: What each catalog object exposes to the caller.
        params: Key parameters bound when Spark parses ``rewritten``; never printed.
        stale: Views answered from an earlier version's materialization, by name.
    """

    query_id: str
    subject: str
    sql: str
    sql_hash: str
    rewritten: str
    sources: tuple[SourceView, ...]
    uses: tuple[TableUse, ...]
    params: Mapping[str, bytes] = field(repr=False, compare=False)
    stale: Mapping[str, Staleness] = field(default_factory=dict, compare=False)

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(u.table for u in self.uses)


def sql_hash(sql: str) -> str:
    return hashlib.sha256(sql.encode("utf-8")).hexdigest()


def deny_table(subject: str, name: str) -> AccessDenied:
    return AccessDenied(subject, Action.READ.value, f"table {name}", TABLE_DENIED)


def _deny_column(subject: str, refs: list[CatalogRef], tables: list[CatalogTable]
                 ) -> Callable[[int, str, exp.Expr], Exception]:
    def deny(index: int, column: str, _node: exp.Expr) -> Exception:
        return AccessDenied(subject, Action.READ.value, f"column {tables[index].name}.{column}",
                            "you have no read access to this column; leave it out of the query")
    return deny


def _use(table: CatalogTable, access: TableAccess) -> TableUse:
    pii = {c.name: c.pii for c in table.columns}
    masked = {c.name: str(Reveal.of(c.mask, pii=pii.get(c.name, False))) for c in access.columns
              if c.mask is not None or pii.get(c.name, False)}
    return TableUse(
        table=table.name,
        kind=table.resource.kind.value,
        columns=tuple(c.name for c in access.columns),
        masked=masked,
        row_filter=access.row_filter is not None,
    )


def plan_query(subject: str, sql: str, *, lookup: CatalogLookup, policy: AccessPolicy,
               query_id: str | None = None) -> GovernedQuery:
    """Turn ``sql`` into a governed query for ``subject``.

    Args:
        subject: The caller (a user or service principal name).
        sql: One Spark SQL SELECT.
        lookup: Resolves catalog names.
        policy: Decides what the caller sees of each table.
        query_id: The id to give the query (a new one by default).

    Returns:
        The governed query.

    Raises:
        QueryRefused: Not a single read query, or a refused construct.
        AccessDenied: A table that is unknown or not readable, or a denied column.
        UnknownColumn: A column no source provides.
        InvalidInput: A column alias list of the wrong length.
    """
    query_id = query_id or uuid.uuid4().hex
    tree = parse_query(sql)
    binding = bind_tables(tree)
    refs = binding.refs

    tables: list[CatalogTable] = []
    decisions: dict[str, TableAccess] = {}
    for ref in refs:
        table = lookup.resolve(ref.name)
        if table is None:
            raise deny_table(subject, ref.name)
        if table.name not in decisions:
            access = policy.table_access(subject, table.resource, [(c.name, c.pii) for c in table.columns])
            if not access.allowed:
                raise deny_table(subject, table.name)
            if table.unreadable is not None:
                raise table.unreadable
            decisions[table.name] = access
        if ref.column_aliases is not None and len(ref.column_aliases) != len(table.columns):
            raise QueryRefused(
                f"{table.name} has {len(table.columns)} columns but its alias list "
                f"{ref.alias}({', '.join(ref.column_aliases)}) names {len(ref.column_aliases)}"
            )
        tables.append(table)

    ref_columns: list[RefColumns] = []
    for ref, table in zip(refs, tables, strict=True):
        permitted = {c.name for c in decisions[table.name].columns}
        out_names = ref.column_aliases or tuple(c.name for c in table.columns)
        ref_columns.append(RefColumns(
            table=table.name,
            visible=tuple(o for c, o in zip(table.columns, out_names, strict=True) if c.name in permitted),
            denied={o: c.name for c, o in zip(table.columns, out_names, strict=True) if c.name not in permitted},
        ))
    check_columns(tree, [r.node for r in refs], ref_columns, _deny_column(subject, refs, tables))

    token = query_id[:12]
    sources: dict[tuple[str, int | None, str | None], SourceView] = {}
    params = Params()
    for ref, table in zip(refs, tables, strict=True):
        version = ref.version if ref.version is not None or ref.timestamp is not None else table.version
        key = (table.table_uri, version, ref.timestamp)
        if key not in sources:
            sources[key] = SourceView(f"{GENERATED_PREFIX}src_{token}_{len(sources)}", table, version,
                                      ref.timestamp)
        access = decisions[table.name]
        try:
            governed = governed_subquery(ref, table, access, sources[key].name, params,
                                         functools.partial(policy.hash_key, table.resource))
        except RowFilterUnusable:
            raise AccessDenied(subject, Action.READ.value, f"table {table.name}",
                               "the row filter that applies to you cannot be applied; "
                               "an administrator must correct it") from None
        ref.node.replace(governed)

    found = verify_rewritten(tree, [s.name for s in sources.values()] + list(binding.cte_names), params.names)
    rewritten = render(tree, found)
    check_rendered(rewritten)
    by_name = {t.name: t for t in tables}
    uses = tuple(_use(by_name[name], access) for name, access in decisions.items())
    return GovernedQuery(
        query_id=query_id,
        subject=subject,
        sql=sql,
        sql_hash=sql_hash(sql),
        rewritten=rewritten,
        sources=tuple(sources.values()),
        uses=uses,
        params=dict(params.values),
        stale={t.name: t.stale for t in tables if t.stale is not None},
    )
