"""Parse a view's SQL and accept only one SELECT (or WITH ... SELECT)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError, TokenError

from lake.sqlsyntax import syntax_problem
from views.analysis.census import FORBIDDEN, Census
from views.analysis.context import Context


def _statement_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    return type(node).__name__.upper()


@dataclass(frozen=True)
class Parsed:
    """A view's SQL parsed once: its statements, or the error sqlglot raised.

    Planning reads the tables of every definition to order them, then analyzes
    each; both use the same parse and the same :class:`Census` of it (analysis
    changes the trees, so it comes last).
    """

    statements: list[exp.Expr | None] = field(default_factory=list)
    error: SqlglotError | None = None

    @cached_property
    def census(self) -> Census | None:
        """One walk of the single statement (None if there is an error, none or several)."""
        found = [s for s in self.statements if s is not None]
        return Census.of(found[0]) if self.error is None and len(found) == 1 else None

    @classmethod
    def of(cls, sql: str) -> Parsed:
        try:
            return cls(sqlglot.parse(sql, read="spark"))
        except SqlglotError as exc:
            return cls(error=exc)


def parse_query(ctx: Context, parsed: Parsed | None = None) -> exp.Query:
    """The SQL's single query.

    Args:
        ctx: The view being analyzed (its SQL, for positions in errors).
        parsed: ``ctx.sql`` already parsed (by :meth:`Parsed.of`); parsed here otherwise.

    Raises:
        ViewCompileError: A syntax error (kind ``syntax``), no statement or several,
            or anything but a query (kind ``statement``), with line and column.
    """
    parsed = parsed if parsed is not None else Parsed.of(ctx.sql)
    try:
        if parsed.error is not None:
            raise parsed.error
        statements = parsed.statements
    except ParseError as exc:
        problem = syntax_problem(exc)
        if problem.line is not None and problem.col is not None:
            ctx.fail(problem.reason, kind="syntax", at=(problem.line, problem.col))
        ctx.fail(str(exc), kind="syntax")
    except TokenError as exc:
        ctx.fail(f"cannot read the SQL: {exc}", kind="syntax")
    found = [s for s in statements if s is not None]
    if not found:
        ctx.fail("the SQL has no statement; a view is one SELECT", kind="statement")
    if len(found) > 1:
        ctx.fail(f"a view is one SELECT statement, but the SQL has {len(found)} statements", kind="statement",
                 node=found[1])
    root = found[0]
    if not isinstance(root, exp.Query) or isinstance(root, exp.Subquery):
        start = len(ctx.sql) - len(ctx.sql.lstrip())
        line, column = ctx.line_col(start)
        ctx.fail(f"a view is one SELECT (or WITH ... SELECT), not {_statement_name(root)}", kind="statement",
                 at=(line - ctx.sql_line + 1, column))
    census = parsed.census
    if census is None or census.forbidden:
        for node in root.walk():
            if isinstance(node, FORBIDDEN):
                ctx.fail(f"{_statement_name(node)} is not allowed in a view; a view only reads", kind="statement",
                         node=node)
    return root
