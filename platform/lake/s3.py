"""The lake in an S3 bucket, every object encrypted with SSE-KMS.

:class:`S3Store` is the S3 implementation of :class:`lake.storage.ObjectStore`.
Control-plane calls (bucket, default encryption, bucket policy, public access
block, KMS keys) go through boto3; table IO goes through delta-rs with the
options :meth:`S3Store.storage_options` returns.

Keys:

* The lake key (alias ``alias/lakegate/lake``) is the bucket's default
  encryption key, the safety net for anything written without explicit
  SSE headers.
* Each domain has its own key: the one configured in
  ``Settings.kms_key_ids``, else the key behind alias
  ``alias/lakegate/<domain>``, else a key created with that alias. Every
  object Lakegate writes for a domain (Delta data files, ``_delta_log``
  commits, landed files) names that key explicitly, so revoking a domain's key
  revokes exactly that domain's data.

The bucket policy denies ``s3:PutObject`` without ``aws:kms`` server-side
encryption and denies every request that is not made over TLS; all public
access is blocked. :meth:`S3Store.check` verifies this and
:meth:`S3Store.setup` establishes it.

boto3 is imported inside the methods that need it, so ``import lake.s3``
stays cheap. Credentials are never logged and never part of ``repr``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from lake.errors import ConfigError, InvalidInput, NotFound, StorageError

if TYPE_CHECKING:
    from lake.settings import Settings

__all__ = ["LAKE_KEY_ALIAS", "KEY_ALIAS_PREFIX", "S3Store", "parse_s3_uri"]

logger = logging.getLogger(__name__)

KEY_ALIAS_PREFIX = "alias/lakegate/"
"""Domain keys are found and created under ``alias/lakegate/<domain>``."""

LAKE_KEY_ALIAS = KEY_ALIAS_PREFIX + "lake"
"""Alias of the lake-level key used as the bucket's default encryption key."""

SSE_KMS = "aws:kms"
_KMS_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})

DENY_UNENCRYPTED_SID = "LakegateDenyUnencryptedObjectUploads"
DENY_INSECURE_SID = "LakegateDenyInsecureTransport"

_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_DOMAIN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_MISSING_BUCKET_CODES = frozenset({"404", "NoSuchBucket", "NotFound"})
_MISSING_KEY_CODES = frozenset({"404", "NoSuchKey", "NotFound"})

