"""Factories shared by the tests (import as ``from factories import ...``;
``tests/`` is on the path). Fixtures that use them live in ``conftest.py``."""

from __future__ import annotations

from typing import Any


def contract_doc(name: str = "ads.conversions", **overrides: Any) -> dict[str, Any]:
    """A small contract with a primary key, a partition, an allowed set, a range and PII."""
    doc: dict[str, Any] = {
        "dataset": name,
        "owner": "ads-team",
        "description": "Purchases attributed to an ad.",
        "primary_key": ["conversion_id"],
        "partition_by": ["country"],
        "columns": [
            {"name": "conversion_id", "type": "int64", "nullable": False},
            {"name": "country", "type": "string", "nullable": False, "allowed": ["US", "DE", "FR"]},
            {"name": "revenue", "type": "decimal(12,2)", "min": 0},
            {"name": "email", "type": "string", "pii": True},
            {"name": "converted_at", "type": "timestamp"},
        ],
    }
    doc.update(overrides)
    return doc
