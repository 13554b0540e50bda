"""Full-text search over the catalog: datasets, columns, views, metrics, tags
and owners, ranked, paged, grouped by kind, tolerant of typos, with filters by
domain, kind and certification.

SQLite uses FTS5 (bm25 with field weights; kind, domain and certification are
indexed fields, so filters are part of the match); PostgreSQL a weighted
``tsvector`` with a GIN index (``ts_rank_cd``). Typo tolerance is the same
code on both: a vocabulary of indexed words, trigram candidates and an edit
distance (:mod:`lake.search.vocabulary`). Every package that owns catalog
objects feeds the index with :class:`SearchDocument` values; the lake core
indexes datasets and their columns as they are registered or evolved.
"""

from lake.search.documents import (
    Correction,
    GroupedResults,
    KindGroup,
    SearchDocument,
    SearchHit,
    SearchKind,
    SearchPage,
)
from lake.search.index import (
    GROUP_ORDER,
    MAX_OFFSET,
    SearchIndex,
    dataset_documents,
    reindex_datasets,
)

__all__ = [
    "GROUP_ORDER",
    "MAX_OFFSET",
    "Correction",
    "GroupedResults",
    "KindGroup",
    "SearchDocument",
    "SearchHit",
    "SearchIndex",
    "SearchKind",
    "SearchPage",
    "dataset_documents",
    "reindex_datasets",
]
