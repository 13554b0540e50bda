"""Search over the catalog on SQLite (FTS5) and PostgreSQL (tsvector)."""

from __future__ import annotations

import pytest

from lake.errors import InvalidInput
from lake.search import MAX_OFFSET, SearchDocument, SearchIndex
from lake.search.snippets import snippet
from lake.search.vocabulary import document_terms, osa_distance
from lake.service import Lake

from factories import contract_doc


def test_datasets_and_columns_are_found_ranked_and_filtered(any_lake: Lake) -> None:
    any_lake.register(contract_doc(), actor="alice")
    any_lake.register(contract_doc("subs.accounts", owner="subs-team",
                                   description="Subscribers and their plans."), actor="alice")
    index = SearchIndex(any_lake.catalog)
    hits = index.search("conversions")
    assert hits[0].key == "ads.conversions" and hits[0].kind == "dataset"  # title match ranks first
    assert {h.key for h in index.search("email")} >= {"ads.conversions.email", "subs.accounts.email"}
    assert [h.key for h in index.search("subscri plan")] == ["subs.accounts"]  # prefixes, all words
    assert [h.key for h in index.search("email", domains=["subs"], kinds=["column"])] == ["subs.accounts.email"]
    assert all(h.kind == "column" and "pii" in h.tags for h in index.search("pii", kinds=["column"]))
    by_owner = index.search("subs-team")
    assert by_owner[0].key == "subs.accounts" and {h.domain for h in by_owner} == {"subs"}
    assert index.search("   ") == [] and index.search('"*) OR (') == []  # syntax in user text is literal


def test_visibility_filter_and_certified(any_lake: Lake) -> None:
    index = SearchIndex(any_lake.catalog)
    index.upsert([
        SearchDocument("metric", f"ads.rate_{i}", "ads" if i % 2 else "hr", f"conversion rate {i}",
                       certified=i < 3)
        for i in range(30)
    ])
    visible = index.search("rate", visible=lambda h: h.domain == "ads", limit=10)
    assert len(visible) == 10 and all(h.domain == "ads" for h in visible)
    assert {h.key for h in index.search("rate", certified=True)} == {"ads.rate_0", "ads.rate_1", "ads.rate_2"}
    index.upsert([SearchDocument("metric", "ads.rate_1", "ads", "renamed thing")])
    assert "ads.rate_1" not in {h.key for h in index.search("conversion", limit=50)}
    assert [h.key for h in index.search("renamed")] == ["ads.rate_1"]


def test_evolve_reindexes_columns(any_lake: Lake) -> None:
    any_lake.register(contract_doc(), actor="alice")
    cols = contract_doc()["columns"] + [{"name": "channel", "type": "string", "description": "marketing channel"}]
    any_lake.evolve("ads.conversions", contract_doc(columns=cols), actor="alice")
    assert [h.key for h in SearchIndex(any_lake.catalog).search("marketing channel")] == ["ads.conversions.channel"]


# -- typo tolerance, pages, groups, snippets -----------------------------------------------------


def test_a_misspelt_word_finds_what_it_meant(any_lake: Lake) -> None:
    any_lake.register(contract_doc(), actor="alice")
    index = SearchIndex(any_lake.catalog)
    page = index.page("convrsions")
    assert page.hits[0].key == "ads.conversions" and page.hits[0].kind == "dataset"
    assert [(c.word, c.alternatives) for c in page.corrections] == [("convrsions", ("conversions",))]
    assert index.page("conversions").corrections == ()  # a known word is not corrected
    assert "ads.conversions" in {h.key for h in index.search("ads convresions")}  # swapped letters, with a good word
    assert index.search("cnvrsns") == []  # too far off: three edits


def test_words_added_later_are_corrected_too(any_lake: Lake) -> None:
    index = SearchIndex(any_lake.catalog)
    assert index.search("retenton") == []
    SearchIndex(any_lake.catalog).upsert([SearchDocument("metric", "subs.retention", "subs", "subs.retention")])
    assert [h.key for h in index.search("retenton")] == ["subs.retention"]  # the same index object sees it


