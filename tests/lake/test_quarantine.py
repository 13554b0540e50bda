"""The quarantine of a dataset: its rows and reasons, the violation trend, and replay after the
contract is fixed (only rows that pass land, once; a failed replay leaves nothing behind)."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import pyarrow as pa
import pytest

from lake.catalog.models import QuarantineReplay
from lake.contracts import parse_contract, parse_freshness
from lake.errors import InvalidContract, StorageError
from lake.freshness import FreshnessState, freshness_of, measure
from lake.quarantine import REPLAY_SOURCE, RowReason, split_reasons
from lake.service import Lake
from lake.tables import DeltaTableIO

from factories import contract_doc

DS = "ads.conversions"
GOOD = [
    {"conversion_id": 1, "country": "US", "revenue": "10.50", "email": "ann@example.com", "converted_at": "2026-10-01T10:00:00Z"},
    {"conversion_id": 2, "country": "DE", "revenue": "3.00", "email": None, "converted_at": "2026-10-02T11:30:00Z"},
]


def csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    names = [c["name"] for c in contract_doc()["columns"]]
    lines = [",".join(names)] + [",".join("" if r.get(n) is None else str(r[n]) for n in names) for r in rows]
    return ("\n".join(lines) + "\n").encode()


BAD = [
    {**GOOD[1], "conversion_id": 3, "country": "XX", "email": "secret@example.com"},  # country outside the set
    {**GOOD[1], "conversion_id": 4, "revenue": "-1"},  # below the minimum
    {**GOOD[1], "conversion_id": 5, "country": "XX", "revenue": "-2"},  # both
]


@pytest.fixture
def quarantined(lake: Lake, make_dataset: Any) -> Lake:
    make_dataset()
    result = lake.ingest(DS, csv_bytes([GOOD[0], *BAD]), "csv", actor="alice", on_error="quarantine")
    assert (result.rows, result.rejected_rows) == (1, 3)
    return lake


def _relax_country(lake: Lake) -> None:
    doc = contract_doc()
    doc["columns"][1] = {**doc["columns"][1], "allowed": ["US", "DE", "FR", "XX"]}
    lake.evolve(DS, doc, actor="alice")


def _ids(lake: Lake) -> list[int]:
    return sorted(lake.read(DS, columns=["conversion_id"]).column("conversion_id").to_pylist())


def test_rows_show_each_reason_by_column_and_rule_and_never_pii(quarantined: Lake) -> None:
    listing = quarantined.quarantine.rows(DS)
    assert (listing.waiting, listing.replayed, listing.truncated) == (3, 0, False)
    first, second, third = listing.rows
    assert (first.row_number, first.values["country"]) == (2, "XX")
    assert first.reasons == (RowReason("country", "value not in allowed set ['US', 'DE', 'FR']"),)
    assert second.reasons == (RowReason("revenue", "value below minimum 0"),)
    assert [r.column for r in third.reasons] == ["country", "revenue"]
    assert "email" not in first.values and first.pii_columns == ("email",)
    assert "secret" not in repr(listing)
    assert quarantined.quarantine.rows(DS, limit=1).truncated


def test_split_reasons_keeps_rules_whole() -> None:
    assert split_reasons("a, b: duplicate primary key in the batch; x: value above maximum 5") == (
        RowReason("a, b", "duplicate primary key in the batch"), RowReason("x", "value above maximum 5"))
    assert split_reasons("") == ()


def test_replay_after_relaxing_the_contract_lands_what_passes_and_leaves_the_rest(quarantined: Lake) -> None:
    lake = quarantined
    unchanged = lake.quarantine.replay(DS, actor="alice")
    assert (unchanged.checked, unchanged.landed, unchanged.commit_id) == (3, 0, None)
    assert _ids(lake) == [1]

    _relax_country(lake)
    preview = lake.quarantine.replay(DS, actor="alice", dry_run=True)
    assert (preview.landed, preview.commit_id, preview.dry_run) == (1, None, True)
    assert _ids(lake) == [1]

    result = lake.quarantine.replay(DS, actor="alice")
    assert (result.checked, result.landed, result.contract_version) == (3, 1, 2)
    assert [(r.row_number, [x.column for x in r.reasons]) for r in result.still_failing] == [(3, ["revenue"]),
                                                                                            (4, ["revenue"])]
    assert _ids(lake) == [1, 3]
    landed = lake.read(DS, decrypt=True).to_pylist()
    assert {r["conversion_id"]: r["email"] for r in landed}[3] == "secret@example.com"  # PII came back whole
    assert next(r for r in landed if r["conversion_id"] == 3)["revenue"] == decimal.Decimal("3.00")
    commit = lake.commits(DS)[0]
    assert (commit["source"], commit["rows"], commit["actor"]) == (REPLAY_SOURCE, 1, "alice")

    listing = lake.quarantine.rows(DS)
    assert (listing.waiting, listing.replayed) == (2, 1)
    assert [r.row_number for r in listing.rows] == [3, 4]
    again = lake.quarantine.replay(DS, actor="alice")  # a landed row lands once
    assert (again.checked, again.landed) == (2, 0)
    assert _ids(lake) == [1, 3]


def test_replay_leaves_rows_whose_key_is_already_in_the_table(quarantined: Lake) -> None:
    lake = quarantined
    lake.ingest(DS, csv_bytes([{**GOOD[0], "conversion_id": 3}]), "csv", actor="alice")
    _relax_country(lake)
    result = lake.quarantine.replay(DS, actor="alice")
    assert result.landed == 0
    assert "primary key already in the table" in result.still_failing[0].reasons[0].rule
    assert lake.quarantine.rows(DS).waiting == 3


def test_a_replay_whose_delta_commit_fails_leaves_nothing_behind(quarantined: Lake,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    lake = quarantined
    _relax_country(lake)
    before = lake.history(DS)[0]["version"]

    def broken(self: DeltaTableIO, *args: Any, **kwargs: Any) -> int:
        raise StorageError("the store went away")

    with monkeypatch.context() as m:
        m.setattr(DeltaTableIO, "append", broken)
        with pytest.raises(StorageError):
            lake.quarantine.replay(DS, actor="alice")
    assert lake.history(DS)[0]["version"] == before and _ids(lake) == [1]
    with lake.catalog.session() as s:
        assert s.query(QuarantineReplay).count() == 0
    assert all(c["source"] != REPLAY_SOURCE for c in lake.commits(DS))
    assert lake.quarantine.rows(DS).waiting == 3
    assert lake.quarantine.replay(DS, actor="alice").landed == 1  # and the next replay lands it once
    assert _ids(lake) == [1, 3]


def test_replay_of_typed_batches_reads_their_values_back(lake: Lake, make_dataset: Any) -> None:
    make_dataset()
    batch = pa.table({
        "conversion_id": pa.array([7, 8], pa.int64()), "country": ["XX", "US"],
        "revenue": pa.array([decimal.Decimal("1.25"), decimal.Decimal("-4")], pa.decimal128(12, 2)),
        "email": [None, "z@example.com"],
        "converted_at": pa.array([dt.datetime(2026, 10, 1, 10, tzinfo=dt.UTC)] * 2, pa.timestamp("us", tz="UTC")),
    })
    lake.ingest_table(DS, batch, actor="alice", on_error="quarantine")
    _relax_country(lake)
    assert lake.quarantine.replay(DS, actor="alice").landed == 1
    row = lake.read(DS).to_pylist()[0]
    assert (row["conversion_id"], row["revenue"], row["converted_at"]) == (
        7, decimal.Decimal("1.25"), dt.datetime(2026, 10, 1, 10, tzinfo=dt.UTC))


def test_trend_counts_rows_per_day_and_rule(quarantined: Lake) -> None:
    trend = quarantined.quarantine.trend(DS)
    today = dt.datetime.now(dt.UTC).date()
    assert {(p.day, p.column, p.rule.split(" ")[0], p.rows) for p in trend} == {
        (today, "country", "value", 2), (today, "revenue", "value", 2)}
    assert quarantined.quarantine.trend(DS, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=40)) == []


def test_freshness_promise_is_optional_and_checked(lake: Lake, make_dataset: Any) -> None:
    assert parse_freshness("6h") == dt.timedelta(hours=6)
    assert parse_contract(contract_doc(freshness=" 2D ")).freshness == "2d"
    assert parse_contract(contract_doc()).freshness is None
    for bad in ("0d", "1y", "soon", 5):
        with pytest.raises(InvalidContract, match="freshness"):
            parse_contract(contract_doc(freshness=bad))
    info = make_dataset(freshness="1d")
    assert freshness_of(lake.catalog, [info])[DS].state is FreshnessState.LATE  # promised, never landed
    lake.ingest(DS, csv_bytes(GOOD), "csv", actor="alice")
    now = dt.datetime.now(dt.UTC)
    fresh = freshness_of(lake.catalog, [info], now=now)[DS]
    assert fresh.state is FreshnessState.FRESH and fresh.last_landed is not None
    late = measure(info, fresh.last_landed, now=now + dt.timedelta(days=2))
    assert late.state is FreshnessState.LATE and late.late_by is not None and late.late_by > dt.timedelta(hours=23)
    unpromised = lake.evolve(DS, contract_doc(), actor="alice")
    assert measure(unpromised, fresh.last_landed).state is FreshnessState.NO_PROMISE
    assert [c["kind"] for c in lake.datasets.contract_versions(DS)[-1]["changes"]] == ["freshness"]
