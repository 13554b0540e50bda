from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lake.contracts import parse_contract
from lake.formats import read_batch
from lake.validation import _duplicate_keys, _unique_fast, mark_existing_keys, validate

from factories import contract_doc

CONTRACT = parse_contract(contract_doc())
HEADER = "conversion_id,country,revenue,email,converted_at\n"


def check(csv: str):  # type: ignore[no-untyped-def]
    return validate(read_batch((HEADER + csv).encode(), "csv", contract=CONTRACT), CONTRACT)


def test_good_batch_is_conformed_to_contract_types() -> None:
    r = check("1,US,10.50,a@x.com,2026-01-01T10:00:00Z\n2,DE,,,\n")
    assert r.ok and r.bad_count == 0
    assert r.table.schema == CONTRACT.arrow_schema()
    assert r.table.column("revenue").to_pylist()[0] == pytest.approx(10.5)


@pytest.mark.parametrize(
    ("rows", "column", "reason", "row_numbers"),
    [
        ("1,US,1,a,\n2,US,abc,b,\nx,US,1,c,\n", "revenue", "not a valid decimal", (2,)),
        ("1,US,1,a,\n,US,1,b,\n", "conversion_id", "null in a required column", (2,)),
        ("1,US,1,a,\n2,XX,1,b,\n3,YY,1,b,\n", "country", "not in allowed set", (2, 3)),
        ("1,US,-1,a,\n", "revenue", "below minimum", (1,)),
        ("1,US,1,a,\n2,US,1,a,\n1,DE,1,a,\n", "conversion_id", "duplicate primary key", (1, 3)),
        ("1,US,1,a,not-a-time\n", "converted_at", "not a valid timestamp", (1,)),
    ],
)
def test_each_rule_names_column_rows_and_samples(rows, column, reason, row_numbers) -> None:  # type: ignore[no-untyped-def]
    r = check(rows)
    matching = [v for v in r.violations if v.column == column and reason in v.reason]
    assert matching, [v.describe() for v in r.violations]
    v = matching[0]
    assert v.row_numbers == row_numbers
    assert v.failing_rows == len(row_numbers)
    assert len(v.samples) == len(row_numbers) or reason.startswith("null")
    assert r.bad_count >= len(row_numbers)


def test_key_already_in_table_is_a_duplicate_for_appends() -> None:
    r = mark_existing_keys(check("1,US,1,a,\n7,US,1,a,\n"), CONTRACT, pa.table({"conversion_id": [7, 8]}))
    (v,) = r.violations
    assert v.row_numbers == (2,) and "already in the table" in v.reason


def test_unknown_and_missing_columns_break_the_whole_batch() -> None:
    raw = pa.table({"conversion_id": [1], "revenue": [1.0], "surprise": ["x"]})
    r = validate(raw, CONTRACT)
    found = {(v.column, v.reason) for v in r.batch_errors}
    assert ("surprise", "column is not in the contract") in found
    assert ("country", "required column is missing from the batch") in found
    assert not r.ok


def test_typed_batch_with_wrong_arrow_type_is_reported() -> None:
    raw = pa.table({"conversion_id": pa.array(["1", "two"]), "country": ["US", "US"]})
    r = validate(raw, CONTRACT)
    (v,) = [v for v in r.violations if v.column == "conversion_id"]
    assert v.row_numbers == (2,) and v.samples == ("two",)


def test_sample_count_is_capped_and_count_is_total() -> None:
    rows = "".join(f"{i},ZZ,1,a,\n" for i in range(1, 51))
    (v,) = check(rows).violations
    assert v.failing_rows == 50 and v.row_numbers == (1, 2, 3, 4, 5)


def test_reasons_per_row_for_quarantine() -> None:
    r = check("1,US,1,a,\n2,ZZ,-5,b,\n")
    assert r.reasons[0] == ""
    assert "country" in r.reasons[1] and "revenue" in r.reasons[1]
    assert r.good_rows().column("conversion_id").to_pylist() == [1]


