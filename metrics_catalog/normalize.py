"""Canonical forms of metric SQL, to find metrics that compute the same thing.

Two expressions are the same metric when their canonical SQL is equal:
identifiers are lower-cased (Spark resolves them case-insensitively), quotes,
whitespace and keyword case disappear in the regenerated SQL, redundant
parentheses are dropped, and the operands of commutative operators
(``+``, ``*``, ``AND``, ``OR``, ``=``, ``<>``) are sorted. So
``sum(b + a) / COUNT(*)`` and ``SUM( A+B )/count(*)`` match.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

DIALECT = "spark"

_COMMUTATIVE: tuple[type[exp.Expr], ...] = (exp.Add, exp.Mul, exp.And, exp.Or, exp.EQ, exp.NEQ)


def _flatten(node: exp.Expr, kind: type[exp.Expr]) -> list[exp.Expr]:
    if type(node) is kind:
        return _flatten(node.args["this"], kind) + _flatten(node.args["expression"], kind)
    return [node]


def _canonical(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Paren):
        return _canonical(node.this)
    if isinstance(node, exp.Identifier):
        return exp.to_identifier(node.name.lower())
    node = node.copy()
    for key, value in list(node.args.items()):
        if isinstance(value, exp.Expression):
            node.set(key, _canonical(value))
        elif isinstance(value, list):
            node.set(key, [_canonical(v) if isinstance(v, exp.Expression) else v for v in value])
    kind = type(node)
    if kind in _COMMUTATIVE:
        operands = sorted(_flatten(node, kind), key=lambda n: n.sql(dialect=DIALECT))
        rebuilt = operands[0]
        for operand in operands[1:]:
            rebuilt = kind(this=rebuilt, expression=operand)
        return rebuilt
    return node


def canonical_sql(text: str) -> str:
    """The canonical SQL of one expression; the stripped text itself if it does not parse."""
    try:
        tree = sqlglot.parse_one(text, dialect=DIALECT)
    except SqlglotError:
        return " ".join(text.split())
    return _canonical(tree).sql(dialect=DIALECT)


def fingerprint(view: str, expression: str) -> str:
    """What a duplicate shares: the view and the canonical expression (SHA-256 hex)."""
    return hashlib.sha256(f"{view.lower()}|{canonical_sql(expression)}".encode()).hexdigest()


def canonical_filters(filters: Sequence[str]) -> list[str]:
    return sorted(canonical_sql(f) for f in filters)
