"""The :class:`MetricCatalog`: one object the API, the CLI, the UI and the demo call."""

from __future__ import annotations

from typing import Any

from lake.service import Lake
from metrics_catalog.authz import (
    AccessPermissions,
    CorePermissions,
    Permissions,
    access_layer_available,
)
from metrics_catalog.chain_store import ChainStore
from metrics_catalog.comments import Comments
from metrics_catalog.meetings import Meetings
from metrics_catalog.notify import Channels, Dispatcher, Inbox
from metrics_catalog.sources import SourceResolver, default_resolver
from metrics_catalog.values import Values
from metrics_catalog.values.engine import GatewayRunner, QueryRunner, SparkRunner
from metrics_catalog.workflow import Workflow


class MetricCatalog:
    """Metric governance over one lake.

    Attributes:
        chains: Approval chains per domain.
        workflow: Definitions, revisions, proposals and decisions.
        meetings: Review meetings, sessions, minutes, iCalendar.
        comments: Comment threads.
        inbox: In-app notices.
        channels: Webhook and email channels of users.
        outbox: Delivery of the outbox.
        values: Metric values.

    Args:
        lake: The open lake.
        resolver: Finds views (and datasets); views first, then datasets, by default.
        permissions: Who may do what; the access layer's decisions
            (:class:`~metrics_catalog.authz.AccessPermissions`) when it is
            installed, else :class:`~metrics_catalog.authz.CorePermissions`.
        runner: Runs value queries; through the access layer's gateway when it
            is installed, else directly on Spark.
        access: The access layer's ``AccessControl`` to share (one is made when needed).
        deliver: Send the outbox right after each workflow action (otherwise
            ``outbox.deliver()`` or ``lakegate metrics outbox deliver`` does).
    """

    def __init__(self, lake: Lake, *, resolver: SourceResolver | None = None,
                 permissions: Permissions | None = None, runner: QueryRunner | None = None,
                 access: Any | None = None, deliver: bool = True) -> None:
        self.lake = lake
        if access is None and access_layer_available() and (permissions is None or runner is None):
            from access import AccessControl

            access = AccessControl(lake)
        self.access = access
        if permissions is None:
            permissions = AccessPermissions(lake, access) if access is not None else CorePermissions()
        if runner is None:
            runner = GatewayRunner(lake, access) if access is not None else SparkRunner(lake)
        self.chains = ChainStore(lake.catalog)
        self.outbox = Dispatcher(lake.catalog, lake.settings)
        self.workflow = Workflow(lake, resolver or default_resolver(lake), permissions,
                                 after_commit=self._deliver if deliver else None)
        self.meetings = Meetings(self.workflow)
        self.comments = Comments(self.workflow)
        self.inbox = Inbox(lake.catalog)
        self.channels = Channels(lake.catalog)
        self.values = Values(self.workflow, runner)

    def _deliver(self) -> None:
        self.outbox.deliver()
