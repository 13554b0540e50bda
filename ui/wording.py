"""People's words for internal notation: resource keys and Arrow type names.

``dataset:subscriptions.subscribers`` reads "dataset subscriptions.subscribers";
``timestamp[us, tz=UTC]`` reads "timestamp (UTC)". The exact notation stays
available (in a ``title`` attribute) for those who write it in policies or contracts.
"""

from __future__ import annotations

import re

from access import Resource, ResourceKind
from lake.errors import InvalidInput

_KEY = re.compile(r"\b(dataset|view|metric|domain|column):([a-z0-9_]+(?:\.[a-z0-9_]+){0,2})\b")


def resource_words(resource: Resource) -> str:
    """``dataset sales.orders``, ``column email of dataset sales.orders``, ``domain sales``, ``the whole lake``."""
    if resource.kind is ResourceKind.LAKE:
        return "the whole lake"
    if resource.kind is ResourceKind.COLUMN:
        parent = resource.parent
        assert parent is not None
        return f"column {resource.column} of {resource_words(parent)}"
    return f"{resource.kind.value} {resource.qualified}"


def _key_words(found: re.Match[str]) -> str:
    try:
        return resource_words(Resource.parse(found.group(0)))
    except InvalidInput:
        return found.group(0)


def plain_keys(text: object) -> str:
    """``text`` with every resource key in it (``dataset:a.b``) written as words."""
    return _KEY.sub(_key_words, str(text))


_SIMPLE = {
    "bool": "true/false", "string": "text", "large_string": "text", "utf8": "text", "large_utf8": "text",
    "binary": "bytes", "large_binary": "bytes", "date32": "date", "date64": "date",
    "date32[day]": "date", "date64[ms]": "date", "null": "empty",
    "int8": "integer", "int16": "integer", "int32": "integer", "int64": "integer",
    "uint8": "integer (≥ 0)", "uint16": "integer (≥ 0)", "uint32": "integer (≥ 0)", "uint64": "integer (≥ 0)",
    "halffloat": "number", "float": "number", "double": "number", "float16": "number", "float32": "number",
    "float64": "number",
}
_TIMESTAMP = re.compile(r"^timestamp\[(?P<unit>\w+)(?:,\s*tz=(?P<tz>[^\]]+))?\]$")
_DECIMAL = re.compile(r"^decimal(?:128|256)?\((?P<p>\d+),\s*(?P<s>\d+)\)$")
_LIST = re.compile(r"^(?:large_)?list<(?:item:\s*)?(?P<item>.+)>$")
_DURATION = re.compile(r"^duration\[\w+\]$")
_TIME = re.compile(r"^time(?:32|64)\[\w+\]$")


def type_words(name: str) -> str:
    """An Arrow type name as people say it; unknown names are returned as they are."""
    text = str(name).strip()
    if text in _SIMPLE:
        return _SIMPLE[text]
    if found := _TIMESTAMP.match(text):
        return f"timestamp ({found['tz']})" if found["tz"] else "timestamp (no time zone)"
    if found := _DECIMAL.match(text):
        return f"decimal ({found['s']} places)"
    if found := _LIST.match(text):
        return f"list of {type_words(found['item'])}"
    if _DURATION.match(text):
        return "duration"
    if _TIME.match(text):
        return "time of day"
    if text.startswith("struct<"):
        return "record"
    return text
