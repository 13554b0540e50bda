"""Other engines: each dialect gets SQL or a clear refusal, never wrong SQL."""

from __future__ import annotations

import pytest
import sqlglot

from views.errors import TranspileError
from views.transpile import Dialect, transpile_sql

COMPILED = """SELECT `e`.`country` AS `country`, COUNT(DISTINCT `e`.`subscriber_id`) AS `viewers`,
  ROUND(SUM(`e`.`watch_seconds`) / 3600.0, 2) AS `hours`, DATE_TRUNC('MONTH', `e`.`event_ts`) AS `month`
FROM `playback`.`events` AS `e` WHERE `e`.`completed` GROUP BY `e`.`country`, DATE_TRUNC('MONTH', `e`.`event_ts`)"""


@pytest.mark.parametrize("dialect", ["redshift", "trino", "athena", "duckdb", "spark"])
def test_every_dialect_writes_parsable_sql(dialect: str) -> None:
    out = transpile_sql("playback.v", 1, COMPILED, dialect)
    tree = sqlglot.parse_one(out.sql, read=dialect)
    assert [s.alias_or_name for s in tree.selects] == ["country", "viewers", "hours", "month"]
    assert "playback" in out.sql and "events" in out.sql


@pytest.mark.parametrize(("sql", "dialect", "reason"), [
    ("SELECT TRANSFORM(`t`.`xs`, x -> x + 1) AS y FROM `a`.`b` AS `t`", "redshift", "lambdas"),
    ("SELECT EXPLODE(`t`.`xs`) AS y FROM `a`.`b` AS `t`", "redshift", "arrays"),
    ("SELECT REGEXP_EXTRACT(`t`.`s`, 'a(b)', 1) AS y FROM `a`.`b` AS `t`", "redshift", "group"),
    ("SELECT my_udf(`t`.`s`) AS y FROM `a`.`b` AS `t`", "trino", "not known to sqlglot"),
    ("SELECT `t`.`x` FROM `a`.`b` AS `t` PIVOT (SUM(`t`.`y`) FOR `t`.`z` IN ('a', 'b'))", "athena", "PIVOT"),
])
def test_inexpressible_sql_is_refused(sql: str, dialect: str, reason: str) -> None:
    with pytest.raises(TranspileError) as caught:
        transpile_sql("a.v", 3, sql, dialect)
    assert reason in caught.value.message and caught.value.dialect == dialect
    assert caught.value.message.startswith(f"a.v v3 cannot be written for {dialect}")


def test_unknown_dialect() -> None:
    from lake.errors import InvalidInput

    with pytest.raises(InvalidInput, match="expected one of: spark, redshift, trino, athena, duckdb"):
        Dialect.parse("oracle")
