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
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from lake.contracts import NAME_RE
from views.analysis.context import Context
from views.analysis.grain import grain as grain_of
from views.analysis.lineage import column_facts
from views.analysis.references import Inputs, resolve_tables
from views.analysis.statement import Parsed, parse_query
from views.columns import Dependency, Grain, ViewColumn
from views.definition import ViewDefinition
from views.errors import InvalidViewDefinition
from views.names import ref_of_table
from views.sources import Snapshot

__all__ = ["Analysis", "Parsed", "analyze"]


@dataclass(frozen=True)
class Analysis:
    """What sqlglot tells of one definition."""

    view: str
    columns: tuple[ViewColumn, ...]
    dependencies: tuple[Dependency, ...]
    compiled_sql: str
    grain: Grain
    inputs: Inputs

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


def analyze(definition: ViewDefinition, snapshot: Snapshot, *, version: int | None = None,
            parsed: Parsed | None = None) -> Analysis:
    """Analyze a definition against the catalog.

    Args:
        definition: The view's name, SQL and docs.
        snapshot: Datasets and views to resolve names against.
        version: The version being created, for error messages.
        parsed: ``definition.sql`` already parsed (:meth:`Parsed.of`); its trees are
            changed by the analysis. Parsed here when not given.

    Returns:
        The output columns (types, lineage, PII), dependencies, grain and compiled SQL.

    Raises:
        ViewCompileError: The SQL is refused (syntax, statement kind, unknown
            table or column, PII misuse, a view reading itself), with line and column.
        InvalidViewDefinition: Column docs name columns the view does not output.
    """
    ctx = Context(definition.name, definition.sql, definition.file, definition.sql_line, version)
    root = parse_query(ctx, parsed)
    _check_projection_names(ctx, root)
    inputs = resolve_tables(ctx, root, snapshot)
    try:
        schema = _schema(inputs)
        root = qualify(root, schema=schema, dialect="spark", validate_qualify_columns=False,
                       quote_identifiers=True, identify=True, sql=definition.sql)
    except OptimizeError as exc:
        _unknown_qualified_column(ctx, root, inputs, str(exc))
        ctx.fail_from_message(str(exc), kind="unknown_column", root=root)
    facts = column_facts(ctx, root, inputs)
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
    grain = grain_of(root)
    return Analysis(
        view=definition.name,
        columns=columns,
        dependencies=dependencies,
        # The tree is not used after this: the generator may change it instead of a copy.
        compiled_sql=root.sql(dialect="spark", pretty=True, copy=False),
        grain=grain,
        inputs=inputs,
    )