def test_pages_follow_each_other_and_skip_hidden_hits(any_lake: Lake) -> None:
    index = SearchIndex(any_lake.catalog)
    index.upsert([SearchDocument("dataset", f"ads.report_{i:02d}", "ads" if i % 3 else "hr", f"weekly report {i}")
                  for i in range(40)])
    visible = [h.key for h in index.search("report", limit=100, visible=lambda h: h.domain == "ads")]
    assert len(visible) == 26
    pages, offset = [], 0
    while True:
        page = index.page("report", limit=10, offset=offset, visible=lambda h: h.domain == "ads")
        pages.append([h.key for h in page.hits])
        if not page.has_more:
            break
        offset += 10
    assert [len(p) for p in pages] == [10, 10, 6] and [k for p in pages for k in p] == visible
    # Exactly as many visible hits as the page holds: no next page, though hidden hits rank after them.
    assert not index.page("report", limit=26, visible=lambda h: h.domain == "ads").has_more
    with pytest.raises(InvalidInput, match="offset"):
        index.page("report", offset=MAX_OFFSET + 1)


def test_groups_keep_datasets_above_their_many_columns(any_lake: Lake) -> None:
    cols = [{"name": f"revenue_{i}", "type": "int64", "description": "revenue in cents"} for i in range(20)]
    any_lake.register(contract_doc("ads.revenue", columns=cols, primary_key=[], partition_by=[],
                                   description="Revenue by day."), actor="alice")
    index = SearchIndex(any_lake.catalog)
    grouped = index.grouped("revenue", per_kind=5)
    assert [g.kind for g in grouped.groups] == ["dataset", "column"]
    dataset, columns = grouped.groups
    assert [h.key for h in dataset.hits] == ["ads.revenue"] and not dataset.has_more
    assert len(columns.hits) == 5 and columns.has_more
    hidden = index.grouped("revenue", per_kind=5, visible=lambda h: h.kind != "dataset")
    assert [g.kind for g in hidden.groups] == ["column"]


def test_snippets_are_cut_between_words() -> None:
    body = " ".join(f"word{i}" for i in range(100)) + " the conversion window " + " ".join(
        f"tail{i}" for i in range(100))
    cut = snippet(body, ["conversion"])
    assert cut.startswith("…") and cut.endswith("…") and "conversion" in cut
    inner = cut.strip("…")
    assert all(w in body.split() for w in inner.split())  # no word cut in half
    assert len(inner) <= 160
    assert snippet("short text", ["x"]) == "short text"


def test_edit_distance_and_vocabulary_words() -> None:
    assert osa_distance("conversions", "convresions", 2) == 1  # one swap
    assert osa_distance("kitten", "sitting", 2) == 3  # past the limit: limit + 1
    assert document_terms("ads.conversion_id Total_Revenue v2 x") >= {"conversion_id", "conversion", "id",
                                                                       "total_revenue", "total", "revenue"}
    assert not document_terms("1234 v2") - {"v"}


def test_corrections_name_only_words_of_what_is_shown(any_lake: Lake) -> None:
    index = SearchIndex(any_lake.catalog)
    index.upsert([SearchDocument("dataset", "hr.salaries", "hr", "hr.salaries", "Confidential pay."),
                  SearchDocument("dataset", "ads.clicks", "ads", "ads.clicks", "Clicks on ads.")])
    everyone = index.page("confidental")
    assert [c.alternatives for c in everyone.corrections] == [("confidential",)]
    outsider = index.page("confidental", visible=lambda h: h.domain != "hr")
    assert outsider.hits == () and outsider.corrections == ()  # the hidden word is not told
    assert index.grouped("confidental", visible=lambda h: h.domain != "hr").corrections == ()
