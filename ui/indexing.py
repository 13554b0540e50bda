"""Views and metrics in the search index.

The lake core indexes datasets and their columns as they are registered or
evolved. The views and metrics packages do not feed the index themselves, so
the UI keeps their documents current: before a search it compares a cheap
fingerprint of the view and metric tables (row counts and newest changes)
with the one it indexed last, and re-indexes both kinds when it moved.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text

from lake.search import SearchDocument, SearchIndex
from lake.service import Lake

if TYPE_CHECKING:
    from metrics_catalog import MetricCatalog, MetricInfo
    from views import ViewInfo

log = logging.getLogger("lakegate.ui")

VIEW_KIND = "view"
METRIC_KIND = "metric"


def view_documents(infos: Iterable[ViewInfo]) -> list[SearchDocument]:
    """The current version of each view as a search document (its columns in the body)."""
    from views.search import view_document

    return [view_document(v.name, v) for v in infos]


def metric_documents(infos: Iterable[MetricInfo]) -> list[SearchDocument]:
    """Each metric's current revision as a search document; certified when a certified revision is served."""
    docs = []
    for m in infos:
        d = m.definition
        body = " ".join(filter(None, [d.description, d.expression, d.view, d.unit, " ".join(d.dimensions)]))
        docs.append(SearchDocument(kind=METRIC_KIND, key=m.name, domain=m.domain, title=m.name, body=body,
                                   tags=(m.status.value,), owner=m.owner, certified=m.certified))
    return docs


def _fingerprint(lake: Lake) -> tuple[Any, ...]:
    from metrics_catalog.models import MetricRow
    from views.models import View, ViewVersion

    with lake.catalog.session() as s:
        views = s.execute(select(func.count(ViewVersion.id), func.max(ViewVersion.id),
                                 func.max(ViewVersion.deprecated_at))).one()
        current = s.execute(select(func.count(View.id), func.sum(View.current_version))).one()
        metrics = s.execute(select(func.count(MetricRow.id), func.max(MetricRow.updated_at),
                                   func.sum(MetricRow.lock_version))).one()
    return (*views, *current, *metrics)


class CatalogSync:
    """Re-indexes views and metrics when their tables changed since the last look."""

    def __init__(self, lake: Lake, metrics: MetricCatalog | None = None) -> None:
        self.lake = lake
        self.metrics = metrics
        self.index = SearchIndex(lake.catalog)
        self._seen: tuple[Any, ...] | None = None
        self._lock = threading.Lock()

    def ensure(self) -> bool:
        """Bring view and metric documents up to date; whether anything was re-indexed."""
        mark = _fingerprint(self.lake)
        if mark == self._seen:
            return False
        with self._lock:
            if mark == self._seen:
                return False
            self.reindex()
            self._seen = mark
        return True

    def reindex(self) -> int:
        """Replace every view and metric document; the number written."""
        from views import list_views

        docs = view_documents(list_views(self.lake))
        if self.metrics is not None:
            docs += metric_documents(self.metrics.workflow.list())
        with self.lake.catalog.session() as s:
            s.execute(text("DELETE FROM search_documents WHERE kind IN ('view', 'metric')"))
            self.index.upsert(docs, session=s)
        log.debug("re-indexed %d view and metric documents", len(docs))
        return len(docs)
