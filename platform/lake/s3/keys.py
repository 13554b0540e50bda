"""KMS keys of an S3 lake: one per domain, plus the lake-level default key.

A domain's key is, in order: an explicit key id, the domain's configured key
(``Settings.kms_key_ids``), the key behind alias ``alias/lakegate/<domain>``,
or a new symmetric key (rotation on) created with that alias. The lake key
(alias ``alias/lakegate/lake``) is the bucket's default encryption key.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

from lake.errors import InvalidInput, StorageError
from lake.s3.aws import call, client_error, error_code

__all__ = ["KEY_ALIAS_PREFIX", "LAKE_KEY_ALIAS", "DomainKeys", "check_domain"]

logger = logging.getLogger(__name__)

KEY_ALIAS_PREFIX = "alias/lakegate/"
"""Domain keys are found and created under ``alias/lakegate/<domain>``."""

LAKE_KEY_ALIAS = KEY_ALIAS_PREFIX + "lake"
"""Alias of the lake-level key used as the bucket's default encryption key."""

_DOMAIN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def check_domain(domain: str) -> None:
    """Refuse a domain name that cannot name a KMS alias.

    Raises:
        InvalidInput: The name has other characters than letters, digits, ``_``
            and ``-``, is too long, or is ``lake`` (the lake-level key's alias).
    """
    if not _DOMAIN_RE.fullmatch(domain) or len(domain) > 200:
        raise InvalidInput(f"invalid domain name {domain!r}: use letters, digits, '_' and '-'")
    if KEY_ALIAS_PREFIX + domain == LAKE_KEY_ALIAS:
        raise InvalidInput(f"domain name {domain!r} is reserved for the lake-level key")


class DomainKeys:
    """Finds and creates the KMS keys of a lake; each domain's answer is remembered.

    Args:
        kms: Returns the KMS client to use (called when a key is needed).
        configured: Domain name to configured key id, key ARN or alias; read
            at each lookup, so the owner may change it.
    """

    def __init__(self, kms: Callable[[], Any], configured: Mapping[str, str]) -> None:
        self._kms = kms
        self._configured = configured
        self._lock = threading.RLock()
        self._cache: dict[str, str] = {}

    def for_domain(self, domain: str, kms_key_id: str | None = None) -> str:
        """The KMS key id of a domain, created if needed (see the module docstring).

        Args:
            domain: Domain name (letters, digits, ``_`` and ``-``).
            kms_key_id: An explicit key id, key ARN or alias for the domain.

        Returns:
            The key id to name in SSE-KMS headers and KMS calls: a given or
            configured id as written, otherwise the key's id.

        Raises:
            InvalidInput: The domain name is not usable in a KMS alias, or is
                ``lake``.
            StorageError: The key does not exist, is not enabled, or KMS
                refused a call.
        """
        check_domain(domain)
        with self._lock:
            if kms_key_id is None:
                cached = self._cache.get(domain)
                if cached is not None:
                    return cached
                kms_key_id = self._configured.get(domain)
            if kms_key_id is not None:
                what = f"KMS key {kms_key_id!r} of domain {domain}"
                if self.describe_enabled(kms_key_id, what) is None:
                    raise StorageError(f"{what} does not exist")
                key = kms_key_id
            else:
                key = self.ensure_by_alias(
                    KEY_ALIAS_PREFIX + domain, f"Lakegate data key of domain {domain}", domain=domain
                )
            self._cache[domain] = key
            return key

    def describe_enabled(self, key_id: str, what: str) -> dict[str, Any] | None:
        """Key metadata, ``None`` if the key does not exist.

        Raises:
            StorageError: The key is not enabled or not an encryption key, or
                KMS refused the lookup.
        """
        kms = self._kms()
        try:
            metadata: dict[str, Any] = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        except client_error() as exc:
            if error_code(exc) == "NotFoundException":
                return None
            raise StorageError(f"looking up {what} failed: {error_code(exc)}") from exc
        state = metadata.get("KeyState", "Enabled")
        if state != "Enabled":
            raise StorageError(f"{what} is not usable: its state is {state}")
        if metadata.get("KeyUsage", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT":
            raise StorageError(f"{what} is not an encryption key")
        return metadata

    def ensure_by_alias(self, alias: str, description: str, *, domain: str | None = None) -> str:
        """The id of the key behind ``alias``, creating key and alias if absent.

        Args:
            alias: ``alias/...`` name of the key.
            description: Description of a created key.
            domain: The domain a created key belongs to (tagged on the key).

        Returns:
            The key's id.

        Raises:
            StorageError: KMS refused a call, or the key is not usable.
        """
        found = self.describe_enabled(alias, f"KMS key {alias}")
        if found is not None:
            return str(found["KeyId"])
        kms = self._kms()
        tags = [{"TagKey": "lakegate:purpose", "TagValue": "domain" if domain else "lake"}]
        if domain:
            tags.append({"TagKey": "lakegate:domain", "TagValue": domain})
        created = call(
            f"creating KMS key {alias}",
            kms.create_key,
            Description=description,
            KeyUsage="ENCRYPT_DECRYPT",
            KeySpec="SYMMETRIC_DEFAULT",
            Tags=tags,
        )
        key_id = str(created["KeyMetadata"]["KeyId"])
        try:
            kms.create_alias(AliasName=alias, TargetKeyId=key_id)
        except client_error() as exc:
            if error_code(exc) != "AlreadyExistsException":
                raise StorageError(f"creating KMS alias {alias} failed: {error_code(exc)}") from exc
            # Another process created the alias first: use its key, retire ours.
            call("retiring a duplicate KMS key", kms.schedule_key_deletion, KeyId=key_id, PendingWindowInDays=7)
            winner = self.describe_enabled(alias, f"KMS key {alias}")
            if winner is None:
                raise StorageError(f"KMS alias {alias} vanished while creating it") from exc
            return str(winner["KeyId"])
        call(f"enabling rotation of KMS key {alias}", kms.enable_key_rotation, KeyId=key_id)
        logger.info("created KMS key %s with alias %s", key_id, alias)
        return key_id
