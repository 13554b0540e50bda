"""Row caps and time limits of gateway queries, with server maximums.

Read from ``LAKEGATE_GATEWAY_*`` variables (``LAKEGATE_GATEWAY_MAX_ROWS=50000``...)
once, through :func:`gateway_limits`; tests build :class:`GatewayLimits` directly.
"""

from __future__ import annotations

import functools

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from lake.errors import InvalidInput


class GatewayLimits(BaseSettings):
    """How many rows and how much time one gateway query may take.

    Attributes:
        default_rows: Row cap when the caller names none (at most ``max_rows``).
        max_rows: Largest row cap a caller may ask for.
        default_timeout_seconds: Time limit when the caller names none (at most
            ``max_timeout_seconds``).
        max_timeout_seconds: Longest time limit a caller may ask for.
        catalog_cache_seconds: How long a resolved table (contract and location,
            never a decision or a key) is reused; 0 looks it up on every query.
    """

    model_config = SettingsConfigDict(env_prefix="LAKEGATE_GATEWAY_", extra="ignore", frozen=True)

    default_rows: int = Field(default=1000, ge=1)
    max_rows: int = Field(default=100_000, ge=1)
    default_timeout_seconds: float = Field(default=30.0, gt=0)
    max_timeout_seconds: float = Field(default=300.0, gt=0)
    catalog_cache_seconds: float = Field(default=2.0, ge=0)

    def rows(self, asked: int | None) -> int:
        """The row cap for a query that asks for ``asked`` rows (``None``: the default).

        Raises:
            InvalidInput: Fewer than 1 or more than :attr:`max_rows`.
        """
        if asked is None:
            return min(self.default_rows, self.max_rows)
        if isinstance(asked, bool) or not isinstance(asked, int) or asked < 1:
            raise InvalidInput(f"max_rows must be a positive whole number, not {asked!r}")
        if asked > self.max_rows:
            raise InvalidInput(f"max_rows {asked} is above this server's maximum of {self.max_rows}")
        return asked

    def timeout(self, asked: float | None) -> float:
        """The time limit in seconds for a query that asks for ``asked`` (``None``: the default).

        Raises:
            InvalidInput: Not positive, or more than :attr:`max_timeout_seconds`.
        """
        if asked is None:
            return min(self.default_timeout_seconds, self.max_timeout_seconds)
        if isinstance(asked, bool) or not isinstance(asked, int | float) or not asked > 0:
            raise InvalidInput(f"timeout_seconds must be a positive number, not {asked!r}")
        if asked > self.max_timeout_seconds:
            raise InvalidInput(
                f"timeout_seconds {asked:g} is above this server's maximum of {self.max_timeout_seconds:g}"
            )
        return float(asked)


@functools.lru_cache(maxsize=1)
def gateway_limits() -> GatewayLimits:
    """The limits from the environment, read once (``gateway_limits.cache_clear()`` re-reads)."""
    return GatewayLimits()
