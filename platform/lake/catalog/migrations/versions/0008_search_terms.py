"""search: a vocabulary for typo tolerance; indexes that rank and filter without reading whole documents

Revision ID: 0008
Revises: 0007

The FTS5 table is made anew over a view of ``search_documents`` that puts a
column's text in fields of their own (half the bm25 weight), with kind, domain
and certification indexed (weight 0): ranking and filters then never read a
matching row, which is what made FTS5 slow. It is rebuilt from the documents,
and the vocabulary is filled from them. On PostgreSQL, name matches are ranked
in a narrow copy of the name vectors, kept by a trigger.
"""
from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TEXT = ("title", "key", "tags", "owner", "body")
_NAMES = ("title", "key", "tags", "owner")
#: The fields of ``search_fts``: the text of every kind but columns, the text of columns, then the
#: filter fields; ``search_names`` has the same without the descriptions (``body``, ``cbody``), so
#: the word lists it reads for the common case, a match in a name, are a fraction of the size.
_FIELDS = ", ".join([*_TEXT, *(f"c{f}" for f in _TEXT), "kind", "domain", "certified"])
_NAME_FIELDS = ", ".join([*_NAMES, *(f"c{f}" for f in _NAMES), "kind", "domain", "certified"])
#: bm25 weights in that order: a column's fields weigh half as much (columns are many, and their
#: owners' objects matter more); the filter fields count nothing.
_WEIGHTS = {"search_fts": "bm25(10.0, 8.0, 5.0, 3.0, 1.0, 5.0, 4.0, 2.5, 1.5, 0.5, 0.0, 0.0, 0.0)",
            "search_names": "bm25(10.0, 8.0, 5.0, 3.0, 5.0, 4.0, 2.5, 1.5, 0.0, 0.0, 0.0)"}
_CONTENT = ("CREATE VIEW search_fts_content AS SELECT id, "
            + ", ".join(f"CASE WHEN kind = 'column' THEN '' ELSE {f} END AS {f}" for f in _TEXT) + ", "
            + ", ".join(f"CASE WHEN kind = 'column' THEN {f} ELSE '' END AS c{f}" for f in _TEXT)
            + ", kind, domain, certified FROM search_documents")
#: Word beginnings indexed as such: a query word matches every word it begins, and without an
#: index of its length FTS5 merges the lists of all those words on each query (3 times slower
#: at 100k documents); with one it reads a single list. The index is about 2.4 times larger.
_PREFIXES = " ".join(str(n) for n in range(2, 13))
_TOKENIZE = "tokenize='unicode61 remove_diacritics 2 tokenchars ''_'''"
# As lake.search.vocabulary.document_terms, frozen here as of this revision.
_WORD = re.compile(r"[^\W\d_]+(?:_[^\W\d_]+)*", re.UNICODE)


def _terms(*texts: str) -> set[str]:
    out: set[str] = set()
    for t in texts:
        for word in _WORD.findall(t.lower()):
            if len(word) <= 48:
                out.add(word)
            if "_" in word:
                out.update(p for p in word.split("_") if 2 <= len(p) <= 48)
    return {w for w in out if len(w) >= 2}


def _drop_fts() -> None:
    for trig in ("search_ai", "search_ad", "search_au", "search_bd", "search_bu"):
        op.execute(f"DROP TRIGGER IF EXISTS {trig}")
    op.execute("DROP TABLE IF EXISTS search_fts")
    op.execute("DROP TABLE IF EXISTS search_names")
    op.execute("DROP VIEW IF EXISTS search_fts_content")


