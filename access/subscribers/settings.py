"""Limits and names of engine subscribers, from ``LAKEGATE_SUBSCRIBERS_*`` variables.

Read once through :func:`subscriber_settings`; tests build
:class:`SubscriberSettings` directly.
"""

from __future__ import annotations

import functools

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from lake.errors import InvalidInput

#: STS sessions of a role last 15 minutes to its MaxSessionDuration (one hour for subscriber roles).
MIN_CREDENTIAL_SECONDS = 900
MAX_CREDENTIAL_SECONDS = 3600
#: SigV4 presigned URLs last at most seven days.
MAX_URL_SECONDS = 7 * 24 * 3600


class SubscriberSettings(BaseSettings):
    """Credential lifetimes, export limits and Redshift names.

    Attributes:
        credential_seconds: Lifetime of vended credentials when the caller names none.
        export_max_rows: Most rows one governed export may hold; a larger one is refused.
        export_rows_per_file: Rows per Parquet file of an export.
        export_timeout_seconds: Time limit of the governed query behind an export.
        export_url_seconds: Lifetime of presigned URLs when the caller names none.
        redshift_role_prefix: Redshift roles are this prefix and the Lakegate role name.
        redshift_external_schema_prefix: The Spectrum schema of domain ``d`` is this prefix and ``d``.
        glue_database_prefix: The data catalog database of domain ``d`` is this prefix and ``d``.
        redshift_url: Connection URL of the Redshift cluster (``postgresql://user:password@host:5439/db``)
            that ``lakegate subscribers redshift apply`` runs plans on; never logged.
    """

    model_config = SettingsConfigDict(env_prefix="LAKEGATE_SUBSCRIBERS_", extra="ignore", frozen=True)

    credential_seconds: int = Field(default=900, ge=MIN_CREDENTIAL_SECONDS, le=MAX_CREDENTIAL_SECONDS)
    export_max_rows: int = Field(default=5_000_000, ge=1)
    export_rows_per_file: int = Field(default=1_000_000, ge=1)
    export_timeout_seconds: float = Field(default=900.0, gt=0)
    export_url_seconds: int = Field(default=3600, ge=1, le=MAX_URL_SECONDS)
    redshift_role_prefix: str = Field(default="lakegate_", pattern=r"^[a-z_][a-z0-9_]{0,30}$")
    redshift_external_schema_prefix: str = Field(default="lake_", pattern=r"^[a-z_][a-z0-9_]{0,30}$")
    glue_database_prefix: str = Field(default="lakegate_", pattern=r"^[a-z_][a-z0-9_]{0,30}$")
    redshift_url: SecretStr | None = None

    def credential_lifetime(self, asked: int | None) -> int:
        """Seconds vended credentials last when ``asked`` (``None``: the default).

        Raises:
            InvalidInput: Outside 900-3600 seconds.
        """
        if asked is None:
            return self.credential_seconds
        if isinstance(asked, bool) or not isinstance(asked, int) or not (
                MIN_CREDENTIAL_SECONDS <= asked <= MAX_CREDENTIAL_SECONDS):
            raise InvalidInput(f"duration_seconds must be a whole number from {MIN_CREDENTIAL_SECONDS} to "
                               f"{MAX_CREDENTIAL_SECONDS}, not {asked!r}")
        return asked

    def url_lifetime(self, asked: int | None) -> int:
        """Seconds presigned URLs last when ``asked`` (``None``: the default).

        Raises:
            InvalidInput: Not 1 second to 7 days.
        """
        if asked is None:
            return self.export_url_seconds
        if isinstance(asked, bool) or not isinstance(asked, int) or not 1 <= asked <= MAX_URL_SECONDS:
            raise InvalidInput(f"url_seconds must be a whole number from 1 to {MAX_URL_SECONDS} (seven days), "
                               f"not {asked!r}")
        return asked


@functools.lru_cache(maxsize=1)
def subscriber_settings() -> SubscriberSettings:
    """The settings from the environment, read once (``subscriber_settings.cache_clear()`` re-reads)."""
    return SubscriberSettings()
