"""Credential vending against a moto server that enforces IAM: vended
credentials read exactly the granted Delta tables, and stop when revoked."""

from __future__ import annotations

import json
import uuid

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from deploy.iam import SubscriberRoles
from deploy.policies import TableGrant
from lake.s3 import S3Store

pytestmark = pytest.mark.s3


def _denied(uri: str, options: dict[str, str]) -> bool:
    try:
        DeltaTable(uri, storage_options=options).to_pyarrow_table()
    except Exception as exc:  # noqa: BLE001 - delta-rs raises its own error types for 403
        text = str(exc)
        assert "403" in text or "Forbidden" in text or "AccessDenied" in text or "denied" in text.lower(), text
        return True
    return False


def test_vended_credentials_read_only_granted_tables(moto_iam_server, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    srv = moto_iam_server
    # delta-rs also reads AWS_* variables; the fake session token of the other
    # moto server would be sent along with the admin's keys and refused here.
    for var in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var, raising=False)
    bucket = f"lake-{uuid.uuid4().hex[:10]}"
    store = S3Store(bucket, "lake", endpoint_url=srv.endpoint, aws_access_key_id=srv.admin_key_id,
                    aws_secret_access_key=srv.admin_secret)
    store.setup()
    rows = pa.table({"id": [1, 2, 3], "v": ["a", "b", "c"]})
    ads_uri, hr_uri = store.table_uri("ads", "conversions", 1), store.table_uri("hr", "salaries", 1)
    write_deltalake(ads_uri, rows, storage_options=store.storage_options("ads"))
    write_deltalake(hr_uri, rows, storage_options=store.storage_options("hr"))

    kms = store.kms_client()

    def key_arn(domain: str) -> str:
        return str(kms.describe_key(KeyId=store.ensure_domain(domain))["KeyMetadata"]["Arn"])

    me = srv.client("sts").get_caller_identity()["Arn"]  # Lakegate's own identity vends
    roles = SubscriberRoles(srv.client("iam"), srv.client("sts"), bucket=bucket, lake_prefix="lake",
                            key_arn=key_arn, trust_principal_arn=me)
    grant = TableGrant("ads", "conversions", 1)
    doc = roles.sync_grants("etl", "emr", [grant])
    assert [s["Sid"] for s in doc["Statement"]] == ["ReadGrantedTables", "ListGrantedTables", "DecryptGrantedDomains"]
    assert doc["Statement"][2]["Resource"] == [key_arn("ads")]  # exactly the granted domain's key

    creds = roles.vend("etl", "emr", [grant])
    assert creds.secret_access_key not in repr(creds)
    opts = creds.storage_options(endpoint_url=srv.endpoint)
    assert DeltaTable(ads_uri, storage_options=opts).to_pyarrow_table().sort_by("id").equals(rows)
    assert _denied(hr_uri, opts)

    roles.sync_grants("etl", "emr", [])  # revoke: the same credentials stop working
    assert _denied(ads_uri, opts)
    roles.delete_role("etl", "emr")


def test_moto_authorizes_s3_by_iam_action(moto_iam_server) -> None:  # type: ignore[no-untyped-def]
    """The S3 stand-in must check the IAM action AWS checks, or vending tests prove nothing.

    AWS authorizes ListObjectsV2 as ``s3:ListBucket`` and HeadObject as
    ``s3:GetObject`` (there is no ``s3:ListObjectsV2`` or ``s3:HeadObject`` IAM
    action). moto 5.2.6 changed ``BaseResponse._get_action`` (moto/core/responses.py)
    to return the botocore operation name, so its S3 authorization asks for
    ``s3:ListObjectsV2`` and refuses every policy written for AWS; 5.2.5 used the
    S3 ``ACTION_MAP`` name. pyproject.toml excludes 5.2.6 for that reason.
    """
    srv = moto_iam_server
    bucket = f"iam-actions-{uuid.uuid4().hex[:10]}"
    admin_s3 = srv.client("s3")
    admin_s3.create_bucket(Bucket=bucket)
    admin_s3.put_object(Bucket=bucket, Key="lake/t/_delta_log/00000000000000000000.json", Body=b"{}")
    iam = srv.client("iam")
    user = f"reader-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="aws-actions", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/lake/*"},
        ]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    reader = srv.client("s3", key_id=key["AccessKeyId"], secret=key["SecretAccessKey"])

    listed = reader.list_objects_v2(Bucket=bucket, Prefix="lake/t/_delta_log/")  # s3:ListBucket
    assert [o["Key"] for o in listed["Contents"]] == ["lake/t/_delta_log/00000000000000000000.json"]
    head = reader.head_object(Bucket=bucket, Key="lake/t/_delta_log/00000000000000000000.json")  # s3:GetObject
    assert head["ContentLength"] == 2
    with pytest.raises(Exception, match=r"AccessDenied|403"):  # and the policy still binds
        reader.put_object(Bucket=bucket, Key="lake/t/x", Body=b"")
