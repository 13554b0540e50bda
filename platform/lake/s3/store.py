"""The S3 implementation of :class:`lake.storage.ObjectStore`.

:class:`S3Store` holds the clients, the paths, the object IO (every object
written with SSE-KMS under its domain's key) and the delta-rs storage
options. Provisioning the bucket is :mod:`lake.s3.provision`, auditing it
:mod:`lake.s3.audit`, the KMS keys :mod:`lake.s3.keys`.

boto3 is imported inside the methods that need it, so ``import lake.s3``
stays cheap. Credentials are never logged and never part of ``repr``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lake.errors import ConfigError, InvalidInput, NotFound, StorageError
from lake.s3.audit import check_bucket
from lake.s3.aws import MISSING_KEY_CODES, SSE_KMS, call, client_error, error_code
from lake.s3.keys import DomainKeys
from lake.s3.provision import provision_bucket
from lake.storage import MAX_PRESIGN_SECONDS, check_key

if TYPE_CHECKING:
    from lake.settings import Settings

__all__ = ["S3Store", "parse_s3_uri"]

_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")



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

    Object keys taken and returned by the object IO of
    :class:`lake.storage.ObjectStore` are relative to ``prefix``,
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
        self._presigner: Any = None
        self.keys = DomainKeys(self.kms_client, self.kms_key_ids)

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
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _relative(self, full_key: str) -> str:
        return full_key[len(self.prefix) + 1 :] if self.prefix else full_key

    # -- provisioning, audit and keys ----------------------------------------

    def setup(self) -> None:
        """Create and secure the bucket, then check it; idempotent.

        See :func:`lake.s3.provision.provision_bucket` for what is set up and
        :meth:`check` for what is verified.

        Raises:
            StorageError: AWS refused a call, or the result fails :meth:`check`.
        """
        provision_bucket(self.s3_client(), self.bucket, self.region, self.keys)
        self.check()

    def check(self) -> None:
        """Verify the bucket is safe for the lake (:func:`lake.s3.audit.check_bucket`).

        Reads back the default encryption (must be SSE-KMS), the bucket policy
        (must deny ``s3:PutObject`` without ``aws:kms`` encryption and deny
        all requests without TLS, for every principal) and the public access
        block (all four settings on).

        Raises:
            StorageError: The bucket is missing or unreadable, or one or more
                of the above is missing; the message lists every problem.
        """
        check_bucket(self.s3_client(), self.bucket)

    def ensure_domain(self, domain: str, kms_key_id: str | None = None) -> str:
        """The KMS key id of a domain, created if needed (:meth:`lake.s3.keys.DomainKeys.for_domain`).

        The key is, in order: ``kms_key_id`` if given, the domain's entry in
        the configured ``kms_key_ids``, the key behind alias
        ``alias/lakegate/<domain>``, or a new symmetric key (rotation on)
        created with that alias. The answer is remembered for the life of the
        store.

        Args:
            domain: Domain name (letters, digits, ``_`` and ``-``).
            kms_key_id: An explicit key id, key ARN or alias for the domain.

        Returns:
            The key id to name in SSE-KMS headers and KMS calls.

        Raises:
            InvalidInput: The domain name is not usable in a KMS alias, or is
                ``lake`` (reserved for the lake-level key).
            StorageError: The key does not exist, is not enabled, or KMS
                refused a call.
        """
        return self.keys.for_domain(domain, kms_key_id)

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

    # -- objects --------------------------------------------------------------

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
        call(
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
        except client_error() as exc:
            if error_code(exc) in MISSING_KEY_CODES:
                raise NotFound(f"no object s3://{self.bucket}/{full_key}") from exc
            raise StorageError(f"reading s3://{self.bucket}/{full_key} failed: {error_code(exc)}") from exc

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

        return sorted(call(f"listing s3://{self.bucket}/{full_prefix}", collect))

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
        except client_error() as exc:
            if error_code(exc) in MISSING_KEY_CODES:
                raise NotFound(f"no object s3://{self.bucket}/{src_key}") from exc
            raise StorageError(
                f"copying s3://{self.bucket}/{src_key} to {dst_key} failed: {error_code(exc)}"
            ) from exc
        call(f"deleting s3://{self.bucket}/{src_key}", s3.delete_object, Bucket=self.bucket, Key=src_key)

    def delete_object(self, key: str) -> None:
        """Delete an object; deleting a missing object is not an error.

        Args:
            key: Key relative to the lake prefix.

        Raises:
            InvalidInput: Invalid key.
            StorageError: S3 refused the delete.
        """
        full_key = self.object_key(key)
        call(f"deleting s3://{self.bucket}/{full_key}", self.s3_client().delete_object, Bucket=self.bucket,
             Key=full_key)

    def presign(self, key: str, expires_in: int) -> str:
        """A SigV4 presigned GET URL of an object that expires.

        S3 serves SSE-KMS objects only to SigV4 requests, so the URL is signed
        with SigV4 whatever the client default is. Nothing is contacted: the
        object need not exist yet.

        Args:
            key: Key relative to the lake prefix.
            expires_in: Seconds the URL stays valid (1 second to 7 days).

        Returns:
            An ``https://`` (or the endpoint's scheme) URL anyone holding it may GET.

        Raises:
            InvalidInput: Invalid key, or a lifetime outside 1 s to 7 days.
        """
        full_key = self.object_key(key)
        if not 1 <= expires_in <= MAX_PRESIGN_SECONDS:
            raise InvalidInput(f"a presigned URL lives 1 to {MAX_PRESIGN_SECONDS} seconds, not {expires_in}")
        with self._lock:
            if self._presigner is None:
                from botocore.config import Config  # type: ignore[import-untyped, unused-ignore]

                options: dict[str, Any] = {"signature_version": "s3v4"}
                if self.endpoint_url:
                    options["s3"] = {"addressing_style": "path"}
                self._presigner = self._boto_session().client(
                    "s3", region_name=self.region, endpoint_url=self.endpoint_url, config=Config(**options))
            presigner = self._presigner
        return str(presigner.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": full_key}, ExpiresIn=expires_in))
