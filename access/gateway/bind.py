"""Bind every table reference of a query: to a CTE in scope or to a catalog name.

The walk follows Spark's scoping: a ``WITH`` clause is visible in the query
it belongs to (and in its later CTEs; with ``RECURSIVE`` also in the CTE
itself), inner definitions shadow outer ones, and a CTE defined inside a
subquery is invisible outside it. A single-part name bound to a CTE is
renamed, with the CTE, to a generated name; every other reference is a
catalog reference, later replaced by a governed subquery or refused. No
name the subscriber wrote reaches Spark as a table name, so a CTE named like
a forbidden table, or a reference the walk and Spark would bind differently,
can only fail, never read around the policy.

Names compare case-insensitively (as Spark does); quoting and comments do
not matter because the syntax tree holds identifiers, not text. Table
functions (``range(10)``, ``read_files(...)``, ``explode(...)`` in ``FROM``)
and file paths (``parquet.`/data/x```) are refused here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from access.gateway.errors import QueryRefused
from access.gateway.parse import function_name

#: Prefix of every name the gateway generates; Spark sees no other table names.
GENERATED_PREFIX = "__lg_"

#: Nodes without child nodes (nothing to bind under them).
_LEAVES = frozenset({exp.Identifier, exp.Literal})
_TABLE_ARGS = frozenset({"this", "db", "catalog", "alias", "sample", "version"})
_CTE_REF_ARGS = frozenset({"this", "alias", "sample"})


@dataclass
class CatalogRef:
    """A reference to a catalog object in the query, in text order.

    Attributes:
        index: Position among the query's catalog references.
        node: The ``Table`` node in the query tree.
        name: The lower-case name the subscriber wrote (``domain.name`` when well formed).
        alias: The name the query uses for it (its alias, or the table name).
        column_aliases: Column names from ``AS t(a, b, ...)``, if given.
        version: ``VERSION AS OF`` value, if given.
        timestamp: ``TIMESTAMP AS OF`` value, if given.
    """

    index: int
    node: exp.Table
    name: str
    alias: str
    column_aliases: tuple[str, ...] | None = None
    version: int | None = None
    timestamp: str | None = None


@dataclass
class Binding:
    """The result of binding a query's tables."""

    refs: list[CatalogRef] = field(default_factory=list)
    cte_names: dict[str, str] = field(default_factory=dict)  # generated name -> original


def _position(node: exp.Expr) -> tuple[int | None, int | None]:
    for n in node.walk():
        if n.meta.get("line") is not None:
            return n.meta.get("line"), n.meta.get("col")
    return None, None


def _refuse(reason: str, node: exp.Expr) -> QueryRefused:
    line, col = _position(node)
    return QueryRefused(reason, line=line, col=col)


def _ident(node: Any) -> str | None:
    if isinstance(node, exp.Identifier):
        return str(node.this)
    return None


def _looks_like_path(text: str) -> bool:
    return any(ch in text for ch in "/\\:") or text.startswith((".", "~"))


