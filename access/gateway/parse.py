"""Parse a subscriber's SQL and refuse everything but one read query.

The gateway accepts exactly one ``SELECT`` (with ``WITH``, subqueries, joins
and set operations) in the Spark dialect. Refused, with the reason and, when
sqlglot knows it, the line and column:

- anything that is not a query: DDL, DML, ``SET``, ``CACHE``, ``ADD JAR``,
  ``EXPLAIN``, ``SHOW``, ``DESCRIBE``, ``USE``, ...; several statements;
- script transforms (``SELECT TRANSFORM(...) USING 'script'``), ``SELECT ...
  INTO``, query hints, ``PIVOT``/``UNPIVOT`` (their implicit grouping would
  change with the columns a policy hides), parameter markers (``:name``,
  ``?``) and variable references (``${...}``: Spark substitutes them from its
  configuration and the environment before parsing);
- functions that reach outside the governed tables or into the engine:
  Java reflection, file names and blocks, AES functions, XML parsers, user and
  version probes, functions that raise errors on purpose (see
  :data:`DENIED_FUNCTIONS`).

Table references are not judged here; :mod:`access.gateway.bind` does that.
"""

from __future__ import annotations

import re
from collections import deque

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from access.gateway.errors import QueryRefused
from lake.sqlsyntax import syntax_problem

DIALECT = "spark"

#: Longest SQL text accepted, in characters.
MAX_SQL_CHARS = 100_000

#: Deepest nesting of queries (derived tables, subqueries, CTE bodies) accepted.
#: sqlglot's generator recurses about three frames per level and gives up
#: near 90; the gateway's rewrite adds a level per table.
MAX_QUERY_NESTING = 32

#: Spark functions a gateway query may not call (lower-case names).
DENIED_FUNCTIONS: frozenset[str] = frozenset({
    # Java reflection runs arbitrary static methods in the engine.
    "reflect", "java_method", "try_reflect",
    # File names and offsets of the underlying storage.
    "input_file_name", "input_file_block_start", "input_file_block_length",
    # Table-valued readers and dynamic names.
    "read_files", "identifier",
    # Keys never pass through user SQL; the gateway decrypts where a policy allows.
    "aes_encrypt", "aes_decrypt", "try_aes_decrypt",
    # Errors on purpose are a side channel around row filters.
    "raise_error", "assert_true",
    # The engine's identity and version.
    "current_user", "user", "session_user", "version", "secret",
    # XML parsers (external entities).
    "xpath", "xpath_boolean", "xpath_double", "xpath_float", "xpath_int", "xpath_long",
    "xpath_number", "xpath_short", "xpath_string", "from_xml", "schema_of_xml",
})

_QUERY_TYPES = (exp.Select, exp.SetOperation, exp.Subquery)

_REFUSED_NODES: tuple[tuple[type[exp.Expr], str], ...] = (
    (exp.QueryTransform, "script transforms (TRANSFORM ... USING) are not allowed"),
    (exp.Into, "SELECT ... INTO writes a table; only reads are allowed"),
    (exp.Hint, "query hints are not accepted"),
    (exp.Pivot, "PIVOT and UNPIVOT are not supported; aggregate with CASE WHEN instead"),
    (exp.Placeholder, "parameter markers (:name, ?) are not accepted; write literal values"),
    (exp.Parameter, "parameters and variables are not accepted; write literal values"),
    (exp.SessionParameter, "session variables are not accepted"),
    (exp.Lock, "locking clauses are not accepted"),
    (exp.Command, "only a SELECT query is accepted"),
    (exp.DDL, "only a SELECT query is accepted, not DDL"),
    (exp.DML, "only a SELECT query is accepted, not DML"),
)


def _position(node: exp.Expr) -> tuple[int | None, int | None]:
    for n in node.walk():
        if n.meta.get("line") is not None:
            return n.meta.get("line"), n.meta.get("col")
    return None, None


def function_name(node: exp.Func) -> str:
    """The lower-case name a function call is known by in Spark."""
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def _statement_kind(node: exp.Expr) -> str | None:
    """A name for a statement that is not a query (``DROP``, ``TRUNCATE TABLE``...), if it is one."""
    if isinstance(node, exp.Command):
        return str(node.name).upper() or None
    if isinstance(node, exp.Expr) and not isinstance(node, exp.Condition | exp.Identifier):
        return re.sub(r"(?<!^)(?=[A-Z])", " ", type(node).__name__).upper()
    return None


