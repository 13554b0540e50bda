"""The CloudFormation template of a Lakegate deployment.

:func:`render_template` builds it for a set of domains and subscriber roles:

* one KMS key per domain (alias ``alias/lakegate/<domain>``, rotation on) and a
  lake key for the bucket default (``alias/lakegate/lake``);
* the lake bucket: SSE-KMS by default with bucket keys, public access blocked,
  owner-enforced object ownership, and a policy denying non-TLS requests and
  PUTs that are not SSE-KMS — the same rules ``lake.s3.provision.provision_bucket`` applies
  and checks;
* one IAM role per subscriber, allowed ``s3:GetObject`` on exactly its granted
  table prefixes, ``s3:ListBucket`` on exactly those prefixes, and
  ``kms:Decrypt`` on exactly the keys of their domains.

The template is data (a dict); ``template_yaml`` serialises it. Logical ids are
derived from names, so the same inputs always give the same template.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from deploy.policies import TableGrant, read_statements
from lake.errors import InvalidInput

LAKE_KEY_ALIAS = "alias/lakegate/lake"
KEY_ALIAS_PREFIX = "alias/lakegate/"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class SubscriberRole:
    """An engine subscriber's role and what it may read.

    Attributes:
        name: Subscriber name (``[a-z][a-z0-9_-]*``).
        kind: ``redshift``, ``emr`` or ``sagemaker`` (decides who may assume it).
        tables: Granted tables as ``(domain, dataset, major)``.
    """

    name: str
    kind: str
    tables: tuple[tuple[str, str, int], ...] = field(default_factory=tuple)


_SERVICE_PRINCIPALS = {
    "redshift": "redshift.amazonaws.com",
    "emr": "ec2.amazonaws.com",
    "sagemaker": "sagemaker.amazonaws.com",
}


def _logical(prefix: str, name: str) -> str:
    return prefix + "".join(part.capitalize() for part in re.split(r"[_\-]", name))


def _check_domains(domains: Iterable[str]) -> list[str]:
    out = sorted(set(domains))
    for d in out:
        if not _NAME.fullmatch(d) or d == "lake":
            raise InvalidInput(f"invalid domain name {d!r} for the template")
    return out


def _key_resources(domain: str | None) -> dict[str, Any]:
    logical = "LakeKey" if domain is None else _logical("DomainKey", domain)
    alias = LAKE_KEY_ALIAS if domain is None else KEY_ALIAS_PREFIX + domain
    what = "the lake bucket's default encryption" if domain is None else f"the {domain} domain's tables and data keys"
    return {
        logical: {
            "Type": "AWS::KMS::Key",
            "Properties": {
                "Description": f"Lakegate key for {what}",
                "EnableKeyRotation": True,
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Sid": "AccountAdministers",
                        "Effect": "Allow",
                        "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
                        "Action": "kms:*",
                        "Resource": "*",
                    }],
                },
            },
        },
        logical + "Alias": {
            "Type": "AWS::KMS::Alias",
            "Properties": {"AliasName": alias, "TargetKeyId": {"Ref": logical}},
        },
    }


def _bucket_policy() -> dict[str, Any]:
    bucket_arn = {"Fn::GetAtt": ["LakeBucket", "Arn"]}
    objects_arn = {"Fn::Sub": "${LakeBucket.Arn}/*"}
    return {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": {"Ref": "LakeBucket"},
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [bucket_arn, objects_arn],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    },
                    {
                        "Sid": "DenyUnencryptedObjectUploads",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:PutObject",
                        "Resource": objects_arn,
                        "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
                    },
                ],
            },
        },
    }


def _role(sub: SubscriberRole, prefix: str) -> dict[str, Any]:
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,40}", sub.name):
        raise InvalidInput(f"invalid subscriber name {sub.name!r}")
    if sub.kind not in _SERVICE_PRINCIPALS:
        raise InvalidInput(f"unknown subscriber kind {sub.kind!r}; expected one of: {sorted(_SERVICE_PRINCIPALS)}")
    statements = read_statements(
        {"Fn::GetAtt": ["LakeBucket", "Arn"]},
        prefix,
        [TableGrant(d, t, m) for d, t, m in sub.tables],
        lambda d: {"Fn::GetAtt": [_logical("DomainKey", d), "Arn"]},
        object_arn=lambda p: {"Fn::Sub": f"${{LakeBucket.Arn}}/{p}/*"},
    )
    props: dict[str, Any] = {
        "RoleName": f"lakegate-{sub.kind}-{sub.name}",
        "Description": f"Lakegate {sub.kind} subscriber {sub.name}",
        "MaxSessionDuration": 3600,
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {
                    "Service": _SERVICE_PRINCIPALS[sub.kind],
                    "AWS": {"Ref": "VendingPrincipalArn"},
                },
                "Action": "sts:AssumeRole",
            }],
        },
        "Tags": [{"Key": "lakegate:subscriber", "Value": sub.name}],
    }
    if statements:
        props["Policies"] = [{
            "PolicyName": "lakegate-grants",
            "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
        }]
    return {"Type": "AWS::IAM::Role", "Properties": props}


def render_template(
    domains: Iterable[str],
    subscribers: Sequence[SubscriberRole] = (),
    *,
    prefix: str = "lake",
) -> dict[str, Any]:
    """The CloudFormation template for the lake, its domains and subscribers.

    Args:
        domains: Domains that get a KMS key each.
        subscribers: Engine subscriber roles with their granted tables; every
            granted table's domain must be among ``domains``.
        prefix: Key prefix of the lake inside the bucket (``s3://bucket/<prefix>``).

    Returns:
        The template as a dict.

    Raises:
        InvalidInput: a bad domain or subscriber name, or a grant outside the domains.
    """
    doms = _check_domains(domains)
    prefix = prefix.strip("/")
    resources: dict[str, Any] = {}
    resources.update(_key_resources(None))
    for d in doms:
        resources.update(_key_resources(d))
    resources["LakeBucket"] = {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketName": {"Ref": "LakeBucketName"},
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
                "ServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": {"Fn::GetAtt": ["LakeKey", "Arn"]},
                },
                "BucketKeyEnabled": True,
            }]},
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True, "BlockPublicPolicy": True,
                "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "VersioningConfiguration": {"Status": "Enabled"},
        },
    }
    resources["LakeBucketPolicy"] = _bucket_policy()
    outputs: dict[str, Any] = {
        "LakeBucketArn": {"Value": {"Fn::GetAtt": ["LakeBucket", "Arn"]}},
        "LakeKeyArn": {"Value": {"Fn::GetAtt": ["LakeKey", "Arn"]}},
    }
    for d in doms:
        outputs[_logical("DomainKey", d) + "Arn"] = {"Value": {"Fn::GetAtt": [_logical("DomainKey", d), "Arn"]}}
    for sub in sorted(subscribers, key=lambda s: s.name):
        missing = sorted({d for d, _, _ in sub.tables} - set(doms))
        if missing:
            raise InvalidInput(f"subscriber {sub.name} is granted tables in unknown domain(s) {missing}")
        logical = _logical("SubscriberRole", sub.name)
        resources[logical] = _role(sub, prefix)
        outputs[logical + "Arn"] = {"Value": {"Fn::GetAtt": [logical, "Arn"]}}
    parameters: dict[str, Any] = {
        "LakeBucketName": {
            "Type": "String",
            "AllowedPattern": "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
            "Description": "Name of the lake bucket",
        },
    }
    if subscribers:
        parameters["VendingPrincipalArn"] = {
            "Type": "String",
            "Description": "ARN of the Lakegate service role that vends subscriber credentials",
        }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Lakegate: encrypted lake bucket, per-domain KMS keys and engine subscriber roles",
        "Parameters": parameters,
        "Resources": resources,
        "Outputs": outputs,
    }


class _NoAliasDumper(yaml.SafeDumper):
    """CloudFormation rejects YAML anchors and aliases; write repeats in full."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def template_yaml(template: dict[str, Any]) -> str:
    """The template as YAML (plain mappings, no CloudFormation short tags)."""
    return yaml.dump(template, Dumper=_NoAliasDumper, sort_keys=False, width=120)
