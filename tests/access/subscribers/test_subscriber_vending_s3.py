"""Credential vending against a moto server that enforces IAM identity policies.

The lake lives in S3 (moto), Lakegate acts as the server's administrator, and
each subscriber gets its own IAM role whose policy the access layer writes.
Vended credentials read the granted Delta table with ``deltalake``, are
denied on tables not granted, and are denied again once the grant is revoked
through the access layer.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from access import AccessControl, Action, Mask, MaskKind, Resource
from access.subscribers import RawAccessRefused, Subscribers, SubscriberSuspended
from access.subscribers.policy_sync import policy_changed
from lake.errors import AccessDenied
from lake.service import Lake

from factories import contract_doc
from s3_fixtures import iam_lake_settings

pytestmark = pytest.mark.s3

CAMPAIGNS = {
    "dataset": "ads.campaigns", "owner": "ads-team", "primary_key": ["campaign_id"],
    "columns": [{"name": "campaign_id", "type": "int64", "nullable": False},
                {"name": "name", "type": "string"},
                {"name": "budget", "type": "decimal(12,2)"}],
}
SALARIES = {
    "dataset": "hr.salaries", "owner": "hr-team", "primary_key": ["employee_id"],
    "columns": [{"name": "employee_id", "type": "int64", "nullable": False},
                {"name": "salary", "type": "decimal(12,2)"}],
}


@dataclass
class S3World:
    lake: Lake
    access: AccessControl
    subs: Subscribers
    endpoint: str
    server: Any


def _denied(uri: str, options: dict[str, str]) -> bool:
    try:
        DeltaTable(uri, storage_options=options).to_pyarrow_table()
    except Exception as exc:  # noqa: BLE001 - delta-rs raises its own error types for 403
        text = str(exc)
        assert "403" in text or "Forbidden" in text or "AccessDenied" in text or "denied" in text.lower(), text
        return True
    return False


@pytest.fixture
def world(moto_iam_server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[S3World]:  # type: ignore[no-untyped-def]
    srv = moto_iam_server
    lake = Lake(iam_lake_settings(srv, monkeypatch, tmp_path / "home"))
    lake.register(contract_doc("ads.conversions"), actor="admin")
    lake.register(CAMPAIGNS, actor="admin")
    lake.register(SALARIES, actor="admin")
    csv = b"conversion_id,country,revenue,email\n1,US,1.50,ann@example.com\n2,DE,2.00,\n"
    lake.ingest("ads.conversions", csv, "csv", actor="admin")
    lake.ingest("ads.campaigns", b"campaign_id,name,budget\n1,spring,10.00\n", "csv", actor="admin")
    lake.ingest("hr.salaries", b"employee_id,salary\n7,99.00\n", "csv", actor="admin")
    lake.users.create("admin", roles=["admin"])
    access = AccessControl(lake)
    access.create_role("etl-readers")
    access.add_change_listener(policy_changed)  # wired as the composition root does
    subs = Subscribers(access)
    yield S3World(lake, access, subs, srv.endpoint, srv)
    for sub in subs.list():
        subs.delete(sub.name)
    lake.close()


def test_vended_credentials_follow_the_access_layer(world: S3World) -> None:
    lake, access, subs = world.lake, world.access, world.subs
    conversions = Resource.table("ads.conversions")
    read = access.grant("etl-readers", Action.READ, conversions)
    # PII in clear for the role: the raw files (ciphertext) show no more than that.
    access.set_mask("etl-readers", Resource.column_of(conversions, "email"), Mask(MaskKind.DECRYPT))
    sub = subs.create("etl", "emr", owner="admin", roles=["etl-readers"], actor="admin")
    assert sub.subject == "sub.etl" and sub.role_arn and sub.role_arn.endswith("role/lakegate-emr-etl")
    assert sub.policy_tables == ("dataset:ads.conversions@v1",)

    vended = subs.vend("etl", ["ads.conversions"], duration_seconds=900, actor="admin")
    options = vended.storage_options
    stored = lake.read("ads.conversions").sort_by("conversion_id")
    got = DeltaTable(lake.dataset("ads.conversions").table_uri, storage_options=options).to_pyarrow_table()
    assert got.sort_by("conversion_id").equals(stored)  # raw: PII stays ciphertext
    assert _denied(lake.dataset("hr.salaries").table_uri, options)
    assert _denied(lake.dataset("ads.campaigns").table_uri, options)

    conf = vended.spark_conf
    assert conf["spark.hadoop.fs.s3a.access.key"] == vended.credentials.access_key_id
    assert conf["spark.hadoop.fs.s3a.endpoint"] == world.endpoint
    assert "io.delta:delta-spark" in conf["spark.jars.packages"]
    assert [t.name for t in vended.tables] == ["ads.conversions"]
    assert vended.tables[0].location.endswith("/lake/ads/conversions/v1")

    # The role policy in IAM lists exactly the raw-readable table and its domain's key.
    policy = world.server.client("iam").get_role_policy(RoleName="lakegate-emr-etl", PolicyName="lakegate-grants")
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    kms = lake.store.kms_client()  # type: ignore[attr-defined]
    ads_key = kms.describe_key(KeyId=lake.store.ensure_domain("ads"))["KeyMetadata"]["Arn"]  # type: ignore[attr-defined]
    assert statements["DecryptGrantedDomains"]["Resource"] in ([ads_key], ads_key)
    bucket = lake.store.bucket  # type: ignore[attr-defined]
    assert statements["ReadGrantedTables"]["Resource"] in (
        [f"arn:aws:s3:::{bucket}/lake/ads/conversions/v1/*"], f"arn:aws:s3:::{bucket}/lake/ads/conversions/v1/*")

    # The record: no secret, stated expiry = STS expiry, listed while active.
    [record] = subs.credentials("etl")
    assert record.id == vended.record.id and record.tables == ("dataset:ads.conversions@v1",)
    assert record.access_key_prefix == vended.credentials.access_key_id[:8]
    assert record.expires_at == vended.credentials.expiration
    assert record.expires_at <= record.issued_at + dt.timedelta(seconds=900, milliseconds=999)
    with lake.catalog.session() as s:
        from sqlalchemy import text

        dump = json.dumps([list(r) for r in s.execute(text("SELECT * FROM access_subscriber_credentials"))],
                          default=str)
    assert vended.credentials.secret_access_key not in dump and vended.credentials.session_token not in dump
    assert vended.credentials.access_key_id not in dump

    # Revoking the grant through the access layer rewrites the role policy at once.
    access.revoke(read.id)  # type: ignore[arg-type]
    assert subs.get("etl").policy_tables == ()
    assert _denied(lake.dataset("ads.conversions").table_uri, options)
    with pytest.raises(AccessDenied, match="does not exist or you have no read access"):
        subs.vend("etl", ["ads.conversions"], actor="admin")


def test_governed_tables_are_never_vended_raw(world: S3World) -> None:
    access, subs = world.access, world.subs
    conversions, campaigns = Resource.table("ads.conversions"), Resource.table("ads.campaigns")
    access.grant("etl-readers", Action.READ, conversions)  # email (PII) would be redacted
    access.grant("etl-readers", Action.READ, campaigns)
    access.set_row_filter("etl-readers", campaigns, "campaign_id > 0")
    subs.create("etl", "sagemaker", owner="admin", roles=["etl-readers"], actor="admin")
    assert subs.get("etl").policy_tables == ()  # neither table may be read raw

    with pytest.raises(RawAccessRefused) as refused:
        subs.vend("etl", ["ads.conversions"], actor="admin")
    assert "PII column email is masked (redact)" in refused.value.message
    assert "POST /api/v1/query" in refused.value.message and "/subscribers/etl/exports" in refused.value.message
    with pytest.raises(RawAccessRefused, match=r"a row filter applies \(`campaign_id` > 0\)"):
        subs.vend("etl", ["ads.campaigns"], actor="admin")

    access.remove_row_filter("etl-readers", campaigns)  # the hook widens the policy at once
    assert subs.get("etl").policy_tables == ("dataset:ads.campaigns@v1",)
    vended = subs.vend("etl", ["ads.campaigns"], actor="admin")
    assert DeltaTable(world.lake.dataset("ads.campaigns").table_uri,
                      storage_options=vended.storage_options).to_pyarrow_table().num_rows == 1

    access.deny("etl-readers", Action.READ, Resource.column_of(campaigns, "budget"))
    assert subs.get("etl").policy_tables == ()
    assert _denied(world.lake.dataset("ads.campaigns").table_uri, vended.storage_options)


def test_suspension_cuts_off_credentials_at_once(world: S3World) -> None:
    lake, access, subs = world.lake, world.access, world.subs
    access.grant("etl-readers", Action.READ, Resource.table("ads.campaigns"))
    subs.create("etl", "emr", owner="admin", roles=["etl-readers"], actor="admin")
    vended = subs.vend("etl", ["ads.campaigns"], actor="admin")
    uri = lake.dataset("ads.campaigns").table_uri
    assert not _denied(uri, vended.storage_options)

    subs.suspend("etl", actor="admin")
    assert _denied(uri, vended.storage_options)
    assert subs.credentials("etl") == []  # revoked: not active any more
    [old] = subs.credentials("etl", include_inactive=True)
    assert old.revoked_at is not None and old.revoke_reason == "subscriber suspended"
    with pytest.raises(SubscriberSuspended, match="resume"):
        subs.vend("etl", ["ads.campaigns"], actor="admin")
    access.grant("etl-readers", Action.READ, Resource.table("hr.salaries"))  # the hook leaves it alone
    assert _denied(uri, vended.storage_options)

    subs.resume("etl", actor="admin")
    assert set(subs.get("etl").policy_tables) == {"dataset:ads.campaigns@v1", "dataset:hr.salaries@v1"}
    fresh = subs.vend("etl", ["ads.campaigns", "hr.salaries"], actor="admin")
    assert pa.table(DeltaTable(uri, storage_options=fresh.storage_options).to_pyarrow_table()).num_rows == 1

    subs.delete("etl", actor="admin")
    # moto answers 500 (not 403) for a session of a role that no longer exists.
    with pytest.raises(Exception, match=r"403|500|Forbidden|AccessDenied"):
        DeltaTable(uri, storage_options={**fresh.storage_options, "max_retries": "0"}).to_pyarrow_table()
    iam = world.server.client("iam")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="lakegate-emr-etl")


def test_credentials_never_outlive_the_grants_they_rest_on(world: S3World) -> None:
    access, subs = world.access, world.subs
    campaigns = Resource.table("ads.campaigns")
    short = access.grant("etl-readers", Action.READ, campaigns,
                         expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=600))
    subs.create("etl", "emr", owner="admin", roles=["etl-readers"], actor="admin")
    with pytest.raises(AccessDenied, match=r"expires at .* in less than the shortest credential lifetime"):
        subs.vend("etl", ["ads.campaigns"], actor="admin")
    access.revoke(short.id)  # type: ignore[arg-type]
    until = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=1500)
    access.grant("etl-readers", Action.READ, campaigns, expires_at=until)
    assert subs.get("etl").policy_valid_until == until
    vended = subs.vend("etl", ["ads.campaigns"], duration_seconds=3600, actor="admin")
    assert vended.record.expires_at <= until
    assert vended.credentials.expiration == vended.record.expires_at


def test_vending_over_the_api(world: S3World) -> None:
    import warnings

    from fastapi import Depends

    from api.app import API_PREFIX, create_app
    from api.deps import current_principal
    from api.routes import subscribers

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
        from fastapi.testclient import TestClient

    lake = world.lake
    world.access.grant("etl-readers", Action.READ, Resource.table("ads.campaigns"))
    world.subs.create("etl", "sagemaker", owner="admin", roles=["etl-readers"], actor="admin")
    token, _ = lake.users.create_token("sub.etl")
    app = create_app(lake=lake)
    app.include_router(subscribers.router, prefix=API_PREFIX, dependencies=[Depends(current_principal)])
    with TestClient(app) as client:
        me = {"Authorization": f"Bearer {token}"}
        r = client.post("/api/v1/subscribers/etl/credentials", json={"tables": ["ads.campaigns"]}, headers=me)
        assert r.status_code == 201, r.text
        body = r.json()
        got = DeltaTable(lake.dataset("ads.campaigns").table_uri, storage_options=body["storage_options"])
        assert got.to_pyarrow_table().column("name").to_pylist() == ["spring"]
        assert body["spark_conf"]["spark.hadoop.fs.s3a.session.token"] == body["session_token"]
        listed = client.get("/api/v1/subscribers/etl/credentials", headers=me)
        assert [c["id"] for c in listed.json()] == [body["record"]["id"]]
        assert body["secret_access_key"] not in listed.text and body["session_token"] not in listed.text


def test_redshift_subscriber_in_s3(world: S3World) -> None:
    lake, access, subs = world.lake, world.access, world.subs
    access.grant("etl-readers", Action.READ, Resource.domain_("ads"))
    access.set_mask("etl-readers", Resource.domain_("ads"), Mask(MaskKind.DECRYPT))
    sub = subs.create("dwh", "redshift", owner="admin", roles=["etl-readers"], actor="admin")
    assert sub.role_arn is not None and sub.role_arn.endswith(":role/lakegate-redshift-dwh")
    plan = subs.redshift_sync("dwh")
    assert (f"CREATE EXTERNAL SCHEMA IF NOT EXISTS \"lake_ads\" FROM DATA CATALOG DATABASE 'lakegate_ads' "
            f"IAM_ROLE '{sub.role_arn}' CREATE EXTERNAL DATABASE IF NOT EXISTS") in plan.statements
    store: Any = lake.store
    root = lake.dataset("ads.conversions").table_uri
    keys = store.list_objects("ads/conversions/v1/_symlink_format_manifest/")
    assert sorted(keys) == ["ads/conversions/v1/_symlink_format_manifest/country=DE/manifest",
                            "ads/conversions/v1/_symlink_format_manifest/country=US/manifest"]
    listed = store.get_object(keys[0]).decode().splitlines()
    assert listed and all(line.startswith(root + "/country=DE/") for line in listed)
    head = store.s3_client().head_object(Bucket=store.bucket, Key=store.object_key(keys[0]))
    assert head["ServerSideEncryption"] == "aws:kms"
    # The cluster's role reads exactly the exposed tables (moto enforces its policy).
    creds = world.server.client("sts").assume_role(RoleArn=sub.role_arn, RoleSessionName="redshift")["Credentials"]
    options = {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
               "AWS_SESSION_TOKEN": creds["SessionToken"], "AWS_REGION": "us-east-1",
               "AWS_ENDPOINT_URL": world.endpoint, "AWS_ALLOW_HTTP": "true"}
    assert DeltaTable(root, storage_options=options).to_pyarrow_table().num_rows == 2
    assert _denied(lake.dataset("hr.salaries").table_uri, options)
