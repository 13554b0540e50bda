"""S3 mode against a moto server: bucket safety, domain keys, SSE-KMS on every
object delta-rs writes, concurrent commits and KMS-wrapped data keys."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

import lake
from lake.crypto import KmsKeyProvider, new_data_key
from lake.errors import ConfigError, InvalidInput, NotFound, StorageError
from lake.s3 import LAKE_KEY_ALIAS, S3Store, parse_s3_uri
from lake.settings import Settings
from lake.storage import open_store

# The S3 fixtures, until tests/conftest.py imports them for every test (then this
# import should go, or this module gets a moto server of its own). ``tests/`` is on
# sys.path because pytest inserts the directory of tests/conftest.py.


pytestmark = pytest.mark.s3


@pytest.fixture
def store(s3_settings: Settings) -> S3Store:
    """A set-up store on its own bucket."""
    st = open_store(s3_settings)
    assert isinstance(st, S3Store)
    st.setup()
    return st


def key_arn(store: S3Store, key_id: str) -> str:
    """The ARN of a key given by id, ARN or alias (S3 may report either form)."""
    return str(store.kms_client().describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])


def objects_under(store: S3Store, uri: str) -> list[str]:
    bucket, prefix = parse_s3_uri(uri)
    assert bucket == store.bucket
    keys: list[str] = []
    for page in store.s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def assert_encrypted_with(store: S3Store, keys: list[str], key_id: str) -> None:
    expected = key_arn(store, key_id)
    s3 = store.s3_client()
    for key in keys:
        head = s3.head_object(Bucket=store.bucket, Key=key)
        assert head.get("ServerSideEncryption") == "aws:kms", key
        assert key_arn(store, head["SSEKMSKeyId"]) == expected, key


def batch(start: int, n: int) -> pa.Table:
    ids = list(range(start, start + n))
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "country": pa.array([("US", "DE", "FR")[i % 3] for i in ids], pa.string()),
            "revenue": pa.array([i * 1.5 for i in ids], pa.float64()),
        }
    )


# -- setup and check ------------------------------------------------------------


def test_setup_creates_encrypted_bucket_with_deny_policy(s3_settings: Settings) -> None:
    store = S3Store.from_settings(s3_settings)
    bucket, _prefix = parse_s3_uri(s3_settings.storage_uri or "")
    assert (store.bucket, store.prefix, store.root) == (bucket, "lake", f"s3://{bucket}/lake")
    s3 = store.s3_client()
    foreign = {"Sid": "OpsReadOnly", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
               "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [foreign]}))

    store.setup()
    store.setup()  # idempotent

    lake_key = store.kms_client().describe_key(KeyId=LAKE_KEY_ALIAS)["KeyMetadata"]
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert len(rules) == 1
    default = rules[0]["ApplyServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms"
    assert key_arn(store, default["KMSMasterKeyID"]) == lake_key["Arn"]
    assert rules[0]["BucketKeyEnabled"] is True

    statements = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert [s["Sid"] for s in statements].count("OpsReadOnly") == 1  # kept, once
    denies = [s for s in statements if s["Effect"] == "Deny"]
    assert len(denies) == 2  # not duplicated by the second setup
    put_deny = next(s for s in denies if s["Action"] == "s3:PutObject")
    assert put_deny["Principal"] == "*"
    assert put_deny["Resource"] == f"arn:aws:s3:::{bucket}/*"
    assert put_deny["Condition"] == {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}
    tls_deny = next(s for s in denies if s["Action"] == "s3:*")
    assert tls_deny["Principal"] == "*"
    assert set(tls_deny["Resource"]) == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}
    assert tls_deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                     "BlockPublicPolicy": True, "RestrictPublicBuckets": True}

    # A second store on the same bucket reuses the lake key.
    S3Store.from_settings(s3_settings).setup()
    again = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert key_arn(store, again[0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]) == lake_key["Arn"]


def test_check_names_what_is_missing(s3_settings: Settings) -> None:
    store = S3Store.from_settings(s3_settings)
    with pytest.raises(StorageError, match="does not exist"):
        store.check()

    s3 = store.s3_client()
    s3.create_bucket(Bucket=store.bucket)
    with pytest.raises(StorageError) as info:
        store.check()
    message = info.value.message
    assert "default encryption is not SSE-KMS" in message
    assert "no policy" in message
    assert "s3:PutObject" in message and "aws:SecureTransport" in message
    assert "public access" in message

    store.setup()
    store.check()

    # Unencrypted (SSE-S3) default and a policy with only the TLS deny.
    s3.put_bucket_encryption(
        Bucket=store.bucket,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
    )
    policy = json.loads(s3.get_bucket_policy(Bucket=store.bucket)["Policy"])
    policy["Statement"] = [s for s in policy["Statement"] if s["Action"] != "s3:PutObject"]
    s3.put_bucket_policy(Bucket=store.bucket, Policy=json.dumps(policy))
    with pytest.raises(StorageError) as info:
        store.check()
    message = info.value.message
    assert "found AES256" in message
    assert "s3:PutObject" in message
    assert "SecureTransport" not in message

    # A deny that only covers some principals or lacks the condition does not count.
    policy["Statement"].append({"Sid": "Weak", "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::123456789012:user/x"},
                                "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{store.bucket}/*",
                                "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}})
    s3.put_bucket_policy(Bucket=store.bucket, Policy=json.dumps(policy))
    with pytest.raises(StorageError, match="s3:PutObject"):
        store.check()

    s3.delete_bucket_policy(Bucket=store.bucket)
    with pytest.raises(StorageError, match="no policy"):
        store.check()

    store.setup()  # repairs everything
    store.check()


def test_import_is_cheap() -> None:
    code = "import sys, lake.s3; assert not {'boto3', 'botocore'} & set(sys.modules), sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(lake.__file__).parent.parent)


def test_storage_uri_and_credentials_are_validated() -> None:
    with pytest.raises(ConfigError):
        parse_s3_uri("s3://Not_A_Bucket/x")
    with pytest.raises(ConfigError):
        parse_s3_uri("/tmp/lake")
    assert parse_s3_uri("s3://my-lake/a/b/") == ("my-lake", "a/b")
    assert S3Store("my-lake").root == "s3://my-lake"
    with pytest.raises(ConfigError):
        S3Store("my-lake", aws_access_key_id="AKIA")


# -- domain keys ------------------------------------------------------------------


def test_ensure_domain_creates_one_key_per_domain_idempotently(store: S3Store, s3_settings: Settings) -> None:
    kms = store.kms_client()
    ads = store.ensure_domain("ads")
    hr = store.ensure_domain("hr")
    assert ads != hr
    assert store.ensure_domain("ads") == ads

    # Found again by alias from a fresh store (a new process).
    assert S3Store.from_settings(s3_settings).ensure_domain("ads") == ads
    meta = kms.describe_key(KeyId="alias/lakegate/ads")["KeyMetadata"]
    assert meta["KeyId"] == ads
    assert "ads" in meta["Description"]
    assert meta["KeyState"] == "Enabled"
    lake_key = kms.describe_key(KeyId=LAKE_KEY_ALIAS)["KeyMetadata"]["KeyId"]
    assert lake_key not in (ads, hr)


def test_ensure_domain_honours_configured_and_given_keys(s3_settings: Settings) -> None:
    bootstrap = S3Store.from_settings(s3_settings)
    kms = bootstrap.kms_client()
    configured = kms.create_key(Description="finance key managed by the security team")["KeyMetadata"]["KeyId"]
    given = kms.create_key(Description="explicit")["KeyMetadata"]["KeyId"]

    settings = s3_settings.model_copy(update={"kms_key_ids": {"finance": configured}})
    store = S3Store.from_settings(settings)
    store.setup()
    assert store.ensure_domain("finance") == configured
    assert store.ensure_domain("ops", kms_key_id=given) == given
    assert store.ensure_domain("ops") == given
    aliases = {a["AliasName"] for a in kms.list_aliases()["Aliases"]}
    assert "alias/lakegate/finance" not in aliases  # a configured key needs no alias

    kms.disable_key(KeyId=given)
    with pytest.raises(StorageError, match="Disabled"):
        store.ensure_domain("other", kms_key_id=given)
    missing = S3Store.from_settings(s3_settings.model_copy(update={"kms_key_ids": {"x": str(uuid.uuid4())}}))
    with pytest.raises(StorageError, match="does not exist"):
        missing.ensure_domain("x")
    for bad in ("", "a/b", "lake", "-x"):
        with pytest.raises(InvalidInput):
            store.ensure_domain(bad)


def test_storage_options(store: S3Store, moto_server: str) -> None:
    options = store.storage_options("ads")
    assert options["AWS_ENDPOINT_URL"] == moto_server
    assert options["AWS_ALLOW_HTTP"] == "true"
    assert options["AWS_REGION"] == "us-east-1"
    assert options["AWS_SERVER_SIDE_ENCRYPTION"] == "aws:kms"
    assert options["AWS_SSE_KMS_KEY_ID"] == store.ensure_domain("ads")
    assert options["AWS_CONDITIONAL_PUT"] == "etag"
    assert "AWS_S3_ALLOW_UNSAFE_RENAME" not in options
    assert options["AWS_ACCESS_KEY_ID"] == "testing"  # from boto3's chain (the environment)

    explicit = S3Store(store.bucket, "lake", endpoint_url="https://s3.example.test",
                       aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="s3cr3t-value")
    explicit.keys._cache["ads"] = "k-1"  # no KMS call needed for this check
    opts = explicit.storage_options("ads")
    assert opts["AWS_ACCESS_KEY_ID"] == "AKIDEXAMPLE" and opts["AWS_SECRET_ACCESS_KEY"] == "s3cr3t-value"
    assert "AWS_ALLOW_HTTP" not in opts and "AWS_SESSION_TOKEN" not in opts
    assert "s3cr3t" not in repr(explicit) and "AKIDEXAMPLE" not in repr(explicit)


# -- Delta tables -----------------------------------------------------------------


def test_every_delta_object_is_encrypted_with_the_domain_key(store: S3Store) -> None:
    uri = store.table_uri("ads", "conversions", 1)
    assert uri == f"s3://{store.bucket}/lake/ads/conversions/v1"
    options = store.storage_options("ads")
    written = []
    for i in range(3):
        part = batch(i * 10, 10)
        written.append(part)
        write_deltalake(uri, part, mode="append", partition_by=["country"], storage_options=options)

    DeltaTable(uri, storage_options=options).create_checkpoint()

    keys = objects_under(store, uri)
    logs = [k for k in keys if "/_delta_log/" in k]
    assert any(k.endswith(".checkpoint.parquet") for k in logs) and any(k.endswith("_last_checkpoint") for k in logs)
    data = [k for k in keys if k.endswith(".parquet") and "/_delta_log/" not in k]
    assert len(logs) >= 3 and any(k.endswith("00000000000000000002.json") for k in logs)
    assert len(data) >= 9 and all("/country=" in k for k in data)
    assert_encrypted_with(store, keys, store.ensure_domain("ads"))

    table = DeltaTable(uri, storage_options=options)
    assert table.version() == 2
    got = table.to_pyarrow_table().select(["id", "country", "revenue"]).sort_by("id")
    assert got.equals(pa.concat_tables(written).sort_by("id"))
    assert [h["version"] for h in table.history()] == [2, 1, 0]
    assert DeltaTable.is_deltatable(uri, storage_options=options)

    # A second domain's table (and its quarantine table) use that domain's key.
    hr_uri = store.table_uri("hr", "people", 2, suffix="_quarantine")
    assert hr_uri.endswith("/hr/people/v2_quarantine")
    write_deltalake(hr_uri, batch(0, 5), partition_by=["country"], storage_options=store.storage_options("hr"))
    hr_keys = objects_under(store, hr_uri)
    assert hr_keys
    assert_encrypted_with(store, hr_keys, store.ensure_domain("hr"))
    assert key_arn(store, store.ensure_domain("hr")) != key_arn(store, store.ensure_domain("ads"))


def test_multipart_data_files_are_encrypted_too(store: S3Store) -> None:
    uri = store.table_uri("ads", "impressions", 1)
    values = pa.array([i * 0.7317 for i in range(800_000)], pa.float64())  # ~6 MB of Parquet
    write_deltalake(uri, pa.table({"x": values}), storage_options=store.storage_options("ads"))
    keys = objects_under(store, uri)
    data = [k for k in keys if k.endswith(".parquet")]
    etag = store.s3_client().head_object(Bucket=store.bucket, Key=data[0])["ETag"]
    assert "-" in etag  # written by a multipart upload
    assert_encrypted_with(store, keys, store.ensure_domain("ads"))


def test_concurrent_appends_lose_no_commit(store: S3Store) -> None:
    uri = store.table_uri("ads", "clicks", 1)
    options = store.storage_options("ads")
    write_deltalake(uri, batch(0, 0), storage_options=options)
    writers, rounds = 3, 6
    errors: list[BaseException] = []
    # Every round starts all writers together, so they race for the same version.
    start = threading.Barrier(writers, timeout=120)

    def append(w: int) -> None:
        try:
            for i in range(rounds):
                start.wait()
                write_deltalake(uri, batch(1000 * w + i, 1), mode="append", storage_options=options)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            start.abort()

    threads = [threading.Thread(target=append, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

    table = DeltaTable(uri, storage_options=options)
    total = writers * rounds
    assert table.version() == total
    ids = sorted(table.to_pyarrow_table().column("id").to_pylist())
    assert ids == sorted(1000 * w + i for w in range(writers) for i in range(rounds))
    log = [k.rsplit("/", 1)[1] for k in objects_under(store, uri) if "/_delta_log/" in k and k.endswith(".json")]
    assert sorted(log) == [f"{v:020d}.json" for v in range(total + 1)]
    history = table.history()
    assert sorted(h["version"] for h in history) == list(range(total + 1))
    # Writers did collide: a losing commit got 412 on its conditional PUT and retried.
    assert sum(h.get("operationMetrics", {}).get("num_retries", 0) for h in history) > 0


# -- KMS-wrapped data keys ----------------------------------------------------------


def test_kms_key_provider_wraps_with_the_domain_key(store: S3Store) -> None:
    from botocore.exceptions import ClientError

    domain_key = store.ensure_domain("ads")
    keys = KmsKeyProvider(store.kms_client())
    data_key = new_data_key()
    context = {"lakegate:dataset": "ads.conversions", "lakegate:major": "1"}
    wrapped, ref = keys.wrap(data_key, context=context, key_id=domain_key)
    assert wrapped != data_key
    assert key_arn(store, ref) == key_arn(store, domain_key)
    assert keys.unwrap(wrapped, context=context, key_ref=ref) == data_key
    with pytest.raises(ClientError, match="InvalidCiphertext"):
        keys.unwrap(wrapped, context={**context, "lakegate:dataset": "hr.people"}, key_ref=ref)
    with pytest.raises(ClientError):
        keys.unwrap(wrapped, context=context, key_ref=store.ensure_domain("hr"))


# -- landing objects ------------------------------------------------------------------


def test_objects_are_written_listed_read_and_moved_with_sse_kms(store: S3Store) -> None:
    store.put_object("_landing/ads.conversions/a.csv", b"id\n1\n", "ads")
    store.put_object("_landing/ads.conversions/b.csv", b"id\n2\n", "ads")
    assert store.list_objects("_landing/") == ["_landing/ads.conversions/a.csv", "_landing/ads.conversions/b.csv"]
    assert store.get_object("_landing/ads.conversions/a.csv") == b"id\n1\n"
    assert_encrypted_with(store, [f"lake/_landing/ads.conversions/{n}.csv" for n in "ab"], store.ensure_domain("ads"))

    store.move_object("_landing/ads.conversions/a.csv", "_landing/_processed/ads.conversions/a.csv", "hr")
    assert store.list_objects("_landing/ads") == ["_landing/ads.conversions/b.csv"]
    assert store.get_object("_landing/_processed/ads.conversions/a.csv") == b"id\n1\n"
    assert_encrypted_with(store, ["lake/_landing/_processed/ads.conversions/a.csv"], store.ensure_domain("hr"))

    with pytest.raises(NotFound):
        store.get_object("_landing/ads.conversions/a.csv")
    with pytest.raises(NotFound):
        store.move_object("_landing/nope.csv", "_landing/x.csv", "ads")
    with pytest.raises(InvalidInput):
        store.put_object("../escape", b"", "ads")
    assert store.list_objects("nothing/") == []

