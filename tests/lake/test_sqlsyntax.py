"""One reading of sqlglot's parse errors (``lake.sqlsyntax``) for the gateway, views and metrics."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot.errors import ParseError

from lake.sqlsyntax import SyntaxProblem, syntax_problem
from metrics_catalog.errors import InvalidMetric
from metrics_catalog.validate import parse_sql


def _problem(sql: str) -> SyntaxProblem:
    with pytest.raises(ParseError) as caught:
        sqlglot.parse(sql, read="spark")
    return syntax_problem(caught.value)


@pytest.mark.parametrize(("sql", "want"), [
    ("SELECT FROM WHERE", SyntaxProblem("Expected table name but got 'WHERE'", 1, 13)),
    ("SELECT *\nFROM t\nWHERE a = ", SyntaxProblem("unexpected '='", 3, 9)),
    ("SELECT (1", SyntaxProblem("Expecting )", 1, 9)),
])
def test_the_reason_names_the_token_and_the_column_is_its_first_character(sql: str, want: SyntaxProblem) -> None:
    assert _problem(sql) == want


def test_an_error_without_a_position_still_has_a_reason() -> None:
    assert syntax_problem(ParseError("broken")) == SyntaxProblem("cannot parse the SQL")


def test_metric_expressions_read_their_errors_the_same_way() -> None:
    with pytest.raises(InvalidMetric) as caught:
        parse_sql("m", "measure", "SELECT FROM WHERE")
    assert "Expected table name but got 'WHERE'" in str(caught.value) and "Token" not in str(caught.value)
