"""The catalog database: ORM tables, engine, migrations and catalog operations."""

from lake.catalog.database import Catalog, make_engine, migrate

__all__ = ["Catalog", "make_engine", "migrate"]
