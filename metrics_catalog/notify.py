"""Notifications of the metric catalog: they live in :mod:`lake.notify` (one notifier for every package)."""

from lake.notify import (
    ChannelInfo,
    ChannelKind,
    Channels,
    DeliveryReport,
    Dispatcher,
    Inbox,
    Notice,
    NoticeKind,
    Notifier,
    mark_done,
    post,
    sign,
)

__all__ = ["ChannelInfo", "ChannelKind", "Channels", "DeliveryReport", "Dispatcher", "Inbox", "Notice",
           "NoticeKind", "Notifier", "mark_done", "post", "sign"]
