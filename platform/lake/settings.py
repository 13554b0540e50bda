"""Settings, read once from ``LAKEGATE_*`` environment variables: one tree.

:class:`Settings` is the root. Its nested sections group what belongs
together, and each keeps its variables' names:

* ``settings.engine`` (:class:`EngineSettings`): ``LAKEGATE_SPARK_*``;
* ``settings.gateway`` (:class:`GatewayLimits`): ``LAKEGATE_GATEWAY_*`` and the
  admission bounds of gateway queries (``LAKEGATE_MAX_CONCURRENT_QUERIES``...);
* ``settings.subscribers`` (:class:`SubscriberSettings`): ``LAKEGATE_SUBSCRIBERS_*``;
* ``settings.mail`` (:class:`MailSettings`): ``LAKEGATE_SMTP_URL``,
  ``LAKEGATE_MAIL_FROM``, ``LAKEGATE_OUTBOX_DIR``.

The tree is read once (:func:`get_settings`, or built by the caller) and passed
down from the composition root (:func:`api.services.build_services`); no
component reads the environment itself. Tests clear the cache
(``get_settings.cache_clear()``) after changing the environment, or build a
tree directly: ``Settings(home=..., gateway=GatewayLimits(max_rows=50))``. The
flat keyword names of the variables are accepted as well:
``Settings(spark_master="local[2]")`` sets ``settings.engine.master``.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lake.errors import ConfigError, InvalidInput

DEFAULT_HOME = Path("~/.lakegate")
#: A JVM memory size as Spark takes it: digits and an optional unit.
_SIZE = re.compile(r"\d+[kmgt]?b?", re.IGNORECASE)

#: STS sessions of a role last 15 minutes to its MaxSessionDuration (one hour for subscriber roles).
MIN_CREDENTIAL_SECONDS = 900
MAX_CREDENTIAL_SECONDS = 3600
#: SigV4 presigned URLs last at most seven days.
MAX_URL_SECONDS = 7 * 24 * 3600


class EngineSettings(BaseSettings):
    """Where Spark runs (``LAKEGATE_SPARK_*``).

    Attributes:
        master: Spark master for a classic session (``local[*]``, ``yarn``...).
        remote: Spark Connect URL (``sc://host:15002``); wins over the master.
        jars_dir: Folder of the engine's JVM jars (delta-spark, hadoop-aws and
            the AWS SDK bundle) that ``scripts/bootstrap.sh`` fetches. Defaults to
            the project's ``jvm/jars``.
        driver_memory: Heap of a Spark driver started by Lakegate
            (``1g``, ``4g``...); Spark's default when unset.
        max_result_size: Largest total result Spark's driver collects
            (``spark.driver.maxResultSize``); a bigger result fails its query.
    """

    model_config = SettingsConfigDict(env_prefix="LAKEGATE_SPARK_", extra="ignore", frozen=True)

    master: str = "local[*]"
    remote: str | None = None
    jars_dir: Path | None = None
    driver_memory: str | None = None
    max_result_size: str = "512m"

    @field_validator("driver_memory", "max_result_size", mode="after")
    @classmethod
    def _check_size(cls, value: str | None) -> str | None:
        if value is not None and not _SIZE.fullmatch(value.strip()):
            raise ValueError(f"{value!r} is not a size such as 512m, 2g or 0 (no limit)")
        return value.strip() if value is not None else None

    @field_validator("jars_dir", mode="after")
    @classmethod
    def _expand_jars(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None


class GatewayLimits(BaseSettings):
    """How many gateway queries run at once, and how many rows and how much time each may take.

    Attributes:
        default_rows: Row cap when the caller names none (at most ``max_rows``).
        max_rows: Largest row cap a caller may ask for.
        default_timeout_seconds: Time limit when the caller names none (at most
            ``max_timeout_seconds``).
        max_timeout_seconds: Longest time limit a caller may ask for.
        catalog_cache_seconds: How long a resolved table (contract and location,
            never a decision or a key) is reused; 0 looks it up on every query.
        max_concurrent_queries: Queries one server runs at once
            (``LAKEGATE_MAX_CONCURRENT_QUERIES``; by default as many as the machine
            has cores, at least 2: the engine uses every core for each query, so
            more at once only share them).
        max_queued_queries: Queries that may wait for a slot; more are refused
            with 429 and ``Retry-After`` (``LAKEGATE_MAX_QUEUED_QUERIES``).
        max_queries_per_user: Queries one caller may have running or waiting
            (``LAKEGATE_MAX_QUERIES_PER_USER``).
        queue_timeout_seconds: Longest wait for a slot before a 429
            (``LAKEGATE_QUERY_QUEUE_TIMEOUT_SECONDS``).
        retry_after_seconds: ``Retry-After`` of a refused query
            (``LAKEGATE_QUERY_RETRY_AFTER_SECONDS``).
    """

    model_config = SettingsConfigDict(env_prefix="LAKEGATE_GATEWAY_", extra="ignore", frozen=True,
                                      populate_by_name=True)

    default_rows: int = Field(default=1000, ge=1)
    max_rows: int = Field(default=100_000, ge=1)
    default_timeout_seconds: float = Field(default=30.0, gt=0)
    max_timeout_seconds: float = Field(default=300.0, gt=0)
    catalog_cache_seconds: float = Field(default=2.0, ge=0)
    max_concurrent_queries: int = Field(default_factory=lambda: max(2, os.cpu_count() or 2), ge=1,
                                        validation_alias="LAKEGATE_MAX_CONCURRENT_QUERIES")
    max_queued_queries: int = Field(default=16, ge=0, validation_alias="LAKEGATE_MAX_QUEUED_QUERIES")
    max_queries_per_user: int = Field(default=4, ge=1, validation_alias="LAKEGATE_MAX_QUERIES_PER_USER")
    queue_timeout_seconds: float = Field(default=10.0, gt=0, validation_alias="LAKEGATE_QUERY_QUEUE_TIMEOUT_SECONDS")
    retry_after_seconds: float = Field(default=5.0, gt=0, validation_alias="LAKEGATE_QUERY_RETRY_AFTER_SECONDS")

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


class SubscriberSettings(BaseSettings):
    """Credential lifetimes, export limits and Redshift names of engine subscribers (``LAKEGATE_SUBSCRIBERS_*``).

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


