"""Alembic environment: runs on the connection handed over by ``lake.catalog.migrate``.

The catalog database holds the tables of every package, and this history
migrates all of them, so autogenerate compares against every package's
models: the imports below are the one place that sees them all (``lake``
itself imports none of these packages).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import access.models
import access.subscribers.models
import metrics_catalog.models
import ui.models
import views.models
from lake.catalog.models import Base

#: The model modules whose tables live in the catalog, besides ``lake.catalog.models``.
PACKAGE_MODELS = (access.models, access.subscribers.models, metrics_catalog.models, ui.models, views.models)

#: Full-text structures of ``lake.search`` that only the database describes:
#: SQLite's FTS5 table and its shadow tables, PostgreSQL's generated tsvector
#: columns and their GIN indexes. Autogenerate leaves them alone.
SEARCH_ENGINE_OBJECTS = frozenset({"tsv", "tsv_name", "ix_search_tsv", "ix_search_tsv_name"})


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Whether autogenerate compares a reflected object (every one but the search engine's own)."""
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith("search_fts")
    return name not in SEARCH_ENGINE_OBJECTS


config = context.config
connection = config.attributes.get("connection")

if connection is None:  # plain `alembic` command line: use the configured URL
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True,
                          include_name=include_name)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                      include_name=include_name)
    with context.begin_transaction():
        context.run_migrations()
