"""Nesting depth of JSON, JSON Lines and YAML, measured without parsing."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
import yaml

from lake.nesting import (
    TooDeep,
    json_depth_error,
    jsonl_depth_error,
    load_json,
    load_yaml,
    schema_depth_error,
    yaml_depth_error,
)


def test_depth_counts_brackets_outside_strings_only() -> None:
    assert json_depth_error(b'{"a": [[1]]}', 3) is None
    assert json_depth_error(b'{"a": [[1]]}', 2) == TooDeep(1, 2)
    assert json_depth_error('{"a": "[[[[[[[[[["}', 2) is None
    assert json_depth_error(b'{"a": "\\"[[[[[[", "b": "\\\\"}', 2) is None
    assert json_depth_error(b'{"a": "\\\\", "b": [[[1]]]}', 2) == TooDeep(1, 2)


def test_a_json_document_carries_depth_across_lines() -> None:
    doc = b"{\n" + b'"a": [\n' * 5 + b"1" + b"]\n" * 5 + b"}"
    assert json_depth_error(doc, 6) is None
    assert json_depth_error(doc, 4) == TooDeep(5, 4)


def test_json_lines_start_every_line_at_depth_zero() -> None:
    lines = b'{"a": [1]}\n' * 100 + b'{"a": [[[[1]]]]}\n'
    assert jsonl_depth_error(lines, 2) == TooDeep(101, 2)
    # An unbalanced line does not deepen the next one.
    assert jsonl_depth_error(b'{"a": [[\n{"b": [1]}\n', 3) is None
    # An unterminated string ends with its line.
    assert jsonl_depth_error(b'{"a": "[[[[\n{"b": [[[1]]]}\n', 3) == TooDeep(2, 3)


def test_the_line_is_right_past_a_chunk_boundary() -> None:
    filler = b'{"x": "' + b"y" * 100 + b'", "z": [1, 2]}\n'
    data = filler * 30_000 + b'{"deep": ' + b"[" * 100 + b"]" * 100 + b"}\n"
    assert jsonl_depth_error(data) == TooDeep(30_001, 64)
    assert json_depth_error(b"[" * 3_000_000) == TooDeep(1, 64)


def test_yaml_depth_counts_flow_and_block_collections() -> None:
    assert yaml_depth_error("a: {b: [1, 2]}", 3) is None
    assert yaml_depth_error("a: {b: [1, 2]}", 2) == TooDeep(1, 2)
    block = "a:\n  b:\n    c:\n      - 1\n"
    assert yaml_depth_error(block, 4) is None
    assert yaml_depth_error(block, 3) == TooDeep(4, 3)


def test_loaders_refuse_deep_documents_with_the_parsers_own_error_types() -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        load_json('{"a": 1,\n "b": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert caught.value.lineno == 2 and "nested more than 64 levels deep" in caught.value.msg
    with pytest.raises(yaml.YAMLError) as found:
        load_yaml("a: 1\nb: " + "[" * 100_000)
    assert "nested more than 64 levels deep" in str(found.value)
    assert load_json('{"a": [1]}') == {"a": [1]} and load_yaml("a: [1]") == {"a": [1]}


def test_schema_depth_counts_every_kind_of_nested_type() -> None:
    flat = pa.schema([("id", pa.int64()), ("tags", pa.list_(pa.string()))])
    assert schema_depth_error(flat, 2) is None
    assert schema_depth_error(flat, 1) == "tags"
    # struct (1) > map (2) > entries struct (3) > list (4) > int (5); dictionaries add no level
    deep = pa.schema([("id", pa.int64()),
                      ("m", pa.struct([("x", pa.map_(pa.string(), pa.list_(pa.int8())))])),
                      ("d", pa.dictionary(pa.int8(), pa.string()))])
    assert schema_depth_error(deep, 5) is None
    assert schema_depth_error(deep, 4) == "m"