class MailSettings(BaseSettings):
    """Notification e-mail.

    Attributes:
        smtp_url: Send e-mail through this server (``smtp://user:password@host:587``,
            ``LAKEGATE_SMTP_URL``); without it, e-mail is written as ``.eml`` files
            to the outbox directory.
        sender: Sender address (``LAKEGATE_MAIL_FROM``).
        outbox_dir: Where e-mail is written without SMTP (``LAKEGATE_OUTBOX_DIR``;
            ``<home>/outbox`` by default).
    """

    model_config = SettingsConfigDict(env_prefix="LAKEGATE_", extra="ignore", frozen=True, populate_by_name=True)

    smtp_url: SecretStr | None = None
    sender: str = Field(default="lakegate@localhost", validation_alias="LAKEGATE_MAIL_FROM")
    outbox_dir: Path = DEFAULT_HOME.expanduser() / "outbox"


#: Flat keyword names (those of the variables) accepted by :class:`Settings` for fields of its sections.
FLAT_NAMES: dict[str, tuple[str, str]] = {
    "spark_master": ("engine", "master"),
    "spark_remote": ("engine", "remote"),
    "spark_jars_dir": ("engine", "jars_dir"),
    "spark_driver_memory": ("engine", "driver_memory"),
    "spark_max_result_size": ("engine", "max_result_size"),
    "max_concurrent_queries": ("gateway", "max_concurrent_queries"),
    "max_queued_queries": ("gateway", "max_queued_queries"),
    "max_queries_per_user": ("gateway", "max_queries_per_user"),
    "query_queue_timeout_seconds": ("gateway", "queue_timeout_seconds"),
    "query_retry_after_seconds": ("gateway", "retry_after_seconds"),
    "smtp_url": ("mail", "smtp_url"),
    "mail_from": ("mail", "sender"),
    "outbox_dir": ("mail", "outbox_dir"),
}
#: Fields with a default under ``home``: ``None`` given for one means that default.
_FILLED = ("storage_uri", "database_url", "master_key_file")


