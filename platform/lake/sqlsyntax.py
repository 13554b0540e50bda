"""Why and where SQL does not parse: one reading of sqlglot's parse errors for
every place that parses SQL (the query gateway, view analysis, metric
expressions), so that all of them name the offending token the same way and
point at its first character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: How sqlglot prints a token inside its messages (``<Token token_type: TokenType.WHERE, text: WHERE, ...>``).
_TOKEN = re.compile(r"<Token token_type: [^,]+, text: (.*?), line: \d+.*?>")


@dataclass(frozen=True)
class SyntaxProblem:
    """The first error of a parse.

    Attributes:
        reason: What was wrong, with a token as its text (``'WHERE'``), never sqlglot's repr of it.
        line: The line of the offending token (1-based), if sqlglot said.
        col: The column of its first character (1-based), if sqlglot said.
    """

    reason: str
    line: int | None = None
    col: int | None = None


def syntax_problem(exc: Exception) -> SyntaxProblem:
    """Read a ``sqlglot.errors.ParseError`` (any exception with sqlglot's ``errors`` list)."""
    errors = getattr(exc, "errors", None) or [{}]
    first = errors[0] if isinstance(errors[0], dict) else {}
    description = str(first.get("description") or "").split("\n")[0].strip()
    highlight = str(first.get("highlight") or "")
    reason = _TOKEN.sub(lambda m: repr(m.group(1)), description)
    if not reason or "<class" in reason:
        reason = f"unexpected {highlight.strip()!r}" if highlight.strip() else "cannot parse the SQL"
    line, col = first.get("line"), first.get("col")
    if line is None or col is None:
        return SyntaxProblem(reason)
    # sqlglot gives the column of the token's last character (on the token's last line).
    return SyntaxProblem(reason, int(line), max(1, int(col) - len(highlight.split("\n")[-1]) + 1))
