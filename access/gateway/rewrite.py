"""Rewrite each catalog reference into a governed subquery.

``ads.conversions AS c`` becomes::

    (SELECT <mask(col)> AS col, ...            -- permitted columns only, masked
     FROM __lg_src_0 AS __lg_raw               -- the Delta snapshot, registered by the runner
     WHERE <row filter>) AS c                  -- the caller's row filter

so ``SELECT *`` expands to the permitted columns, masks apply before anything
else sees a value, and the row filter holds wherever the table is used (a
``TABLESAMPLE`` on the reference samples the governed subquery, after the
row filter, so a sample never counts hidden rows). The
row filter is written over the table's columns in clear: a PII column in it
is decrypted for the comparison, whatever the caller's mask.

The rewritten tree is verified before it is rendered (:func:`verify_rewritten`):
every table it names is a generated source or CTE name, and every parameter
is a key the gateway bound. Rendering refuses constructs sqlglot cannot write
in Spark SQL instead of approximating them.

A governed subquery's text depends only on the table's columns, the caller's
access (columns, masks, row filter) and the column aliases; the temp view's
name and the key parameters' names change from query to query. So its SELECT
is built, verified and rendered once, with holes for those names
(:class:`_Template`), and later queries fill the holes: the rewritten tree
holds it as a :class:`GovernedSelect` leaf, which the gateway's Spark
generator writes as it is.
"""

from __future__ import annotations

import functools
import re
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp
from sqlglot import transforms as sqlglot_transforms
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, UnsupportedError

from access import rowfilter
from access.errors import InvalidRowFilter
from access.gateway.bind import GENERATED_PREFIX, CatalogRef
from access.gateway.errors import QueryRefused
from access.gateway.masks_sql import (
    ColumnSpec,
    Params,
    TableKeys,
    clear_value,
    hmac_pads,
    masked_value,
    needs_data_key,
    stored_column,
)
from access.gateway.parse import DIALECT, check_nodes, nodes
from access.gateway.resolve import CatalogTable
from access.masks import Mask, MaskKind
from access.policy import TableAccess

RAW_ALIAS = f"{GENERATED_PREFIX}raw"

#: Most governed SELECT templates kept (one per table, access and column aliases seen).
TEMPLATES_MAX = 1024
_NAME = re.compile(r"[A-Za-z0-9_]+")


class GovernedSelect(exp.Expression):
    """A governed subquery's SELECT as Spark SQL text (a leaf: nothing in it is a node).

    Only :func:`governed_subquery` makes one, from a template that was verified
    (:func:`verify_rewritten`) when it was built, with generated names filled in.
    """

    arg_types = {"this": True}


def _without(handler: Any, step: Callable[[exp.Expr], exp.Expr]) -> Any:
    """A ``transforms.preprocess`` handler without ``step``; ``None`` if ``handler`` is not one holding it."""
    try:
        cells = dict(zip(handler.__code__.co_freevars, (c.cell_contents for c in handler.__closure__), strict=True))
    except (AttributeError, TypeError, ValueError):
        return None
    steps = cells.get("transforms")
    if set(cells) != {"transforms", "generator"} or not isinstance(steps, list) or step not in steps:
        return None
    kept = [s for s in steps if s is not step]
    return sqlglot_transforms.preprocess(kept, cells["generator"]) if kept else None


def _generator_class(*, any_operator: bool = True) -> Any:
    """Spark's SQL generator, writing a :class:`GovernedSelect` as its text.

    Spark's generator rewrites ``x = ANY(array)`` on every SELECT, searching the
    whole SELECT for it; with ``any_operator=False`` it skips that search, for
    trees known to hold no ``ANY``.
    """
    base = Dialect.get_or_raise(DIALECT).generator_class
    transforms = {**base.TRANSFORMS, GovernedSelect: lambda _self, node: node.this}
    if not any_operator:
        select = _without(base.TRANSFORMS.get(exp.Select), sqlglot_transforms.any_to_exists)
        if select is not None:
            transforms[exp.Select] = select

    def _move_ctes_to_top_level(self: Any, expression: exp.Expr) -> exp.Expr:
        # Hoists nested WITH clauses after a search of the whole tree; skipped when render saw none.
        if getattr(self, "nested_ctes", True):
            moved: exp.Expr = base._move_ctes_to_top_level(self, expression)
            return moved
        return expression

    return type("GatewaySparkGenerator", (base,), {"TRANSFORMS": transforms,
                                                    "_move_ctes_to_top_level": _move_ctes_to_top_level})


