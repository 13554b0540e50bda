"""Provisioning an S3 bucket for the lake: bucket, default encryption, policy, public access.

:func:`provision_bucket` creates the bucket if missing; sets SSE-KMS default
encryption with the lake key (``alias/lakegate/lake``, created if absent) and
S3 Bucket Keys unless the bucket already defaults to SSE-KMS; adds the deny
statements for unencrypted uploads and non-TLS requests to the bucket policy
(other statements are kept); blocks all public access. Every step is
idempotent. :mod:`lake.s3.audit` checks the result.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from lake.errors import StorageError
from lake.s3.audit import encryption_rules, policy_statements
from lake.s3.aws import KMS_ALGORITHMS, MISSING_BUCKET_CODES, SSE_KMS, call, client_error, error_code
from lake.s3.keys import LAKE_KEY_ALIAS, DomainKeys

__all__ = ["DENY_INSECURE_SID", "DENY_UNENCRYPTED_SID", "lakegate_statements", "provision_bucket"]

logger = logging.getLogger(__name__)

DENY_UNENCRYPTED_SID = "LakegateDenyUnencryptedObjectUploads"
DENY_INSECURE_SID = "LakegateDenyInsecureTransport"


def provision_bucket(s3: Any, bucket: str, region: str, keys: DomainKeys) -> None:
    """Create and secure the bucket (see the module docstring); idempotent.

    Args:
        s3: A boto3 S3 client.
        bucket: The bucket name.
        region: Region to create the bucket in.
        keys: Finds or creates the lake key.

    Raises:
        StorageError: AWS refused a call.
    """
    _ensure_bucket(s3, bucket, region)
    if not _default_encryption_is_kms(s3, bucket):
        lake_key = keys.ensure_by_alias(LAKE_KEY_ALIAS, "Lakegate lake-level default encryption key")
        call(
            f"setting default encryption of bucket {bucket}",
            s3.put_bucket_encryption,
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": SSE_KMS, "KMSMasterKeyID": lake_key},
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
        logger.info("bucket %s: default encryption SSE-KMS with key %s", bucket, lake_key)
    _put_policy(s3, bucket)
    call(
        f"blocking public access to bucket {bucket}",
        s3.put_public_access_block,
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )


def lakegate_statements(bucket: str) -> list[dict[str, Any]]:
    """The bucket policy statements Lakegate adds: deny unencrypted PUTs, deny non-TLS requests.

    Args:
        bucket: The bucket name.

    Returns:
        Two IAM policy statements, with Lakegate's ``Sid``.
    """
    bucket_arn = f"arn:aws:s3:::{bucket}"
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


def _ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except client_error() as exc:
        code = error_code(exc)
        if code not in MISSING_BUCKET_CODES:
            raise StorageError(f"bucket {bucket} is not accessible: {code}") from exc
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**kwargs)
        logger.info("created bucket %s in %s", bucket, region)
    except client_error() as exc:
        if error_code(exc) != "BucketAlreadyOwnedByYou":
            raise StorageError(f"creating bucket {bucket} failed: {error_code(exc)}") from exc


def _default_encryption_is_kms(s3: Any, bucket: str) -> bool:
    rules = encryption_rules(s3, bucket)
    return any(r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") in KMS_ALGORITHMS for r in rules)


def _put_policy(s3: Any, bucket: str) -> None:
    ours = lakegate_statements(bucket)
    sids = {s["Sid"] for s in ours}
    existing = policy_statements(s3, bucket) or []
    kept = [s for s in existing if s.get("Sid") not in sids]
    policy = {"Version": "2012-10-17", "Statement": kept + ours}
    call(f"setting the policy of bucket {bucket}", s3.put_bucket_policy, Bucket=bucket, Policy=json.dumps(policy))
