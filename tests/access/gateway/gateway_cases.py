"""Read SQL case files: ``-- name:`` starts a case, ``-- key: value`` lines describe it,
the other lines (comments included) are its SQL."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_META = re.compile(r"^--\s*(name|expect|as|rows|columns):\s*(.*)$")
OUTCOMES = frozenset({"refused", "denied", "unknown", "failed", "ok"})


@dataclass(frozen=True)
class Case:
    name: str
    expect: str
    sql: str
    subject: str = "analyst"
    rows: list[list[Any]] | None = None
    columns: tuple[str, ...] | None = None
    line: int = 0


def load_cases(path: Path) -> list[Case]:
    cases: list[Case] = []
    current: dict[str, Any] | None = None
    sql: list[str] = []

    def finish() -> None:
        if current is None:
            return
        text = "\n".join(sql).strip()
        if not text:
            raise ValueError(f"{path}:{current['line']}: case {current['name']!r} has no SQL")
        if current.get("expect") not in OUTCOMES:
            raise ValueError(f"{path}:{current['line']}: case {current['name']!r} needs -- expect: one of {OUTCOMES}")
        cases.append(Case(sql=text, **current))

    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        meta = _META.match(line)
        if meta and meta.group(1) == "name":
            finish()
            current, sql = {"name": meta.group(2).strip(), "line": number}, []
        elif meta and current is not None and not sql:
            key, value = meta.group(1), meta.group(2).strip()
            if key == "rows":
                current["rows"] = json.loads(value)
            elif key == "columns":
                current["columns"] = tuple(c.strip() for c in value.split(","))
            elif key == "as":
                current["subject"] = value
            else:
                current[key] = value
        elif current is not None:
            sql.append(line)
    finish()
    names = [c.name for c in cases]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"{path}: duplicate case names {sorted(duplicates)}")
    return cases
