"""The object IO of the ``ObjectStore`` protocol, run against both stores:
the local directory on disk and S3 on a moto server on loopback."""

from __future__ import annotations

import stat
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lake.errors import InvalidInput, NotFound
from lake.s3 import S3Store
from lake.settings import Settings
from lake.storage import LocalStore, ObjectStore, open_store


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "local":
        local = LocalStore(tmp_path / "lake")
        local.setup()
        yield local
        return
    s3_settings: Settings = request.getfixturevalue("s3_settings")
    s3 = open_store(s3_settings)
    assert isinstance(s3, S3Store)
    s3.setup()
    yield s3


def read_url(store: ObjectStore, url: str) -> bytes:
    """What a holder of a presigned URL reads (over HTTP from S3, from disk for a file URL)."""
    if isinstance(store, LocalStore):
        assert url.startswith("file://")
        return Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).read_bytes()
    response = httpx.get(url, timeout=30)
    response.raise_for_status()
    return response.content


def test_put_get_list_move_delete(store: ObjectStore) -> None:
    store.put_object("_landing/ads.conversions/a.csv", b"id\n1\n", "ads")
    store.put_object("_landing/ads.conversions/b.csv", b"id\n2\n", "ads")
    store.put_object("_landing/ads.impressions/c.csv", b"id\n3\n", "ads")
    assert store.get_object("_landing/ads.conversions/a.csv") == b"id\n1\n"
    assert store.list_objects("_landing/") == [
        "_landing/ads.conversions/a.csv", "_landing/ads.conversions/b.csv", "_landing/ads.impressions/c.csv"]
    # Plain string prefixes: a partial segment matches too.
    assert store.list_objects("_landing/ads.imp") == ["_landing/ads.impressions/c.csv"]
    assert store.list_objects("_landing/ads.conversions/b") == ["_landing/ads.conversions/b.csv"]
    assert store.list_objects("nothing/") == []
    assert store.list_objects("nothing/at/all") == []

    store.move_object("_landing/ads.conversions/a.csv", "_landing/_processed/ads.conversions/a.csv", "ads")
    assert store.get_object("_landing/_processed/ads.conversions/a.csv") == b"id\n1\n"
    with pytest.raises(NotFound):
        store.get_object("_landing/ads.conversions/a.csv")
    assert "_landing/ads.conversions/a.csv" not in store.list_objects("_landing/")

    store.delete_object("_landing/ads.conversions/b.csv")
    with pytest.raises(NotFound):
        store.get_object("_landing/ads.conversions/b.csv")
    store.delete_object("_landing/ads.conversions/b.csv")  # deleting again is not an error
    assert store.list_objects("_landing/ads.conversions/") == []
    assert store.list_objects("") == ["_landing/_processed/ads.conversions/a.csv", "_landing/ads.impressions/c.csv"]


def test_put_replaces_and_move_overwrites(store: ObjectStore) -> None:
    store.put_object("x/one", b"first", "ads")
    store.put_object("x/one", b"second", "ads")
    assert store.get_object("x/one") == b"second"
    store.put_object("x/two", b"two", "ads")
    store.move_object("x/two", "x/one", "ads")
    assert store.get_object("x/one") == b"two"
    assert store.list_objects("x/") == ["x/one"]


@pytest.mark.parametrize("key", ["", "/abs", "a//b", "a/../b", "../escape", "a/./b", "a/"])
def test_invalid_keys_are_refused_and_nothing_is_written(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidInput, match="invalid object key"):
        store.put_object(key, b"data", "ads")
    with pytest.raises(InvalidInput):
        store.get_object(key)
    with pytest.raises(InvalidInput):
        store.delete_object(key)
    with pytest.raises(InvalidInput):
        store.presign(key, 60)
    store.put_object("ok/file", b"data", "ads")
    with pytest.raises(InvalidInput):
        store.move_object("ok/file", key, "ads")
    with pytest.raises(InvalidInput):
        store.move_object(key, "ok/other", "ads")
    assert store.list_objects("") == ["ok/file"]


def test_missing_objects(store: ObjectStore) -> None:
    with pytest.raises(NotFound) as missing:
        store.get_object("no/such.csv")
    with pytest.raises(NotFound):
        store.move_object("no/such.csv", "no/other.csv", "ads")
    assert store.list_objects("no/") == []
    if isinstance(store, LocalStore):
        # Errors name the key, never a path of the lake.
        assert store.root not in str(missing.value)


def test_presign_reads_the_object(store: ObjectStore) -> None:
    store.put_object("_exports/notebook/e1/part-0.parquet", b"PAR1 data", "ads")
    url = store.presign("_exports/notebook/e1/part-0.parquet", 300)
    assert read_url(store, url) == b"PAR1 data"
    for seconds in (0, 7 * 24 * 3600 + 1):
        with pytest.raises(InvalidInput, match="presigned URL lives"):
            store.presign("_exports/notebook/e1/part-0.parquet", seconds)


def test_local_objects_are_private_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "lake")
    store.setup()
    store.put_object("_landing/ads.conversions/a.csv", b"id\n1\n", "ads")
    path = tmp_path / "lake" / "_landing" / "ads.conversions" / "a.csv"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Written whole: no temporary file is left beside it.
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.csv"]


@pytest.mark.s3
def test_s3_presigned_url_expires_and_is_sigv4(s3_settings: Settings) -> None:
    store = S3Store.from_settings(s3_settings)
    store.setup()
    store.put_object("_exports/x/a.bin", b"abc", "ads")
    url = store.presign("_exports/x/a.bin", 60)
    query = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["60"]
    assert urllib.parse.urlparse(url).path.endswith(f"/{store.bucket}/lake/_exports/x/a.bin")
