"""Governed exports on Spark: the files hold exactly what the subscriber's roles may see,
checked against an evaluation of the policy written here, independently of the gateway;
with manifests, data cards, SSE-KMS and presigned URLs in S3 mode."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from access import AccessControl, Action, AuditKind, Mask, MaskKind, Resource
from access.gateway import Gateway, GatewayLimits
from access.subscribers import ExportTooLarge, Subscribers
from access.subscribers.settings import SubscriberSettings
from lake.errors import AccessDenied, InvalidInput
from lake.service import Lake
from lake.settings import Settings
from lake.spark import stop_spark
from views.definition import ViewDefinition
from views.materialize import materialize
from views.registry import apply

from factories import contract_doc

pytestmark = [pytest.mark.spark, pytest.mark.slow]

CONV = Resource.table("ads.conversions")
T0 = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
ROWS = [  # conversion_id, country, revenue, email
    (1, "DE", "10.00", "anna@de.example"), (2, "DE", "20.00", None), (3, "FR", "30.00", "fabien@fr.example"),
    (4, "FR", "40.00", "x@fr.example"), (5, "US", "50.00", "sam@us.example"), (6, "US", "60.00", None),
]
SALARIES = {
    "dataset": "hr.salaries", "owner": "hr-team", "primary_key": ["employee_id"],
    "columns": [{"name": "employee_id", "type": "int64", "nullable": False},
                {"name": "salary", "type": "decimal(12,2)"}],
}


def _source() -> pa.Table:
    from decimal import Decimal

    return pa.table({
        "conversion_id": pa.array([r[0] for r in ROWS], pa.int64()),
        "country": [r[1] for r in ROWS],
        "revenue": pa.array([Decimal(r[2]) for r in ROWS], pa.decimal128(12, 2)),
        "email": [r[3] for r in ROWS],
        "converted_at": pa.array([T0 + dt.timedelta(hours=r[0]) for r in ROWS], pa.timestamp("us", tz="UTC")),
    })


def build(settings: Settings) -> Subscribers:
    """ml: DE rows, no revenue, email hashed. fr-team: FR rows, email partial:4."""
    lake = Lake(settings)
    lake.register(contract_doc("ads.conversions"), actor="admin")
    lake.register(SALARIES, actor="admin")
    lake.ingest_table("ads.conversions", _source(), actor="admin")
    lake.users.create("admin", roles=["admin"])
    access = AccessControl(lake)
    access.create_role("ml")
    access.create_role("fr-team")
    access.grant("ml", Action.READ, CONV)
    access.set_row_filter("ml", CONV, "country = 'DE'")
    access.deny("ml", Action.READ, Resource.column_of(CONV, "revenue"))
    access.set_mask("ml", Resource.column_of(CONV, "email"), Mask(MaskKind.HASH))
    access.grant("fr-team", Action.READ, CONV)
    access.set_row_filter("fr-team", CONV, "country = 'FR'")
    access.set_mask("fr-team", Resource.column_of(CONV, "email"), Mask(MaskKind.PARTIAL, 4))
    apply(lake, [ViewDefinition("ads.country_counts", "SELECT c.country, COUNT(*) AS conversions "
                                "FROM ads.conversions AS c GROUP BY c.country", owner="ads-team",
                                description="Conversions per country.")], actor="admin", spark_check=False)
    materialize(lake, "ads.country_counts", actor="admin")
    access.grant("ml", Action.READ, Resource.view("ads.country_counts"))
    subs = Subscribers(access, settings=SubscriberSettings(export_rows_per_file=2), gateway=_gateway(access))
    subs.create("notebook", "sagemaker", owner="admin", roles=["ml", "fr-team"], actor="admin")
    return subs


def _gateway(access: AccessControl) -> Gateway:
    """The gateway exports run through, as the composition root wires it: no catalog cache."""
    return Gateway(access.lake, access, limits=GatewayLimits(catalog_cache_seconds=0))


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Subscribers]:
    """The lake in a local directory; owns the module's Spark session."""
    stop_spark()  # a session another module left behind would have other settings
    subs = build(Settings(home=tmp_path_factory.mktemp("exports") / "home", spark_master="local[2]"))
    yield subs
    subs.lake.close()
    stop_spark()


@pytest.fixture(scope="module")
def in_s3(local: Subscribers, tmp_path_factory: pytest.TempPathFactory, moto_server: str) -> Iterator[Subscribers]:
    """The same lake in S3 (moto), on the same Spark session."""
    subs = build(Settings(home=tmp_path_factory.mktemp("exports-s3") / "home", spark_master="local[2]",
                          storage_uri=f"s3://lake-{uuid.uuid4().hex[:12]}/lake", s3_endpoint_url=moto_server))
    yield subs
    subs.lake.close()


