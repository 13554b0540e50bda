"""Auditing an S3 bucket: is it safe to hold the lake?

A safe bucket defaults to SSE-KMS encryption; its policy denies, for every
principal, ``s3:PutObject`` without ``aws:kms`` server-side encryption and
every request not made over TLS; and all four public access block settings
are on. :func:`check_bucket` reads this back and names every problem;
:mod:`lake.s3.provision` establishes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from lake.errors import StorageError
from lake.s3.aws import KMS_ALGORITHMS, MISSING_BUCKET_CODES, SSE_KMS, as_list, client_error, error_code

__all__ = ["bucket_problems", "check_bucket", "encryption_rules", "policy_statements"]

_PUBLIC_ACCESS_SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def check_bucket(s3: Any, bucket: str) -> None:
    """Verify the bucket is safe for the lake.

    Args:
        s3: A boto3 S3 client.
        bucket: The bucket name.

    Raises:
        StorageError: The bucket is missing or unreadable, or is not safe;
            the message lists every problem.
    """
    problems = bucket_problems(s3, bucket)
    if problems:
        raise StorageError(f"bucket {bucket} is not safe for the lake: " + "; ".join(problems))


def bucket_problems(s3: Any, bucket: str) -> list[str]:
    """What keeps the bucket from being safe for the lake (empty when safe).

    Args:
        s3: A boto3 S3 client.
        bucket: The bucket name.

    Returns:
        One sentence per problem: default encryption, each missing policy
        statement, the public access block.

    Raises:
        StorageError: The bucket is missing or a setting cannot be read.
    """
    try:
        s3.head_bucket(Bucket=bucket)
    except client_error() as exc:
        code = error_code(exc)
        if code in MISSING_BUCKET_CODES:
            raise StorageError(f"bucket {bucket} does not exist; run setup") from exc
        raise StorageError(f"bucket {bucket} is not accessible: {code}") from exc

    problems: list[str] = []
    rules = encryption_rules(s3, bucket)
    algorithms = [r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules]
    if not any(a in KMS_ALGORITHMS for a in algorithms):
        found = ", ".join(str(a) for a in algorithms) or "none"
        problems.append(f"default encryption is not SSE-KMS (aws:kms); found {found}")

    statements = policy_statements(s3, bucket)
    if statements is None:
        problems.append("bucket has no policy")
        statements = []
    if not any(_denies_unencrypted_put(s, bucket) for s in statements):
        problems.append(
            "bucket policy lacks a Deny of s3:PutObject for every principal when "
            "s3:x-amz-server-side-encryption is not aws:kms"
        )
    if not any(_denies_insecure_transport(s, bucket) for s in statements):
        problems.append(
            "bucket policy lacks a Deny of all actions for every principal when aws:SecureTransport is false"
        )
    problems.extend(_public_access_problems(s3, bucket))
    return problems


def encryption_rules(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """The bucket's default encryption rules (empty without a configuration).

    Raises:
        StorageError: S3 refused the read.
    """
    try:
        out = s3.get_bucket_encryption(Bucket=bucket)
    except client_error() as exc:
        if error_code(exc) == "ServerSideEncryptionConfigurationNotFoundError":
            return []
        raise StorageError(f"reading default encryption of bucket {bucket} failed: {error_code(exc)}") from exc
    rules = out.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    return list(rules)


def policy_statements(s3: Any, bucket: str) -> list[dict[str, Any]] | None:
    """The bucket policy's statements, or ``None`` without a policy.

    Raises:
        StorageError: S3 refused the read, or the policy is not JSON.
    """
    try:
        out = s3.get_bucket_policy(Bucket=bucket)
    except client_error() as exc:
        if error_code(exc) == "NoSuchBucketPolicy":
            return None
        raise StorageError(f"reading the policy of bucket {bucket} failed: {error_code(exc)}") from exc
    try:
        policy = json.loads(out["Policy"])
    except (KeyError, ValueError) as exc:
        raise StorageError(f"the policy of bucket {bucket} is not valid JSON") from exc
    return [s for s in as_list(policy.get("Statement")) if isinstance(s, dict)]


def _public_access_problems(s3: Any, bucket: str) -> list[str]:
    try:
        out = s3.get_public_access_block(Bucket=bucket)
    except client_error() as exc:
        if error_code(exc) == "NoSuchPublicAccessBlockConfiguration":
            return ["public access is not blocked (no public access block)"]
        raise StorageError(
            f"reading the public access block of bucket {bucket} failed: {error_code(exc)}"
        ) from exc
    config = out.get("PublicAccessBlockConfiguration", {})
    off = [name for name in _PUBLIC_ACCESS_SETTINGS if not config.get(name)]
    return [f"public access block has {', '.join(off)} off"] if off else []


def _is_deny_for_everyone(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect") != "Deny" or "NotPrincipal" in statement:
        return False
    principal = statement.get("Principal")
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in as_list(principal.get("AWS"))


def _actions_cover(statement: Mapping[str, Any], action: str) -> bool:
    actions = [str(a).lower() for a in as_list(statement.get("Action"))]
    return any(a in ("*", "s3:*", action.lower()) for a in actions)


def _resources_cover(statement: Mapping[str, Any], resources: Iterable[str]) -> bool:
    listed = [str(r) for r in as_list(statement.get("Resource"))]

    def covered(arn: str) -> bool:
        for pattern in listed:
            regex = ".*".join(re.escape(part) for part in pattern.split("*"))
            if re.fullmatch(regex, arn, re.DOTALL):
                return True
        return False

    return all(covered(arn) for arn in resources)


def _condition_values(statement: Mapping[str, Any], operator: str, key: str) -> list[str]:
    condition = statement.get("Condition") or {}
    block = condition.get(operator) or {}
    for name, value in block.items():
        if str(name).lower() == key.lower():
            return [str(v).lower() for v in as_list(value)]
    return []


def _denies_unencrypted_put(statement: Mapping[str, Any], bucket: str) -> bool:
    return (
        _is_deny_for_everyone(statement)
        and _actions_cover(statement, "s3:PutObject")
        and _resources_cover(statement, [f"arn:aws:s3:::{bucket}/*"])
        and _condition_values(statement, "StringNotEquals", "s3:x-amz-server-side-encryption") == [SSE_KMS]
    )


def _denies_insecure_transport(statement: Mapping[str, Any], bucket: str) -> bool:
    actions = [str(a).lower() for a in as_list(statement.get("Action"))]
    return (
        _is_deny_for_everyone(statement)
        and any(a in ("*", "s3:*") for a in actions)
        and _resources_cover(statement, [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"])
        and _condition_values(statement, "Bool", "aws:SecureTransport") == ["false"]
    )
