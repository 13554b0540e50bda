"""Settings, read once from ``LAKEGATE_*`` environment variables.

Every component receives a :class:`Settings` object; code that has none asks
:func:`get_settings`, whose cache tests clear (``get_settings.cache_clear()``)
after changing the environment.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lake.errors import ConfigError

DEFAULT_HOME = Path("~/.lakegate")
#: A JVM memory size as Spark takes it: digits and an optional unit.
_SIZE = re.compile(r"\d+[kmgt]?b?", re.IGNORECASE)


class Settings(BaseSettings):
    """Configuration of one Lakegate deployment.

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
        spark_master: Spark master for a classic session (``local[*]``, ``yarn``...).
        spark_remote: Spark Connect URL (``sc://host:15002``); wins over the master.
        spark_jars_dir: Folder of the engine's JVM jars (delta-spark, hadoop-aws and
            the AWS SDK bundle) that ``scripts/bootstrap.sh`` fetches. Defaults to
            the project's ``jvm/jars``.
        spark_driver_memory: Heap of a Spark driver started by Lakegate
            (``1g``, ``4g``...); Spark's default when unset.
        spark_max_result_size: Largest total result Spark's driver collects
            (``spark.driver.maxResultSize``); a bigger result fails its query.
        production: Refuse unsafe defaults (SQLite, local master key, plain HTTP).
        behind_tls_proxy: The server sits behind a proxy that terminates TLS.
        max_upload_bytes: Largest batch accepted by the API.
        max_body_bytes: Largest body of any other request (JSON, YAML, CSV
            policy, forms); a larger one is refused with 413 before it is read.
        max_concurrent_queries: Gateway queries one server runs at once (by
            default as many as the machine has cores, at least 2: the engine
            uses every core for each query, so more at once only share them).
        max_queued_queries: Gateway queries that may wait for a slot; more are
            refused with 429 and ``Retry-After``.
        max_queries_per_user: Gateway queries one caller may have running or waiting.
        query_queue_timeout_seconds: Longest wait for a slot before a 429.
        query_retry_after_seconds: ``Retry-After`` of a refused query.
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
        smtp_url: Send notification e-mail through this server
            (``smtp://user:password@host:587``); without it, e-mail is written as
            ``.eml`` files to the outbox directory.
        mail_from: Sender address of notification e-mail.
        outbox_dir: Where e-mail is written without SMTP. Defaults to ``<home>/outbox``.
        commit_lock_timeout: Seconds a batch waits while another writer holds
            its table's write lock, before it is refused (409) as busy.
    """

    model_config = SettingsConfigDict(env_prefix="LAKEGATE_", extra="ignore")

    home: Path = DEFAULT_HOME
    storage_uri: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    kms_key_ids: dict[str, str] = Field(default_factory=dict)
    database_url: str | None = None
    spark_master: str = "local[*]"
    spark_remote: str | None = None
    spark_jars_dir: Path | None = None
    spark_driver_memory: str | None = None
    spark_max_result_size: str = "512m"
    production: bool = False
    behind_tls_proxy: bool = False
    max_upload_bytes: int = 1 << 30
    max_body_bytes: int = 8 << 20
    max_concurrent_queries: int = Field(default_factory=lambda: max(2, os.cpu_count() or 2), ge=1)
    max_queued_queries: int = Field(default=16, ge=0)
    max_queries_per_user: int = Field(default=4, ge=1)
    query_queue_timeout_seconds: float = Field(default=10.0, gt=0)
    query_retry_after_seconds: float = Field(default=5.0, gt=0)
    sign_in_free_attempts: int = Field(default=5, ge=1)
    sign_in_max_backoff_seconds: float = Field(default=900.0, gt=0)
    max_concurrent_password_checks: int = Field(default=2, ge=1)
    master_key_file: Path | None = None
    openlineage_url: str | None = None
    openlineage_api_key: SecretStr | None = None
    smtp_url: SecretStr | None = None
    mail_from: str = "lakegate@localhost"
    outbox_dir: Path | None = None
    commit_lock_timeout: float = Field(default=120.0, ge=0)

    @field_validator("home", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("spark_driver_memory", "spark_max_result_size", mode="after")
    @classmethod
    def _check_size(cls, value: str | None) -> str | None:
        if value is not None and not _SIZE.fullmatch(value.strip()):
            raise ValueError(f"{value!r} is not a size such as 512m, 2g or 0 (no limit)")
        return value.strip() if value is not None else None

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if self.storage_uri is None:
            self.storage_uri = str(self.home / "lake")
        elif not self.storage_uri.startswith("s3://"):
            self.storage_uri = str(Path(self.storage_uri).expanduser())
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.home / 'catalog.db'}"
        if self.master_key_file is None:
            self.master_key_file = self.home / "master.key"
        if self.outbox_dir is None:
            self.outbox_dir = self.home / "outbox"
        if self.spark_jars_dir is not None:
            self.spark_jars_dir = self.spark_jars_dir.expanduser()
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
        assert self.database_url is not None
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
