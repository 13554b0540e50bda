"""Object storage for the lake: a local directory or an S3 bucket.

Tables are addressed as ``<root>/<domain>/<dataset>/v<major>``; the
quarantine table of a dataset sits beside it as ``v<major>_quarantine``.
Table IO goes through delta-rs with :meth:`ObjectStore.storage_options`;
other objects (landed files, manifests, exports) go through the object IO of
:class:`ObjectStore` (put, get, list, move, delete, presign), with keys
relative to the store's root: ``_landing/ads.conversions/a.csv``.
The S3 store is :mod:`lake.s3`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

from lake.errors import InvalidInput, NotFound
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

    def put_object(self, key: str, data: bytes, domain: str) -> None:
        """Write an object whole, replacing one at the same key.

        Args:
            key: Key relative to the root (``/``-separated, no empty, ``.``
                or ``..`` segments).
            data: The object's content.
            domain: Domain whose key encrypts the object (S3 mode).

        Raises:
            InvalidInput: Invalid key or domain.
            StorageError: The store refused the write.
        """
        ...

    def get_object(self, key: str) -> bytes:
        """Read an object.

        Raises:
            InvalidInput: Invalid key.
            NotFound: No such object.
            StorageError: The store refused the read.
        """
        ...

    def list_objects(self, prefix: str = "") -> list[str]:
        """Keys under a prefix (plain string matching), relative to the root, sorted.

        ``_landing/ads/`` lists that folder and everything below it;
        ``_landing/ad`` also matches ``_landing/ads/...``.
        """
        ...

    def move_object(self, src: str, dst: str, domain: str) -> None:
        """Move an object, replacing one at ``dst`` (encrypted under the domain's key in S3 mode).

        Raises:
            InvalidInput: Invalid key or domain.
            NotFound: No object at ``src``.
            StorageError: The store refused the move.
        """
        ...

    def delete_object(self, key: str) -> None:
        """Delete an object; deleting a missing object is not an error.

        Raises:
            InvalidInput: Invalid key.
            StorageError: The store refused the delete.
        """
        ...

    def presign(self, key: str, expires_in: int) -> str:
        """A URL to read an object without Lakegate credentials.

        S3: a SigV4 presigned GET that expires after ``expires_in`` seconds.
        Local: the object's ``file://`` URL (readable by whoever may read the
        lake directory; it does not expire).

        Raises:
            InvalidInput: Invalid key, or a lifetime outside 1 s to 7 days.
        """
        ...


MAX_PRESIGN_SECONDS = 7 * 24 * 3600
"""The longest lifetime of a presigned URL (S3's limit for SigV4)."""


def check_key(key: str) -> list[str]:
    """The segments of an object key.

    Args:
        key: A key relative to a store's root.

    Returns:
        The key split on ``/``.

    Raises:
        InvalidInput: The key is empty or has empty, ``.`` or ``..`` segments.
    """
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") for p in parts):
        raise InvalidInput(f"invalid object key {key!r}")
    return parts


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

    # -- objects: files under the root, written whole (temporary file, then rename), mode 0600

    def _path(self, key: str) -> Path:
        return Path(self.root, *check_key(key))

    def put_object(self, key: str, data: bytes, domain: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get_object(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise NotFound(f"no object {key}") from exc

    def list_objects(self, prefix: str = "") -> list[str]:
        folder, _, _ = prefix.rpartition("/")
        if folder:
            check_key(folder)
        base = Path(self.root, *folder.split("/")) if folder else Path(self.root)
        if not base.is_dir():
            return []
        keys = []
        for dirpath, _dirs, files in os.walk(base):
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            for name in files:
                key = name if rel_dir == "." else f"{rel_dir}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def move_object(self, src: str, dst: str, domain: str) -> None:
        source, dest = self._path(src), self._path(dst)
        if not source.is_file():
            raise NotFound(f"no object {src}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, dest)

    def delete_object(self, key: str) -> None:
        path = self._path(key)
        if path.is_file():
            path.unlink(missing_ok=True)

    def presign(self, key: str, expires_in: int) -> str:
        if not 1 <= expires_in <= MAX_PRESIGN_SECONDS:
            raise InvalidInput(f"a presigned URL lives 1 to {MAX_PRESIGN_SECONDS} seconds, not {expires_in}")
        return self._path(key).as_uri()


def open_store(settings: Settings) -> ObjectStore:
    """The object store the settings point at."""
    assert settings.storage_uri is not None
    if settings.is_s3:
        from lake.s3 import S3Store

        return S3Store.from_settings(settings)
    return LocalStore(settings.storage_uri)
