"""Row caps, time limits and admission bounds of gateway queries.

:class:`GatewayLimits` is the ``gateway`` section of the settings tree
(``settings.gateway``, read from ``LAKEGATE_GATEWAY_*`` and the
``LAKEGATE_MAX_*_QUERIES`` variables); it is defined with the rest of the tree
in :mod:`lake.settings` and passed to the gateway by the composition root.
Tests build one directly.
"""

from __future__ import annotations

from lake.settings import GatewayLimits

__all__ = ["GatewayLimits"]
