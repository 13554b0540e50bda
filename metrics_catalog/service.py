"""The :class:`MetricCatalog`: one object the API, the CLI, the UI and the demo call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lake.notify import Notifier
from lake.service import Lake
from metrics_catalog.authz import AccessPermissions, NoAccessWired, Permissions
from metrics_catalog.chain_store import ChainStore
from metrics_catalog.comments import Comments
from metrics_catalog.meetings import Meetings
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
        notifier: The notification service (inbox, channels, preferences, outbox).
        inbox: In-app notices (the notifier's).
        channels: Webhook and email channels of users (the notifier's).
        outbox: Delivery of the outbox (the notifier's).
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
        notifier: The process's one notifier (:class:`lake.notify.Notifier`); the
            composition root passes it. By default one over the lake's catalog
            and mail settings.
        deliver: Without ``notifier``: send the outbox right after each workflow
            action (otherwise ``outbox.deliver()`` or ``lakegate metrics outbox
            deliver`` does). A given notifier decides this itself.

    The composition root (:func:`api.services.build_services`) builds the one
    catalog of an app or command, over its access layer and gateway.
    """

    def __init__(self, lake: Lake, *, access: AccessControl | None, gateway: Gateway | None = None,
                 resolver: SourceResolver | None = None, permissions: Permissions | None = None,
                 runner: QueryRunner | None = None, notifier: Notifier | None = None,
                 deliver: bool = True) -> None:
        self.lake = lake
        self.access = access
        if permissions is None:
            permissions = AccessPermissions(access) if access is not None else NoAccessWired()
        if runner is None:
            runner = GatewayRunner(gateway) if gateway is not None else NoGatewayWired()
        self.chains = ChainStore(lake.catalog)
        self.notifier = notifier or Notifier(lake.catalog, lake.settings.mail, deliver_now=deliver)
        self.outbox = self.notifier.outbox
        self.workflow = Workflow(lake, resolver or default_resolver(lake), permissions,
                                 after_commit=self.notifier.committed)
        self.meetings = Meetings(self.workflow)
        self.comments = Comments(self.workflow)
        self.inbox = self.notifier.inbox
        self.channels = self.notifier.channels
        self.values = Values(self.workflow, runner)
