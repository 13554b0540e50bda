"""Per-table keys for keyed ``hash`` masks.

A dataset's hash key is derived (HKDF-SHA-256) from its data key, so it needs
no storage of its own and differs per dataset (hashes do not join across
datasets). A view has no data key: it gets a random secret, stored wrapped by
the master key (or KMS) like data keys, and derived the same way. Keys stay in
memory of the server process; they are never logged or returned by the API.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from access.models import AccessHashKey
from access.resources import Resource, ResourceKind
from lake.catalog.models import Domain
from lake.errors import InvalidInput

if TYPE_CHECKING:
    from lake.service import Lake

_INFO = b"lakegate/hash-mask/v1/"


def derive(secret: bytes, table: Resource) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO + table.key.encode()).derive(secret)


class HashKeys:
    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self._cache: dict[Resource, bytes] = {}
        self._lock = threading.Lock()

    def get(self, table: Resource) -> bytes:
        if table.kind not in (ResourceKind.DATASET, ResourceKind.VIEW) or table.name is None:
            raise InvalidInput(f"hash keys belong to datasets and views, not to {table}")
        with self._lock:
            key = self._cache.get(table)
        if key is None:
            key = derive(self._secret(table), table)
            with self._lock:
                self._cache[table] = key
        return key

    def _secret(self, table: Resource) -> bytes:
        if table.kind is ResourceKind.DATASET:
            info = self.lake.datasets.get(table.qualified)
            return self.lake.datasets.data_key(info)
        context = {"lakegate:hash-key": table.key}
        with self.lake.catalog.session() as s:
            row = s.scalars(select(AccessHashKey).where(AccessHashKey.resource == table.key)).one_or_none()
            if row is not None:
                return self.lake.keys.unwrap(row.wrapped_key, context=context, key_ref=row.key_ref)
            kms_key = s.scalars(select(Domain.kms_key_id).where(Domain.name == table.domain)).one_or_none()
        if kms_key is None and self.lake.settings.is_s3:
            kms_key = self.lake.store.ensure_domain(table.domain)
        secret = os.urandom(32)
        wrapped, ref = self.lake.keys.wrap(secret, context=context, key_id=kms_key)
        try:
            with self.lake.catalog.session() as s:
                s.add(AccessHashKey(resource=table.key, provider=self.lake.keys.name, key_ref=ref,
                                    wrapped_key=wrapped))
        except IntegrityError:  # another process made it first: use theirs
            return self._secret(table)
        return secret
