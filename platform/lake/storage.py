"""Object storage for the lake: a local directory or an S3 bucket.

Tables are addressed as ``<root>/<domain>/<dataset>/v<major>``; the
quarantine table of a dataset sits beside it as ``v<major>_quarantine``.
Table IO goes through delta-rs with :meth:`ObjectStore.storage_options`;
control-plane calls (bucket, encryption, policies, keys) go through boto3.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from lake.settings import Settings


class ObjectStore(Protocol):
    """Where tables and landed files live."""

    root: str

    def setup(self) -> None:
        """Create the root (bucket, encryption, policy) if missing; idempotent."""
        ...

    def ensure_domain(self, domain: str, kms_key_id: str | None = None) -> str | None:
        """Prepare a domain; return its KMS key id in S3 mode (created if needed)."""
        ...

    def table_uri(self, domain: str, dataset: str, major: int, *, suffix: str = "") -> str: ...

    def storage_options(self, domain: str) -> dict[str, str]:
        """delta-rs storage options for tables of a domain (credentials, SSE-KMS key)."""
        ...


class LocalStore:
    """A local directory; the embedded default."""

    def __init__(self, root: str | Path) -> None:
        self.root = str(Path(root).expanduser().resolve())

    def setup(self) -> None:
        Path(self.root).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)

    def ensure_domain(self, domain: str, kms_key_id: str | None = None) -> str | None:
        (Path(self.root) / domain).mkdir(parents=True, exist_ok=True)
        return None

    def table_uri(self, domain: str, dataset: str, major: int, *, suffix: str = "") -> str:
        return str(Path(self.root) / domain / dataset / f"v{major}{suffix}")

    def storage_options(self, domain: str) -> dict[str, str]:
        return {}


def open_store(settings: Settings) -> ObjectStore:
    """The object store the settings point at."""
    if settings.is_s3:
        from lake.s3 import S3Store

        return S3Store.from_settings(settings)
    return LocalStore(settings.storage_uri)
