"""Fixtures of the demo tests."""

from __future__ import annotations

import pytest

from access import AccessControl
from lake.service import Lake


@pytest.fixture
def ac(lake: Lake) -> AccessControl:
    """An AccessControl on the core's ``lake`` fixture (SQLite)."""
    return AccessControl(lake)
