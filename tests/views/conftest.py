"""Fixtures for the view tests: a lake with the demo datasets registered (no
rows), SQL cases read from ``fixtures/*.sql``, and a ``make_view`` factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lake.service import Lake
from lake.settings import Settings
from views.definition import ViewDefinition
from views.registry import PlanItem, create_version

from view_cases import register_demo


@pytest.fixture
def demo_lake(settings: Settings) -> Iterator[Lake]:
    """A lake with the five demo datasets registered (empty tables)."""
    lk = Lake(settings)
    register_demo(lk)
    yield lk
    lk.close()


@pytest.fixture
def make_view(demo_lake: Lake) -> Callable[..., PlanItem]:
    """Create a version of a view from SQL (no Spark check)."""

    def make(name: str, sql: str, *, actor: str = "alice", major: bool = False, **meta: Any) -> PlanItem:
        doc = {"view": name, "sql": sql, **meta}
        return create_version(demo_lake, ViewDefinition.from_mapping(doc), actor=actor, major=major,
                              spark_check=False)

    return make