class _Binder:
    def __init__(self) -> None:
        self.binding = Binding()
        self._cte_count = 0

    # -- CTEs --------------------------------------------------------------------------------

    def _bind_with(self, with_: exp.With, env: dict[str, str]) -> dict[str, str]:
        env = dict(env)
        recursive = bool(with_.args.get("recursive"))
        seen: set[str] = set()
        for cte in with_.expressions:
            original = cte.alias_or_name
            key = original.lower()
            if not key:
                raise _refuse("every CTE needs a name", cte)
            if key in seen:
                raise _refuse(f"CTE {original!r} is defined twice in one WITH clause", cte)
            seen.add(key)
            generated = f"{GENERATED_PREFIX}cte_{self._cte_count}"
            self._cte_count += 1
            self.binding.cte_names[generated] = key
            if recursive:
                env[key] = generated
            self._visit(cte.this, env)
            env[key] = generated
            alias = cte.args.get("alias")
            if isinstance(alias, exp.TableAlias):
                alias.set("this", exp.to_identifier(generated))
            else:
                cte.set("alias", exp.TableAlias(this=exp.to_identifier(generated)))
        return env

    # -- tables ------------------------------------------------------------------------------

    def _table(self, node: exp.Table, env: dict[str, str]) -> None:
        target = node.this
        if not isinstance(target, exp.Identifier):
            if isinstance(target, exp.Func):
                raise _refuse(f"table functions are not allowed: {function_name(target)}(...)", node)
            raise _refuse("only catalog tables (domain.name) can be read", node)
        extra = sorted(k for k, v in node.args.items() if v not in (None, [], False) and k not in _TABLE_ARGS)
        if extra:
            raise _refuse(f"table clause not supported: {', '.join(extra)}", node)
        catalog, db, name = _ident(node.args.get("catalog")), _ident(node.args.get("db")), str(target.this)
        if node.args.get("db") is not None and db is None:
            raise _refuse("only catalog tables (domain.name) can be read", node)
        if _looks_like_path(name) or (db is not None and _looks_like_path(db)):
            raise _refuse("file paths cannot be read through the gateway; read a catalog table", node)
        alias_node = node.args.get("alias")
        alias = alias_node.name if isinstance(alias_node, exp.TableAlias) and alias_node.name else None
        column_aliases = None
        if isinstance(alias_node, exp.TableAlias) and alias_node.columns:
            column_aliases = tuple(str(c.name).lower() for c in alias_node.columns)

        if db is None and catalog is None and name.lower() in env:
            extra = sorted(k for k, v in node.args.items() if v not in (None, [], False) and k not in _CTE_REF_ARGS)
            if extra:
                raise _refuse(f"{', '.join(extra)} applies to catalog tables, not to CTE {name!r}", node)
            generated = env[name.lower()]
            node.set("this", exp.to_identifier(generated))
            if alias_node is None:
                node.set("alias", exp.TableAlias(this=exp.to_identifier(name)))
            return

        qualified = ".".join(p.lower() for p in (catalog, db, name) if p is not None)
        version, timestamp = self._time_travel(node)
        self.binding.refs.append(CatalogRef(
            index=len(self.binding.refs),
            node=node,
            name=qualified,
            alias=(alias or name).lower(),
            column_aliases=column_aliases,
            version=version,
            timestamp=timestamp,
        ))

    def _time_travel(self, node: exp.Table) -> tuple[int | None, str | None]:
        version = node.args.get("version")
        if version is None:
            return None, None
        kind = str(version.this).upper()
        value = version.args.get("expression")
        if str(version.args.get("kind") or "").upper() != "AS OF" or not isinstance(value, exp.Literal):
            raise _refuse("time travel takes VERSION AS OF <number> or TIMESTAMP AS OF '<time>'", node)
        if kind == "VERSION" and not value.is_string and str(value.this).isdigit():
            return int(str(value.this)), None
        if kind == "TIMESTAMP" and value.is_string:
            return None, str(value.this)
        raise _refuse("time travel takes VERSION AS OF <number> or TIMESTAMP AS OF '<time>'", node)

    # -- the walk ----------------------------------------------------------------------------

    def _visit(self, node: exp.Expr, env: dict[str, str]) -> None:
        if isinstance(node, exp.Join) and str(node.args.get("method") or "").upper() == "NATURAL":
            raise _refuse("NATURAL JOIN is not supported; join with ON or USING", node)
        with_ = node.args.get("with_")
        if isinstance(with_, exp.With):
            env = self._bind_with(with_, env)
        if isinstance(node, exp.Table):
            self._table(node, env)
            for child in _children(node.args.get("sample")):
                self._visit(child, env)
            return
        visit = self._visit
        for key, value in node.args.items():
            if key == "with_":
                continue
            if isinstance(value, exp.Expr):
                if value.__class__ not in _LEAVES:
                    visit(value, env)
            elif isinstance(value, list):
                for child in value:
                    if isinstance(child, exp.Expr) and child.__class__ not in _LEAVES:
                        visit(child, env)


def _children(value: Any) -> list[exp.Expr]:
    if isinstance(value, exp.Expr):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, exp.Expr)]
    return []


def bind_tables(tree: exp.Expr) -> Binding:
    """Bind the tables of ``tree`` in place (CTEs renamed) and list its catalog references.

    Raises:
        QueryRefused: A table function, a file path, an unsupported table clause,
            a NATURAL JOIN or a duplicate CTE name.
    """
    binder = _Binder()
    try:
        binder._visit(tree, {})
    except RecursionError:
        raise QueryRefused("the query is nested too deeply") from None
    return binder.binding
