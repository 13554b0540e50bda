"""Alembic environment: runs on the connection handed over by ``lake.catalog.migrate``.

The catalog database holds the tables of every package, and this history
migrates all of them, so autogenerate (``alembic check``, ``alembic revision
--autogenerate``) compares against every package's models:
:func:`catalog_metadata` is the one place that sees them all (``lake`` itself
imports none of these packages). Applying migrations needs no models, so
``lake.catalog.migrate`` says ``upgrade_only`` and a command that opens the
catalog does not import every package.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData, create_engine

from lake.catalog.models import Base

#: Full-text structures of ``lake.search`` that only the database describes:
#: SQLite's FTS5 tables, their shadow tables and content view (``search_fts*``,
#: ``search_names*``), PostgreSQL's
#: generated tsvector columns, their GIN indexes and the narrow copy of the name
#: vectors (``search_names_pg``). Autogenerate leaves them alone.
SEARCH_ENGINE_OBJECTS = frozenset({"tsv", "tsv_name", "ix_search_tsv", "ix_search_tsv_name", "ix_search_names_pg_tsv"})


def catalog_metadata() -> MetaData:
    """The tables of every package that keeps its rows in the catalog."""
    from access import models as access_models
    from access.subscribers import models as subscriber_models
    from lake.notify import models as notify_models
    from metrics_catalog import models as metric_models
    from ui import models as ui_models
    from views import models as view_models

    _ = (access_models, subscriber_models, notify_models, metric_models, ui_models, view_models)  # their tables join Base.metadata
    return Base.metadata


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Whether autogenerate compares a reflected object (every one but the search engine's own)."""
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith(("search_fts", "search_names"))
    return name not in SEARCH_ENGINE_OBJECTS


config = context.config
connection = config.attributes.get("connection")
target = Base.metadata if config.attributes.get("upgrade_only") else catalog_metadata()

if connection is None:  # plain `alembic` command line: use the configured URL
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target, render_as_batch=True, include_name=include_name)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=target, render_as_batch=True, include_name=include_name)
    with context.begin_transaction():
        context.run_migrations()
