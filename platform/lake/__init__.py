"""The lake core: settings, errors, catalog database, object storage, Delta
tables, data contracts, ingestion, PII encryption and the Spark engine."""

from lake.errors import LakegateError
from lake.settings import Settings, get_settings

__all__ = ["LakegateError", "Settings", "get_settings"]