# -- the independent evaluation -----------------------------------------------------------------


def expected_rows(subs: Subscribers, *, roles: set[str]) -> list[dict[str, Any]]:
    """What the policy above allows, by the documented rules (access/README.md), in plain Python."""
    key = subs.access.hash_key(CONV)
    countries = {"ml": {"DE"}, "fr-team": {"FR"}}
    out = []
    for cid, country, _revenue, email in ROWS:
        if not any(country in countries[r] for r in roles):
            continue
        if roles == {"ml"}:
            shown = None if email is None else hmac.new(key, email.encode(), hashlib.sha256).hexdigest()
        else:  # two filtered groups: hash meets partial:4 at redact
            shown = None if email is None else "***"
        out.append({"conversion_id": cid, "country": country, "email": shown,
                    "converted_at": T0 + dt.timedelta(hours=cid)})
    return out


def read_local(location: str, manifest: dict[str, Any]) -> pa.Table:
    parts = [pq.read_table(Path(location) / f["name"]) for f in manifest["files"]]
    return pa.concat_tables(parts)


def test_export_for_one_role_holds_no_denied_row_or_column(local: Subscribers) -> None:
    subs = local
    export = subs.export("notebook", "ads.conversions", role="ml", actor="admin")
    manifest = json.loads((Path(export.location) / "manifest.json").read_text())
    data = read_local(export.location, manifest)
    assert data.column_names == ["conversion_id", "country", "email", "converted_at"]  # no revenue
    assert sorted(data.to_pylist(), key=lambda r: r["conversion_id"]) == expected_rows(subs, roles={"ml"})
    assert export.rows == data.num_rows == 2 and export.subject == "ml"


def test_export_for_the_subscriber_combines_its_roles(local: Subscribers) -> None:
    subs = local
    export = subs.export("notebook", "ads.conversions", actor="admin")
    manifest = json.loads((Path(export.location) / "manifest.json").read_text())
    data = read_local(export.location, manifest)
    assert data.column_names == ["conversion_id", "country", "email", "converted_at"]
    assert sorted(data.to_pylist(), key=lambda r: r["conversion_id"]) == expected_rows(
        subs, roles={"ml", "fr-team"})
    text = json.dumps(data.to_pylist(), default=str)
    for secret in ("anna@de.example", "fabien@fr.example", "sam@us.example", "50.00", "30.00"):
        assert secret not in text


