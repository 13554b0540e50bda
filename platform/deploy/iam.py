"""Per-subscriber IAM roles and the short-lived credentials vended from them.

Each engine subscriber (an EMR cluster, a SageMaker notebook, a Redshift
cluster) has one role, ``lakegate-<kind>-<name>``, whose inline policy allows
reading exactly its granted tables and decrypting with exactly their domains'
keys (see :mod:`deploy.policies`). The policy is rewritten whenever the grants
change, so a revoked grant stops working for credentials already handed out.
Each vended session is narrowed further by a session policy listing only the
tables asked for.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from deploy.policies import TableGrant, read_statements
from lake.errors import InvalidInput, NotFound

POLICY_NAME = "lakegate-grants"
KINDS = ("redshift", "emr", "sagemaker")
_SERVICE = {"redshift": "redshift.amazonaws.com", "emr": "ec2.amazonaws.com", "sagemaker": "sagemaker.amazonaws.com"}
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,40}")


@dataclass(frozen=True)
class VendedCredentials:
    """STS session credentials for one subscriber and a set of tables."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: dt.datetime
    role_arn: str
    tables: tuple[TableGrant, ...]

    def __repr__(self) -> str:  # never print the secret parts
        return (f"VendedCredentials(access_key_id={self.access_key_id[:4]}…, role_arn={self.role_arn!r}, "
                f"expiration={self.expiration.isoformat()}, tables={len(self.tables)})")

    def storage_options(self, *, region: str = "us-east-1", endpoint_url: str | None = None) -> dict[str, str]:
        """delta-rs storage options for reading with these credentials."""
        opts = {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
            "AWS_REGION": region,
        }
        if endpoint_url:
            opts["AWS_ENDPOINT_URL"] = endpoint_url
            if endpoint_url.startswith("http://"):
                opts["AWS_ALLOW_HTTP"] = "true"
        return opts


class SubscriberRoles:
    """Roles of engine subscribers in one account, and credential vending.

    Args:
        iam: A boto3 IAM client with rights to manage ``lakegate-*`` roles.
        sts: A boto3 STS client allowed to assume them.
        bucket: The lake bucket.
        lake_prefix: Key prefix of the lake in the bucket.
        key_arn: The KMS key ARN of a domain.
        trust_principal_arn: Who may assume the roles (Lakegate's own role);
            defaults to the calling identity's account root.
    """

    def __init__(self, iam: Any, sts: Any, *, bucket: str, lake_prefix: str,
                 key_arn: Callable[[str], str], trust_principal_arn: str | None = None) -> None:
        self._iam = iam
        self._sts = sts
        self.bucket = bucket
        self.lake_prefix = lake_prefix.strip("/")
        self._key_arn = key_arn
        self._trust = trust_principal_arn

    @staticmethod
    def role_name(name: str, kind: str) -> str:
        if kind not in KINDS:
            raise InvalidInput(f"unknown subscriber kind {kind!r}; expected one of: {', '.join(KINDS)}")
        if not _NAME.fullmatch(name):
            raise InvalidInput(f"invalid subscriber name {name!r}: lower case letters, digits, '_' and '-'")
        return f"lakegate-{kind}-{name}"

    def _trust_policy(self, kind: str) -> str:
        principal = self._trust
        if principal is None:
            account = self._sts.get_caller_identity()["Account"]
            principal = f"arn:aws:iam::{account}:root"
        return json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": principal, "Service": _SERVICE[kind]},
            "Action": "sts:AssumeRole"}]})

    def ensure_role(self, name: str, kind: str) -> str:
        """Create the subscriber's role if missing; return its ARN."""
        role = self.role_name(name, kind)
        try:
            return str(self._iam.get_role(RoleName=role)["Role"]["Arn"])
        except self._iam.exceptions.NoSuchEntityException:
            pass
        out = self._iam.create_role(
            RoleName=role, AssumeRolePolicyDocument=self._trust_policy(kind), MaxSessionDuration=3600,
            Description=f"Lakegate {kind} subscriber {name}",
            Tags=[{"Key": "lakegate:subscriber", "Value": name}],
        )
        return str(out["Role"]["Arn"])

    def policy(self, grants: Sequence[TableGrant]) -> dict[str, Any]:
        """The policy document that allows exactly ``grants``."""
        statements = read_statements(f"arn:aws:s3:::{self.bucket}", self.lake_prefix, grants, self._key_arn)
        return {"Version": "2012-10-17", "Statement": statements}

    def sync_grants(self, name: str, kind: str, grants: Sequence[TableGrant]) -> dict[str, Any]:
        """Make the role's policy exactly ``grants`` (none: no policy, no access)."""
        role = self.role_name(name, kind)
        self.ensure_role(name, kind)
        doc = self.policy(grants)
        if doc["Statement"]:
            self._iam.put_role_policy(RoleName=role, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(doc))
        else:
            with contextlib.suppress(self._iam.exceptions.NoSuchEntityException):
                self._iam.delete_role_policy(RoleName=role, PolicyName=POLICY_NAME)
        return doc

    def vend(self, name: str, kind: str, tables: Sequence[TableGrant], *, duration_seconds: int = 900,
             session_name: str | None = None) -> VendedCredentials:
        """Assume the subscriber's role for ``tables`` (already checked against
        the grants by the caller), narrowed by a session policy."""
        if not tables:
            raise InvalidInput("ask for at least one table")
        if not 900 <= duration_seconds <= 3600:
            raise InvalidInput("credentials last between 900 and 3600 seconds")
        role = self.role_name(name, kind)
        try:
            arn = str(self._iam.get_role(RoleName=role)["Role"]["Arn"])
        except self._iam.exceptions.NoSuchEntityException as exc:
            raise NotFound(f"subscriber {name} has no role; sync its grants first") from exc
        out = self._sts.assume_role(
            RoleArn=arn, RoleSessionName=(session_name or f"lakegate-{name}")[:64],
            DurationSeconds=duration_seconds, Policy=json.dumps(self.policy(tables)),
        )
        c = out["Credentials"]
        expiration = c["Expiration"]
        if isinstance(expiration, str):
            expiration = dt.datetime.fromisoformat(expiration.replace("Z", "+00:00"))
        return VendedCredentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"], expiration, arn,
                                 tuple(sorted(tables)))

    def delete_role(self, name: str, kind: str) -> None:
        role = self.role_name(name, kind)
        with contextlib.suppress(self._iam.exceptions.NoSuchEntityException):
            self._iam.delete_role_policy(RoleName=role, PolicyName=POLICY_NAME)
        with contextlib.suppress(self._iam.exceptions.NoSuchEntityException):
            self._iam.delete_role(RoleName=role)
