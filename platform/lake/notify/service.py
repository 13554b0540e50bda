"""The :class:`Notifier`: the one notification service of a process.

The composition root (:func:`api.services.build_services`) builds one and
hands it to every package that tells people something (the access layer's
requests, the metric catalog, view refreshes). Actions write their notices
with :func:`~lake.notify.inbox.post` in their own transaction; the notifier
reads and acknowledges inboxes, keeps channels and preferences, and sends the
outbox after commits (at once when ``deliver_now``, as the CLI does;
otherwise the API after answering and the server's scheduler).
"""

from __future__ import annotations

import logging

from lake.catalog import Catalog
from lake.notify.channels import Channels
from lake.notify.delivery import DeliveryReport, Dispatcher
from lake.notify.inbox import Inbox
from lake.notify.preferences import Preferences
from lake.settings import MailSettings

log = logging.getLogger(__name__)


class Notifier:
    """Inboxes, channels, preferences and the outbox of one catalog.

    Args:
        catalog: The catalog the notices live in.
        mail: How e-mail is sent (``settings.mail``).
        deliver_now: Send the outbox right after each action that posted notices.

    Attributes:
        inbox: In-app notices.
        channels: Webhook and e-mail channels of people.
        preferences: Which kinds of notice go where, per person.
        outbox: Delivery of the outbox.
    """

    def __init__(self, catalog: Catalog, mail: MailSettings, *, deliver_now: bool = False) -> None:
        self.inbox = Inbox(catalog)
        self.channels = Channels(catalog)
        self.preferences = Preferences(catalog)
        self.outbox = Dispatcher(catalog, mail)
        self.deliver_now = deliver_now

    def committed(self) -> None:
        """An action that may have posted notices committed: deliver now if this process does so.

        Never raises: the action stands; a failed delivery stays in the outbox for a retry.
        """
        if not self.deliver_now:
            return
        self.deliver()

    def deliver(self) -> DeliveryReport:
        """Send what waits in the outbox (failures stay there, to be retried)."""
        try:
            return self.outbox.deliver()
        except Exception:
            log.exception("could not deliver the outbox")
            return DeliveryReport()