_T = TypeVar("_T")


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/prefix`` into bucket and prefix.

    Args:
        uri: An ``s3://`` URI; the prefix may be empty or nested
            (``s3://bucket/a/b``).

    Returns:
        The bucket name and the prefix without leading or trailing slashes.

    Raises:
        ConfigError: The URI is not ``s3://`` or the bucket name is invalid.
    """
    if not uri.startswith("s3://"):
        raise ConfigError(f"storage URI {uri!r} is not an s3://bucket/prefix URI")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    _check_bucket_name(bucket)
    return bucket, prefix.strip("/")


def _check_bucket_name(bucket: str) -> None:
    if not _BUCKET_RE.fullmatch(bucket) or ".." in bucket:
        raise ConfigError(
            f"invalid S3 bucket name {bucket!r}: use 3-63 lowercase letters, digits, dots and hyphens"
        )


def _error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` ('' for other errors)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _error_message(exc: BaseException) -> str:
    """The AWS error message of a botocore ``ClientError`` (``str(exc)`` otherwise)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        message = response.get("Error", {}).get("Message")
        if message:
            return str(message)
    return str(exc)


def _client_error() -> type[Exception]:
    """botocore's ``ClientError`` (an AWS error answer), imported on first use."""
    from botocore.exceptions import ClientError  # type: ignore[import-untyped, unused-ignore]

    return ClientError  # type: ignore[no-any-return, unused-ignore]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


class S3Store:
    """The lake in ``s3://bucket/prefix``, every object SSE-KMS encrypted.

    Attributes:
        root: ``s3://bucket/prefix`` (``s3://bucket`` for an empty prefix).
        bucket: The bucket name.
        prefix: Key prefix of the lake inside the bucket, without slashes.
        region: AWS region of the bucket and the KMS keys.
        endpoint_url: S3/KMS-compatible endpoint (a moto server in tests);
            ``None`` for AWS itself.
        kms_key_ids: Configured domain keys (domain name to key id, key ARN
            or alias); other domains get a key found or created by alias.

    Object keys taken and returned by :meth:`put_object`, :meth:`get_object`,
    :meth:`list_objects` and :meth:`move_object` are relative to ``prefix``,
    so ``put_object("landing/ads/a.csv", ...)`` writes
    ``s3://bucket/prefix/landing/ads/a.csv``.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        kms_key_ids: Mapping[str, str] | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
    ) -> None:
        """Describe the store; nothing is contacted until a method needs it.

        Args:
            bucket: Bucket name.
            prefix: Key prefix of the lake inside the bucket.
            region: AWS region for S3 and KMS.
            endpoint_url: Endpoint for S3 and KMS instead of AWS's (tests).
            kms_key_ids: Domain name to configured KMS key id.
            aws_access_key_id: Explicit credentials; when omitted, boto3's
                credential chain (environment, profile, instance role...)
                supplies them.
            aws_secret_access_key: Secret of ``aws_access_key_id``.
            aws_session_token: Session token of temporary credentials.

        Raises:
            ConfigError: Invalid bucket name, or only half of an access key.
        """
        _check_bucket_name(bucket)
        if (aws_access_key_id is None) != (aws_secret_access_key is None):
            raise ConfigError("explicit AWS credentials need both an access key id and a secret access key")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.region = region
        self.endpoint_url = endpoint_url.rstrip("/") if endpoint_url else None
        self.kms_key_ids: dict[str, str] = dict(kms_key_ids or {})
        self.root = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._access_key_id = aws_access_key_id
        self._secret_access_key = aws_secret_access_key
        self._session_token = aws_session_token
        self._lock = threading.RLock()
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._domain_keys: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Store:
        """The store that ``settings.storage_uri`` (``s3://bucket/prefix``) names.

        Args:
            settings: Settings with an ``s3://`` storage URI.

        Returns:
            A store using the settings' endpoint, region and domain keys, with
            credentials from boto3's credential chain.

        Raises:
            ConfigError: The storage URI is not a valid ``s3://`` URI.
        """
        if not settings.storage_uri:
            raise ConfigError("LAKEGATE_STORAGE_URI is not set")
        bucket, prefix = parse_s3_uri(settings.storage_uri)
        return cls(
            bucket,
            prefix,
            region=settings.s3_region,
            endpoint_url=settings.s3_endpoint_url,
            kms_key_ids=settings.kms_key_ids,
        )

    def __repr__(self) -> str:
        endpoint = f", endpoint_url={self.endpoint_url!r}" if self.endpoint_url else ""
        return f"S3Store(root={self.root!r}, region={self.region!r}{endpoint})"

    # -- clients -------------------------------------------------------------

    def _boto_session(self) -> Any:
        with self._lock:
            if self._session is None:
                import boto3  # type: ignore[import-untyped, unused-ignore]

                self._session = boto3.session.Session(
                    aws_access_key_id=self._access_key_id,
                    aws_secret_access_key=self._secret_access_key,
                    aws_session_token=self._session_token,
                    region_name=self.region,
                )
            return self._session

    def _client(self, service: str) -> Any:
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                from botocore.config import Config  # type: ignore[import-untyped, unused-ignore]

                options: dict[str, Any] = {"retries": {"mode": "standard", "max_attempts": 5}}
                if service == "s3" and self.endpoint_url:
                    # Custom endpoints (moto, MinIO) serve buckets by path, not by host name.
                    options["s3"] = {"addressing_style": "path"}
                client = self._boto_session().client(
                    service,
                    region_name=self.region,
                    endpoint_url=self.endpoint_url,
                    config=Config(**options),
                )
                self._clients[service] = client
            return client

    def s3_client(self) -> Any:
        """A boto3 S3 client for this store's endpoint, region and credentials.

        Returns:
            The store's S3 client (created once, safe to share between threads).
        """
        return self._client("s3")

    def kms_client(self) -> Any:
        """A boto3 KMS client for this store's endpoint, region and credentials.

        ``lake.crypto.KmsKeyProvider(store.kms_client())`` wraps data keys
        with the domain keys of this store.

        Returns:
            The store's KMS client (created once, safe to share between threads).
        """
        return self._client("kms")

    def _call(self, what: str, fn: Callable[..., _T], /, **kwargs: Any) -> _T:
        """Run one AWS call, turning AWS errors into :class:`StorageError`."""
        from botocore.exceptions import BotoCoreError  # type: ignore[import-untyped, unused-ignore]

        try:
            return fn(**kwargs)
        except _client_error() as exc:
            raise StorageError(f"{what} failed: {_error_code(exc)}: {_error_message(exc)}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"{what} failed: {exc}") from exc

    # -- paths ---------------------------------------------------------------

    def table_uri(self, domain: str, dataset: str, major: int, *, suffix: str = "") -> str:
        """The URI of a table: ``s3://bucket/prefix/<domain>/<dataset>/v<major><suffix>``.

        Args:
            domain: Domain of the dataset.
            dataset: Dataset name.
            major: Major version of the dataset's contract.
            suffix: Appended to the version directory (``"_quarantine"``).

        Returns:
            The table URI for delta-rs.
        """
        return f"{self.root}/{domain}/{dataset}/v{major}{suffix}"

    def object_key(self, key: str) -> str:
        """The bucket key of a key relative to the lake prefix.

        Args:
            key: A key relative to ``prefix``, such as ``landing/ads/a.csv``.

        Returns:
            The full key inside the bucket.

        Raises:
            InvalidInput: The key is empty or has ``.``/``..``/empty segments.
        """
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") for p in parts):
            raise InvalidInput(f"invalid object key {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def _relative(self, full_key: str) -> str:
        return full_key[len(self.prefix) + 1 :] if self.prefix else full_key

    # -- bucket setup and check ----------------------------------------------

    def setup(self) -> None:
        """Create and secure the bucket; idempotent.

        Creates the bucket if missing; sets SSE-KMS default encryption with
        the lake key (``alias/lakegate/lake``, created if absent) and S3
        Bucket Keys unless the bucket already defaults to SSE-KMS; adds the
        deny statements for unencrypted uploads and non-TLS requests to the
        bucket policy (other statements are kept); blocks all public access;
        then runs :meth:`check`.

        Raises:
            StorageError: AWS refused a call, or the result fails :meth:`check`.
        """
        s3 = self.s3_client()
        self._ensure_bucket(s3)
        if not self._default_encryption_is_kms(s3):
            lake_key = self._ensure_key_by_alias(LAKE_KEY_ALIAS, "Lakegate lake-level default encryption key")
            self._call(
                f"setting default encryption of bucket {self.bucket}",
                s3.put_bucket_encryption,
                Bucket=self.bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [
                        {
                            "ApplyServerSideEncryptionByDefault": {
                                "SSEAlgorithm": SSE_KMS,
                                "KMSMasterKeyID": lake_key,
                            },
                            "BucketKeyEnabled": True,
                        }
                    ]
                },
            )
            logger.info("bucket %s: default encryption SSE-KMS with key %s", self.bucket, lake_key)
        self._put_policy(s3)
        self._call(
            f"blocking public access to bucket {self.bucket}",
            s3.put_public_access_block,
            Bucket=self.bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        self.check()

    def _ensure_bucket(self, s3: Any) -> None:
        try:
            s3.head_bucket(Bucket=self.bucket)
            return
        except _client_error() as exc:
            code = _error_code(exc)
            if code not in _MISSING_BUCKET_CODES:
                raise StorageError(f"bucket {self.bucket} is not accessible: {code}") from exc
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            s3.create_bucket(**kwargs)
            logger.info("created bucket %s in %s", self.bucket, self.region)
        except _client_error() as exc:
            if _error_code(exc) != "BucketAlreadyOwnedByYou":
                raise StorageError(f"creating bucket {self.bucket} failed: {_error_code(exc)}") from exc

    def _default_encryption_is_kms(self, s3: Any) -> bool:
        rules = self._encryption_rules(s3)
        return any(
            r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") in _KMS_ALGORITHMS for r in rules
        )

    def _encryption_rules(self, s3: Any) -> list[dict[str, Any]]:
        try:
            out = s3.get_bucket_encryption(Bucket=self.bucket)
        except _client_error() as exc:
            if _error_code(exc) == "ServerSideEncryptionConfigurationNotFoundError":
                return []
            raise StorageError(
                f"reading default encryption of bucket {self.bucket} failed: {_error_code(exc)}"
            ) from exc
        rules = out.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        return list(rules)

    def _policy_statements(self, s3: Any) -> list[dict[str, Any]] | None:
        """The bucket policy's statements, or ``None`` without a policy."""
        try:
            out = s3.get_bucket_policy(Bucket=self.bucket)
        except _client_error() as exc:
            if _error_code(exc) == "NoSuchBucketPolicy":
                return None
            raise StorageError(f"reading the policy of bucket {self.bucket} failed: {_error_code(exc)}") from exc
        try:
            policy = json.loads(out["Policy"])
        except (KeyError, ValueError) as exc:
            raise StorageError(f"the policy of bucket {self.bucket} is not valid JSON") from exc
        return [s for s in _as_list(policy.get("Statement")) if isinstance(s, dict)]

    def _lakegate_statements(self) -> list[dict[str, Any]]:
        bucket_arn = f"arn:aws:s3:::{self.bucket}"
        return [
            {
                "Sid": DENY_UNENCRYPTED_SID,
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/*",
                # StringNotEquals also matches a request without the header.
                "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": SSE_KMS}},
            },
            {
                "Sid": DENY_INSECURE_SID,
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ]

    def _put_policy(self, s3: Any) -> None:
        ours = self._lakegate_statements()
        sids = {s["Sid"] for s in ours}
        existing = self._policy_statements(s3) or []
        kept = [s for s in existing if s.get("Sid") not in sids]
        policy = {"Version": "2012-10-17", "Statement": kept + ours}
        self._call(
            f"setting the policy of bucket {self.bucket}",
            s3.put_bucket_policy,
            Bucket=self.bucket,
            Policy=json.dumps(policy),
        )

    def check(self) -> None:
        """Verify the bucket is safe for the lake.

        Reads back the default encryption (must be SSE-KMS), the bucket policy
        (must deny ``s3:PutObject`` without ``aws:kms`` encryption and deny
        all requests without TLS, for every principal) and the public access
        block (all four settings on).

        Raises:
            StorageError: The bucket is missing or unreadable, or one or more
                of the above is missing; the message lists every problem.
        """
        s3 = self.s3_client()
        try:
            s3.head_bucket(Bucket=self.bucket)
        except _client_error() as exc:
            code = _error_code(exc)
            if code in _MISSING_BUCKET_CODES:
                raise StorageError(f"bucket {self.bucket} does not exist; run setup") from exc
            raise StorageError(f"bucket {self.bucket} is not accessible: {code}") from exc

        problems: list[str] = []
        rules = self._encryption_rules(s3)
        algorithms = [r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules]
        if not any(a in _KMS_ALGORITHMS for a in algorithms):
            found = ", ".join(str(a) for a in algorithms) or "none"
            problems.append(f"default encryption is not SSE-KMS (aws:kms); found {found}")

        statements = self._policy_statements(s3)
        if statements is None:
            problems.append("bucket has no policy")
            statements = []
        if not any(self._denies_unencrypted_put(s) for s in statements):
            problems.append(
                "bucket policy lacks a Deny of s3:PutObject for every principal when "
                "s3:x-amz-server-side-encryption is not aws:kms"
            )
        if not any(self._denies_insecure_transport(s) for s in statements):
            problems.append(
                "bucket policy lacks a Deny of all actions for every principal when aws:SecureTransport is false"
            )

        problems.extend(self._public_access_problems(s3))
        if problems:
            raise StorageError(f"bucket {self.bucket} is not safe for the lake: " + "; ".join(problems))

    def _public_access_problems(self, s3: Any) -> list[str]:
        try:
            out = s3.get_public_access_block(Bucket=self.bucket)
        except _client_error() as exc:
            if _error_code(exc) == "NoSuchPublicAccessBlockConfiguration":
                return ["public access is not blocked (no public access block)"]
            raise StorageError(
                f"reading the public access block of bucket {self.bucket} failed: {_error_code(exc)}"
            ) from exc
        config = out.get("PublicAccessBlockConfiguration", {})
        off = [
            name
            for name in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
            if not config.get(name)
        ]
        return [f"public access block has {', '.join(off)} off"] if off else []

    @staticmethod
    def _is_deny_for_everyone(statement: Mapping[str, Any]) -> bool:
        if statement.get("Effect") != "Deny" or "NotPrincipal" in statement:
            return False
        principal = statement.get("Principal")
        if principal == "*":
            return True
        return isinstance(principal, dict) and "*" in _as_list(principal.get("AWS"))

    @staticmethod
    def _actions_cover(statement: Mapping[str, Any], action: str) -> bool:
        actions = [str(a).lower() for a in _as_list(statement.get("Action"))]
        return any(a in ("*", "s3:*", action.lower()) for a in actions)

    def _resources_cover(self, statement: Mapping[str, Any], resources: Iterable[str]) -> bool:
        listed = [str(r) for r in _as_list(statement.get("Resource"))]

        def covered(arn: str) -> bool:
            for pattern in listed:
                regex = ".*".join(re.escape(part) for part in pattern.split("*"))
                if re.fullmatch(regex, arn, re.DOTALL):
                    return True
            return False

        return all(covered(arn) for arn in resources)

    @staticmethod
    def _condition_values(statement: Mapping[str, Any], operator: str, key: str) -> list[str]:
        condition = statement.get("Condition") or {}
        block = condition.get(operator) or {}
        for name, value in block.items():
            if str(name).lower() == key.lower():
                return [str(v).lower() for v in _as_list(value)]
        return []

    def _denies_unencrypted_put(self, statement: Mapping[str, Any]) -> bool:
        return (
            self._is_deny_for_everyone(statement)
            and self._actions_cover(statement, "s3:PutObject")
            and self._resources_cover(statement, [f"arn:aws:s3:::{self.bucket}/*"])
            and self._condition_values(statement, "StringNotEquals", "s3:x-amz-server-side-encryption") == [SSE_KMS]
        )

    def _denies_insecure_transport(self, statement: Mapping[str, Any]) -> bool:
        actions = [str(a).lower() for a in _as_list(statement.get("Action"))]
        return (
            self._is_deny_for_everyone(statement)
            and any(a in ("*", "s3:*") for a in actions)
            and self._resources_cover(statement, [f"arn:aws:s3:::{self.bucket}", f"arn:aws:s3:::{self.bucket}/*"])
            and self._condition_values(statement, "Bool", "aws:SecureTransport") == ["false"]
        )

    # -- KMS keys ------------------------------------------------------------

    def ensure_domain(self, domain: str, kms_key_id: str | None = None) -> str:
        """The KMS key id of a domain, created if needed.

        The key is, in order: ``kms_key_id`` if given, the domain's entry in
        the configured ``kms_key_ids``, the key behind alias
        ``alias/lakegate/<domain>``, or a new symmetric key (rotation on)
        created with that alias and a description naming the domain. The
        answer is remembered for the life of the store.

        Args:
            domain: Domain name (letters, digits, ``_`` and ``-``).
            kms_key_id: An explicit key id, key ARN or alias for the domain.

        Returns:
            The key id to name in SSE-KMS headers and KMS calls: a given or
            configured id as written, otherwise the key's id.

        Raises:
            InvalidInput: The domain name is not usable in a KMS alias, or is
                ``lake`` (reserved for the lake-level key).
            StorageError: The key does not exist, is not enabled, or KMS
                refused a call.
        """
        self._check_domain(domain)
        with self._lock:
            if kms_key_id is None:
                cached = self._domain_keys.get(domain)
                if cached is not None:
                    return cached
                kms_key_id = self.kms_key_ids.get(domain)
            if kms_key_id is not None:
                what = f"KMS key {kms_key_id!r} of domain {domain}"
                if self._describe_enabled_key(kms_key_id, what) is None:
                    raise StorageError(f"{what} does not exist")
                key = kms_key_id
            else:
                key = self._ensure_key_by_alias(
                    KEY_ALIAS_PREFIX + domain, f"Lakegate data key of domain {domain}", domain=domain
                )
            self._domain_keys[domain] = key
            return key

    @staticmethod
    def _check_domain(domain: str) -> None:
        if not _DOMAIN_RE.fullmatch(domain) or len(domain) > 200:
            raise InvalidInput(f"invalid domain name {domain!r}: use letters, digits, '_' and '-'")
        if KEY_ALIAS_PREFIX + domain == LAKE_KEY_ALIAS:
            raise InvalidInput(f"domain name {domain!r} is reserved for the lake-level key")

    def _describe_enabled_key(self, key_id: str, what: str) -> dict[str, Any] | None:
        """Key metadata, ``None`` if the key does not exist; refuses unusable keys."""
        kms = self.kms_client()
        try:
            metadata: dict[str, Any] = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        except _client_error() as exc:
            if _error_code(exc) == "NotFoundException":
                return None
            raise StorageError(f"looking up {what} failed: {_error_code(exc)}") from exc
        state = metadata.get("KeyState", "Enabled")
        if state != "Enabled":
            raise StorageError(f"{what} is not usable: its state is {state}")
        if metadata.get("KeyUsage", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT":
            raise StorageError(f"{what} is not an encryption key")
        return metadata

    def _ensure_key_by_alias(self, alias: str, description: str, *, domain: str | None = None) -> str:
        """The id of the key behind ``alias``, creating key and alias if absent."""
        found = self._describe_enabled_key(alias, f"KMS key {alias}")
        if found is not None:
            return str(found["KeyId"])
        kms = self.kms_client()
        tags = [{"TagKey": "lakegate:purpose", "TagValue": "domain" if domain else "lake"}]
        if domain:
            tags.append({"TagKey": "lakegate:domain", "TagValue": domain})
        created = self._call(
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
        except _client_error() as exc:
            if _error_code(exc) != "AlreadyExistsException":
                raise StorageError(f"creating KMS alias {alias} failed: {_error_code(exc)}") from exc
            # Another process created the alias first: use its key, retire ours.
            self._call("retiring a duplicate KMS key", kms.schedule_key_deletion, KeyId=key_id, PendingWindowInDays=7)
            winner = self._describe_enabled_key(alias, f"KMS key {alias}")
            if winner is None:
                raise StorageError(f"KMS alias {alias} vanished while creating it") from exc
            return str(winner["KeyId"])
        self._call(f"enabling rotation of KMS key {alias}", kms.enable_key_rotation, KeyId=key_id)
        logger.info("created KMS key %s with alias %s", key_id, alias)
        return key_id

    # -- delta-rs ------------------------------------------------------------

    def storage_options(self, domain: str) -> dict[str, str]:
        """delta-rs storage options for the tables of a domain.

        Every object delta-rs writes with these options (Parquet data files,
        including multipart uploads, and ``_delta_log`` commits and
        checkpoints) carries ``x-amz-server-side-encryption: aws:kms`` with
        the domain's key. Credentials are resolved now (explicit ones, else
        boto3's chain) and passed along; temporary credentials expire, so ask
        again for long-running work.

        Args:
            domain: The domain whose key encrypts the objects.

        Returns:
            Options for ``deltalake.write_deltalake``/``DeltaTable``. They hold
            credentials: never log them.

        Raises:
            InvalidInput: Invalid domain name.
            StorageError: The domain's key cannot be resolved or created.
        """
        key_id = self.ensure_domain(domain)
        options: dict[str, str] = {
            "AWS_REGION": self.region,
            # object_store's S3 encryption settings: the headers go on every
            # PutObject and CreateMultipartUpload (large Parquet files).
            "AWS_SERVER_SIDE_ENCRYPTION": SSE_KMS,
            "AWS_SSE_KMS_KEY_ID": key_id,
            "AWS_SSE_BUCKET_KEY_ENABLED": "true",
            # Concurrent commits: deltalake 1.x commits version N by writing
            # _delta_log/N.json with PutMode::Create, which object_store sends
            # as a conditional PUT (If-None-Match: *). S3 (since 2024-08) and
            # moto 5 answer 412 if N exists; delta-rs then rebases and retries.
            # "etag" is object_store's default already; it is set explicitly
            # because with conditional puts disabled every commit fails. The
            # lock-free AWS_S3_ALLOW_UNSAFE_RENAME (last writer wins) and the
            # DynamoDB locking provider are not needed and not used.
            "AWS_CONDITIONAL_PUT": "etag",
        }
        if self.endpoint_url:
            options["AWS_ENDPOINT_URL"] = self.endpoint_url
            if self.endpoint_url.startswith("http://"):
                options["AWS_ALLOW_HTTP"] = "true"
        options.update(self._credentials())
        return options

    def _credentials(self) -> dict[str, str]:
        if self._access_key_id and self._secret_access_key:
            creds = {
                "AWS_ACCESS_KEY_ID": self._access_key_id,
                "AWS_SECRET_ACCESS_KEY": self._secret_access_key,
            }
            if self._session_token:
                creds["AWS_SESSION_TOKEN"] = self._session_token
            return creds
        found = self._boto_session().get_credentials()
        if found is None:
            # Nothing in boto3's chain: delta-rs tries its own (web identity, IMDS...).
            return {}
        frozen = found.get_frozen_credentials()
        creds = {"AWS_ACCESS_KEY_ID": frozen.access_key, "AWS_SECRET_ACCESS_KEY": frozen.secret_key}
        if frozen.token:
            creds["AWS_SESSION_TOKEN"] = frozen.token
        return creds

    # -- objects (landing prefixes) ------------------------------------------

    def put_object(self, key: str, data: bytes, domain: str) -> None:
        """Write an object encrypted with SSE-KMS under the domain's key.

        Args:
            key: Key relative to the lake prefix.
            data: The object's content.
            domain: Domain whose key encrypts the object.

        Raises:
            InvalidInput: Invalid key or domain.
            StorageError: S3 or KMS refused the write.
        """
        full_key = self.object_key(key)
        key_id = self.ensure_domain(domain)
        self._call(
            f"writing s3://{self.bucket}/{full_key}",
            self.s3_client().put_object,
            Bucket=self.bucket,
            Key=full_key,
            Body=data,
            ServerSideEncryption=SSE_KMS,
            SSEKMSKeyId=key_id,
            BucketKeyEnabled=True,
        )

    def get_object(self, key: str) -> bytes:
        """Read an object.

        Args:
            key: Key relative to the lake prefix.

        Returns:
            The object's content.

        Raises:
            NotFound: No such object.
            StorageError: S3 or KMS refused the read.
        """
        full_key = self.object_key(key)
        try:
            out = self.s3_client().get_object(Bucket=self.bucket, Key=full_key)
            return bytes(out["Body"].read())
        except _client_error() as exc:
            if _error_code(exc) in _MISSING_KEY_CODES:
                raise NotFound(f"no object s3://{self.bucket}/{full_key}") from exc
            raise StorageError(f"reading s3://{self.bucket}/{full_key} failed: {_error_code(exc)}") from exc

    def list_objects(self, prefix: str = "") -> list[str]:
        """Keys under a prefix, in lexicographic order.

        Args:
            prefix: Key prefix relative to the lake prefix; plain string
                matching, so ``landing/ads/`` lists that directory and
                ``landing/ad`` also matches ``landing/ads/...``.

        Returns:
            Keys relative to the lake prefix.

        Raises:
            StorageError: S3 refused the listing.
        """
        full_prefix = f"{self.prefix}/{prefix}" if self.prefix else prefix
        paginator = self.s3_client().get_paginator("list_objects_v2")

        def collect() -> list[str]:
            keys: list[str] = []
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix):
                keys.extend(self._relative(str(item["Key"])) for item in page.get("Contents", []))
            return keys

        return sorted(self._call(f"listing s3://{self.bucket}/{full_prefix}", collect))

    def move_object(self, src: str, dst: str, domain: str) -> None:
        """Move an object, re-encrypting the copy under the domain's key.

        S3 has no rename: the object is copied (server side, multipart above
        the managed-transfer threshold) with SSE-KMS under the domain's key,
        then the source is deleted.

        Args:
            src: Source key relative to the lake prefix.
            dst: Destination key relative to the lake prefix.
            domain: Domain whose key encrypts the destination object.

        Raises:
            NotFound: No source object.
            InvalidInput: Invalid key or domain.
            StorageError: S3 or KMS refused the copy or the delete.
        """
        src_key, dst_key = self.object_key(src), self.object_key(dst)
        key_id = self.ensure_domain(domain)
        s3 = self.s3_client()
        try:
            s3.copy(
                CopySource={"Bucket": self.bucket, "Key": src_key},
                Bucket=self.bucket,
                Key=dst_key,
                ExtraArgs={"ServerSideEncryption": SSE_KMS, "SSEKMSKeyId": key_id},
            )
        except _client_error() as exc:
            if _error_code(exc) in _MISSING_KEY_CODES:
                raise NotFound(f"no object s3://{self.bucket}/{src_key}") from exc
            raise StorageError(
                f"copying s3://{self.bucket}/{src_key} to {dst_key} failed: {_error_code(exc)}"
            ) from exc
        self._call(f"deleting s3://{self.bucket}/{src_key}", s3.delete_object, Bucket=self.bucket, Key=src_key)
