"""The domain objects the pages call, one set per app.

The UI is an interface over the same objects the API uses: the lake, the
access layer's :class:`~access.AccessControl` (shared with the API through
``app.state.access``), the query gateway (``app.state.gateway``) and the
metric catalog (``app.state.metrics``). Each is made on first use, for the
app's current lake.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.requests import Request

from lake.errors import ConfigError
from lake.search import SearchIndex
from lake.service import Lake
from ui.sessions import SessionPolicy, SessionStore

if TYPE_CHECKING:
    from access import AccessControl
    from access.gateway import Admission, Gateway
    from metrics_catalog import MetricCatalog
    from ui.indexing import CatalogSync

T = TypeVar("T")
_lock = threading.RLock()


def lake_of(request: Request) -> Lake:
    """The lake the app opened in its lifespan."""
    lake: Lake | None = getattr(request.app.state, "lake", None)
    if lake is None:
        raise ConfigError("the lake is not open (the app's lifespan did not run)")
    return lake


def _shared(request: Request, attr: str, kind: type[T], make: Any) -> T:
    """``app.state.<attr>`` if it is a ``kind`` over this app's lake, else a new one stored there."""
    lake = lake_of(request)
    state = request.app.state
    value = getattr(state, attr, None)
    if isinstance(value, kind) and getattr(value, "lake", None) is lake:
        return value
    with _lock:
        value = getattr(state, attr, None)
        if not (isinstance(value, kind) and getattr(value, "lake", None) is lake):
            value = make(lake)
            setattr(state, attr, value)
    return value


def sessions(request: Request) -> SessionStore:
    """The session store of the app's lake (limits from ``app.state.ui_session_policy`` if set)."""
    policy = getattr(request.app.state, "ui_session_policy", None)
    store = _shared(request, "ui_sessions", SessionStore,
                    lambda lake: SessionStore(lake, policy if isinstance(policy, SessionPolicy) else None))
    return store


def search_index(request: Request) -> SearchIndex:
    lake = lake_of(request)
    index: SearchIndex | None = getattr(request.app.state, "ui_search", None)
    if index is None or index.catalog is not lake.catalog:
        index = SearchIndex(lake.catalog)
        request.app.state.ui_search = index
    return index


def access(request: Request) -> AccessControl:
    from access import AccessControl

    return _shared(request, "access", AccessControl, AccessControl)


def gateway(request: Request) -> Gateway:
    from access.gateway import Gateway

    control = access(request)
    return _shared(request, "gateway", Gateway, lambda lake: Gateway(lake, control))


def admission(request: Request) -> Admission:
    """The app's admission control of gateway queries (made by ``api.app.create_app``)."""
    value: Admission = request.app.state.admission
    return value


def metrics(request: Request) -> MetricCatalog:
    """The metric catalog (``app.state.metric_catalog``, as the API makes it), deciding with the shared access control."""
    from metrics_catalog import MetricCatalog

    control = access(request)
    return _shared(request, "metric_catalog", MetricCatalog,
                   lambda lake: MetricCatalog(lake, access=control, deliver=False))


def catalog_sync(request: Request) -> CatalogSync:
    """The app's view and metric indexer (see :mod:`ui.indexing`)."""
    from ui.indexing import CatalogSync

    catalog = metrics(request)
    return _shared(request, "ui_catalog_sync", CatalogSync, lambda lake: CatalogSync(lake, catalog))
