"""Analysis of a view's SQL with sqlglot, without running anything.

:func:`analyze` parses the SQL (Spark dialect), accepts only one SELECT,
resolves every table and column against the catalog snapshot, and derives the
output schema, the dependencies, column-level lineage with PII, the grain and
the compiled SQL (qualified, stars expanded). Every refusal is a
:class:`~views.errors.ViewCompileError` with line and column.
"""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope
from sqlglot.schema import MappingSchema

from lake.contracts import NAME_RE
from views.analysis.census import Census
from views.analysis.context import Context
from views.analysis.grain import grain as grain_of
from views.analysis.grain import resolved_grain
from views.analysis.lineage import Facts, column_facts
from views.analysis.references import Inputs, resolve_tables, rewrite_tables
from views.analysis.resolution import Unsupported, resolve
from views.analysis.statement import Parsed, parse_query
from views.columns import Dependency, Grain, ViewColumn
from views.deferred import Deferred
from views.definition import ViewDefinition
from views.errors import InvalidViewDefinition, ViewCompileError
from views.names import ref_of_table
from views.sources import Snapshot

__all__ = ["Analysis", "Parsed", "analyze"]


@dataclass(frozen=True)
class Analysis:
    """What sqlglot tells of one definition."""

    view: str
    columns: tuple[ViewColumn, ...]
    dependencies: tuple[Dependency, ...]
    grain: Grain
    inputs: Inputs
    compiled: Deferred  # the compiled SQL, written when first read (:mod:`views.deferred`)

    @property
    def compiled_sql(self) -> str:
        """Spark SQL over ``domain.name`` references: qualified, stars expanded, pretty printed."""
        return self.compiled.get()

    def column(self, name: str) -> ViewColumn | None:
        for col in self.columns:
            if col.name == name:
                return col
        return None


#: sqlglot schemas kept by their content (building one normalizes every name), and how often
#: one is reused before it is built again (its lookup caches grow with the queries it serves).
SCHEMAS_MAX = 512
SCHEMA_USES = 1000


@dataclass
class _Kept:
    schema: MappingSchema
    uses: int = 1


_schemas: dict[tuple[object, ...], _Kept] = {}
_schemas_lock = threading.Lock()


def _schema(inputs: Inputs) -> MappingSchema:
    """The sqlglot schema of a view's inputs, shared by every view reading the same
    inputs with the same columns (the catalog's fingerprint of them: names, versions,
    column names and types)."""
    mapping = inputs.schema()
    key = tuple((domain, table, tuple(columns.items()))
                for domain, tables in mapping.items() for table, columns in tables.items())
    kept = _schemas.get(key)
    if kept is not None and kept.uses < SCHEMA_USES:
        kept.uses += 1
        return kept.schema
    schema = MappingSchema(dict(mapping), dialect="spark")
    with _schemas_lock:
        if len(_schemas) >= SCHEMAS_MAX:
            _schemas.clear()
        _schemas[key] = _Kept(schema)
    return schema


def _check_projection_names(ctx: Context, root: exp.Query) -> None:
    """Every computed output column needs a name (Spark and sqlglot would invent different ones)."""
    for projection in root.selects:
        if isinstance(projection, (exp.Alias, exp.Column, exp.Star)):
            continue
        ctx.fail(f"give the expression {projection.sql(dialect='spark')!r} a column name (... AS name)",
                 kind="alias", node=projection)


