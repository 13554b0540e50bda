"""The search index in the catalog database: writing documents, ranked and paged queries."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from lake.catalog import Catalog
from lake.catalog.models import AwareDateTime, utcnow
from lake.errors import InvalidInput
from lake.search.documents import (
    Correction,
    GroupedResults,
    KindGroup,
    SearchDocument,
    SearchHit,
    SearchKind,
    SearchPage,
)
from lake.search.snippets import snippet
from lake.search.vocabulary import Vocabulary, add_terms, document_terms

_TOKEN = re.compile(r"[\w]+", re.UNICODE)
MAX_TERMS = 8
#: The deepest page start; past it a query should be narrowed instead.
MAX_OFFSET = 1000
MAX_LIMIT = 200
#: Kinds in the order grouped results show them: the objects first, their columns last.
GROUP_ORDER = tuple(k.value for k in SearchKind)
#: Matches in descriptions only are ranked among the newest this many matching
#: documents (more as pages go deeper): ranking every description that holds a common word is what
#: makes full-text search slow, and name matches (ranked in full) come first.
BODY_WINDOW = 500
_LARGEST_WINDOW = 20_000
_UPSERT_CHUNK = 500
# Columns are many and their owners' objects matter more: their rank counts half
# (on SQLite, through the bm25 weights of the fields columns are indexed in).
_KIND_WEIGHT = "(CASE WHEN d.kind = 'column' THEN 0.5 ELSE 1.0 END)"
_COLUMNS = "d.kind, d.key, d.domain, d.title, d.body, d.tags, d.owner, d.certified"
_NAME_FIELDS = ("title", "key", "tags", "owner")

Visible = Callable[[SearchHit], bool]


def _terms(query: str) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(query)][:MAX_TERMS]


@dataclass(frozen=True)
class _Filters:
    kinds: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    certified: bool | None = None


def _fts_phrase(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _fts_match(names_only: bool, expanded: list[tuple[str, ...]], f: _Filters) -> str:
    """An FTS5 query: every word (or one of its corrections) in a name field, or any text field.

    A column's text is in fields of its own (``ctitle``...), so "columns only"
    and "no columns" are a choice of fields; other kinds are told apart by the
    indexed ``kind`` field.
    """
    objects = [*_NAME_FIELDS, *([] if names_only else ["body"])]
    columns = [f"c{field}" for field in objects]
    kinds = set(f.kinds)
    fields = columns if kinds == {"column"} else objects if kinds and "column" not in kinds else objects + columns
    words = " AND ".join("(" + " OR ".join(_fts_phrase(w) + "*" for w in alts) + ")" for alts in expanded)
    parts = ["{" + " ".join(fields) + "} : (" + words + ")"]
    if kinds and kinds != {"column"}:
        parts.append("kind : (" + " OR ".join(_fts_phrase(k) for k in f.kinds) + ")")
    if f.domains:
        parts.append("domain : (" + " OR ".join(_fts_phrase(d) for d in f.domains) + ")")
    if f.certified is not None:
        parts.append("certified : " + ('"1"' if f.certified else '"0"'))
    return " AND ".join(parts)


def _pg_tsquery(expanded: list[tuple[str, ...]]) -> str:
    return " & ".join("(" + " | ".join(f"{w}:*" for w in alts) + ")" for alts in expanded)


def _pg_where(f: _Filters, params: dict[str, object], alias: str = "d") -> str:
    where = []
    if f.kinds:
        where.append(f"{alias}.kind IN (" + ", ".join(f":k{i}" for i in range(len(f.kinds))) + ")")
        params.update({f"k{i}": k for i, k in enumerate(f.kinds)})
    if f.domains:
        where.append(f"{alias}.domain IN (" + ", ".join(f":d{i}" for i in range(len(f.domains))) + ")")
        params.update({f"d{i}": d for i, d in enumerate(f.domains)})
    if f.certified is not None:
        where.append(f"{alias}.certified = :certified")
        params["certified"] = f.certified
    return "".join(" AND " + w for w in where)


def _check_page(offset: int, limit: int) -> None:
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"offset {offset} is out of range: results can be paged up to {MAX_OFFSET}; "
                           "narrow the search with more words or filters")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit {limit} is out of range: between 1 and {MAX_LIMIT}")


class SearchIndex:
    """The search index in the catalog database.

    Args:
        catalog: The catalog database.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.vocabulary = Vocabulary()

    # -- writing ------------------------------------------------------------------------------

    def upsert(self, docs: Iterable[SearchDocument], *, session: Session | None = None) -> int:
        """Insert or replace documents (by kind and key); their words join the vocabulary."""
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
        rows: dict[tuple[str, str], dict[str, object]] = {}
        words: set[str] = set()
        for d in docs:
            tags = " ".join(d.tags)
            rows[(d.kind, d.key)] = {"kind": d.kind, "key": d.key, "domain": d.domain, "title": d.title,
                                     "body": d.body, "tags": tags, "owner": d.owner, "certified": d.certified,
                                     "updated_at": now}
            words |= document_terms(d.title, d.key, d.body, tags, d.owner)
        existing: set[tuple[str, str]] = set()
        keys = list(rows)
        for i in range(0, len(keys), _UPSERT_CHUNK):
            chunk = keys[i:i + _UPSERT_CHUNK]
            for kind in {k for k, _ in chunk}:
                found = s.execute(text("SELECT kind, key FROM search_documents WHERE kind = :kind AND key IN :keys")
                                  .bindparams(bindparam("keys", expanding=True)),
                                  {"kind": kind, "keys": [key for k, key in chunk if k == kind]})
                existing.update((r.kind, r.key) for r in found)
        stamped = bindparam("updated_at", type_=AwareDateTime())  # stored as every catalog datetime is
        updates = [row for k, row in rows.items() if k in existing]
        inserts = [row for k, row in rows.items() if k not in existing]
        if updates:
            s.execute(text("UPDATE search_documents SET domain=:domain, title=:title, body=:body, tags=:tags, "
                           "owner=:owner, certified=:certified, updated_at=:updated_at "
                           "WHERE kind=:kind AND key=:key").bindparams(stamped), updates)
        if inserts:
            s.execute(text("INSERT INTO search_documents (kind, key, domain, title, body, tags, owner, certified, "
                           "updated_at) VALUES (:kind, :key, :domain, :title, :body, :tags, :owner, :certified, "
                           ":updated_at)").bindparams(stamped), inserts)
        add_terms(s, words)

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

    # -- asking -------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        kinds: Sequence[str] = (),
        domains: Sequence[str] = (),
        certified: bool | None = None,
        limit: int = 20,
        offset: int = 0,
        visible: Visible | None = None,
    ) -> list[SearchHit]:
        """The hits of :meth:`page` as a list."""
        return list(self.page(query, kinds=kinds, domains=domains, certified=certified, limit=limit,
                              offset=offset, visible=visible).hits)

    def page(
        self,
        query: str,
        *,
        kinds: Sequence[str] = (),
        domains: Sequence[str] = (),
        certified: bool | None = None,
        limit: int = 20,
        offset: int = 0,
        visible: Visible | None = None,
    ) -> SearchPage:
        """Ranked documents matching every word of ``query``, one page of them.

        Args:
            query: Free text; words match whole words or their beginnings, and
                a word that begins no indexed word also matches the indexed
                words a typo or two away from it.
            kinds: Only these kinds.
            domains: Only these domains.
            certified: Only certified (True) or uncertified (False) objects.
            limit: Page size (1 to 200).
            offset: Hits to skip (0 to :data:`MAX_OFFSET`).
            visible: Drops hits the caller may not discover. Checked for every
                hit before it counts towards ``offset``, the page or
                ``has_more``, so nothing about hidden objects shows.

        Raises:
            InvalidInput: ``limit`` or ``offset`` out of range.
        """
        _check_page(offset, limit)
        terms = _terms(query)
        if not terms:
            return SearchPage((), offset, limit, False)
        with self.catalog.session() as s:
            expanded = self.vocabulary.expand(s, terms)
            filters = _Filters(tuple(kinds), tuple(domains), certified)
            hits, _ = self._visible(s, expanded, filters, offset + limit + 1, visible)
        shown = hits[offset:offset + limit]
        return SearchPage(tuple(shown), offset, limit, len(hits) > offset + limit, _corrections(expanded, shown))

    def grouped(
        self,
        query: str,
        *,
        kinds: Sequence[str] = GROUP_ORDER,
        domains: Sequence[str] = (),
        certified: bool | None = None,
        per_kind: int = 5,
        visible: Visible | None = None,
    ) -> GroupedResults:
        """The best ``per_kind`` hits of each kind, so that many column hits do not hide the datasets.

        Args:
            query: As for :meth:`page`.
            kinds: The kinds to show, in this order.
            domains: Only these domains.
            certified: Only certified (True) or uncertified (False) objects.
            per_kind: Hits per kind (1 to 200).
            visible: As for :meth:`page`.
        """
        _check_page(0, per_kind)
        terms = _terms(query)
        if not terms:
            return GroupedResults(())
        wanted = per_kind + 1  # one more tells whether there are more
        with self.catalog.session() as s:
            expanded = self.vocabulary.expand(s, terms)
            if self.catalog.dialect == "postgresql":
                found = self._grouped_pg(s, expanded, _Filters(tuple(kinds), tuple(domains), certified), wanted,
                                         visible)
                groups = [KindGroup(k, tuple(found[k][:per_kind]), len(found[k]) > per_kind)
                          for k in kinds if found.get(k)]
                return GroupedResults(tuple(groups), _corrections(expanded, [h for g in groups for h in g.hits]))
            # One ranking of all the kinds usually fills every group; a kind
            # it leaves short while others have more gets a ranking of its own.
            # (Unfiltered by kind: a filter on most of the index costs more than it saves.)
            window = wanted * len(kinds)
            everything = _Filters((), tuple(domains), certified)
            ranked, complete = self._visible(s, expanded, everything, window, visible, by_kind=(wanted, set(kinds)),
                                             grow=False)
            groups = []
            for kind in kinds:
                hits = [h for h in ranked if h.kind == kind]
                if len(hits) < wanted and not complete:
                    hits, _ = self._visible(s, expanded, replace(everything, kinds=(kind,)), wanted, visible)
                if hits:
                    groups.append(KindGroup(kind, tuple(hits[:per_kind]), len(hits) > per_kind))
        return GroupedResults(tuple(groups), _corrections(expanded, [h for g in groups for h in g.hits]))

    # -- ranking ------------------------------------------------------------------------------

    def _visible(self, s: Session, expanded: list[tuple[str, ...]], filters: _Filters, wanted: int,
                 visible: Visible | None, *, by_kind: tuple[int, set[str]] | None = None,
                 grow: bool = True) -> tuple[list[SearchHit], bool]:
        """The first ``wanted`` visible hits in rank order, and whether they are all there are.

        With ``by_kind`` (``n``, kinds), only hits of those kinds count, at most ``n`` of each.
        Without ``grow``, only the first ranking window is looked at.
        """
        window = max(wanted * 2, 20)
        snippet_words = [w for alts in expanded for w in alts]
        while True:
            rows = self._ranked(s, expanded, filters, window)
            hits: list[SearchHit] = []
            per_kind: dict[str, int] = {}
            for r in rows:
                if by_kind is not None and (r.kind not in by_kind[1] or per_kind.get(r.kind, 0) >= by_kind[0]):
                    continue
                hit = _hit(r)
                if visible is None or visible(hit):
                    hits.append(hit)
                    per_kind[hit.kind] = per_kind.get(hit.kind, 0) + 1
                    if len(hits) == wanted:
                        break
            complete = len(rows) < window
            if len(hits) == wanted or complete or not grow or window >= _LARGEST_WINDOW:
                break
            window = min(window * 4, _LARGEST_WINDOW)
        bodies = {(r.kind, r.key): r.body for r in rows}
        return [_with_snippet(h, bodies[(h.kind, h.key)], snippet_words) for h in hits], complete

    def _grouped_pg(self, s: Session, expanded: list[tuple[str, ...]], filters: _Filters, wanted: int,
                    visible: Visible | None) -> dict[str, list[SearchHit]]:
        """The first ``wanted`` visible hits of each kind, from one ranking per window (best per kind)."""
        window = max(wanted * 2, 10)
        snippet_words = [w for alts in expanded for w in alts]
        while True:
            rows = self._ranked_pg(s, expanded, filters, window, per_kind=True)
            found: dict[str, list[SearchHit]] = {}
            ranked: dict[str, int] = {}
            for r in rows:
                ranked[r.kind] = ranked.get(r.kind, 0) + 1
                hits = found.setdefault(r.kind, [])
                if len(hits) < wanted:
                    hit = _hit(r)
                    if visible is None or visible(hit):
                        hits.append(_with_snippet(hit, r.body, snippet_words))
            short = [k for k, n in ranked.items() if n >= window and len(found[k]) < wanted]
            if not short or window >= _LARGEST_WINDOW:
                return found
            window = min(window * 4, _LARGEST_WINDOW)

    def _ranked(self, s: Session, expanded: list[tuple[str, ...]], filters: _Filters, window: int) -> list[Any]:
        """The best ``window`` documents: name matches ranked first, then description matches."""
        if self.catalog.dialect == "postgresql":
            return self._ranked_pg(s, expanded, filters, window)
        return self._ranked_fts5(s, expanded, filters, window)

    def _ranked_fts5(self, s: Session, expanded: list[tuple[str, ...]], filters: _Filters,
                     window: int) -> list[Any]:
        # Each word is quoted, so FTS5 syntax in user text stays literal. The
        # filters are indexed fields and a column's text has fields of its own
        # (weighted half), so FTS5 ranks and filters without reading a row.
        # Names are matched in ``search_names``, whose word lists hold no
        # descriptions and are so a fraction of the size.
        names_sql = (f"SELECT {_COLUMNS}, top.score FROM (SELECT rowid AS id, -rank AS score FROM search_names "
                     "WHERE search_names MATCH :q ORDER BY rank LIMIT :limit) top "
                     "JOIN search_documents d ON d.id = top.id ORDER BY top.score DESC, d.certified DESC, d.key")
        names = list(s.execute(text(names_sql), {"q": _fts_match(True, expanded, filters),
                                                 "limit": window}))
        if len(names) >= window:
            return names
        body_sql = (f"SELECT {_COLUMNS}, top.score FROM (SELECT id, score FROM (SELECT rowid AS id, -rank AS score "
                    "FROM search_fts WHERE search_fts MATCH :q ORDER BY rowid DESC LIMIT :recent) "
                    "ORDER BY score DESC LIMIT :limit) top "
                    "JOIN search_documents d ON d.id = top.id ORDER BY top.score DESC, d.certified DESC, d.key")
        seen = {(r.kind, r.key) for r in names}
        rest = s.execute(text(body_sql), {"q": _fts_match(False, expanded, filters),
                                          "recent": max(BODY_WINDOW, window * 2), "limit": window + len(names)})
        return names + [r for r in rest if (r.kind, r.key) not in seen][: window - len(names)]

    def _ranked_pg(self, s: Session, expanded: list[tuple[str, ...]], filters: _Filters,
                   window: int, *, per_kind: bool = False) -> list[Any]:
        """As :meth:`_ranked_fts5`; with ``per_kind``, the best ``window`` of each kind (one ranking)."""
        params: dict[str, object] = {"q": _pg_tsquery(expanded), "limit": window}
        extra = _pg_where(filters, params)
        order = "score DESC, certified DESC, key"

        def best(matches: str) -> str:
            if not per_kind:
                return f"SELECT * FROM ({matches}) m ORDER BY {order} LIMIT :limit"
            return (f"SELECT * FROM (SELECT m.*, row_number() OVER (PARTITION BY m.kind ORDER BY {order}) AS rn "
                    f"FROM ({matches}) m) b WHERE b.rn <= :limit ORDER BY {order}")

        # Names are ranked in search_names_pg, a narrow copy of the name
        # vectors (kept by a trigger): ranking reads a few rows a page instead
        # of whole documents; the shown columns are read for the best only.
        ranked = best(f"SELECT n.id, n.kind, n.certified, n.key, ts_rank_cd(n.tsv_name, q) * "
                      f"{_KIND_WEIGHT.replace('d.', 'n.')} AS score FROM search_names_pg n, "
                      "to_tsquery('simple', :q) q WHERE n.tsv_name @@ q" + _pg_where(filters, {}, "n"))
        names = list(s.execute(text(f"SELECT {_COLUMNS}, t.score FROM ({ranked}) t JOIN search_documents d "
                                    "ON d.id = t.id ORDER BY t.score DESC, d.certified DESC, d.key"), params))
        counts: dict[str, int] = {}
        for r in names:
            counts[r.kind] = counts.get(r.kind, 0) + 1
        if (len(names) if not per_kind else min(counts.values(), default=0)) >= window:
            return names
        # "d.id + 0": the newest matches are found through the GIN index and
        # sorted, never by walking the primary key and testing every row.
        rest = s.execute(text(best(
            f"SELECT {_COLUMNS.replace('d.', 'r.')}, ts_rank_cd(r.tsv, to_tsquery('simple', :q)) * "
            f"{_KIND_WEIGHT.replace('d.', 'r.')} AS score FROM (SELECT {_COLUMNS}, d.tsv "
            "FROM search_documents d WHERE d.tsv @@ to_tsquery('simple', :q)" + extra +
            " ORDER BY d.id + 0 DESC LIMIT :recent) r")),
            {**params, "recent": max(BODY_WINDOW, window * 2), "limit": window + len(names)})
        seen = {(r.kind, r.key) for r in names}
        out = list(names)
        for r in rest:
            if (r.kind, r.key) in seen:
                continue
            if per_kind:
                if counts.get(r.kind, 0) < window:
                    counts[r.kind] = counts.get(r.kind, 0) + 1
                    out.append(r)
            elif len(out) < window:
                out.append(r)
        return out


def _hit(r: Any) -> SearchHit:
    return SearchHit(r.kind, r.key, r.domain, r.title, "", r.owner, tuple(r.tags.split()) if r.tags else (),
                     bool(r.certified), float(r.score))


def _with_snippet(hit: SearchHit, body: str, words: list[str]) -> SearchHit:
    return replace(hit, snippet=snippet(body, words))


def _corrections(expanded: list[tuple[str, ...]], shown: Sequence[SearchHit]) -> tuple[Correction, ...]:
    """The corrections to report: only words the hits shown hold themselves.

    The vocabulary has the words of every document, hidden ones included; a
    correction to a word only a hidden object holds would say it exists.
    """
    text = " ".join(f"{h.title} {h.key} {h.owner} {' '.join(h.tags)} {h.snippet}" for h in shown).lower()
    out = []
    for word, *alternatives in expanded:
        seen = tuple(a for a in alternatives if re.search(r"(?<!\w)" + re.escape(a), text))
        if seen:
            out.append(Correction(word, seen))
    return tuple(out)


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