def _under(mail: MailSettings, home: Path) -> MailSettings:
    """``mail`` with its outbox under ``home`` unless one was set."""
    if "outbox_dir" in mail.model_fields_set:
        return mail
    return mail.model_copy(update={"outbox_dir": home.expanduser() / "outbox"})


_SECTIONS: dict[str, type[BaseSettings]] = {
    "engine": EngineSettings, "gateway": GatewayLimits, "subscribers": SubscriberSettings, "mail": MailSettings,
}


class Settings(BaseSettings):
    """Configuration of one Lakegate deployment: the root of the settings tree.

    Attributes:
        home: Directory for local state: the lake (in local mode), the SQLite
            catalog, the local master key and the landing directory.
        storage_uri: Where tables live: a local path, or ``s3://bucket/prefix``.
            Defaults to ``<home>/lake``.
        s3_endpoint_url: S3-compatible endpoint (tests use a moto server).
        s3_region: AWS region for S3, KMS and STS.
        kms_key_ids: Domain name to KMS key id; a domain without one gets a key
            created for it in S3 mode.
        database_url: SQLAlchemy URL of the catalog. Defaults to SQLite at
            ``<home>/catalog.db``; production uses ``postgresql+psycopg://``.
        production: Refuse unsafe defaults (SQLite, local master key, plain HTTP).
        behind_tls_proxy: The server sits behind a proxy that terminates TLS.
        max_upload_bytes: Largest batch accepted by the API.
        max_body_bytes: Largest body of any other request (JSON, YAML, CSV
            policy, forms); a larger one is refused with 413 before it is read.
        sign_in_free_attempts: Failed sign-ins per account (and per client
            address) before each further attempt must wait.
        sign_in_max_backoff_seconds: Longest wait after repeated failed sign-ins
            (the wait doubles with each failure up to this).
        max_concurrent_password_checks: Password hashes computed at once (in
            worker threads); more sign-ins at once are refused with 429.
        master_key_file: Local master key wrapping per-dataset data keys when
            no KMS is used. Defaults to ``<home>/master.key``.
        openlineage_url: Send OpenLineage run events to this HTTP endpoint
            (e.g. Marquez); by default they go to ``<home>/openlineage/events.jsonl``.
        openlineage_api_key: Bearer token for that endpoint.
        commit_lock_timeout: Seconds a batch waits while another writer holds
            its table's write lock, before it is refused (409) as busy.
        scheduler_interval_seconds: How often the API server's background
            scheduler looks for queued and due view refreshes, expired grants to
            tell and undelivered notifications; 0 turns it off.
        scheduler_max_runs: View refreshes the scheduler runs per look (one
            after the other, so a server never runs more than one at once).
        engine: Where Spark runs.
        gateway: Row caps, time limits and admission bounds of gateway queries.
        subscribers: Credential lifetimes, export limits and Redshift names.
        mail: Notification e-mail (SMTP or an outbox directory).
    """

    model_config = SettingsConfigDict(env_prefix="LAKEGATE_", extra="ignore")

    home: Path = DEFAULT_HOME
    # Defaults under ``home`` (validated before them).
    storage_uri: str = Field(default_factory=lambda data: str(data["home"] / "lake"))
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    kms_key_ids: dict[str, str] = Field(default_factory=dict)
    database_url: str = Field(default_factory=lambda data: f"sqlite:///{data['home'] / 'catalog.db'}")
    production: bool = False
    behind_tls_proxy: bool = False
    max_upload_bytes: int = 1 << 30
    max_body_bytes: int = 8 << 20
    sign_in_free_attempts: int = Field(default=5, ge=1)
    sign_in_max_backoff_seconds: float = Field(default=900.0, gt=0)
    max_concurrent_password_checks: int = Field(default=2, ge=1)
    master_key_file: Path = Field(default_factory=lambda data: data["home"] / "master.key")
    openlineage_url: str | None = None
    openlineage_api_key: SecretStr | None = None
    commit_lock_timeout: float = Field(default=120.0, ge=0)
    scheduler_interval_seconds: float = Field(default=30.0, ge=0)
    scheduler_max_runs: int = Field(default=2, ge=1)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    gateway: GatewayLimits = Field(default_factory=GatewayLimits)
    subscribers: SubscriberSettings = Field(default_factory=SubscriberSettings)
    mail: MailSettings = Field(default_factory=MailSettings)

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: Any) -> Any:
        """``None`` for a path under ``home`` means its default; flat keyword names go to their sections."""
        if not isinstance(data, dict):
            return data
        data = {k: v for k, v in data.items() if not (v is None and k in _FILLED)}
        moved: dict[str, dict[str, Any]] = {}
        for flat, (section, name) in FLAT_NAMES.items():
            if flat in data:
                moved.setdefault(section, {})[name] = data.pop(flat)
        for section, values in moved.items():
            given = data.get(section)
            if isinstance(given, BaseSettings):
                data[section] = given.model_copy(update=values)
            elif isinstance(given, dict):
                data[section] = {**given, **values}
            else:
                data[section] = _SECTIONS[section](**values)
        return data

    @field_validator("home", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @model_validator(mode="after")
    def _check(self) -> Settings:
        self.mail = _under(self.mail, self.home)
        if not self.storage_uri.startswith("s3://"):
            self.storage_uri = str(Path(self.storage_uri).expanduser())
        if self.max_upload_bytes <= 0:
            raise ValueError("max_upload_bytes must be positive")
        if self.max_body_bytes <= 0:
            raise ValueError("max_body_bytes must be positive")
        if self.production:
            self.check_production()
        return self

    @property
    def is_s3(self) -> bool:
        """Whether tables live in S3 rather than a local directory."""
        return bool(self.storage_uri and self.storage_uri.startswith("s3://"))

    @property
    def landing_dir(self) -> Path:
        """Local landing directory watched by ``lakegate land``."""
        return self.home / "landing"

    def check_production(self) -> None:
        """Refuse settings that are fine on a laptop and unsafe in production."""
        problems: list[str] = []
        if self.database_url.startswith("sqlite"):
            problems.append(
                "LAKEGATE_DATABASE_URL is SQLite; production needs PostgreSQL "
                "(postgresql+psycopg://...)"
            )
        if not self.is_s3:
            problems.append(
                "LAKEGATE_STORAGE_URI is a local directory; production needs s3://bucket/prefix "
                "so objects are encrypted with SSE-KMS"
            )
        if problems:
            raise ConfigError("unsafe settings in production mode: " + "; ".join(problems))

    def redacted(self) -> dict[str, Any]:
        """Settings as a dict safe to log: passwords in URLs are hidden."""
        data = self.model_dump(mode="json")
        url = data.get("database_url") or ""
        if "@" in url and "://" in url:
            scheme, rest = url.split("://", 1)
            creds, host = rest.rsplit("@", 1)
            user = creds.split(":", 1)[0]
            data["database_url"] = f"{scheme}://{user}:***@{host}"
        return data


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()


def environment_variables() -> list[str]:
    """Every ``LAKEGATE_*`` variable the settings tree reads, sorted."""
    names = {f"LAKEGATE_{name.upper()}" for name in Settings.model_fields if name not in _SECTIONS}
    for section in _SECTIONS.values():
        prefix = str(section.model_config.get("env_prefix", ""))
        for name, field in section.model_fields.items():
            alias = field.validation_alias
            names.add(alias.upper() if isinstance(alias, str) else f"{prefix}{name}".upper())
    return sorted(names)
