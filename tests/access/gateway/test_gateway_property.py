"""Property: for random policies and random queries over a small table, the gateway's
answer holds no denied column and no filtered-out row, and every cell is masked as the
policy says.

The expected answer comes from a separate evaluation in plain Python: the
policy (one subject, its own grants, denies, masks and row filter) is applied
to the table's rows with Python predicates and Python masks (HMAC-SHA-256 from
``hmac``), then the query is evaluated on that view. A query naming a column
the subject may not read must be denied instead.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from access.masks import Mask, MaskKind
from access.resources import Action, Resource
from lake.errors import AccessDenied

from gateway_world import World, normalized_rows

pytestmark = [pytest.mark.spark, pytest.mark.slow]

TABLE = "prop.people"
COLUMNS = ("id", "region", "score", "name", "email")
PII = {"email"}
ROWS: list[dict[str, Any]] = [
    {"id": 1, "region": "EU", "score": 9, "name": "ann", "email": "ann@a.example"},
    {"id": 2, "region": "EU", "score": 4, "name": "bob", "email": "bob@b.example"},
    {"id": 3, "region": "US", "score": 7, "name": "cyd", "email": None},
    {"id": 4, "region": "US", "score": None, "name": "dan", "email": "dan@a.example"},
    {"id": 5, "region": "APAC", "score": 2, "name": "eve", "email": "eve@c.example"},
    {"id": 6, "region": "APAC", "score": 8, "name": None, "email": "fay@a.example"},
    {"id": 7, "region": "EU", "score": 5, "name": "gus", "email": "gus@b.example"},
    {"id": 8, "region": None, "score": 1, "name": "hal", "email": "hal@c.example"},
]
CONTRACT = {
    "dataset": TABLE,
    "owner": "people-team",
    "columns": [
        {"name": "id", "type": "int64", "nullable": False},
        {"name": "region", "type": "string"},
        {"name": "score", "type": "int64"},
        {"name": "name", "type": "string"},
        {"name": "email", "type": "string", "pii": True},
    ],
}

Row = dict[str, Any]

#: Row filters: (Spark SQL predicate, the same predicate in Python).
FILTERS: list[tuple[str, Callable[[Row], bool]]] = [
    ("region = 'EU'", lambda r: r["region"] == "EU"),
    ("score > 5", lambda r: r["score"] is not None and r["score"] > 5),
    ("region IN ('EU', 'US') AND score <= 7",
     lambda r: r["region"] in ("EU", "US") and r["score"] is not None and r["score"] <= 7),
    ("NOT (region = 'US')", lambda r: r["region"] is not None and r["region"] != "US"),
    ("score IS NULL OR score < 3", lambda r: r["score"] is None or r["score"] < 3),
    ("email LIKE '%@a.example'", lambda r: r["email"] is not None and r["email"].endswith("@a.example")),
    ("name >= 'dan'", lambda r: r["name"] is not None and r["name"] >= "dan"),
]


@dataclass(frozen=True)
class Policy:
    table_grant: bool
    granted: frozenset[str]
    denied: frozenset[str]
    masks: dict[str, Mask]
    row_filter: int | None

    def permitted(self) -> list[str]:
        base = COLUMNS if self.table_grant else tuple(c for c in COLUMNS if c in self.granted)
        return [c for c in base if c not in self.denied]


@dataclass(frozen=True)
class Where:
    column: str
    kind: str  # notnull, isnull, eq
    literal: str = ""

    def sql(self) -> str:
        if self.kind == "notnull":
            return f"{self.column} IS NOT NULL"
        if self.kind == "isnull":
            return f"{self.column} IS NULL"
        return f"CAST({self.column} AS STRING) = '{self.literal}'"

    def holds(self, row: Row) -> bool:
        value = row[self.column]
        if self.kind == "notnull":
            return value is not None
        if self.kind == "isnull":
            return value is None
        return value is not None and str(value) == self.literal


@dataclass(frozen=True)
class Query:
    shape: str  # select, group, count
    columns: tuple[str, ...]  # () is *
    where: Where | None
    wrap: str  # none, derived, cte

    def sql(self) -> str:
        where = f" WHERE {self.where.sql()}" if self.where else ""
        if self.shape == "count":
            return f"SELECT count(*) AS n FROM {TABLE}{where}"
        if self.shape == "group":
            col = self.columns[0]
            return f"SELECT {col}, count(*) AS n FROM {TABLE}{where} GROUP BY {col}"
        projection = ", ".join(self.columns) or "*"
        inner = f"SELECT {projection} FROM {TABLE}{where}"
        if self.wrap == "derived":
            return f"SELECT * FROM ({inner}) AS t"
        if self.wrap == "cte":
            return f"WITH v AS ({inner}) SELECT * FROM v"
        return inner

    def referenced(self) -> set[str]:
        names = set(self.columns)
        if self.where:
            names.add(self.where.column)
        return names

    def evaluate(self, view: list[Row], visible: list[str]) -> tuple[list[str], list[list[Any]]]:
        rows = [r for r in view if self.where is None or self.where.holds(r)]
        if self.shape == "count":
            return ["n"], [[len(rows)]]
        if self.shape == "group":
            col = self.columns[0]
            counts = Counter(r[col] for r in rows)
            return [col, "n"], [[value, n] for value, n in counts.items()]
        names = list(self.columns) or visible
        return names, [[r[c] for c in names] for r in rows]


MASKS = st.one_of(
    st.sampled_from([Mask(MaskKind.NULL), Mask(MaskKind.REDACT), Mask(MaskKind.HASH), Mask(MaskKind.DECRYPT)]),
    st.integers(min_value=1, max_value=6).map(lambda n: Mask(MaskKind.PARTIAL, n)),
)
POLICIES = st.builds(
    Policy,
    table_grant=st.booleans(),
    granted=st.frozensets(st.sampled_from(COLUMNS)),
    denied=st.frozensets(st.sampled_from(COLUMNS), max_size=2),
    masks=st.dictionaries(st.sampled_from(COLUMNS), MASKS, max_size=3),
    row_filter=st.none() | st.integers(min_value=0, max_value=len(FILTERS) - 1),
)
LITERALS = ["EU", "US", "1", "4", "7", "ann", "***"]
WHERES = st.none() | st.builds(
    Where,
    column=st.sampled_from(COLUMNS),
    kind=st.sampled_from(["notnull", "isnull", "eq"]),
    literal=st.sampled_from(LITERALS),
)
QUERIES = st.one_of(
    st.builds(Query, shape=st.just("select"),
              columns=st.one_of(st.just(()), st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=3,
                                                      unique=True).map(tuple)),
              where=WHERES, wrap=st.sampled_from(["none", "derived", "cte"])),
    st.builds(Query, shape=st.just("group"), columns=st.sampled_from(COLUMNS).map(lambda c: (c,)),
              where=WHERES, wrap=st.just("none")),
    st.builds(Query, shape=st.just("count"), columns=st.just(()), where=WHERES, wrap=st.just("none")),
)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def masked(value: Any, column: str, mask: Mask | None, hash_key: bytes) -> Any:
    """The cell as the policy shows it, computed in Python."""
    kind = mask.kind if mask is not None else (MaskKind.REDACT if column in PII else None)
    if value is None or kind is None or kind is MaskKind.DECRYPT:
        return None if kind is MaskKind.NULL else value
    if kind is MaskKind.NULL:
        return None
    if kind is MaskKind.REDACT:
        return "***"
    if kind is MaskKind.HASH:
        return hmac.new(hash_key, _text(value).encode(), hashlib.sha256).hexdigest()
    assert mask is not None
    return "***" + _text(value)[-mask.keep_last:]


@pytest.fixture(scope="module")
def people(world: World) -> World:
    world.lake.register(CONTRACT, actor="admin")
    world.lake.ingest_table(TABLE, pa.Table.from_pylist(ROWS, schema=pa.schema([
        ("id", pa.int64()), ("region", pa.string()), ("score", pa.int64()), ("name", pa.string()),
        ("email", pa.string())])), actor="admin")
    return world


_SUBJECTS: Iterator[int] = itertools.count(1)


def _apply(world: World, policy: Policy) -> str:
    subject = f"prop-user-{next(_SUBJECTS)}"
    world.lake.users.create(subject)
    access, table = world.access, Resource.table(TABLE)
    if policy.table_grant:
        access.grant(subject, Action.READ, table)
    for col in sorted(policy.granted):
        access.grant(subject, Action.READ, Resource.column_of(table, col))
    for col in sorted(policy.denied):
        access.deny(subject, Action.READ, Resource.column_of(table, col))
    for col, mask in sorted(policy.masks.items()):
        access.set_mask(subject, Resource.column_of(table, col), mask)
    if policy.row_filter is not None:
        access.set_row_filter(subject, table, FILTERS[policy.row_filter][0])
    return subject


@settings(max_examples=45, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(policy=POLICIES, query=QUERIES)
def test_answers_hold_no_denied_column_or_row(people: World, policy: Policy, query: Query) -> None:
    subject = _apply(people, policy)
    visible = policy.permitted()
    if not visible or query.referenced() - set(visible):
        with pytest.raises(AccessDenied):
            people.gateway.query(subject, query.sql())
        return

    hash_key = people.access.hash_key(Resource.table(TABLE))
    keep = FILTERS[policy.row_filter][1] if policy.row_filter is not None else (lambda r: True)
    view = [{c: masked(r[c], c, policy.masks.get(c), hash_key) for c in visible} for r in ROWS if keep(r)]
    names, expected = query.evaluate(view, visible)

    result = people.gateway.query(subject, query.sql())
    got_names = [c["name"] for c in result.columns()]
    assert got_names == names
    assert set(got_names) - {"n"} <= set(visible), "a denied column came back"
    assert normalized_rows(result.json_rows()) == normalized_rows(expected), query.sql()
