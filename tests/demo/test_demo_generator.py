"""The demo's generator and contract files: the rows match the contracts, the same seed gives the same rows."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

import demo.generator as demo
from demo.definitions import CONTRACTS_DIR, load_contracts
from lake.contracts import Contract, parse_contract

Tables = dict[str, pa.Table]


@pytest.fixture(scope="module")
def tables() -> Tables:
    return demo.generate()


@pytest.fixture(scope="module")
def contracts() -> dict[str, Contract]:
    return {doc["dataset"]: parse_contract(doc) for doc in demo.DEMO_CONTRACTS}


def _is_true(value: pa.Scalar) -> bool:
    return value.as_py() is True


def _utc(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


# --- contracts ---------------------------------------------------------------


def test_every_contract_parses_and_round_trips(contracts: dict[str, Contract]) -> None:
    assert list(contracts) == [
        "catalog.titles",
        "subscriptions.subscribers",
        "playback.events",
        "ads.impressions",
        "ads.conversions",
    ]
    assert tuple(contracts) == demo.DATASETS
    for contract in contracts.values():
        assert contract.owner.endswith("-team")
        assert len(contract.description) > 40
        assert len(contract.primary_key) == 1
        assert all(c.description for c in contract.columns), contract.dataset
        assert parse_contract(contract.to_dict()) == contract
        assert parse_contract(contract.to_yaml()) == contract


def test_contract_details(contracts: dict[str, Contract]) -> None:
    subscribers = contracts["subscriptions.subscribers"]
    assert subscribers.pii_columns == ["email", "full_name"]
    assert subscribers.column("monthly_price").type == pa.decimal128(8, 2)
    assert subscribers.column("signup_date").type == pa.date32()
    assert contracts["playback.events"].partition_by == ("event_date",)
    assert contracts["playback.events"].column("event_ts").type == pa.timestamp("us", tz="UTC")
    assert contracts["playback.events"].column("watch_seconds").type == pa.int64()
    assert contracts["ads.conversions"].partition_by == ("country",)
    assert contracts["ads.conversions"].column("revenue").type == pa.decimal128(12, 2)
    assert {c.owner for c in contracts.values()} == {"content-team", "subs-team", "playback-team", "ads-team"}
    assert contracts["catalog.titles"].column("kind").allowed == ("movie", "series", "documentary")
    assert set(contracts["subscriptions.subscribers"].column("plan").allowed or ()) == {
        "basic", "standard", "premium", "ad_supported"}
    assert len(contracts["subscriptions.subscribers"].column("country").allowed or ()) == 8
    for contract in contracts.values():
        for name in contract.primary_key:
            assert not contract.column(name).nullable


def test_contract_files_agree_with_the_generator_vocabulary(contracts: dict[str, Contract]) -> None:
    """The generator draws from exactly the values the contract files allow, in the same order."""
    vocabulary = {
        ("catalog.titles", "kind"): demo.KINDS,
        ("catalog.titles", "genre"): demo.GENRES,
        ("catalog.titles", "maturity_rating"): demo.MATURITY_RATINGS,
        ("subscriptions.subscribers", "country"): demo.COUNTRIES,
        ("subscriptions.subscribers", "plan"): demo.PLANS,
        ("subscriptions.subscribers", "status"): demo.STATUSES,
        ("playback.events", "device"): demo.DEVICES,
        ("playback.events", "country"): demo.COUNTRIES,
        ("ads.impressions", "country"): demo.COUNTRIES,
        ("ads.impressions", "placement"): demo.PLACEMENTS,
        ("ads.conversions", "country"): demo.COUNTRIES,
    }
    allowed = {(name, c.name): c.allowed for name, ct in contracts.items() for c in ct.columns if c.allowed}
    assert allowed == vocabulary
    release_year = contracts["catalog.titles"].column("release_year")
    assert (release_year.min, release_year.max) == (demo.OLDEST_RELEASE_YEAR, demo.END_DATE.year)


def test_contracts_are_read_from_the_yaml_files() -> None:
    """Each contract is the YAML file of its dataset, and every file is a demo dataset."""
    files = sorted(p.name for p in CONTRACTS_DIR.iterdir())
    assert files == sorted(f"{name}.yaml" for name in demo.DATASETS)
    for doc in load_contracts():
        on_disk = yaml.safe_load((CONTRACTS_DIR / f"{doc['dataset']}.yaml").read_text())
        assert doc == on_disk


def test_a_stray_contract_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import demo.definitions as definitions

    for name in demo.DATASETS:
        (tmp_path / f"{name}.yaml").write_text((CONTRACTS_DIR / f"{name}.yaml").read_text())
    monkeypatch.setattr(definitions, "CONTRACTS_DIR", tmp_path)
    assert load_contracts() == demo.DEMO_CONTRACTS
    (tmp_path / "ads.clicks.yaml").write_text("dataset: ads.clicks\n")
    with pytest.raises(ValueError, match="one file per dataset"):
        load_contracts()
    (tmp_path / "ads.clicks.yaml").unlink()
    (tmp_path / "ads.conversions.yaml").write_text("dataset: ads.other\n")
    with pytest.raises(ValueError, match=r"defines 'ads\.other'"):
        load_contracts()


# --- shape -------------------------------------------------------------------


def test_generate_returns_all_datasets_with_contract_schemas(
    tables: Tables, contracts: dict[str, Contract]
) -> None:
    assert list(tables) == list(demo.DATASETS)
    for name, table in tables.items():
        expected = contracts[name].arrow_schema()
        assert table.schema.equals(expected, check_metadata=True), name
        assert [f.nullable for f in table.schema] == [f.nullable for f in expected]
        assert table.schema == demo.contract_schema(name)


def test_row_counts_at_default_scale(tables: Tables) -> None:
    counts = dict(demo.describe(tables))
    assert counts["catalog.titles"] == 300
    assert counts["subscriptions.subscribers"] == 2_000
    assert counts["playback.events"] == 50_000
    assert counts["ads.impressions"] == 20_000
    assert 800 <= counts["ads.conversions"] <= 1_250
    assert demo.row_targets(1.0)["ads.conversions"] == 1_000


def test_required_columns_have_no_nulls(tables: Tables, contracts: dict[str, Contract]) -> None:
    for name, table in tables.items():
        for column in contracts[name].columns:
            if not column.nullable:
                assert table[column.name].null_count == 0, f"{name}.{column.name}"
    # The one optional column is mostly filled.
    full_name = tables["subscriptions.subscribers"]["full_name"]
    assert 0 < full_name.null_count < 0.05 * len(full_name)


def test_primary_keys_unique(tables: Tables, contracts: dict[str, Contract]) -> None:
    for name, table in tables.items():
        (key,) = contracts[name].primary_key
        assert pc.count_distinct(table[key]).as_py() == table.num_rows, name


def test_values_within_allowed_sets_and_ranges(tables: Tables, contracts: dict[str, Contract]) -> None:
    checked = 0
    for name, table in tables.items():
        for column in contracts[name].columns:
            values = table[column.name]
            if column.allowed is not None:
                allowed = pa.array(list(column.allowed)).cast(column.type)
                assert _is_true(pc.all(pc.is_in(values, value_set=allowed))), f"{name}.{column.name}"
                checked += 1
            if column.min is not None or column.max is not None:
                bounds = pc.min_max(values).as_py()
                if column.min is not None:
                    assert bounds["min"] >= column.min, f"{name}.{column.name}"
                if column.max is not None:
                    assert bounds["max"] <= column.max, f"{name}.{column.name}"
                checked += 1
    assert checked == 16


def test_every_allowed_value_occurs(tables: Tables) -> None:
    expectations = {
        ("catalog.titles", "kind"): demo.KINDS,
        ("catalog.titles", "maturity_rating"): demo.MATURITY_RATINGS,
        ("subscriptions.subscribers", "country"): demo.COUNTRIES,
        ("subscriptions.subscribers", "plan"): demo.PLANS,
        ("subscriptions.subscribers", "status"): demo.STATUSES,
        ("playback.events", "device"): demo.DEVICES,
        ("playback.events", "country"): demo.COUNTRIES,
        ("ads.impressions", "placement"): demo.PLACEMENTS,
    }
    for (name, column), values in expectations.items():
        assert set(pc.unique(tables[name][column]).to_pylist()) == set(values), f"{name}.{column}"


# --- realism and integrity ---------------------------------------------------


def test_referential_integrity(tables: Tables) -> None:
    subscribers = tables["subscriptions.subscribers"]["subscriber_id"]
    titles = tables["catalog.titles"]["title_id"]
    impressions = tables["ads.impressions"]
    for name in ("playback.events", "ads.impressions", "ads.conversions"):
        assert _is_true(pc.all(pc.is_in(tables[name]["subscriber_id"], value_set=subscribers))), name
    for name in ("playback.events", "ads.impressions"):
        assert _is_true(pc.all(pc.is_in(tables[name]["title_id"], value_set=titles))), name
    conversions = tables["ads.conversions"]
    assert _is_true(pc.all(pc.is_in(conversions["impression_id"], value_set=impressions["impression_id"])))


def test_conversions_match_their_impression(tables: Tables) -> None:
    conversions = tables["ads.conversions"]
    joined = conversions.join(tables["ads.impressions"], "impression_id", right_suffix="_imp")
    assert joined.num_rows == conversions.num_rows
    for column in ("subscriber_id", "campaign_id", "country"):
        assert _is_true(pc.all(pc.equal(joined[column], joined[f"{column}_imp"]))), column
    assert _is_true(pc.all(pc.greater(joined["conversion_ts"], joined["impression_ts"])))
    assert _is_true(pc.all(pc.less_equal(
        pc.subtract(joined["conversion_ts"], joined["impression_ts"]), pa.scalar(dt.timedelta(days=7)))))
    assert pc.min(conversions["revenue"]).as_py() > Decimal(0)


def test_activity_in_window_and_after_signup(tables: Tables) -> None:
    start, end = _utc(demo.START_DATE), _utc(demo.END_DATE + dt.timedelta(days=1))
    assert dt.timedelta(days=demo.WINDOW_DAYS - 1) == demo.END_DATE - demo.START_DATE
    signups = tables["subscriptions.subscribers"].select(["subscriber_id", "signup_date"])
    for name, ts_col in (("playback.events", "event_ts"), ("ads.impressions", "impression_ts"),
                         ("ads.conversions", "conversion_ts")):
        ts = tables[name][ts_col]
        bounds = pc.min_max(ts).as_py()
        assert start <= bounds["min"] and bounds["max"] < end, name
        joined = tables[name].join(signups, "subscriber_id")
        assert joined.num_rows == tables[name].num_rows
        assert _is_true(pc.all(pc.greater_equal(pc.cast(joined[ts_col], pa.date32()), joined["signup_date"])))
    events = tables["playback.events"]
    assert _is_true(pc.all(pc.equal(pc.cast(events["event_ts"], pa.date32()), events["event_date"])))
    assert pc.count_distinct(events["event_date"]).as_py() == demo.WINDOW_DAYS


def test_ids_increase_with_time(tables: Tables) -> None:
    for name, ts_col in (("playback.events", "event_ts"), ("ads.impressions", "impression_ts"),
                         ("ads.conversions", "conversion_ts")):
        ts = tables[name][ts_col].combine_chunks()
        assert _is_true(pc.all(pc.less_equal(ts[:-1], ts[1:]))), name
        ids = tables[name].column(0).to_pylist()
        assert ids == sorted(ids), name


def test_emails_unique_and_well_formed(tables: Tables) -> None:
    subscribers = tables["subscriptions.subscribers"]
    emails = subscribers["email"]
    assert pc.count_distinct(emails).as_py() == subscribers.num_rows
    assert _is_true(pc.all(pc.match_substring_regex(emails, r"^[a-z]+\.[a-z]+[0-9]+@example\.com$")))
    first = subscribers.slice(0, 1).to_pylist()[0]
    if first["full_name"] is not None:
        given, family = first["full_name"].lower().split(" ")
        assert first["email"] == f"{given}.{family}1@example.com"


def test_ads_go_to_ad_supported_subscribers(tables: Tables) -> None:
    plans = tables["ads.impressions"].join(
        tables["subscriptions.subscribers"].select(["subscriber_id", "plan", "country"]),
        "subscriber_id", right_suffix="_home")
    assert pc.unique(plans["plan"]).to_pylist() == ["ad_supported"]
    assert _is_true(pc.all(pc.equal(plans["country"], plans["country_home"])))


def test_prices_follow_plan(tables: Tables) -> None:
    us = tables["subscriptions.subscribers"].filter(pc.equal(pc.field("country"), "US"))
    grouped = us.group_by("plan").aggregate([("monthly_price", "min"), ("monthly_price", "max")])
    prices = {row["plan"]: row["monthly_price_min"] for row in grouped.to_pylist()}
    assert prices["ad_supported"] < prices["basic"] < prices["standard"] < prices["premium"]
    assert all(row["monthly_price_min"] == row["monthly_price_max"] for row in grouped.to_pylist())


def test_completed_means_ninety_percent_watched(tables: Tables) -> None:
    joined = tables["playback.events"].join(
        tables["catalog.titles"].select(["title_id", "runtime_minutes"]), "title_id")
    runtime_s = pc.multiply(pc.cast(joined["runtime_minutes"], pa.int64()), 60)
    expected = pc.greater_equal(pc.multiply(joined["watch_seconds"], 10), pc.multiply(runtime_s, 9))
    assert _is_true(pc.all(pc.equal(expected, joined["completed"])))
    assert _is_true(pc.all(pc.less_equal(joined["watch_seconds"], runtime_s)))
    share = pc.mean(pc.cast(joined["completed"], pa.float64())).as_py()
    assert 0.3 < share < 0.6


def test_title_popularity_is_skewed(tables: Tables) -> None:
    counts = sorted(pc.value_counts(tables["playback.events"]["title_id"]).field("counts").to_pylist(),
                    reverse=True)
    top_tenth = sum(counts[: len(counts) // 10])
    assert top_tenth > 0.4 * sum(counts)
    countries = pc.value_counts(tables["playback.events"]["country"]).to_pylist()
    assert max(countries, key=lambda r: r["counts"])["values"] == "US"


# --- determinism and scale ---------------------------------------------------


def test_same_seed_gives_identical_tables(tables: Tables) -> None:
    again = demo.generate(scale=1.0, seed=7)
    for name in demo.DATASETS:
        assert again[name].equals(tables[name]), name


def test_different_seed_gives_different_tables(tables: Tables) -> None:
    other = demo.generate(scale=1.0, seed=8)
    for name in demo.DATASETS:
        assert not other[name].equals(tables[name]), name
        assert other[name].schema == tables[name].schema


def test_deterministic_at_other_scales() -> None:
    first, second = demo.generate(scale=0.3, seed=11), demo.generate(scale=0.3, seed=11)
    assert all(first[name].equals(second[name]) for name in demo.DATASETS)


def test_scale_grows_rows_linearly() -> None:
    small = dict(demo.describe(demo.generate(scale=0.5, seed=3)))
    large = dict(demo.describe(demo.generate(scale=2.0, seed=3)))
    for name in ("subscriptions.subscribers", "playback.events", "ads.impressions"):
        assert large[name] == 4 * small[name], name
    assert 3.0 < large["ads.conversions"] / small["ads.conversions"] < 5.0
    # The catalog grows with the square root of the scale.
    assert large["catalog.titles"] == 2 * small["catalog.titles"]
    assert demo.row_targets(100)["playback.events"] == 5_000_000


def test_tiny_scale_still_consistent() -> None:
    tiny = demo.generate(scale=0.001, seed=1)
    for name, table in tiny.items():
        assert table.schema == demo.contract_schema(name)
        assert table.num_rows > 0 or name == "ads.conversions"
    assert _is_true(pc.all(pc.is_in(tiny["playback.events"]["subscriber_id"],
                                    value_set=tiny["subscriptions.subscribers"]["subscriber_id"])))


@pytest.mark.parametrize("scale", [0, -1.0, math.nan, math.inf, True, "1"])
def test_invalid_scale_rejected(scale: Any) -> None:
    with pytest.raises(ValueError, match="scale"):
        demo.generate(scale=scale)


def test_contract_schema_unknown_dataset() -> None:
    with pytest.raises(KeyError):
        demo.contract_schema("nope.nothing")


def test_cli_prints_counts_and_writes_parquet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main(["--scale", "0.05", "--seed", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "playback.events" in out and "2,500" in out
    written = pq.read_table(tmp_path / "playback.events.parquet")
    assert written.num_rows == 2_500
    assert written.schema.equals(demo.contract_schema("playback.events"))


def test_land_demo_registers_lands_and_is_idempotent(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from demo.definitions import DATASETS
    from demo.load import land_demo
    from lake.service import Lake
    from lake.settings import Settings

    lk = Lake(Settings(home=tmp_path / "home"))
    seen: list[tuple[str, int]] = []
    landed = land_demo(lk, scale=0.1, progress=lambda name, rows: seen.append((name, rows)))
    assert seen == landed and [n for n, _ in landed] == list(DATASETS)
    for name, rows in landed:
        assert lk.read(name).num_rows == rows
    emails = lk.read("subscriptions.subscribers").column("email")
    assert pa.types.is_binary(emails.type)  # PII landed encrypted
    versions = {name: lk.datasets.table(lk.dataset(name)).version() for name in DATASETS}
    land_demo(lk, scale=0.1)
    assert {name: lk.datasets.table(lk.dataset(name)).version() for name in DATASETS} == versions
    lk.close()


def test_ids_made_in_chunks_are_the_ids_made_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    whole = demo._ids("pe-", np.arange(1, 12), 12)
    monkeypatch.setattr(demo, "ID_CHUNK", 4)  # three chunks, the last one short
    chunked = demo._ids("pe-", np.arange(1, 12), 12)
    assert chunked.type == pa.string() and chunked.equals(whole)
    assert chunked.to_pylist()[:2] == ["pe-000000000001", "pe-000000000002"] and len(chunked) == 11
    assert len(demo._ids("tt", np.arange(0), 7)) == 0