_GENERATOR = _generator_class()
_GENERATOR_NO_ANY = _generator_class(any_operator=False)


class RowFilterUnusable(Exception):
    """A row filter that the gateway cannot apply safely (the caller is then denied)."""


@dataclass(frozen=True)
class SourceView:
    """A Delta snapshot the runner registers under a generated temp view name."""

    name: str
    table: CatalogTable
    version: int | None = None
    timestamp: str | None = None


@functools.lru_cache(maxsize=1024)
def _parsed_row_filter(text: str) -> exp.Expr | str:
    try:
        return rowfilter.parse_predicate(text)
    except InvalidRowFilter as exc:
        return exc.reason


def _parse_row_filter(text: str) -> exp.Expr:
    """The validated row filter, as a fresh tree (parses are cached by text)."""
    parsed = _parsed_row_filter(text)
    if isinstance(parsed, str):
        raise RowFilterUnusable(parsed)
    return parsed.copy()


def row_filter_expression(text: str, table: CatalogTable,
                          value_of: Callable[[ColumnSpec], exp.Expr]) -> exp.Expr:
    """The row filter over ``table``'s columns, each replaced by ``value_of(column)``.

    The filter is validated again (:func:`access.rowfilter.parse_predicate`):
    one predicate over the table's own, unqualified columns.

    Raises:
        RowFilterUnusable: The filter is not valid, or names a column the table lacks.
    """
    predicate = _parse_row_filter(text)
    for column in list(predicate.find_all(exp.Column)):
        spec = table.column(column.name.lower())
        if spec is None:
            raise RowFilterUnusable(f"{table.name} has no column {column.name!r}")
        replacement = value_of(spec)
        if column is predicate:
            predicate = replacement
        else:
            column.replace(replacement)
    return predicate


def _filter_keys(text: str, table: CatalogTable) -> set[str]:
    """Keys of the encrypted columns a row filter reads (it compares clear values)."""
    names = {c.name.lower() for c in _parse_row_filter(text).find_all(exp.Column)}
    return {c.key for c in table.columns if c.key is not None and c.name in names}


class _Keys:
    """Binds a table's keys as query parameters, fetching each only when first asked for.

    ``use`` is ``"data:<key name>"``, ``"hash:inner"`` or ``"hash:outer"``.
    """

    def __init__(self, table: CatalogTable, params: Params, hash_key: Callable[[], bytes]) -> None:
        self.table = table
        self.params = params
        self.hash_key = hash_key
        self._pads: tuple[bytes, bytes] | None = None

    def __call__(self, use: str) -> exp.Placeholder:
        if use.startswith("hash:"):
            if self._pads is None:
                self._pads = hmac_pads(self.hash_key())
            return self.params.add(self._pads[0] if use == "hash:inner" else self._pads[1])
        return self.params.add(self.table.data_keys[use.removeprefix("data:")]())