def test_manifest_and_data_card(local: Subscribers) -> None:
    subs = local
    export = subs.export("notebook", "ads.conversions", role="ml", actor="admin")
    where = Path(export.location)
    assert where.parent.parent == subs.lake.settings.home / "exports"
    manifest = json.loads((where / "manifest.json").read_text())
    version = subs.lake.history("ads.conversions")[0]["version"]
    assert manifest["source_versions"] == {"dataset:ads.conversions": version}
    assert manifest["rows"] == 2 and [f["rows"] for f in manifest["files"]] == [2]
    for f in manifest["files"]:
        payload = (where / f["name"]).read_bytes()
        assert hashlib.sha256(payload).hexdigest() == f["sha256"] and len(payload) == f["bytes"]
        assert stat.S_IMODE(os.stat(where / f["name"]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(where).st_mode) == 0o700
    card = json.loads((where / "datacard.json").read_text())
    assert card["schema"] == [
        {"name": "conversion_id", "type": "int64", "pii": False, "shown_as": "clear"},
        {"name": "country", "type": "string", "pii": False, "shown_as": "clear"},
        {"name": "email", "type": "string", "pii": True, "shown_as": "hash"},
        {"name": "converted_at", "type": "timestamp[us, tz=UTC]", "pii": False, "shown_as": "clear"},
    ]
    assert card["left_out"] == ["revenue"]
    assert card["policy"]["row_filter"] == "`country` = 'DE'" and card["policy"]["subject"] == "ml"
    assert card["source"]["delta_version"] == version and card["lineage"]["kind"] == "dataset"
    listed = subs.exports.list("notebook")
    assert export.id in {e.id for e in listed}
    [entry] = [e for e in subs.access.audit.query(kind=AuditKind.QUERY, actor="ml", limit=20)
               if e.detail.get("export_id") == export.id]
    assert entry.resource == "dataset:ads.conversions" and entry.detail["rows"] == 2
    assert entry.detail["masks"] == {"email": "hash"} and entry.detail["row_filter"] is True


def test_export_of_a_view_carries_its_lineage(local: Subscribers) -> None:
    subs = local
    export = subs.export("notebook", "ads.country_counts", role="ml", actor="admin")
    data = read_local(export.location, dict(export.manifest))
    # ml's row filter is on the dataset, not on the view: the view's grant shows all its rows.
    counts: dict[str, int] = {}
    for _cid, country, _revenue, _email in ROWS:
        counts[country] = counts.get(country, 0) + 1
    assert sorted(data.to_pylist(), key=lambda r: r["country"]) == [
        {"country": c, "conversions": n} for c, n in sorted(counts.items())]
    card = export.datacard
    assert card["lineage"]["kind"] == "view" and card["lineage"]["grain"] == "one row per (country)"
    assert [d["name"] for d in card["lineage"]["reads"]] == ["ads.conversions"]
    assert card["lineage"]["columns"]["conversions"]["transformation"] == "aggregation"
    assert card["source"]["description"] == "Conversions per country."
    assert export.source_versions == {"view:ads.country_counts": card["source"]["delta_version"]}

    view = Resource.view("ads.country_counts")
    subs.access.set_row_filter("ml", view, "conversions > 1 AND country <> 'US'")
    try:
        filtered = subs.export("notebook", "ads.country_counts", role="ml", actor="admin")
    finally:
        subs.access.remove_row_filter("ml", view)
    rows = read_local(filtered.location, dict(filtered.manifest)).to_pylist()
    assert sorted(r["country"] for r in rows) == sorted(c for c, n in counts.items() if n > 1 and c != "US")


def test_refusals_name_the_reason(local: Subscribers) -> None:
    subs = local
    with pytest.raises(InvalidInput, match="not bound to role 'admin'; its roles: fr-team, ml"):
        subs.export("notebook", "ads.conversions", role="admin", actor="admin")
    with pytest.raises(AccessDenied, match=r"may not read table hr\.salaries: no grant allows reading"):
        subs.export("notebook", "hr.salaries", actor="admin")
    with pytest.raises(AccessDenied, match="does not exist or you have no read access"):
        subs.export("notebook", "hr.bonuses", actor="admin")
    small = Subscribers(subs.access, roles=None, settings=SubscriberSettings(export_max_rows=3),
                        gateway=_gateway(subs.access))
    before = set((subs.lake.settings.home / "exports" / "notebook").iterdir())
    with pytest.raises(ExportTooLarge, match="more than 3 rows"):
        small.export("notebook", "ads.conversions", actor="admin")
    assert set((subs.lake.settings.home / "exports" / "notebook").iterdir()) == before


@pytest.mark.s3
def test_s3_export_is_encrypted_and_served_by_expiring_urls(in_s3: Subscribers) -> None:
    subs = in_s3
    export = subs.export("notebook", "ads.conversions", role="ml", url_seconds=600, actor="admin")
    store: Any = subs.lake.store
    assert export.location == f"{store.root}/_exports/notebook/{export.id}/"
    key_id = store.ensure_domain("ads")
    s3 = store.s3_client()
    keys = store.list_objects(f"_exports/notebook/{export.id}/")
    assert {k.rsplit("/", 1)[-1] for k in keys} == {"part-00000.parquet", "manifest.json", "datacard.json"}
    for key in keys:
        head = s3.head_object(Bucket=store.bucket, Key=store.object_key(key))
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"].endswith(key_id.split("/")[-1])
    [part] = export.files
    assert part.url is not None and export.manifest_url is not None
    body = httpx.get(part.url).content
    assert hashlib.sha256(body).hexdigest() == part.sha256
    data = pq.read_table(pa.BufferReader(body))
    assert sorted(data.to_pylist(), key=lambda r: r["conversion_id"]) == expected_rows(subs, roles={"ml"})
    assert json.loads(httpx.get(export.manifest_url).content)["files"][0]["sha256"] == part.sha256
    # moto does not enforce expiry, so read it from the SigV4 signature itself.
    query = parse_qs(urlparse(part.url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and query["X-Amz-Expires"] == ["600"]
    signed = dt.datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    assert export.urls_expire_at is not None
    assert abs((signed + dt.timedelta(seconds=600) - export.urls_expire_at).total_seconds()) < 5
    assert subs.exports.list("notebook")[0].urls_expire_at == export.urls_expire_at
