"""Credential vending against a moto server that enforces IAM: vended
credentials read exactly the granted Delta tables, and stop when revoked."""

from __future__ import annotations

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
    except Exception as exc:  # delta-rs raises its own error types for 403
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