def _governed_select(table: CatalogTable, access: TableAccess, out_names: Sequence[str],
                     source: str, bind: Callable[[str], exp.Placeholder]) -> exp.Select:
    """The SELECT of a governed subquery; keys are bound through ``bind`` in a fixed order
    (data keys by name, then the HMAC pads, inner first)."""
    masks: dict[str, Mask | None] = {c.name: c.mask for c in access.columns}
    needed = {c.key for c in table.columns if c.key is not None and c.name in masks
              and needs_data_key(c, masks[c.name])}
    if access.row_filter:
        needed |= _filter_keys(access.row_filter, table)
    data_keys: dict[str, exp.Placeholder] = {}
    for key in sorted(needed):
        if table.data_keys.get(key) is None:
            raise RowFilterUnusable(f"{table.name} has no data key {key}")
        data_keys[key] = bind(f"data:{key}")
    inner = outer = None
    if any(m is not None and m.kind is MaskKind.HASH for m in masks.values()):
        inner, outer = bind("hash:inner"), bind("hash:outer")
    keys = TableKeys(data_keys=data_keys, hash_inner=inner, hash_outer=outer)

    projections: list[exp.Expr] = []
    for spec, out_name in zip(table.columns, out_names, strict=True):
        if spec.name not in masks:
            continue
        value = masked_value(spec, masks[spec.name], stored_column(RAW_ALIAS, spec.name), keys)
        projections.append(exp.alias_(value, out_name, quoted=True, copy=False))
    if not projections:
        projections.append(exp.alias_(exp.Null(), f"{GENERATED_PREFIX}no_columns", quoted=True, copy=False))

    raw = exp.Table(this=exp.to_identifier(source, quoted=True),
                    alias=exp.TableAlias(this=exp.to_identifier(RAW_ALIAS, quoted=True)))
    select = exp.select(*projections, copy=False).from_(raw, copy=False)
    if access.row_filter:
        predicate = row_filter_expression(
            access.row_filter, table,
            lambda spec: clear_value(spec, stored_column(RAW_ALIAS, spec.name), keys),
        )
        select = select.where(predicate, copy=False)
    return select


@dataclass(frozen=True)
class _Template:
    """A governed SELECT rendered once, with holes for the names that change per query.

    ``holes[i]`` fills the gap between ``parts[i]`` and ``parts[i + 1]``: ``-1`` is
    the source view's name, ``k >= 0`` the name of the parameter bound for ``keys[k]``.
    """

    parts: tuple[str, ...]
    holes: tuple[int, ...]
    keys: tuple[str, ...]

    def fill(self, source: str, bind: Callable[[str], exp.Placeholder]) -> str:
        names = [str(bind(use).name) for use in self.keys]  # in the order the SELECT binds them
        if not all(_NAME.fullmatch(n) for n in (source, *names)):
            raise QueryRefused("the gateway could not rewrite this query safely")
        out = [self.parts[0]]
        for hole, part in zip(self.holes, self.parts[1:], strict=True):
            out.append(source if hole < 0 else names[hole])
            out.append(part)
        return "".join(out)


_templates: dict[tuple[Any, ...], _Template] = {}
_templates_lock = threading.Lock()


def _make_template(table: CatalogTable, access: TableAccess, out_names: Sequence[str]) -> _Template | None:
    """Build, verify and render a governed SELECT with marker names; ``None`` if it cannot be a template."""
    marker = f"lgtpl{uuid.uuid4().hex}"
    uses: list[str] = []

    def bind(use: str) -> exp.Placeholder:
        uses.append(use)
        return exp.Placeholder(this=f"{marker}k{len(uses) - 1}")

    select = _governed_select(table, access, out_names, f"{marker}s", bind)
    keys = frozenset(f"{marker}k{i}" for i in range(len(uses)))
    try:
        verify_rewritten(select, [f"{marker}s"], keys)
        text = render(exp.Subquery(this=select))
    except QueryRefused:
        return None
    if not (text.startswith("(") and text.endswith(")")):
        return None
    pieces = re.split(rf"{marker}(s|k\d+)(?![A-Za-z0-9_])", text[1:-1])
    holes = tuple(-1 if name == "s" else int(name[1:]) for name in pieces[1::2])
    placeholders = sum(1 for _ in select.find_all(exp.Placeholder))
    if holes.count(-1) != 1 or len(holes) != 1 + placeholders or marker in "".join(pieces[::2]):
        return None
    return _Template(parts=tuple(pieces[::2]), holes=holes, keys=tuple(uses))


