"""The catalog on both databases: migrations, datasets, contracts, commits,
users and hashed tokens."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import sqlite3
from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, select, text

from lake.catalog import Catalog, database
from lake.catalog.database import make_engine
from lake.catalog.models import ApiToken, Commit
from lake.errors import AlreadyExists, AuthenticationError, BreakingChange, NotFound
from lake.service import Lake
from lake.settings import Settings

from catalog_fixtures import MIGRATE, CatalogTemplate
from factories import contract_doc


@pytest.mark.fresh_catalog
def test_migrations_create_every_table(catalog_url: str) -> None:
    cat = Catalog(catalog_url)
    Catalog(catalog_url)  # applying again is a no-op
    names = set(inspect(cat.engine).get_table_names())
    assert {"domains", "datasets", "contract_versions", "commits", "users", "api_tokens", "data_keys",
            "alembic_version"} <= names
    cat.dispose()


def _schema(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
                                 "ORDER BY type, name")).all()
    return [(r[0], r[1], r[2]) for r in rows]


def _users(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM users ORDER BY name")]


def test_a_catalog_copied_from_the_session_template_is_at_head_and_independent(
        tmp_path: Path, catalog_template: CatalogTemplate) -> None:
    first = Lake(Settings(home=tmp_path / "first"))
    second = Lake(Settings(home=tmp_path / "second"))
    fresh = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    MIGRATE(fresh)  # the migrations themselves, on a new file
    try:
        assert catalog_template.path.exists()  # the two lakes' catalogs were copied from it
        head = ScriptDirectory(str(Path(database.__file__).parent / "migrations")).get_heads()
        with first.catalog.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_heads() == tuple(head)
        assert _schema(first.catalog.engine) == _schema(fresh)
        with first.catalog.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"

        first.users.create("ann", roles=[])
        second.users.create("bob", roles=[])
        assert _users(tmp_path / "first" / "catalog.db") == ["ann"]
        assert _users(tmp_path / "second" / "catalog.db") == ["bob"]
        assert _users(catalog_template.path) == []
    finally:
        first.close()
        second.close()
        fresh.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    cat = Catalog(f"sqlite:///{tmp_path / 'c.db'}")
    with cat.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    cat.dispose()


def test_register_evolve_and_commits(any_lake: Lake) -> None:
    info = any_lake.register(contract_doc(), actor="alice")
    assert (info.major, info.contract_version, info.owner) == (1, 1, "ads-team")
    with pytest.raises(AlreadyExists):
        any_lake.register(contract_doc(), actor="bob")
    any_lake.ingest("ads.conversions", b"conversion_id,country\n1,US\n", "csv", actor="alice", idempotency_key="k")
    any_lake.ingest("ads.conversions", b"conversion_id,country\n1,US\n", "csv", actor="alice", idempotency_key="k")
    with any_lake.catalog.session() as s:
        commits = s.scalars(select(Commit)).all()
        assert [(c.idempotency_key, c.status, c.rows) for c in commits] == [("k", "committed", 1)]

    cols = contract_doc()["columns"] + [{"name": "channel", "type": "string"}]
    evolved = any_lake.evolve("ads.conversions", contract_doc(columns=cols), actor="alice")
    assert evolved.contract_version == 2 and evolved.major == 1
    versions = any_lake.datasets.contract_versions("ads.conversions")
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[1]["changes"][0]["kind"] == "added"

    with pytest.raises(BreakingChange):
        any_lake.evolve("ads.conversions", contract_doc(columns=cols[:-2]), actor="alice")
    v2 = any_lake.evolve("ads.conversions", contract_doc(columns=cols[:-2]), actor="alice", major=True)
    assert v2.major == 2 and v2.table_uri.endswith("/v2")
    assert any_lake.dataset("ads.conversions", major=1).is_current is False
    assert [d.major for d in any_lake.datasets.list(include_old_majors=True)] == [1, 2]
    with pytest.raises(NotFound):
        any_lake.dataset("ads.nothing")


def test_tokens_are_stored_hashed_and_expire(any_lake: Lake) -> None:
    any_lake.users.create("alice", roles=["producer"])
    token, info = any_lake.users.create_token("alice", name="laptop")
    assert any_lake.users.authenticate(token).name == "alice"
    with any_lake.catalog.session() as s:
        row = s.scalars(select(ApiToken)).one()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in (row.prefix + row.token_hash)
        assert row.last_used_at is not None
    any_lake.users.revoke_token(info.id)
    with pytest.raises(AuthenticationError, match="revoked"):
        any_lake.users.authenticate(token)

    short, info2 = any_lake.users.create_token("alice", ttl_days=1)
    with any_lake.catalog.session() as s:
        s.get_one(ApiToken, info2.id).expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    with pytest.raises(AuthenticationError, match="expired"):
        any_lake.users.authenticate(short)
    with pytest.raises(AuthenticationError):
        any_lake.users.authenticate("lg_not-a-token")


def test_passwords_are_hashed(any_lake: Lake) -> None:
    any_lake.users.create("carol", password="correct horse")
    assert any_lake.users.check_password("carol", "correct horse").name == "carol"
    with pytest.raises(AuthenticationError):
        any_lake.users.check_password("carol", "wrong")


def test_a_hash_names_its_cost_and_is_checked_at_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from lake import auth

    assert auth.SCRYPT_N == 2**10 and auth.DEFAULT_SCRYPT_N == 2**14  # the suite's cost (conftest.py), the platform's
    monkeypatch.setattr(auth, "SCRYPT_N", auth.DEFAULT_SCRYPT_N)
    strong = auth.hash_password("correct horse")
    scheme, cost, salt, key = strong.split("$")
    assert (scheme, cost, len(salt), len(key)) == ("scrypt", "16384", 32, 128)
    monkeypatch.setattr(auth, "SCRYPT_N", 2**10)
    assert auth.verify_password("correct horse", strong)  # a cheaper setting later does not matter to it
    assert not auth.verify_password("correct horsE", strong)
    # A hash from before the cost was stored reads as 2**14.
    raw = os.urandom(16)
    legacy = f"scrypt${raw.hex()}${hashlib.scrypt(b'pw', salt=raw, n=2**14, r=8, p=1).hex()}"
    assert auth.verify_password("pw", legacy) and not auth.verify_password("px", legacy)
    # A cost that is not a power of two in range, or a damaged hash, verifies nothing.
    for cost in ("1000", "512", str(2**18), "99999999999", "-1024", "x"):
        assert not auth.verify_password("correct horse", f"scrypt${cost}${salt}${key}")
    assert not auth.verify_password("correct horse", f"scrypt$16384$zz${key}")
    assert not auth.verify_password("correct horse", f"bcrypt$16384${salt}${key}")
