"""The catalog on both databases: migrations, datasets, contracts, commits,
users and hashed tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from lake.catalog import Catalog
from lake.catalog.models import ApiToken, Commit
from lake.errors import AlreadyExists, AuthenticationError, BreakingChange, NotFound
from lake.service import Lake

from factories import contract_doc


def test_migrations_create_every_table(catalog_url: str) -> None:
    cat = Catalog(catalog_url)
    Catalog(catalog_url)  # applying again is a no-op
    names = set(inspect(cat.engine).get_table_names())
    assert {"domains", "datasets", "contract_versions", "commits", "users", "api_tokens", "data_keys",
            "alembic_version"} <= names
    cat.dispose()


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