def governed_subquery(
    ref: CatalogRef,
    table: CatalogTable,
    access: TableAccess,
    source: str,
    params: Params,
    hash_key: Callable[[], bytes],
) -> exp.Subquery:
    """The governed subquery that replaces one catalog reference.

    The first time a table is read with given access and column aliases, its
    SELECT is built as a tree (verified and rendered with the rest of the query)
    and a template of it is kept; later it comes from the template as a
    :class:`GovernedSelect` leaf. A ``TABLESAMPLE`` clause is always built as a tree.

    Args:
        ref: The reference (alias, column aliases, sample).
        table: Its catalog object.
        access: The caller's access to it (permitted columns with masks, row filter).
        source: The temp view name of its Delta snapshot.
        params: Collects the key parameters.
        hash_key: Returns the table's hash key (called only for ``hash`` masks).

    Raises:
        RowFilterUnusable: The row filter cannot be applied, or a key is missing.
    """
    out_names = ref.column_aliases or tuple(c.name for c in table.columns)
    sample = ref.node.args.get("sample")
    alias = exp.TableAlias(this=exp.to_identifier(ref.alias, quoted=True))
    bind = _Keys(table, params, hash_key)
    key = (table.columns, access.columns, access.row_filter, tuple(out_names), tuple(sorted(table.data_keys)))
    template = _templates.get(key)
    if template is not None:
        select: exp.Expr = GovernedSelect(this=template.fill(source, bind))
    else:
        select = _governed_select(table, access, out_names, source, bind)
        made = _make_template(table, access, out_names)
        if made is not None:
            with _templates_lock:
                if len(_templates) >= TEMPLATES_MAX:
                    _templates.clear()
                _templates[key] = made
    subquery = exp.Subquery(this=select, alias=alias)
    if sample is not None:
        # Sampled from the rows the caller may see (``(SELECT ...) TABLESAMPLE (...) AS t``):
        # a sample of the stored rows, filtered afterwards, would count hidden rows.
        subquery.set("sample", sample.copy())
    return subquery


def render(tree: exp.Expr, found: Sequence[exp.Expr] | None = None) -> str:
    """The Spark SQL text of a rewritten tree (identifiers quoted, no comments).

    The generator may change ``tree`` (it is not used afterwards). A construct
    that sqlglot cannot write as Spark SQL is refused rather than approximated.

    Args:
        tree: The rewritten query.
        found: Every node of ``tree`` (as :func:`verify_rewritten` returns them), when known.

    Raises:
        QueryRefused: The tree holds something Spark SQL cannot express.
    """
    if found is None:
        found = nodes(tree)
    # sqlglot writes CURRENT_CATALOG without parentheses, which Spark reads as a column.
    for node in [n for n in found if isinstance(n, exp.CurrentCatalog)]:
        node.replace(exp.Anonymous(this="current_catalog", expressions=[]))
    generator_class = _GENERATOR if any(isinstance(n, exp.Any) for n in found) else _GENERATOR_NO_ANY
    try:
        generator = generator_class(dialect=DIALECT, identify=True, comments=False,
                                    unsupported_level=ErrorLevel.RAISE)
        generator.nested_ctes = any(isinstance(n, exp.With) and n.parent is not tree for n in found)
        return str(generator.generate(tree, copy=False))
    except UnsupportedError as exc:
        raise QueryRefused(f"the gateway cannot express this query in Spark SQL: {exc}") from None


def verify_rewritten(tree: exp.Expr, allowed_tables: Sequence[str], key_params: frozenset[str]) -> list[exp.Expr]:
    """Check a rewritten query before it is rendered: it reads only generated sources.

    Every table the tree names must be one of ``allowed_tables`` (the query's
    source views and renamed CTEs), unqualified; every parameter marker must be
    a key the gateway bound, and only the gateway's own decryption may use it;
    nothing refused at parse time may have crept in.

    Returns:
        Every node of ``tree``, breadth first (for :func:`render`).

    Raises:
        QueryRefused: Otherwise (the rewrite failed; nothing runs).
    """
    allowed = {t.lower() for t in allowed_tables}
    failure = QueryRefused("the gateway could not rewrite this query safely")
    if not isinstance(tree, exp.Query):
        raise failure
    found = nodes(tree)
    try:
        check_nodes(found, key_params=key_params)
    except QueryRefused:
        raise failure from None
    for table in found:
        if isinstance(table, exp.Table) and (
                not isinstance(table.this, exp.Identifier) or table.args.get("db") is not None
                or table.args.get("catalog") is not None or table.name.lower() not in allowed):
            raise failure
    return found


def check_rendered(sql: str) -> None:
    """Refuse rendered SQL that Spark would rewrite before parsing (``${...}`` substitution)."""
    if "${" in sql:
        raise QueryRefused("the gateway could not rewrite this query safely")
