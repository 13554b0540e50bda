"""Every case of ``fixtures/adversarial.sql`` through the real gateway, on Spark and Delta.

A case is refused, denied or safely rewritten as it says; whatever happens,
neither the answer nor the error holds a secret value of the world (denied
tables, columns and rows, clear PII, stored ciphertexts).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from access.audit import AuditKind
from access.gateway import QueryFailed, QueryRefused, UnknownColumn
from lake.errors import AccessDenied, LakegateError

from gateway_cases import Case, load_cases
from gateway_world import World, normalized_rows

CASES = load_cases(Path(__file__).parent / "fixtures" / "adversarial.sql")
ERRORS: dict[str, type[LakegateError]] = {
    "refused": QueryRefused,
    "denied": AccessDenied,
    "unknown": UnknownColumn,
    "failed": QueryFailed,
}

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def test_the_file_has_at_least_a_hundred_attacks() -> None:
    attacks = [c for c in CASES if c.expect != "ok" or c.rows is not None]
    assert len(CASES) >= 100
    assert len(attacks) >= 100
    assert {c.expect for c in CASES} == {"refused", "denied", "unknown", "failed", "ok"}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_adversarial_query(case: Case, world: World) -> None:
    before = world.access.audit.head()[0]
    if case.expect == "ok":
        result = world.gateway.query(case.subject, case.sql)
        assert world.result_leaks(result) == [], case.sql
        if case.columns is not None:
            assert tuple(c["name"] for c in result.columns()) == case.columns
        if case.rows is not None:
            assert normalized_rows(result.json_rows()) == normalized_rows(case.rows)
    else:
        with pytest.raises(LakegateError) as caught:
            world.gateway.query(case.subject, case.sql)
        assert isinstance(caught.value, ERRORS[case.expect]), f"{type(caught.value).__name__}: {caught.value}"
        assert world.leaks(caught.value.message) == []
        assert world.leaks(repr(caught.value.details())) == []
    entries = world.access.audit.query(kind=AuditKind.QUERY, after_seq=before, limit=50)
    assert entries, "every gateway query is audited"
    assert all(e.actor == case.subject for e in entries)
    assert all(e.decision == ("allow" if case.expect in ("ok", "failed") else "deny") for e in entries)
