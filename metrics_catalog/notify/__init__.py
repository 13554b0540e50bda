"""Telling people: the in-app inbox, notification channels and the outbox.

A workflow action writes its notices in its own transaction (:func:`post`):
one inbox row per recipient, and one outbox row per channel of that
recipient. After the action commits, :class:`~metrics_catalog.notify.delivery.Dispatcher`
sends the outbox: webhooks as signed JSON POSTs, email as ``.eml`` files or
through SMTP. A failed delivery stays in the outbox to be retried.
"""

from metrics_catalog.notify.channels import ChannelInfo, ChannelKind, Channels
from metrics_catalog.notify.delivery import DeliveryReport, Dispatcher, sign
from metrics_catalog.notify.inbox import Inbox, Notice, NoticeKind, post

__all__ = ["ChannelInfo", "ChannelKind", "Channels", "DeliveryReport", "Dispatcher", "Inbox", "Notice",
           "NoticeKind", "post", "sign"]
