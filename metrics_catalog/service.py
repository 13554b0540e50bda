"""The :class:`MetricCatalog`: one object the API, the CLI, the UI and the demo call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lake.service import Lake
from metrics_catalog.authz import AccessPermissions, NoAccessWired, Permissions
from metrics_catalog.chain_store import ChainStore
from metrics_catalog.comments import Comments
from metrics_catalog.meetings import Meetings
from metrics_catalog.notify import Channels, Dispatcher, Inbox
from metrics_catalog.sources import SourceResolver, default_resolver
from metrics_catalog.values import Values
from metrics_catalog.values.engine import GatewayRunner, NoGatewayWired, QueryRunner
from metrics_catalog.workflow import Workflow

if TYPE_CHECKING:
    from access.gateway import Gateway
    from access.policy import AccessControl


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
        access: The access layer's decision point, which decides who may do
            what (:class:`~metrics_catalog.authz.AccessPermissions`). ``None``
            wires none: every action is then refused.
        gateway: The query gateway values run through, as the caller (with
            their row filters and masks). ``None`` wires none: value requests
            are then refused.
        resolver: Finds views (and datasets); views first, then datasets, by default.
        permissions: Who may do what, instead of the access layer's decisions.
        runner: Runs value queries, instead of the gateway.
        deliver: Send the outbox right after each workflow action (otherwise
            ``outbox.deliver()`` or ``lakegate metrics outbox deliver`` does).

    The composition root (:func:`api.services.build_services`) builds the one
    catalog of an app or command, over its access layer and gateway.
    """

    def __init__(self, lake: Lake, *, access: AccessControl | None, gateway: Gateway | None = None,
                 resolver: SourceResolver | None = None, permissions: Permissions | None = None,
                 runner: QueryRunner | None = None, deliver: bool = True) -> None:
        self.lake = lake
        self.access = access
        if permissions is None:
            permissions = AccessPermissions(access) if access is not None else NoAccessWired()
        if runner is None:
            runner = GatewayRunner(gateway) if gateway is not None else NoGatewayWired()
        self.chains = ChainStore(lake.catalog)
        self.outbox = Dispatcher(lake.catalog, lake.settings.mail)
        self.workflow = Workflow(lake, resolver or default_resolver(lake), permissions,
                                 after_commit=self._deliver if deliver else None)
        self.meetings = Meetings(self.workflow)
        self.comments = Comments(self.workflow)
        self.inbox = Inbox(lake.catalog)
        self.channels = Channels(lake.catalog)
        self.values = Values(self.workflow, runner)

    def _deliver(self) -> None:
        self.outbox.deliver()
