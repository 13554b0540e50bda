"""Full-text search over the catalog: datasets, columns, views, metrics, tags
and owners, ranked, with filters by domain, kind and certification.

SQLite uses FTS5 (bm25 with field weights); PostgreSQL a weighted
``tsvector`` with a GIN index (``ts_rank_cd``). Every package that owns
catalog objects feeds the index with :class:`SearchDocument` values; the lake
core indexes datasets and their columns as they are registered or evolved.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from lake.catalog import Catalog
from lake.catalog.models import AwareDateTime, utcnow

_TOKEN = re.compile(r"[\w]+", re.UNICODE)
# Columns are many and their owners' objects matter more: halve their rank.
_KIND_WEIGHT = "(CASE WHEN d.kind = 'column' THEN 0.5 ELSE 1.0 END)"
MAX_TERMS = 8


@dataclass(frozen=True)
class SearchDocument:
    """One searchable object.

    Attributes:
        kind: ``dataset``, ``column``, ``view``, ``metric``...
        key: Unique within the kind, e.g. ``ads.conversions`` or ``ads.conversions.email``.
        domain: The owning domain (for filters and for access checks).
        title: Short name shown in results.
        body: Description and other text.
        tags: Tags (and PII markers) to match and filter on.
        owner: Owning person or team.
        certified: Whether the object is certified (metrics) or otherwise endorsed.
    """

    kind: str
    key: str
    domain: str
    title: str
    body: str = ""
    tags: tuple[str, ...] = ()
    owner: str = ""
    certified: bool = False


@dataclass(frozen=True)
class SearchHit:
    kind: str
    key: str
    domain: str
    title: str
    snippet: str
    owner: str
    tags: tuple[str, ...]
    certified: bool
    score: float


def _terms(query: str) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(query)][:MAX_TERMS]


class SearchIndex:
    """The search index in the catalog database."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def upsert(self, docs: Iterable[SearchDocument], *, session: Session | None = None) -> int:
        """Insert or replace documents (by kind and key)."""
        docs = list(docs)
        if not docs:
            return 0
        if session is not None:
            self._upsert(session, docs)
        else:
            with self.catalog.session() as s:
                self._upsert(s, docs)
        return len(docs)

    def _upsert(self, s: Session, docs: list[SearchDocument]) -> None:
        now = utcnow()
        stamped = bindparam("updated_at", type_=AwareDateTime())  # stored as every catalog datetime is
        for d in docs:
            row = {"kind": d.kind, "key": d.key, "domain": d.domain, "title": d.title, "body": d.body,
                   "tags": " ".join(d.tags), "owner": d.owner, "certified": d.certified, "updated_at": now}
            updated = s.execute(
                text("UPDATE search_documents SET domain=:domain, title=:title, body=:body, tags=:tags, "
                     "owner=:owner, certified=:certified, updated_at=:updated_at WHERE kind=:kind AND key=:key")
                .bindparams(stamped),
                row,
            )
            if updated.rowcount == 0:  # type: ignore[attr-defined]
                s.execute(
                    text("INSERT INTO search_documents (kind, key, domain, title, body, tags, owner, certified, "
                         "updated_at) VALUES (:kind, :key, :domain, :title, :body, :tags, :owner, :certified, "
                         ":updated_at)").bindparams(stamped),
                    row,
                )

    def remove(self, kind: str, key_prefix: str, *, session: Session | None = None) -> None:
        """Drop documents of a kind whose key is ``key_prefix`` or starts with ``key_prefix.``."""
        if session is None:
            with self.catalog.session() as s:
                self.remove(kind, key_prefix, session=s)
            return
        session.execute(
            text("DELETE FROM search_documents WHERE kind = :kind AND (key = :key OR key LIKE :like)"),
            {"kind": kind, "key": key_prefix, "like": key_prefix + ".%"},
        )

    def count(self) -> int:
        with self.catalog.session() as s:
            return int(s.execute(text("SELECT count(*) FROM search_documents")).scalar_one())

    def search(
        self,
        query: str,
        *,
        kinds: Sequence[str] = (),
        domains: Sequence[str] = (),
        certified: bool | None = None,
        limit: int = 20,
        visible: Callable[[SearchHit], bool] | None = None,
    ) -> list[SearchHit]:
        """Ranked documents matching every word of ``query`` (as prefixes).

        Args:
            query: Free text; words match whole words or their beginnings.
            kinds: Only these kinds.
            domains: Only these domains.
            certified: Only certified (True) or uncertified (False) objects.
            limit: At most this many hits.
            visible: Drops hits the caller may not discover (checked per hit,
                so the result never hints at hidden objects).
        """
        terms = _terms(query)
        if not terms:
            return []
        limit = max(1, min(limit, 200))
        hits: list[SearchHit] = []
        top = max(limit * 2, 20)
        with self.catalog.session() as s:
            while True:
                rows = self._query(s, terms, kinds, domains, certified, top)
                hits = []
                for r in rows:
                    hit = SearchHit(r.kind, r.key, r.domain, r.title, _snippet(r.body, terms), r.owner,
                                    tuple(r.tags.split()) if r.tags else (), bool(r.certified), float(r.score))
                    if visible is None or visible(hit):
                        hits.append(hit)
                        if len(hits) == limit:
                            return hits
                if len(rows) < top or top >= 20_000:
                    return hits
                top *= 4

    def _query_pg(self, s: Session, terms: list[str], extra: str, params: dict[str, object],
                  limit: int) -> list[Any]:
        # The same two passes as with FTS5: names first, then descriptions.
        def sql(column: str) -> str:
            return ("SELECT d.kind, d.key, d.domain, d.title, d.body, d.tags, d.owner, d.certified, "
                    f"ts_rank_cd(d.{column}, q) * " + _KIND_WEIGHT + " AS score FROM search_documents d, "
                    f"to_tsquery('simple', :q) q WHERE d.{column} @@ q" + extra +
                    " ORDER BY score DESC, d.certified DESC, d.key LIMIT :limit")

        params = {**params, "q": " & ".join(f"{t}:*" for t in terms)}
        names = list(s.execute(text(sql("tsv_name")), params))
        if len(names) >= limit:
            return names
        seen = {r.key for r in names}
        rest = [r for r in s.execute(text(sql("tsv")), {**params, "limit": limit + len(names)})
                if r.key not in seen]
        return names + rest[: limit - len(names)]

    def _query_fts5(self, s: Session, terms: list[str], extra: str, params: dict[str, object],
                    limit: int) -> list[Any]:
        # Two passes: documents whose name, key, tags or owner match come first,
        # ranked among themselves; descriptions are searched only when those are
        # too few. Ranking every description match of a common word is what
        # makes full-text search slow, and name matches are what people want.
        # Each term is quoted, so FTS5 syntax in user text stays literal.
        match = " AND ".join('"' + t.replace('"', '""') + '"*' for t in terms)
        where = extra.replace("d.kind", "f.kind").replace("d.domain", "f.domain").replace("d.certified", "f.certified")
        sql = ("SELECT d.kind, d.key, d.domain, d.title, d.body, d.tags, d.owner, d.certified, top.score "
               "FROM (SELECT f.rowid AS id, -f.rank * (CASE WHEN f.kind = 'column' THEN 0.5 ELSE 1.0 END) "
               "AS score FROM search_fts f WHERE search_fts MATCH :q" + where +
               " ORDER BY score DESC LIMIT :limit) top "
               "JOIN search_documents d ON d.id = top.id ORDER BY top.score DESC, d.certified DESC, d.key")
        names = list(s.execute(text(sql), {**params, "q": "{title key tags owner} : (" + match + ")"}))
        if len(names) >= limit:
            return names
        seen = {r.key for r in names}
        rest = [r for r in s.execute(text(sql), {**params, "q": match, "limit": limit + len(names)})
                if r.key not in seen]
        return names + rest[: limit - len(names)]

    def _query(self, s: Session, terms: list[str], kinds: Sequence[str], domains: Sequence[str],
               certified: bool | None, limit: int) -> list[Any]:
        """The best ``limit`` documents for the terms."""
        params: dict[str, object] = {"limit": limit}
        where = []
        for i, k in enumerate(kinds):
            params[f"k{i}"] = k
        if kinds:
            where.append("d.kind IN (" + ", ".join(f":k{i}" for i in range(len(kinds))) + ")")
        for i, dm in enumerate(domains):
            params[f"d{i}"] = dm
        if domains:
            where.append("d.domain IN (" + ", ".join(f":d{i}" for i in range(len(domains))) + ")")
        if certified is not None:
            where.append("d.certified = :certified")
            params["certified"] = certified
        extra = (" AND " + " AND ".join(where)) if where else ""
        if self.catalog.dialect == "postgresql":
            return self._query_pg(s, terms, extra, params, limit)
        return self._query_fts5(s, terms, extra, params, limit)


