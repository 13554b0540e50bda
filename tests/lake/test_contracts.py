from __future__ import annotations

import pyarrow as pa
import pytest

from lake.contracts import diff_contracts, parse_contract, parse_type
from lake.errors import InvalidContract

from factories import contract_doc


def test_yaml_contract_round_trips() -> None:
    text = """
dataset: ads.conversions
owner: ads-team
primary_key: [conversion_id]
partition_by: [country]
columns:
  - {name: conversion_id, type: int64, nullable: false}
  - {name: country, type: string, nullable: false, allowed: [US, DE]}
  - {name: revenue, type: "decimal(12,2)", min: 0, max: 10000}
  - {name: email, type: string, pii: true, description: buyer e-mail}
  - {name: at, type: "timestamp[ms, tz=UTC]"}
"""
    c = parse_contract(text)
    assert c.dataset == "ads.conversions"
    assert c.pii_columns == ["email"]
    assert c.arrow_schema().field("revenue").type == pa.decimal128(12, 2)
    assert c.arrow_schema().field("at").type == pa.timestamp("ms", tz="UTC")
    assert c.storage_schema().field("email").type == pa.binary()
    assert parse_contract(c.to_yaml()) == c


@pytest.mark.parametrize(
    ("mutate", "where", "words"),
    [
        (lambda d: d["columns"].append({"name": "x", "type": "varchar"}), "columns[5] (x).type", "unknown type"),
        (lambda d: d["columns"].append({"name": "Bad Name", "type": "string"}), "columns[5].name", "column name"),
        (lambda d: d["columns"].append({"name": "country", "type": "string"}), "columns", "duplicate"),
        (lambda d: d.update(primary_key=["nope"]), "primary_key", "not a column"),
        (lambda d: d.update(primary_key=["email"]), "primary_key", "PII"),
        (lambda d: d.update(primary_key=["revenue"]), "primary_key", "required"),
        (lambda d: d.update(dataset="noDomain"), "dataset", "domain.dataset"),
        (lambda d: d.update(colums=[]), None, "unknown key"),
        (lambda d: d["columns"][2].update(min="abc"), "columns[2] (revenue).min", "does not fit"),
        (lambda d: d["columns"][1].update(allowed=[]), "columns[1] (country).allowed", "non-empty"),
        (lambda d: d["columns"][0].update(nullable="no"), "columns[0] (conversion_id)", "true or false"),
    ],
)
def test_invalid_contracts_say_where(mutate, where, words) -> None:  # type: ignore[no-untyped-def]
    doc = contract_doc()
    mutate(doc)
    with pytest.raises(InvalidContract) as err:
        parse_contract(doc)
    assert err.value.where == where
    assert words in str(err.value)


def test_yaml_syntax_error_names_line() -> None:
    with pytest.raises(InvalidContract) as err:
        parse_contract("dataset: a.b\ncolumns:\n  - {name: x, type: int64\n")
    assert err.value.where and err.value.where.startswith("line ")


def test_parse_type_decimal_bounds() -> None:
    assert parse_type("decimal(38,0)") == pa.decimal128(38, 0)
    with pytest.raises(InvalidContract):
        parse_type("decimal(3,5)")


def _with_columns(cols: list[dict]) -> dict:  # type: ignore[type-arg]
    return contract_doc(columns=cols, partition_by=["country"])


@pytest.mark.parametrize(("before", "after", "word"), [
    ("decimal(12,2)", "decimal(14,4)", "widened"),
    ("decimal(14,4)", "decimal(12,2)", "narrowed"),
    ("decimal(12,2)", "decimal(12,4)", "changed"),
    ("int32", "int64", "widened"),
    ("int64", "int32", "narrowed"),
    ("int64", "string", "changed"),
])
def test_a_retyped_column_is_called_widened_only_when_every_old_value_still_fits(
        before: str, after: str, word: str) -> None:
    cols = contract_doc()["columns"]
    old = parse_contract(_with_columns([*cols, {"name": "x", "type": before}]))
    new = parse_contract(_with_columns([*cols, {"name": "x", "type": after}]))
    (change,) = diff_contracts(old, new)
    assert change.kind == "retyped" and change.breaking
    assert f"type {word} from" in change.detail, change.detail


def test_diff_compatible_and_breaking_changes() -> None:
    old = parse_contract(contract_doc())
    cols = contract_doc()["columns"]

    added = parse_contract(_with_columns(cols + [{"name": "note", "type": "string"}]))
    (change,) = diff_contracts(old, added)
    assert change.kind == "added" and not change.breaking

    required = parse_contract(_with_columns(cols + [{"name": "note", "type": "string", "nullable": False}]))
    assert [c.breaking for c in diff_contracts(old, required)] == [True]

    dropped = parse_contract(_with_columns([c for c in cols if c["name"] != "revenue"]))
    assert {(c.kind, c.column) for c in diff_contracts(old, dropped) if c.breaking} == {("dropped", "revenue")}

    renamed_cols = [dict(c) for c in cols]
    renamed_cols[2]["name"] = "amount"
    renamed = parse_contract(_with_columns(renamed_cols))
    assert [(c.kind, c.breaking) for c in diff_contracts(old, renamed)] == [("renamed", True)]

    narrowed_cols = [dict(c) for c in cols]
    narrowed_cols[0]["type"] = "int32"
    assert any(c.kind == "retyped" and c.breaking for c in diff_contracts(old, parse_contract(_with_columns(narrowed_cols))))

    req_cols = [dict(c) for c in cols]
    req_cols[2]["nullable"] = False
    assert any(c.kind == "required" and c.breaking for c in diff_contracts(old, parse_contract(_with_columns(req_cols))))

    relaxed_cols = [dict(c) for c in cols]
    relaxed_cols[1]["nullable"] = True
    assert [(c.kind, c.breaking) for c in diff_contracts(old, parse_contract(_with_columns(relaxed_cols)))] == [("relaxed", False)]

    docs_only = parse_contract(contract_doc(description="new words"))
    assert all(not c.breaking for c in diff_contracts(old, docs_only))
