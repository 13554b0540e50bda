"""Column types shared by the catalog tables of every package.

:class:`AwareDateTime` is the type of every datetime column: values are stored
in UTC and always come back timezone-aware in UTC, on SQLite (which keeps no
zone) as on PostgreSQL (``timestamp with time zone``, handed back in the
session's zone). Code that reads a row never attaches or converts a zone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class AwareDateTime(TypeDecorator[dt.datetime]):
    """A ``DateTime(timezone=True)`` column that stores UTC and returns aware UTC values.

    A value without a zone is taken to be UTC (as the catalog has always stored
    it); one with a zone is converted to UTC before it is written, so SQLite's
    text columns compare in time order.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"a datetime column takes a datetime, not {type(value).__name__}")
        utc = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        # SQLite keeps the wall clock only: write the UTC wall clock.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        stored: dt.datetime = value  # the impl's own result processing made it a datetime
        return stored.replace(tzinfo=dt.UTC) if stored.tzinfo is None else stored.astimezone(dt.UTC)

    @property
    def python_type(self) -> type[dt.datetime]:
        return dt.datetime
