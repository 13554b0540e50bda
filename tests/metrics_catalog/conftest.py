"""Fixtures of the metric catalog tests; the factories are in ``metric_factories``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lake.service import Lake
from metrics_catalog import MetricCatalog

from metric_factories import metric_doc, open_catalog, setup_playback


@pytest.fixture
def metrics(lake: Lake) -> MetricCatalog:
    """A metric catalog over playback.events (no rows) with the two-stage chain."""
    setup_playback(lake)
    return open_catalog(lake)


@pytest.fixture
def make_metric(metrics: MetricCatalog) -> Callable[..., Any]:
    def make(name: str = "playback.watch_per_viewer", *, actor: str = "mia", propose: bool = False,
             review: bool = False, **overrides: Any) -> Any:
        info = metrics.workflow.create(metric_doc(name, **overrides), actor=actor)
        if propose or review:
            info = metrics.workflow.propose(name, actor=actor)
        if review:
            info = metrics.workflow.start_review(name, actor="admin")
        return info

    return make


@pytest.fixture
def any_metrics(any_lake: Lake) -> Iterator[MetricCatalog]:
    """The same catalog on SQLite and on PostgreSQL."""
    setup_playback(any_lake)
    return open_catalog(any_lake)