def upgrade() -> None:
    op.create_table(
        "search_terms",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.UniqueConstraint("term", name="uq_search_terms_term"),
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _drop_fts()
        op.execute(_CONTENT)
        adds, removes = [], []
        for table, fields in (("search_fts", _FIELDS), ("search_names", _NAME_FIELDS)):
            op.execute(f"CREATE VIRTUAL TABLE {table} USING fts5({fields}, content='search_fts_content', "
                       f"content_rowid='id', prefix='{_PREFIXES}', {_TOKENIZE})")
            op.execute(f"INSERT INTO {table}({table}, rank) VALUES ('rank', '{_WEIGHTS[table]}')")
            op.execute(f"INSERT INTO {table}({table}) VALUES ('rebuild')")
            # The index holds what the view shows: a row is read from it after
            # an insert and before a delete (FTS5 removes a row by its indexed values).
            adds.append(f"INSERT INTO {table}(rowid, {fields}) SELECT id, {fields} FROM search_fts_content "
                        "WHERE id = new.id;")
            removes.append(f"INSERT INTO {table}({table}, rowid, {fields}) SELECT 'delete', id, {fields} "
                           "FROM search_fts_content WHERE id = old.id;")
        add, remove = " ".join(adds), " ".join(removes)
        op.execute(f"CREATE TRIGGER search_ai AFTER INSERT ON search_documents BEGIN {add} END")
        op.execute(f"CREATE TRIGGER search_bd BEFORE DELETE ON search_documents BEGIN {remove} END")
        op.execute(f"CREATE TRIGGER search_bu BEFORE UPDATE ON search_documents BEGIN {remove} END")
        op.execute(f"CREATE TRIGGER search_au AFTER UPDATE ON search_documents BEGIN {add} END")
    elif bind.dialect.name == "postgresql":
        # A narrow copy of the name vectors: ranking name matches then reads a
        # few hundred small rows a page instead of whole documents (8 times fewer pages).
        op.execute("CREATE TABLE search_names_pg (id integer PRIMARY KEY REFERENCES search_documents (id) "
                   "ON DELETE CASCADE, kind varchar(31) NOT NULL, domain varchar(63) NOT NULL, "
                   "certified boolean NOT NULL, key varchar(255) NOT NULL, tsv_name tsvector NOT NULL)")
        op.execute("INSERT INTO search_names_pg SELECT id, kind, domain, certified, key, tsv_name FROM search_documents")
        op.execute("CREATE INDEX ix_search_names_pg_tsv ON search_names_pg USING GIN (tsv_name)")
        op.execute("DROP INDEX IF EXISTS ix_search_tsv_name")
        op.execute(
            "CREATE FUNCTION search_names_pg_sync() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "INSERT INTO search_names_pg (id, kind, domain, certified, key, tsv_name) "
            "VALUES (NEW.id, NEW.kind, NEW.domain, NEW.certified, NEW.key, NEW.tsv_name) "
            "ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, domain = EXCLUDED.domain, "
            "certified = EXCLUDED.certified, key = EXCLUDED.key, tsv_name = EXCLUDED.tsv_name; "
            "RETURN NULL; END $$")
        op.execute("CREATE TRIGGER search_names_pg_sync AFTER INSERT OR UPDATE ON search_documents "
                   "FOR EACH ROW EXECUTE FUNCTION search_names_pg_sync()")
    words: set[str] = set()
    for row in bind.execute(sa.text("SELECT title, key, body, tags, owner FROM search_documents")):
        words |= _terms(row.title, row.key, row.body, row.tags, row.owner)
    if words:
        bind.execute(sa.text("INSERT INTO search_terms (term) VALUES (:term)"), [{"term": w} for w in sorted(words)])


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS search_names_pg_sync ON search_documents")
        op.execute("DROP FUNCTION IF EXISTS search_names_pg_sync()")
        op.execute("DROP TABLE IF EXISTS search_names_pg")
        op.execute("CREATE INDEX ix_search_tsv_name ON search_documents USING GIN (tsv_name)")
    if bind.dialect.name == "sqlite":
        _drop_fts()
        fields = "title, body, tags, owner, key, kind, domain, certified"
        new = ", ".join(f"new.{f}" for f in fields.split(", "))
        old = ", ".join(f"old.{f}" for f in fields.split(", "))
        op.execute("CREATE VIRTUAL TABLE search_fts USING fts5(title, body, tags, owner, key, kind UNINDEXED, "
                   "domain UNINDEXED, certified UNINDEXED, content='search_documents', content_rowid='id', "
                   f"prefix='2 3', {_TOKENIZE})")
        op.execute("INSERT INTO search_fts(search_fts, rank) VALUES ('rank', 'bm25(10.0, 1.0, 5.0, 3.0, 8.0)')")
        op.execute("INSERT INTO search_fts(search_fts) VALUES ('rebuild')")
        op.execute(f"CREATE TRIGGER search_ai AFTER INSERT ON search_documents BEGIN "
                   f"INSERT INTO search_fts(rowid, {fields}) VALUES (new.id, {new}); END")
        op.execute(f"CREATE TRIGGER search_ad AFTER DELETE ON search_documents BEGIN "
                   f"INSERT INTO search_fts(search_fts, rowid, {fields}) VALUES ('delete', old.id, {old}); END")
        op.execute(f"CREATE TRIGGER search_au AFTER UPDATE ON search_documents BEGIN "
                   f"INSERT INTO search_fts(search_fts, rowid, {fields}) VALUES ('delete', old.id, {old}); "
                   f"INSERT INTO search_fts(rowid, {fields}) VALUES (new.id, {new}); END")
    op.drop_table("search_terms")
