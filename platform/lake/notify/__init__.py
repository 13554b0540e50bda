"""Telling people: the in-app inbox, preferences, notification channels and the outbox.

An action writes its notices in its own transaction (:func:`post`): an inbox
row per recipient and an outbox row per channel, as the recipient's
preferences say. After the action commits, the :class:`Notifier` (one per
process, built by the composition root) sends the outbox: webhooks as signed
JSON POSTs, e-mail through SMTP or as ``.eml`` files. A failed delivery stays
in the outbox to be retried. :func:`mark_done` closes notices whose request
no longer waits, for everyone.
"""

from lake.notify.channels import ChannelInfo, ChannelKind, Channels
from lake.notify.delivery import DeliveryReport, Dispatcher, sign
from lake.notify.inbox import Inbox, Notice, NoticeKind, mark_done, post
from lake.notify.preferences import Delivery, PreferenceInfo, Preferences
from lake.notify.service import Notifier

__all__ = ["ChannelInfo", "ChannelKind", "Channels", "Delivery", "DeliveryReport", "Dispatcher", "Inbox", "Notice",
           "NoticeKind", "Notifier", "PreferenceInfo", "Preferences", "mark_done", "post", "sign"]
