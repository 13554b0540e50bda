"""Nesting depth of JSON and YAML, measured before any parser sees the text.

Parsers descend recursively: Arrow's JSON reader overflows the C stack (the
process dies) at about 20,000 levels, Python's ``json`` and PyYAML raise
``RecursionError`` far earlier. :func:`json_depth_error` and
:func:`yaml_depth_error` find the first place where a document nests deeper
than a limit without recursing themselves, so the input is refused with a
line number instead of being handed to a parser.

The JSON scan works on whole buffers at C speed: escaped quotes and
backslashes are dropped, then every byte but quotes, brackets and newlines;
numpy then counts, in chunks, which brackets lie outside strings (an even
number of quotes before them on their line) and their running depth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import yaml

#: Deepest nesting accepted in JSON and YAML documents and JSON Lines batches.
MAX_NESTING_DEPTH = 64

_KEEP = b'"[]{}\n'
_DROP = bytes(b for b in range(256) if b not in _KEEP)
_CHUNK = 1 << 20
_NEWLINE, _QUOTE = ord("\n"), ord('"')
_OPENERS, _CLOSERS = (ord("["), ord("{")), (ord("]"), ord("}"))


@dataclass(frozen=True)
class TooDeep:
    """Where a document first nests deeper than the limit.

    Attributes:
        line: 1-based line number.
        limit: The limit that was passed.
    """

    line: int
    limit: int

    @property
    def message(self) -> str:
        return f"nested more than {self.limit} levels deep"


def _structure(data: bytes) -> bytes:
    """Quotes, brackets and newlines of ``data``, escapes and empty strings dropped."""
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Two adjacent quotes hold no bracket between them: dropping them only
    # merges or removes strings.
    return data.translate(None, _DROP).replace(b'""', b"")


def _scan(data: bytes, limit: int, *, per_line: bool) -> TooDeep | None:
    stream = np.frombuffer(_structure(data), dtype=np.uint8)
    line, depth_carry, quote_carry = 1, 0, 0
    for start in range(0, len(stream), _CHUNK):
        chunk = stream[start:start + _CHUNK]
        newline = chunk == _NEWLINE
        # Per line (a JSON string never spans lines): the index of the line's
        # newline, or -1 while still on the line the chunk started in.
        last = np.maximum.accumulate(np.where(newline, np.arange(len(chunk)), -1))
        at_line = np.maximum(last, 0)
        quotes = np.cumsum(chunk == _QUOTE, dtype=np.int32)
        quotes -= np.where(last >= 0, quotes[at_line], -quote_carry)
        outside = (quotes & 1) == 0
        step = ((chunk == _OPENERS[0]) | (chunk == _OPENERS[1])).astype(np.int32)
        step -= (chunk == _CLOSERS[0]) | (chunk == _CLOSERS[1])
        step *= outside
        depth = np.cumsum(step)
        if per_line:
            depth -= np.where(last >= 0, depth[at_line], -depth_carry)
        else:
            depth += depth_carry
        deep = np.flatnonzero(depth > limit)
        if deep.size:
            return TooDeep(line + int(np.count_nonzero(newline[:int(deep[0])])), limit)
        depth_carry, quote_carry = int(depth[-1]), int(quotes[-1] & 1)
        line += int(np.count_nonzero(newline))
    return None


def json_depth_error(data: bytes | str, limit: int = MAX_NESTING_DEPTH) -> TooDeep | None:
    """The first line of a JSON document that nests deeper than ``limit``.

    Unbalanced or otherwise invalid JSON is not judged here; the parser
    reports it.

    Args:
        data: The document.
        limit: Deepest nesting allowed (``[[1]]`` is 2 deep).

    Returns:
        Where it first went too deep, or ``None``.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    return _scan(raw, limit, per_line=False)


def jsonl_depth_error(data: bytes, limit: int = MAX_NESTING_DEPTH) -> TooDeep | None:
    """Like :func:`json_depth_error` for JSON Lines: every line starts at depth 0."""
    return _scan(data, limit, per_line=True)


def yaml_depth_error(text: str, limit: int = MAX_NESTING_DEPTH) -> TooDeep | None:
    """The first line of a YAML document that nests deeper than ``limit``.

    PyYAML's event parser keeps its own stack (it does not recurse), so the
    events are walked here and the walk stops at the first level past the
    limit; only then may the recursive composer build the document. Syntax
    errors are left for the real load to report.
    """
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > limit:
                    mark = event.start_mark
                    return TooDeep((mark.line + 1) if mark is not None else 1, limit)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return None
    return None


class YAMLTooDeep(yaml.MarkedYAMLError):
    """A YAML document nested past the limit (a ``YAMLError`` with the line, like a syntax error)."""


def load_yaml(text: str, limit: int = MAX_NESTING_DEPTH) -> Any:
    """``yaml.safe_load`` of a document whose nesting was checked first.

    Raises:
        yaml.YAMLError: Not YAML, or (:class:`YAMLTooDeep`) nested deeper than ``limit``.
    """
    found = yaml_depth_error(text, limit)
    if found is not None:
        mark = yaml.Mark("<document>", 0, found.line - 1, 0, "", 0)
        raise YAMLTooDeep(problem=found.message, problem_mark=mark)
    return yaml.safe_load(text)


def load_json(text: str | bytes, limit: int = MAX_NESTING_DEPTH) -> Any:
    """``json.loads`` of a document whose nesting was checked first.

    Raises:
        json.JSONDecodeError: Not JSON, or nested deeper than ``limit`` (at the line where it does).
    """
    found = json_depth_error(text, limit)
    if found is not None:
        doc = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        position = 0
        for _ in range(found.line - 1):
            position = doc.index("\n", position) + 1
        raise json.JSONDecodeError(found.message, doc, position)
    return json.loads(text)


def schema_depth_error(schema: pa.Schema, limit: int = MAX_NESTING_DEPTH) -> str | None:
    """The first column of ``schema`` whose type nests deeper than ``limit``, or None.

    Parquet and Arrow IPC batches carry their schema in a footer or a first
    message; Arrow's readers refuse schemas deeper than their own limits (100
    levels for Parquet, a bounded flatbuffer verifier for IPC). This holds a
    batch of any format to the same :data:`MAX_NESTING_DEPTH` as JSON, before
    a row is read. Walks the types without recursing.

    Args:
        schema: The batch's schema.
        limit: Deepest nesting accepted (a struct of ints is 2 levels).

    Returns:
        The top-level column's name, or None when every column is within the limit.
    """
    for field in schema:
        stack: list[tuple[pa.DataType, int]] = [(field.type, 1)]
        while stack:
            kind, depth = stack.pop()
            if depth > limit:
                return str(field.name)
            if isinstance(kind, pa.DictionaryType):
                stack.append((kind.value_type, depth))
            stack.extend((kind.field(i).type, depth + 1) for i in range(kind.num_fields))
    return None