def _unknown_qualified_column(ctx: Context, root: exp.Query, inputs: Inputs, message: str) -> None:
    """Refuse ``alias.column`` where the aliased table has no such column, with suggestions."""
    m = re.match(r"Unknown column: (\S+)", message)
    if not m:
        return
    for column in root.find_all(exp.Column):
        if column.name != m.group(1) or not column.table:
            continue
        for table in root.find_all(exp.Table):
            if table.alias_or_name != column.table:
                continue
            ref = ref_of_table(table)
            source = inputs.sources.get(ref) if ref else None
            if source is None:
                continue
            close = difflib.get_close_matches(column.name, [c.name for c in source.columns], n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            ctx.fail(f"{source.name} has no column {column.name!r}{hint}", kind="unknown_column", node=column)


def _qualify(ctx: Context, root: exp.Query, inputs: Inputs, sql: str) -> exp.Query:
    """``root`` qualified by sqlglot (in place): tables and columns resolved, stars expanded, names quoted."""
    try:
        return qualify(root, schema=_schema(inputs), dialect="spark", validate_qualify_columns=False,
                       quote_identifiers=True, identify=True, sql=sql)
    except OptimizeError as exc:
        _unknown_qualified_column(ctx, root, inputs, str(exc))
        ctx.fail_from_message(str(exc), kind="unknown_column", root=root)


def _analysis(definition: ViewDefinition, ctx: Context, root: exp.Query, inputs: Inputs,
              facts: list[tuple[str, Facts]], grain: Callable[[], Grain], compiled: Deferred) -> Analysis:
    names = [name for name, _ in facts]
    for name in names:
        if not NAME_RE.fullmatch(name):
            ctx.fail(f"output column {name!r} must be lower case letters, digits and '_', starting with a letter",
                     kind="alias", node=root.selects[names.index(name)])
        if names.count(name) > 1:
            ctx.fail(f"output column {name!r} appears more than once; give each column its own name",
                     kind="alias", node=root.selects[len(names) - 1 - names[::-1].index(name)])
    documented = dict(definition.column_docs)
    unknown_docs = sorted(set(documented) - set(names))
    if unknown_docs:
        raise InvalidViewDefinition(f"columns {unknown_docs} are documented but the view does not output them; "
                                    f"it outputs {names}", where=definition.file or definition.name)
    columns = tuple(
        ViewColumn(
            name=name,
            sql_type=f.sql_type if f.sql_type != "void" else None,
            pii=f.pii,
            encrypted_with=f.encrypted_with,
            sources=tuple(sorted(f.sources)),
            origins=tuple(sorted(f.origins)),
            transformation=f.transformation,
            description=documented.get(name, ""),
        )
        for name, f in facts
    )
    dependencies = tuple(source.dependency() for source in inputs.sources.values())
    return Analysis(view=definition.name, columns=columns, dependencies=dependencies, grain=grain(),
                    inputs=Inputs(inputs.sources), compiled=compiled)


def _resolved(definition: ViewDefinition, ctx: Context, root: exp.Query, inputs: Inputs,
              census: Census) -> Analysis:
    """The analysis of a query resolved directly; its tree is only qualified when its SQL is read.

    Raises:
        Unsupported: The query needs sqlglot's qualify.
    """
    resolution = resolve(root, census, inputs, definition.sql)
    facts = column_facts(ctx, resolution.scopes, inputs, resolution)
    # The compiled SQL is written from the SQL, parsed again, when first read: the analysis keeps
    # no tree, so a plan's trees die young (hundreds of them kept alive would get Python's
    # collector to scan the whole heap during the plan).
    return _analysis(definition, ctx, root, inputs, facts, lambda: resolved_grain(root, resolution),
                     Deferred(partial(_qualified_sql, ctx, Inputs(inputs.sources))))


def _qualified_sql(ctx: Context, inputs: Inputs) -> str:
    """The compiled SQL of a query the analysis resolved directly, parsed again from its SQL."""
    parsed = Parsed.of(ctx.sql)
    root = parse_query(ctx, parsed)
    assert parsed.census is not None
    rewrite_tables(parsed.census)
    return _qualify(ctx, root, inputs, ctx.sql).sql(dialect="spark", pretty=True, copy=False)


def _qualified(definition: ViewDefinition, ctx: Context, root: exp.Query, inputs: Inputs) -> Analysis:
    """The analysis of a query sqlglot's qualify rewrote (any query)."""
    root = _qualify(ctx, root, inputs, definition.sql)
    facts = column_facts(ctx, traverse_scope(root), inputs)
    # The tree is not used after this: the generator may change it instead of a copy.
    return _analysis(definition, ctx, root, inputs, facts, lambda: grain_of(root),
                     Deferred(lambda: root.sql(dialect="spark", pretty=True, copy=False)))


def analyze(definition: ViewDefinition, snapshot: Snapshot, *, version: int | None = None,
            parsed: Parsed | None = None) -> Analysis:
    """Analyze a definition against the catalog.

    Columns are resolved directly where the query allows it
    (:mod:`views.analysis.resolution`), by sqlglot's qualify otherwise; both
    give the same analysis, and every refusal comes from the second. The
    compiled SQL is written when first read.

    Args:
        definition: The view's name, SQL and docs.
        snapshot: Datasets and views to resolve names against.
        version: The version being created, for error messages.
        parsed: ``definition.sql`` already parsed (:meth:`Parsed.of`); the analysis keeps
            and changes its trees. Parsed here when not given.

    Returns:
        The output columns (types, lineage, PII), dependencies, grain and compiled SQL.

    Raises:
        ViewCompileError: The SQL is refused (syntax, statement kind, unknown
            table or column, PII misuse, a view reading itself), with line and column.
        InvalidViewDefinition: Column docs name columns the view does not output.
    """
    ctx = Context(definition.name, definition.sql, definition.file, definition.sql_line, version)
    parsed = parsed if parsed is not None else Parsed.of(definition.sql)
    root = parse_query(ctx, parsed)
    census = parsed.census
    assert census is not None  # parse_query accepted exactly one statement
    _check_projection_names(ctx, root)
    inputs = resolve_tables(ctx, root, snapshot, census)
    try:
        return _resolved(definition, ctx, root, inputs, census)
    except (Unsupported, ViewCompileError, InvalidViewDefinition):
        pass  # qualify decides, and says what is wrong
    return _qualified(definition, ctx, root, inputs)
