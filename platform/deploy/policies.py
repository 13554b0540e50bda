"""IAM policy statements that give a subscriber exactly its granted tables.

Shared by the CloudFormation template (with intrinsic functions for ARNs)
and by credential vending (with resolved ARNs), so both grant the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class TableGrant:
    """Read access to one table (a dataset major version or a view version)."""

    domain: str
    name: str
    version: int
    kind: str = "dataset"  # "dataset": <domain>/<name>/v<N>; "view": views/<domain>.<name>/v<N>

    def key_prefix(self, lake_prefix: str) -> str:
        base = f"{lake_prefix.strip('/')}/" if lake_prefix.strip("/") else ""
        if self.kind == "view":
            return f"{base}views/{self.domain}.{self.name}/v{self.version}"
        return f"{base}{self.domain}/{self.name}/v{self.version}"


def read_statements(
    bucket_arn: Any,
    lake_prefix: str,
    grants: Sequence[TableGrant],
    key_arn: Any,
    *,
    object_arn: Any = None,
) -> list[dict[str, Any]]:
    """Statements allowing reads of exactly ``grants``.

    Args:
        bucket_arn: The bucket ARN (a string or a CloudFormation intrinsic).
        lake_prefix: Key prefix of the lake inside the bucket.
        grants: Tables to read.
        key_arn: ``key_arn(domain)`` gives the domain key's ARN (or intrinsic).
        object_arn: ``object_arn(key_prefix)`` gives the ARN of objects under a
            prefix; defaults to ``f"{bucket_arn}/{prefix}/*"`` for string ARNs.

    Returns:
        ``s3:GetObject`` on the table prefixes, ``s3:ListBucket`` limited to
        them, and ``kms:Decrypt`` on exactly their domains' keys. Empty when
        nothing is granted.
    """
    prefixes = sorted({g.key_prefix(lake_prefix) for g in grants})
    if not prefixes:
        return []
    domains = sorted({g.domain for g in grants})
    to_object = object_arn or (lambda p: f"{bucket_arn}/{p}/*")
    return [
        {"Sid": "ReadGrantedTables", "Effect": "Allow", "Action": "s3:GetObject",
         "Resource": [to_object(p) for p in prefixes]},
        {"Sid": "ListGrantedTables", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn,
         "Condition": {"StringLike": {"s3:prefix": [f"{p}/*" for p in prefixes] + prefixes}}},
        {"Sid": "DecryptGrantedDomains", "Effect": "Allow", "Action": "kms:Decrypt",
         "Resource": [key_arn(d) for d in domains]},
    ]
