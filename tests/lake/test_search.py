"""Search over the catalog on SQLite (FTS5) and PostgreSQL (tsvector)."""

from __future__ import annotations

from lake.search import SearchDocument, SearchIndex
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