def _snippet(body: str, terms: list[str], width: int = 160) -> str:
    lower = body.lower()
    pos = min((p for p in (lower.find(t) for t in terms) if p >= 0), default=0)
    start = max(0, pos - width // 3)
    out = body[start:start + width]
    return ("…" if start else "") + out + ("…" if start + width < len(body) else "")


def dataset_documents(info: object) -> list[SearchDocument]:
    """A dataset and its columns as search documents."""
    from lake.datasets import DatasetInfo

    assert isinstance(info, DatasetInfo)
    c = info.contract
    docs = [SearchDocument(
        kind="dataset", key=info.name, domain=info.domain, title=info.name,
        body=" ".join(filter(None, [c.description, " ".join(c.column_names)])),
        tags=tuple(c.tags) + (("pii",) if c.pii_columns else ()), owner=info.owner,
    )]
    for col in c.columns:
        docs.append(SearchDocument(
            kind="column", key=f"{info.name}.{col.name}", domain=info.domain, title=f"{info.name}.{col.name}",
            body=col.description, tags=tuple(col.tags) + (("pii",) if col.pii else ()), owner=info.owner,
        ))
    return docs


def reindex_datasets(catalog: Catalog, infos: Iterable[object]) -> int:
    """Replace the dataset and column documents with the given datasets'."""
    index = SearchIndex(catalog)
    docs = [d for info in infos for d in dataset_documents(info)]
    with catalog.session() as s:
        s.execute(text("DELETE FROM search_documents WHERE kind IN ('dataset', 'column')"))
        index.upsert(docs, session=s)
    return len(docs)


__all__ = ["SearchDocument", "SearchHit", "SearchIndex", "dataset_documents", "reindex_datasets"]
