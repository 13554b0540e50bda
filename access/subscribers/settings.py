"""Limits and names of engine subscribers.

:class:`SubscriberSettings` is the ``subscribers`` section of the settings tree
(``settings.subscribers``, read from ``LAKEGATE_SUBSCRIBERS_*``); it is defined
with the rest of the tree in :mod:`lake.settings` and passed to
:class:`~access.subscribers.Subscribers` by the composition root. Tests build
one directly.
"""

from __future__ import annotations

from lake.settings import (
    MAX_CREDENTIAL_SECONDS,
    MAX_URL_SECONDS,
    MIN_CREDENTIAL_SECONDS,
    SubscriberSettings,
)

__all__ = ["MAX_CREDENTIAL_SECONDS", "MAX_URL_SECONDS", "MIN_CREDENTIAL_SECONDS", "SubscriberSettings"]