def parse_query(sql: str) -> exp.Query:
    """Parse ``sql`` as one Spark read query.

    Args:
        sql: The subscriber's SQL text.

    Returns:
        The query's syntax tree (a SELECT, a set operation or a parenthesized query).

    Raises:
        QueryRefused: Empty, too long, not parseable, several statements, not a
            read query, or a refused construct or function.
    """
    if not isinstance(sql, str) or not sql.strip():
        raise QueryRefused("the query is empty; send one SELECT statement")
    if len(sql) > MAX_SQL_CHARS:
        raise QueryRefused(f"the query is longer than {MAX_SQL_CHARS} characters")
    if "${" in sql:
        raise QueryRefused("variable references (${...}) are not accepted")
    try:
        statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    except ParseError as exc:
        problem = syntax_problem(exc)
        raise QueryRefused(f"syntax error: {problem.reason}", line=problem.line, col=problem.col) from None
    except TokenError as exc:
        raise QueryRefused(f"syntax error: {exc}") from None
    except RecursionError:
        raise QueryRefused("the query is nested too deeply") from None
    if not statements:
        raise QueryRefused("the query is empty; send one SELECT statement")
    if len(statements) > 1:
        raise QueryRefused(f"one statement at a time: found {len(statements)}")
    root = statements[0]
    if not isinstance(root, _QUERY_TYPES):
        kind = _statement_kind(root)
        raise QueryRefused("only a SELECT query is accepted" + (f", not {kind}" if kind else ""))
    found, deepest = _nodes_and_nesting(root)
    if deepest > MAX_QUERY_NESTING:
        check_nesting(root)  # raises, naming where the first too-deep SELECT starts
    check_nodes(found)
    return root


def nodes(tree: exp.Expr) -> list[exp.Expr]:
    """Every node of ``tree``, breadth first: the order of ``tree.walk()``, without a generator per node."""
    out: list[exp.Expr] = []
    queue: deque[exp.Expr] = deque((tree,))
    pop, push, add = queue.popleft, queue.append, out.append
    while queue:
        node = pop()
        add(node)
        for value in node.args.values():
            if isinstance(value, list):
                for v in value:
                    if isinstance(v, exp.Expr):
                        push(v)
            elif isinstance(value, exp.Expr):
                push(value)
    return out


def _nodes_and_nesting(tree: exp.Expr) -> tuple[list[exp.Expr], int]:
    """:func:`nodes` of ``tree``, and how many SELECTs deep it nests at most (one walk for both)."""
    out: list[exp.Expr] = []
    queue: deque[tuple[exp.Expr, int]] = deque(((tree, 0),))
    pop, push, add = queue.popleft, queue.append, out.append
    deepest = 0
    while queue:
        node, depth = pop()
        add(node)
        if isinstance(node, exp.Select):
            depth += 1
            if depth > deepest:
                deepest = depth
        for value in node.args.values():
            if isinstance(value, list):
                for v in value:
                    if isinstance(v, exp.Expr):
                        push((v, depth))
            elif isinstance(value, exp.Expr):
                push((value, depth))
    return out, deepest


_FUNCTION = "function"
#: Per node class: the reason it is refused, :data:`_FUNCTION` for a function call, or ``None``.
_verdicts: dict[type[exp.Expr], str | None] = {}


def _verdict(cls: type[exp.Expr]) -> str | None:
    verdict = next((reason for kind, reason in _REFUSED_NODES if issubclass(cls, kind)), None)
    if verdict is None and issubclass(cls, exp.Func):
        verdict = _FUNCTION
    _verdicts[cls] = verdict
    return verdict


def check_nesting(tree: exp.Expr, limit: int = MAX_QUERY_NESTING) -> None:
    """Refuse queries nested more than ``limit`` SELECTs deep (walked without recursion).

    Raises:
        QueryRefused: Naming the limit and where the first too-deep SELECT starts.
    """
    stack: list[tuple[exp.Expr, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, exp.Select):
            depth += 1
            if depth > limit:
                line, col = _position(node)
                raise QueryRefused(f"queries may nest at most {limit} SELECTs deep", line=line, col=col)
        for value in node.args.values():
            for child in value if isinstance(value, list) else (value,):
                if isinstance(child, exp.Expr):
                    stack.append((child, depth))


def check_constructs(tree: exp.Expr, *, key_params: frozenset[str] = frozenset()) -> None:
    """Refuse the constructs and functions no gateway query may hold, anywhere in ``tree``.

    Args:
        tree: A parsed query or expression.
        key_params: Parameter markers the gateway itself bound (its rewritten
            SQL decrypts with ``try_aes_decrypt(col, :key, 'GCM')``); empty for
            anything a person wrote.

    Raises:
        QueryRefused: Naming the first refused construct or function (breadth
            first) and its position.
    """
    check_nodes(nodes(tree), key_params=key_params)


def check_nodes(found: list[exp.Expr], *, key_params: frozenset[str] = frozenset()) -> None:
    """:func:`check_constructs` over nodes already listed by :func:`nodes`."""
    verdicts = _verdicts
    for node in found:
        cls = node.__class__
        verdict = verdicts[cls] if cls in verdicts else _verdict(cls)
        if verdict is None:
            continue
        if isinstance(node, exp.Placeholder) and key_params and str(node.name) in key_params:
            continue
        if verdict is _FUNCTION:
            assert isinstance(node, exp.Func)
            name = function_name(node)
            if name == "try_aes_decrypt" and key_params and _decrypts_with(node, key_params):
                continue
            if name in DENIED_FUNCTIONS or node.key in DENIED_FUNCTIONS:
                line, col = _position(node)
                raise QueryRefused(f"function {name}() is not allowed in gateway queries", line=line, col=col)
            continue
        line, col = _position(node)
        raise QueryRefused(verdict, line=line, col=col)


def _decrypts_with(node: exp.Func, key_params: frozenset[str]) -> bool:
    args = node.expressions
    return len(args) == 3 and isinstance(args[1], exp.Placeholder) and str(args[1].name) in key_params
