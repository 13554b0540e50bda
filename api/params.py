"""Bounded types of path and query parameters.

Ids, versions and sequence numbers are stored in the catalog as signed 64-bit
integers (SQLite's INTEGER, PostgreSQL's BIGINT); a larger number in a URL
is refused with 422 instead of overflowing the database driver.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

#: Largest integer the catalog stores.
MAX_INT = 2**63 - 1

#: A row id in a path (``/tokens/{token_id}``).
Id = Annotated[int, Path(ge=1, le=MAX_INT, description="An id: a whole number from 1.")]

#: A version or revision number in a path.
Number = Annotated[int, Path(ge=1, le=MAX_INT, description="A version number, from 1.")]

#: A version, major version or revision number in a query string (``?version=2``).
NumberQuery = Annotated[int, Query(ge=1, le=MAX_INT)]

#: The same, optional (the route says what leaving it out means: usually the current one).
OptionalNumberQuery = Annotated[int | None, Query(ge=1, le=MAX_INT)]