def test_reasons_read_like_the_list_of_every_row() -> None:
    r = check("1,US,1,a,\n2,ZZ,-5,b,\n3,US,1,c,\n")
    listed = [r.reasons[i] for i in range(3)]
    assert len(r.reasons) == 3 and list(r.reasons) == listed
    assert listed[0] == listed[2] == "" and "country" in listed[1]
    assert listed[1] == "country: value not in allowed set ['US', 'DE', 'FR']; revenue: value below minimum 0"
    assert r.reasons[-2] == listed[1] and r.reasons[1:] == listed[1:]
    with pytest.raises(IndexError):
        r.reasons[3]


key_chunks = st.lists(st.lists(st.integers(-3, 40), max_size=30), min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(chunks=key_chunks, offset=st.sampled_from([0, 7, -(2**40), 2**50]),
       kind=st.sampled_from([pa.int64(), pa.int32(), pa.int16()]))
def test_the_quick_uniqueness_proof_never_passes_a_duplicate(chunks: list[list[int]], offset: int,
                                                             kind: pa.DataType) -> None:
    """The bitmap (narrow keys) and the sort (wide ones) agree with counting, over several chunks."""
    if not pa.types.is_int64(kind):
        offset = 0
    values = [[v * (1 if i % 2 else 9) + offset for v in chunk] for i, chunk in enumerate(chunks)]
    col = pa.chunked_array([pa.array(c, kind) for c in values], type=kind)
    flat = [v for c in values for v in c]
    assert _unique_fast(col) == (len(set(flat)) == len(flat))


def test_duplicate_keys_are_found_in_a_large_narrow_key() -> None:
    n = 300_000
    ids = np.random.default_rng(3).permutation(n).astype(np.int64) + 10**12
    ids[[17, 250_000]] = ids[99]  # rows 18 and 250,001 repeat row 100
    table = pa.table({"k": pa.chunked_array([ids[:100_000], ids[100_000:]])})
    assert not _unique_fast(table.column("k"))
    assert sorted(np.flatnonzero(_duplicate_keys(table, ["k"]))) == [17, 99, 250_000]
    ids[[17, 250_000]] = [n + 10**12, n + 10**12 + 1]
    assert _unique_fast(pa.table({"k": pa.chunked_array([ids[:100_000], ids[100_000:]])}).column("k"))


def test_a_large_batch_checked_on_threads_gets_the_answers_of_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Columns of a large batch are checked concurrently; what they break, its order, the rows
    and the conformed table are those of the same batch checked column by column."""
    from concurrent.futures import ThreadPoolExecutor

    from lake import validation

    n = 100_000
    assert isinstance(validation._executor(n, 5), ThreadPoolExecutor) or pa.cpu_count() == 1
    rng = np.random.default_rng(5)
    ids = rng.permutation(n).astype(np.int64)
    ids[[10, 90_000]] = ids[500]  # a duplicate key
    country = np.array(["US", "DE", "FR"])[rng.integers(0, 3, n)].astype(object)
    country[[3, 70_000]] = ["XX", None]  # outside the set; null in a required column
    revenue = rng.integers(0, 1000, n).astype(str).astype(object)
    revenue[[7, 8, 99_999]] = ["-1", "0", "abc"]  # below the minimum; the minimum itself; not a decimal
    raw = pa.table({
        "conversion_id": pa.chunked_array([ids[:60_000], ids[60_000:]]),
        "country": pa.array(country, pa.string()),
        "revenue": pa.array(revenue, pa.string()),
        "email": pa.array(["a@x.com"] * n),
        "converted_at": pa.array(["2026-01-01T00:00:00Z"] * n),
    })
    threaded = validate(raw, CONTRACT)
    monkeypatch.setattr(validation, "_PARALLEL_ROWS", n + 1)
    inline = validate(raw, CONTRACT)

    assert threaded.violations == inline.violations
    assert [(v.column, v.row_numbers) for v in threaded.violations] == [
        ("country", (70_001,)), ("country", (4, 70_001)), ("revenue", (100_000,)), ("revenue", (8,)),
        ("conversion_id", (11, 501, 90_001)),
    ]
    assert threaded.table.equals(inline.table) and threaded.table.schema == CONTRACT.arrow_schema()
    assert np.array_equal(threaded.bad, inline.bad) and threaded.bad_count == 7
    assert [threaded.reasons[i] for i in (3, 7, 8, 10)] == [inline.reasons[i] for i in (3, 7, 8, 10)]
    assert threaded.reasons[8] == ""
