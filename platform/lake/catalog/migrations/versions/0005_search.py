"""search index: catalog documents with full-text search (FTS5 on SQLite, tsvector on PostgreSQL)

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_documents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(length=31), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("domain", sa.String(length=63), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("certified", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("kind", "key", name="uq_search_kind_key"),
    )
    op.create_index("ix_search_domain_kind", "search_documents", ["domain", "kind"])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE search_fts USING fts5("
            "title, body, tags, owner, key, kind UNINDEXED, domain UNINDEXED, certified UNINDEXED, "
            "content='search_documents', content_rowid='id', prefix='2 3', "
            "tokenize='unicode61 remove_diacritics 2 tokenchars ''_''')"
        )
        # Field weights for bm25: title, body, tags, owner, key.
        op.execute("INSERT INTO search_fts(search_fts, rank) VALUES ('rank', 'bm25(10.0, 1.0, 5.0, 3.0, 8.0)')")
        op.execute(
            "CREATE TRIGGER search_ai AFTER INSERT ON search_documents BEGIN "
            "INSERT INTO search_fts(rowid, title, body, tags, owner, key, kind, domain, certified) "
            "VALUES (new.id, new.title, new.body, new.tags, new.owner, new.key, new.kind, new.domain, "
            "new.certified); END"
        )
        op.execute(
            "CREATE TRIGGER search_ad AFTER DELETE ON search_documents BEGIN "
            "INSERT INTO search_fts(search_fts, rowid, title, body, tags, owner, key, kind, domain, certified) "
            "VALUES ('delete', old.id, old.title, old.body, old.tags, old.owner, old.key, old.kind, old.domain, "
            "old.certified); END"
        )
        op.execute(
            "CREATE TRIGGER search_au AFTER UPDATE ON search_documents BEGIN "
            "INSERT INTO search_fts(search_fts, rowid, title, body, tags, owner, key, kind, domain, certified) "
            "VALUES ('delete', old.id, old.title, old.body, old.tags, old.owner, old.key, old.kind, old.domain, "
            "old.certified); "
            "INSERT INTO search_fts(rowid, title, body, tags, owner, key, kind, domain, certified) "
            "VALUES (new.id, new.title, new.body, new.tags, new.owner, new.key, new.kind, new.domain, "
            "new.certified); END"
        )
    elif bind.dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE search_documents ADD COLUMN tsv tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('simple', replace(key, '.', ' ') || ' ' || title), 'A') || "
            "setweight(to_tsvector('simple', tags || ' ' || owner), 'B') || "
            "setweight(to_tsvector('simple', body), 'C')) STORED"
        )
        op.execute(
            "ALTER TABLE search_documents ADD COLUMN tsv_name tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('simple', replace(key, '.', ' ') || ' ' || title), 'A') || "
            "setweight(to_tsvector('simple', tags || ' ' || owner), 'B')) STORED"
        )
        op.execute("CREATE INDEX ix_search_tsv ON search_documents USING GIN (tsv)")
        op.execute("CREATE INDEX ix_search_tsv_name ON search_documents USING GIN (tsv_name)")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trig in ("search_ai", "search_ad", "search_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trig}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_table("search_documents")
