"""The domain objects the pages call: getters of the app's one set of services.

The UI is an interface over the same objects the API uses, all built once by
the composition root (:func:`api.services.build_services`) in the app's
lifespan: the lake, the access layer's :class:`~access.AccessControl`, the
query gateway, the metric catalog, search, sessions and the view and metric
indexer. Each getter below only hands one out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from lake.search import SearchIndex
from lake.service import Lake
from ui.sessions import SessionStore

if TYPE_CHECKING:
    from access import AccessControl
    from access.gateway import Admission, Gateway
    from access.saved import SavedQueries
    from access.subscribers import Subscribers
    from api.services import Services
    from lake.notify import Notifier
    from metrics_catalog import MetricCatalog
    from ui.indexing import CatalogSync
    from ui.samples import SampleCache


def services_of(request: Request) -> Services:
    """The services the app's lifespan built."""
    from api.deps import services_of as of_app

    return of_app(request.app)


def lake_of(request: Request) -> Lake:
    """The lake the app opened in its lifespan."""
    return services_of(request).lake


def sessions(request: Request) -> SessionStore:
    return services_of(request).ui_sessions


def search_index(request: Request) -> SearchIndex:
    return services_of(request).search


def access(request: Request) -> AccessControl:
    return services_of(request).access


def notifier(request: Request) -> Notifier:
    """The app's one notifier: inboxes, preferences, channels, outbox."""
    return services_of(request).notifier


def gateway(request: Request) -> Gateway:
    return services_of(request).gateway


def admission(request: Request) -> Admission:
    """The app's admission control of gateway queries (made by ``api.app.create_app``)."""
    value: Admission = request.app.state.admission
    return value


def metrics(request: Request) -> MetricCatalog:
    """The app's metric catalog, deciding with the app's access control."""
    return services_of(request).metrics


def catalog_sync(request: Request) -> CatalogSync:
    """The app's view and metric indexer (see :mod:`ui.indexing`)."""
    return services_of(request).catalog_sync


def samples(request: Request) -> SampleCache:
    """The app's cache of dataset sample rows (see :mod:`ui.samples`)."""
    return services_of(request).samples


def subscribers(request: Request) -> Subscribers:
    """The app's engine subscribers (Redshift, EMR, SageMaker) on its access control."""
    return services_of(request).subscribers


def saved_queries(request: Request) -> SavedQueries:
    """The app's saved workspace queries."""
    return services_of(request).saved_queries
