"""Combining grants never reveals more than one of them does, checked cell by cell.

For random slices (a principal's rows and masked columns) over a small table,
every cell :func:`access.combine.combine` returns must be revealed, at least as
much, by one single slice that covers that row and that column. Rows are
evaluated by SQLite on the transpiled filters, independently of Lakegate.
"""

from __future__ import annotations

import sqlite3

import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st

from access import rowfilter
from access.combine import Slice, combine
from access.masks import CLEAR, HASHED, HIDDEN, NULLED, REDACTED, Level, Reveal

COLUMNS = ["id", "country", "amount", "email"]
ROWS = [
    (1, "DE", 5, "a@x"), (2, "DE", 50, "b@x"), (3, "FR", 20, None), (4, "US", 7, "d@x"),
    (5, "US", 70, "e@x"), (6, "JP", 0, "f@x"),
]
FILTERS = [None, "country = 'DE'", "country IN ('DE', 'FR')", "amount > 10", "country = 'US' AND amount > 10",
           "NOT country = 'JP'"]
REVEALS = [NULLED, REDACTED, HASHED, CLEAR, Reveal(Level.PARTIAL, 2), Reveal(Level.PARTIAL, 4)]


def rows_where(predicate: str | None) -> set[int]:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (id INTEGER, country TEXT, amount INTEGER, email TEXT)")
    db.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", ROWS)
    where = "" if predicate is None else " WHERE " + sqlglot.transpile(predicate, read="spark", write="sqlite")[0]
    return {r[0] for r in db.execute("SELECT id FROM t" + where)}


slice_strategy = st.builds(
    lambda i, f, cols: Slice(f"p{i}", None if f is None else rowfilter.normalize(f), cols),
    st.integers(0, 5),
    st.sampled_from(FILTERS),
    st.dictionaries(st.sampled_from(COLUMNS), st.sampled_from(REVEALS), max_size=4),
)


@settings(max_examples=300, deadline=None)
@given(slices=st.lists(slice_strategy, max_size=5))
def test_every_returned_cell_is_revealed_by_one_single_slice(slices: list[Slice]) -> None:
    result = combine(COLUMNS, slices)
    shown = rows_where(result.row_filter) if result.columns else set()
    covering = [s for s in slices if s.columns]
    rows_of = {id(s): rows_where(s.row_filter) for s in covering}
    for row in shown:
        for name, reveal in result.columns:
            assert any(row in rows_of[id(s)] and name in s.columns and reveal.reveals_at_most(s.columns[name])
                       for s in covering), (row, name, reveal)
    # and nothing is lost at the row level: the rows are exactly the union of the slices' rows
    if result.columns:
        assert shown == set().union(*rows_of.values())


@settings(max_examples=100, deadline=None)
@given(one=slice_strategy)
def test_a_single_slice_is_returned_as_it_is(one: Slice) -> None:
    result = combine(COLUMNS, [one])
    assert dict(result.columns) == dict(one.columns)
    assert [n for n, _ in result.columns] == [c for c in COLUMNS if c in one.columns]
    assert result.row_filter == (one.row_filter if one.columns else None)


def test_unfiltered_grant_decides_masks_for_all_rows() -> None:
    eu = Slice("marketing", rowfilter.normalize("country IN ('DE', 'FR')"), {"email": CLEAR, "country": CLEAR})
    everyone = Slice("analyst", None, {"email": HASHED, "country": CLEAR, "amount": CLEAR})
    result = combine(COLUMNS, [eu, everyone])
    assert result.row_filter is None
    assert dict(result.columns) == {"country": CLEAR, "amount": CLEAR, "email": HASHED}
    assert result.principals == ("analyst",)


def test_filtered_grants_union_rows_and_meet_masks() -> None:
    de = Slice("de", rowfilter.normalize("country = 'DE'"), {"email": HASHED, "id": CLEAR, "amount": CLEAR})
    us = Slice("us", rowfilter.normalize("country = 'US'"), {"email": Reveal(Level.PARTIAL, 4), "id": CLEAR})
    result = combine(COLUMNS, [de, us])
    assert rows_where(result.row_filter) == {1, 2, 4, 5}
    # hash and partial reveal different things: their meet is redact; amount is not shown to the US slice
    assert dict(result.columns) == {"id": CLEAR, "email": REDACTED}


def test_same_rows_take_the_most_revealing_slice() -> None:
    a = Slice("a", None, {"email": HASHED})
    b = Slice("b", None, {"email": Reveal(Level.PARTIAL, 4), "id": CLEAR})
    result = combine(COLUMNS, [a, b])
    assert dict(result.columns) == {"id": CLEAR, "email": Reveal(Level.PARTIAL, 4)}


def test_mask_order() -> None:
    assert HIDDEN.reveals_at_most(NULLED) and NULLED.reveals_at_most(REDACTED)
    assert REDACTED.reveals_at_most(HASHED) and REDACTED.reveals_at_most(Reveal(Level.PARTIAL, 1))
    assert not HASHED.reveals_at_most(Reveal(Level.PARTIAL, 8))
    assert not Reveal(Level.PARTIAL, 8).reveals_at_most(HASHED)
    assert Reveal(Level.PARTIAL, 2).reveals_at_most(Reveal(Level.PARTIAL, 4))
    assert HASHED.meet(Reveal(Level.PARTIAL, 4)) == REDACTED
    assert Reveal(Level.PARTIAL, 2).meet(Reveal(Level.PARTIAL, 6)) == Reveal(Level.PARTIAL, 2)
    assert CLEAR.meet(HIDDEN) == HIDDEN


@given(a=st.sampled_from([HIDDEN, *REVEALS]), b=st.sampled_from([HIDDEN, *REVEALS]))
def test_meet_reveals_at_most_both(a: Reveal, b: Reveal) -> None:
    m = a.meet(b)
    assert m.reveals_at_most(a) and m.reveals_at_most(b)
    assert m == b.meet(a)
