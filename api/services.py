"""The composition root: every service of a Lakegate process, built once, in one place.

:func:`build_services` is the only place that constructs the services and
wires them together. The server's lifespan calls it once per app
(:func:`api.app.create_app`), each CLI command once per run
(:func:`open_services`), and tests the same way. Route dependencies
(:mod:`api.deps`, :mod:`api.authz`) and the UI's getters (:mod:`ui.services`)
only hand out what it built; no service constructs another behind its
caller's back.

What is built where::

    Settings (lake.settings)      read once: get_settings(), or given to create_app(settings)
      └─ Lake                     catalog (SQLAlchemy), object store, keys, datasets, ingest, users
          └─ AccessControl        one per process: decisions, policy changes, requests, audit
              ├─ Gateway          governed queries   (limits: settings.gateway)
              ├─ Subscribers      engine subscribers (settings.subscribers); its policy sync is
              │                   registered on AccessControl as a change listener here
              └─ MetricCatalog    decides with AccessControl, computes values through Gateway
      Notifier                    one per process (lake.notify): inboxes, preferences, channels and
                                  the outbox (mails with settings.mail); AccessControl (access
                                  requests), MetricCatalog and view refreshes post through it
      RefreshScheduler            the API server's background jobs (api.scheduler): due view
                                  refreshes, expired-grant notices, outbox delivery
      SearchIndex, SessionStore,  over the same lake (the UI's search, sessions, indexer,
      CatalogSync, SavedQueries   saved workspace queries)
      SampleCache                 the UI's dataset sample rows, keyed by data, policy and viewer's access
    Admission                     per app, in create_app (settings.gateway bounds)
    Spark engine                  started on first use by lake.spark.spark_session(settings.engine)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from access import AccessControl
from access.gateway import Gateway
from access.saved import SavedQueries
from access.subscribers import Subscribers
from access.subscribers.policy_sync import policy_changed
from lake.catalog import Catalog
from lake.notify import Notifier
from lake.search import SearchIndex
from lake.service import Lake
from lake.settings import Settings, get_settings
from lake.storage import ObjectStore
from metrics_catalog import MetricCatalog
from ui.indexing import CatalogSync
from ui.samples import SampleCache
from ui.sessions import SessionStore


@dataclass(frozen=True)
class Services:
    """The services of one process (an app, or one CLI command), built by :func:`build_services`.

    Attributes:
        settings: The settings tree everything was built from.
        lake: The open lake (catalog, store, keys, datasets, ingestion, users).
        access: The one access layer: every decision, policy change and audit entry.
        gateway: The governed query gateway over ``access``.
        subscribers: Engine subscribers over ``access``.
        metrics: The metric catalog, deciding with ``access``, computing values through ``gateway``.
        notifier: The one notification service (inboxes, preferences, channels, outbox).
        search: Catalog search.
        ui_sessions: Web UI sessions.
        catalog_sync: Keeps the search documents of views and metrics current (UI).
        samples: Sample rows of datasets shown on the UI's dataset pages (:mod:`ui.samples`).
        saved_queries: Saved gateway queries (the SQL workspace and ``/api/v1/queries/saved``).
    """

    settings: Settings
    lake: Lake
    access: AccessControl
    gateway: Gateway
    subscribers: Subscribers
    metrics: MetricCatalog
    notifier: Notifier
    search: SearchIndex
    ui_sessions: SessionStore
    catalog_sync: CatalogSync
    samples: SampleCache
    saved_queries: SavedQueries
    owns_lake: bool = True

    @property
    def catalog(self) -> Catalog:
        """The catalog database."""
        return self.lake.catalog

    @property
    def store(self) -> ObjectStore:
        """The object store of the lake."""
        return self.lake.store

    def close(self) -> None:
        """Close the lake, unless the caller that gave it keeps it."""
        if self.owns_lake:
            self.lake.close()


def build_services(settings: Settings | None = None, *, lake: Lake | None = None,
                   deliver_now: bool = False) -> Services:
    """Build and wire every service of one process.

    Args:
        settings: The settings tree (``get_settings()`` by default); ignored when
            ``lake`` is given (its settings are used).
        lake: An open lake to build on; the caller keeps it (``close()`` leaves
            it open). By default one is opened (running catalog migrations).
        deliver_now: Send notifications right after each action that posts some
            (the CLI); otherwise the caller delivers the outbox (the API does so
            after answering, and its scheduler retries).

    Returns:
        The services, each built exactly once.
    """
    owns_lake = lake is None
    if lake is None:
        lake = Lake(settings or get_settings())
    try:
        settings = lake.settings
        notifier = Notifier(lake.catalog, settings.mail, deliver_now=deliver_now)
        access = AccessControl(lake, notifier=notifier)
        gateway = Gateway(lake, access, limits=settings.gateway)
        # Exports read the newest version of each table: no catalog cache.
        exports = Gateway(lake, access, limits=settings.gateway.model_copy(update={"catalog_cache_seconds": 0}))
        subscribers = Subscribers(access, settings=settings.subscribers, gateway=exports)
        # Role policies follow every policy change this process commits.
        access.add_change_listener(policy_changed)
        metrics = MetricCatalog(lake, access=access, gateway=gateway, notifier=notifier)
        return Services(settings=settings, lake=lake, access=access, gateway=gateway, subscribers=subscribers,
                        metrics=metrics, notifier=notifier, search=SearchIndex(lake.catalog), ui_sessions=SessionStore(lake),
                        catalog_sync=CatalogSync(lake, metrics), saved_queries=SavedQueries(lake.catalog),
                        samples=SampleCache(), owns_lake=owns_lake)
    except BaseException:
        if owns_lake:
            lake.close()
        raise


@contextlib.contextmanager
def open_services(settings: Settings | None = None, *, deliver_now: bool = True) -> Iterator[Services]:
    """The services of one CLI command, closed afterwards.

    Args:
        settings: The settings tree (``get_settings()`` by default).
        deliver_now: Send notifications right after each action that posts some.
    """
    services = build_services(settings, deliver_now=deliver_now)
    try:
        yield services
    finally:
        services.close()
