"""Timestamps in API bodies: always timezone-aware, in UTC.

The catalog stores UTC; SQLite hands its timestamps back without a zone.
:data:`UtcDateTime` is the type of every datetime field of a public schema:
a value without a zone is read as UTC, one with a zone is converted, so every
answer carries an offset (``2026-12-07T01:46:15Z``) as the OpenAPI
``date-time`` format promises.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator


def as_utc(value: dt.datetime) -> dt.datetime:
    """``value`` in UTC; a naive value is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


UtcDateTime = Annotated[dt.datetime, AfterValidator(as_utc)]
