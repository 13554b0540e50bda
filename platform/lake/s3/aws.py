"""AWS answers turned into Lakegate errors, shared by the S3 modules.

botocore is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from lake.errors import StorageError

__all__ = [
    "KMS_ALGORITHMS",
    "MISSING_BUCKET_CODES",
    "MISSING_KEY_CODES",
    "SSE_KMS",
    "as_list",
    "call",
    "client_error",
    "error_code",
    "error_message",
]

SSE_KMS = "aws:kms"
"""The ``x-amz-server-side-encryption`` value of SSE-KMS."""
KMS_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})
"""Default-encryption algorithms that count as SSE-KMS."""

MISSING_BUCKET_CODES = frozenset({"404", "NoSuchBucket", "NotFound"})
MISSING_KEY_CODES = frozenset({"404", "NoSuchKey", "NotFound"})

_T = TypeVar("_T")


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` ('' for other errors)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def error_message(exc: BaseException) -> str:
    """The AWS error message of a botocore ``ClientError`` (``str(exc)`` otherwise)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        message = response.get("Error", {}).get("Message")
        if message:
            return str(message)
    return str(exc)


def client_error() -> type[Exception]:
    """botocore's ``ClientError`` (an AWS error answer), imported on first use."""
    from botocore.exceptions import ClientError  # type: ignore[import-untyped, unused-ignore]

    return ClientError  # type: ignore[no-any-return, unused-ignore]


def call(what: str, fn: Callable[..., _T], /, **kwargs: Any) -> _T:
    """Run one AWS call, turning AWS errors into :class:`StorageError`.

    Args:
        what: What the call does, for the error message ("creating bucket x").
        fn: A boto3 client method (or any callable raising botocore errors).
        **kwargs: Passed to ``fn``.

    Returns:
        What ``fn`` returns.

    Raises:
        StorageError: AWS answered with an error, or botocore failed.
    """
    from botocore.exceptions import BotoCoreError  # type: ignore[import-untyped, unused-ignore]

    try:
        return fn(**kwargs)
    except client_error() as exc:
        raise StorageError(f"{what} failed: {error_code(exc)}: {error_message(exc)}") from exc
    except BotoCoreError as exc:
        raise StorageError(f"{what} failed: {exc}") from exc


def as_list(value: Any) -> list[Any]:
    """A policy field that may be one value or a list, as a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]
