"""The whole lake in S3 mode against a moto server: every object Lakegate
writes carries SSE-KMS under its domain's key, and data keys are wrapped by KMS."""

from __future__ import annotations

import json

import pytest

from lake.landing import process_landing
from lake.service import Lake
from lake.settings import Settings

from factories import contract_doc
from s3_fixtures import bucket_objects

pytestmark = pytest.mark.s3


def test_register_ingest_read_on_s3_with_kms(s3_settings: Settings) -> None:
    lake = Lake(s3_settings)
    ads = lake.register(contract_doc(), actor="alice")
    subs = lake.register(contract_doc("subs.accounts"), actor="alice")
    assert ads.kms_key_id and subs.kms_key_id and ads.kms_key_id != subs.kms_key_id
    assert ads.table_uri.startswith("s3://")

    csv = b"conversion_id,country,revenue,email\n1,US,1.50,ann@example.com\n2,DE,2.00,\n"
    lake.ingest("ads.conversions", csv, "csv", actor="alice", idempotency_key="k1")
    lake.ingest("ads.conversions", csv, "csv", actor="alice", idempotency_key="k1")  # replay
    lake.ingest("subs.accounts", csv, "csv", actor="alice")
    rows = sorted(lake.read("ads.conversions", decrypt=True).to_pylist(), key=lambda r: r["conversion_id"])
    assert [r["email"] for r in rows] == ["ann@example.com", None]
    assert lake.history("ads.conversions")[0]["idempotency_key"] == "k1"

    for info in (ads, subs):
        prefix = lake.store.object_key(info.domain) + "/"  # type: ignore[attr-defined]
        objects = bucket_objects(lake, prefix)
        assert any(o["Key"].endswith(".parquet") for o in objects)
        assert any("_delta_log" in o["Key"] for o in objects)
        for o in objects:
            assert o["ServerSideEncryption"] == "aws:kms", o["Key"]
            assert o["SSEKMSKeyId"].endswith(info.kms_key_id.split("/")[-1]), o["Key"]

    # The data key is wrapped by KMS under the domain key, bound to the dataset.
    from sqlalchemy import select

    from lake.catalog.models import DataKey

    with lake.catalog.session() as s:
        row = s.scalars(select(DataKey).where(DataKey.dataset_id == ads.id)).one()
        assert row.provider == "kms"
    kms = lake.store.kms_client()  # type: ignore[attr-defined]
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=row.wrapped_key, EncryptionContext={"lakegate:dataset": "subs.accounts",
                                                                        "lakegate:major": "1"})
    lake.close()


def test_landing_prefix_on_s3(s3_settings: Settings) -> None:
    lake = Lake(s3_settings)
    lake.register(contract_doc(), actor="alice")
    lake.store.put_object("_landing/ads.conversions/a.csv",
                          b"conversion_id,country\n1,US\n", "ads")
    lake.store.put_object("_landing/ads.conversions/b.csv",
                          b"conversion_id,country\n2,XX\n", "ads")
    outcomes = process_landing(lake)
    assert [(o.path, o.ok) for o in outcomes] == [("ads.conversions/a.csv", True), ("ads.conversions/b.csv", False)]
    assert lake.read("ads.conversions").column("conversion_id").to_pylist() == [1]
    keys = lake.store.list_objects("_landing/")
    assert "_landing/_processed/ads.conversions/a.csv" in keys
    err = json.loads(lake.store.get_object("_landing/_failed/ads.conversions/b.csv.error.json"))
    assert err["error"] == "contract_violation" and "country" in err["message"]
    lake.close()
