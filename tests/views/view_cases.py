"""SQL cases read from ``fixtures/*.sql`` and small shared texts for the view tests."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from demo.definitions import DEMO_CONTRACTS
from lake.service import Lake

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class SqlCase:
    """One case of a fixture file: directives (``-- key: value``) then the SQL."""

    file: str
    name: str
    sql: str
    directives: dict[str, list[str]] = field(default_factory=dict)

    def one(self, key: str) -> str | None:
        values = self.directives.get(key)
        return values[0] if values else None

    def __repr__(self) -> str:
        return f"{self.file}::{self.name}"


_DIRECTIVE = re.compile(r"^--\s*(\w+):\s*(.*)$")


def load_cases(pattern: str) -> list[SqlCase]:
    """Cases of the fixture files matching ``pattern``; each starts with ``-- case: name``."""
    cases: list[SqlCase] = []
    for path in sorted(FIXTURES.glob(pattern)):
        current: SqlCase | None = None
        body: list[str] = []
        for line in path.read_text().splitlines() + ["-- case: <end>"]:
            m = _DIRECTIVE.match(line)
            if m and m.group(1) == "case":
                if current is not None:
                    current.sql = "\n".join(body).strip("\n")
                    cases.append(current)
                current, body = SqlCase(path.name, m.group(2).strip(), ""), []
            elif m and current is not None and not body:
                current.directives.setdefault(m.group(1), []).append(m.group(2).strip())
            elif current is not None:
                body.append(line)
    return [c for c in cases if c.name != "<end>"]


def register_demo(lake: Lake) -> None:
    for doc in DEMO_CONTRACTS:
        lake.register(doc, actor="admin")

DEMO_SQL = """/*
view: analytics.plays
owner: analysts
description: Plays per country.
*/
SELECT e.country, COUNT(*) AS plays
FROM playback.events AS e
GROUP BY e.country
"""
